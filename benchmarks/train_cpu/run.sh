#!/usr/bin/env bash
# The CPU training experiment: RLEV vs accuracy-only (vs uniform scale) on value-labelled arithmetic exams.
#
#   bash benchmarks/train_cpu/run.sh all        # data, base eval, then train + held-out eval per seed and arm
#   bash benchmarks/train_cpu/run.sh data|base|train|eval
#   python benchmarks/train_cpu/analyze.py      # plots + tables from benchmarks/train_cpu/runs/
#
# Knobs (environment): ARMS ("rlev none uniform"), SEEDS ("0"), STEPS (20 rollout batches per run; or
# TIME_BUDGET_MIN with SEC_PER_STEP, e.g. the mean timing/step_total that analyze.py prints for a first run),
# ROLLOUT_BS (8 prompts per step), N_SAMPLES (4 per prompt), TEMPERATURE (0.6), LR (2e-5), MAX_NEW_TOKENS (48),
# ALPHA (10), DATA_SEED (0), RUNS (output folder), DRY_RUN=1 (only check the commands with --rlev.dry_run).
# TEMPERATURE defaults to 0.6, not 1.0: the base model is right on 13% of probe prompts at 1.0, 27% at 0.6,
# 43% greedy (probe.py, n = 30 each; see RESULTS.md).
# A run whose model/ has config.json is skipped; generate resumes by itself: rerun the same command after a stop.
set -euo pipefail
cd "$(dirname "$0")/../.."

HERE=benchmarks/train_cpu
DATA=$HERE/data
RUNS=${RUNS:-$HERE/runs}
ARMS=${ARMS:-"rlev none uniform"}
SEEDS=${SEEDS:-"0"}
ROLLOUT_BS=${ROLLOUT_BS:-8}
N_SAMPLES=${N_SAMPLES:-4}
TEMPERATURE=${TEMPERATURE:-0.6}
LR=${LR:-2e-5}
MAX_NEW_TOKENS=${MAX_NEW_TOKENS:-48}
ALPHA=${ALPHA:-10}
DATA_SEED=${DATA_SEED:-0}
if [[ -n "${TIME_BUDGET_MIN:-}" && -n "${SEC_PER_STEP:-}" ]]; then
  STEPS=$(python -c "print(max(1, int(${TIME_BUDGET_MIN} * 60 // ${SEC_PER_STEP})))")
fi
STEPS=${STEPS:-20}
MAX_SAMPLES=$((STEPS * ROLLOUT_BS))  # prompts; one episode = STEPS rollout batches
TRAIN_BS=$((ROLLOUT_BS * N_SAMPLES))

make_data() {
  python $HERE/make_data.py --seed "$DATA_SEED" --out $DATA
}

# s-bar of the uniform arm: mean s(x) = 1 + min(alpha v, 1) over the prompts the run trains on (the first
# MAX_SAMPLES rows: OpenRLHF selects them in file order, then shuffles).
uniform_scale() {
  python - "$DATA/train.jsonl" "$MAX_SAMPLES" "$ALPHA" <<'EOF'
import itertools, json, sys
path, n, alpha = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
with open(path) as f:
    values = [json.loads(line)["label"]["value"] for line in itertools.islice(f, n)]
print(f"{sum(1 + min(alpha * v, 1) for v in values) / len(values):.6f}")
EOF
}

train_one() {  # arm seed
  local arm=$1 seed=$2 out=$RUNS/$1-seed$2
  if [[ -f $out/model/config.json && -z "${DRY_RUN:-}" ]]; then
    echo "skip training $out (model exists)"
    return
  fi
  local scaling=(--rlev.scaling "$arm")
  if [[ $arm == uniform ]]; then
    scaling+=(--rlev.uniform_scale "$(uniform_scale)")
  fi
  mkdir -p "$out"
  local cmd=(
    openrlhf-rlev train --rlev.cpu --reward_func rlev --rlev.alpha "$ALPHA" "${scaling[@]}"
    --rlev.log_jsonl "$out/log.jsonl"
    --actor.model_name_or_path smollm2 --ckpt.output_dir "$out/model" --ckpt.path "$out/ckpt"
    --data.prompt_dataset $DATA/train.jsonl --data.input_key prompt --data.label_key label --data.apply_chat_template
    --algo.advantage.estimator rloo --rollout.n_samples_per_prompt "$N_SAMPLES" --rollout.batch_size "$ROLLOUT_BS"
    --train.batch_size "$TRAIN_BS" --train.micro_batch_size 8 --rollout.micro_batch_size 8
    --rollout.max_new_tokens "$MAX_NEW_TOKENS" --data.max_len 256 --rollout.temperature "$TEMPERATURE"
    --actor.adam.lr "$LR" --algo.kl.init_coef 0
    --train.seed "$seed" --train.num_episodes 1 --data.max_samples "$MAX_SAMPLES"
  )
  if [[ -n "${DRY_RUN:-}" ]]; then
    "${cmd[@]}" --rlev.dry_run > "$out/dry_run.json"
    echo "dry run ok: $out/dry_run.json"
    return
  fi
  printf '%q ' "${cmd[@]}" > "$out/command.sh"
  echo >> "$out/command.sh"
  echo "== train $arm seed $seed: $STEPS steps, $MAX_SAMPLES prompts =="
  "${cmd[@]}" 2>&1 | tee "$out/train.log"
}

heldout_eval() {  # model folder (or smollm2) out-folder tokenizer
  local model=$1 out=$2 tok=$3
  mkdir -p "$out"
  openrlhf-rlev generate --model "$model" --data $DATA/heldout.jsonl -o "$out/heldout_preds.jsonl" \
    --max-new-tokens "$MAX_NEW_TOKENS" --seed 0
  openrlhf-rlev eval "$out/heldout_preds.jsonl" --data $DATA/heldout.jsonl --tokenizer "$tok" \
    -o "$out/heldout_eval.json"
}

eval_run() {  # arm seed
  local out=$RUNS/$1-seed$2
  if [[ ! -f $out/model/config.json ]]; then
    echo "no model in $out/model: train it first" >&2
    return 1
  fi
  heldout_eval "$out/model" "$out" "$out/model"
}

stage=${1:-all}
case $stage in
  data) make_data ;;
  base) heldout_eval smollm2 "$RUNS/base" smollm2 ;;
  train) for s in $SEEDS; do for a in $ARMS; do train_one "$a" "$s"; done; done ;;
  eval) for s in $SEEDS; do for a in $ARMS; do eval_run "$a" "$s"; done; done ;;
  all)
    [[ -f $DATA/train.jsonl ]] || make_data
    [[ -n "${DRY_RUN:-}" ]] || heldout_eval smollm2 "$RUNS/base" smollm2
    for s in $SEEDS; do
      for a in $ARMS; do
        train_one "$a" "$s"
        [[ -n "${DRY_RUN:-}" ]] || eval_run "$a" "$s"
      done
    done
    ;;
  *) echo "usage: $0 [all|data|base|train|eval]" >&2; exit 2 ;;
esac
