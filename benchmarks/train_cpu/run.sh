#!/usr/bin/env bash
# The pre-registered CPU experiment (benchmarks/train_cpu/PREREG.md). Resumable: rerun the same command after a stop.
#
#   bash benchmarks/train_cpu/run.sh stage_a     # tiny model (if missing), base evals, every Stage A run (+ eval)
#   bash benchmarks/train_cpu/run.sh stage_b     # Stage B data, base eval, every Stage B run in chunks (+ eval)
#   bash benchmarks/train_cpu/run.sh a_pilot     # the calibration pilot of PREREG.md (not counted), before stage_a
#   bash benchmarks/train_cpu/run.sh a_tiny | a_base | b_data | b_base      # single steps
#   bash benchmarks/train_cpu/run.sh status      # which runs are done, in progress, left (reads only)
#   python benchmarks/train_cpu/analyze.py       # RESULTS tables and plots from runs/ (committed raw files)
#
# Selection (environment): VARIANTS ("content shown", Stage A), ARMS (Stage A "none rlev random uniform", Stage B
# "none rlev random"), SEEDS (Stage A "0 1 2 3 4", Stage B "0 1 2"). Knobs fixed by PREREG.md are below; changing
# one makes a run that is not the pre-registered one (DRY_RUN=1 checks every command with --rlev.dry_run).
#
# Resuming: a run whose folder has DONE is skipped. A Stage A run that stopped midway restarts from scratch (its
# partial files go to <run>/aborted-<time>/). A Stage B run trains in chunks of CHUNK_STEPS steps; each chunk
# starts from the previous chunk's saved HF model, so a stop loses at most the chunk in progress. See PREREG.md
# for what a chunk boundary resets (AdamW moments, the loader's shuffle, the sampler's RNG stream).
# Counted runs use the plugin code of EXPERIMENT_CODE (below; PREREG.md, Amendment 2): run.sh refuses other code.
# Per run, under runs/stage_<a|b>/...: command.sh (every command, appended), log.jsonl (per step), train.log,
# heldout_preds.jsonl, heldout_eval.json, termination.json/png. Weights (model/, ckpt/) are in .gitignore.
set -euo pipefail
cd "$(dirname "$0")/../.."

HERE=benchmarks/train_cpu
RUNS=${RUNS:-$HERE/runs}
NICE=${NICE:-nice -n 10}
ALPHA=10

# ---- Stage A (PREREG.md, "Stage A") ----
A_DIR=$HERE/stage_a
A_MODEL=${A_MODEL:-$A_DIR/model}
A_DATA=$A_DIR/data
A_STEPS=${A_STEPS:-50}         # rollout batches per run
A_RB=16                        # prompts per step
A_N=4                          # samples per prompt
A_LR=${A_LR:-1.5e-5}            # PREREG.md, Amendment 1: the calibration scan chose 1.5e-5 (registered 5e-4 saturated)
A_MAX_NEW=32
A_EVAL_N=4                     # held-out: 400 prompts x 4 samples at temperature 1

# ---- Stage B (PREREG.md, "Stage B") ----
B_DIR=$HERE/stage_b
B_DATA=${B_DATA:-$B_DIR/data}
B_HARD=${B_HARD:-mul}          # chosen by the pilot (PREREG.md)
B_EASY=${B_EASY:-add1}
B_STEPS=${B_STEPS:-100}
CHUNK_STEPS=${CHUNK_STEPS:-10}
B_RB=8
B_N=4
B_LR=2e-5
B_TEMP=${B_TEMP:-0.7}          # the Stage B pilot at 0.7 (PREREG.md, "Stage B pilot, re-scored")
B_MAX_NEW=48

# The plugin's code every counted run so far trained and was scored with (PREREG.md, Amendment 2). A counted run
# with other code in openrlhf_rlev/ would mix two rewards in one experiment: refused unless ALLOW_CODE_CHANGE=1,
# which needs an amendment saying what changed and why it cannot change a verdict. The checkout's own openrlhf_rlev/
# (not an export on PYTHONPATH) must hold it: Ray puts the driver's working directory first on its workers' path.
EXPERIMENT_CODE=605fa9dd57dbb0c72718a8d6ea10d624318e3d27

check_code() {
  [[ -n "${ALLOW_CODE_CHANGE:-}" || -n "${DRY_RUN:-}" ]] && return
  git cat-file -e "$EXPERIMENT_CODE^{commit}" 2> /dev/null || { echo "commit $EXPERIMENT_CODE is not in this clone" >&2; exit 1; }
  if ! git diff --quiet "$EXPERIMENT_CODE" -- openrlhf_rlev; then
    echo "openrlhf_rlev/ differs from $EXPERIMENT_CODE, the code of the counted runs (git diff $EXPERIMENT_CODE --" \
      "openrlhf_rlev). Put that code in this checkout's working tree, unstaged, so that committing run folders" \
      "does not commit it: git restore --source=$EXPERIMENT_CODE --worktree -- openrlhf_rlev (PREREG.md," \
      "Amendment 3); or amend PREREG.md and set ALLOW_CODE_CHANGE=1" >&2
    exit 1
  fi
}

log_cmd() {  # file cmd...: append the commit and the exact command, then run it
  local file=$1
  shift
  local code=" (package modified)"  # openrlhf_rlev/ as it is in the working tree: EXPERIMENT_CODE's, HEAD's or neither
  git diff --quiet HEAD -- openrlhf_rlev && code=""
  git diff --quiet "$EXPERIMENT_CODE" -- openrlhf_rlev && code=", openrlhf_rlev/ = EXPERIMENT_CODE"
  echo "# $(date -u +%FT%TZ) commit $(git rev-parse HEAD)$code" >> "$file"
  printf '%q ' "$@" >> "$file"
  echo >> "$file"
  "$@"
}

# mean s(x) over the first N rows of a prepared file (the uniform arm's constant; OpenRLHF trains on the first
# --data.max_samples rows)
mean_scale() {  # file n
  python - "$1" "$2" "$ALPHA" <<'EOF'
import itertools, json, sys
path, n, alpha = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
with open(path) as f:
    values = [json.loads(line)["label"]["value"] for line in itertools.islice(f, n)]
print(f"{sum(1 + min(alpha * v, 1) for v in values) / len(values):.6f}")
EOF
}

# rows [start, start+n) of src, values permuted among them when seed >= 0 (the `random` arm), else unchanged
slice_rows() {  # src dst start n permute_seed
  python - "$@" <<'EOF'
import itertools, json, random, sys
src, dst, start, n, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
with open(src) as f:
    rows = [json.loads(line) for line in itertools.islice(f, start, start + n)]
if len(rows) < n:
    sys.exit(f"{src} has {start + len(rows)} rows, need {start + n}")
if seed >= 0:
    values = [r["label"]["value"] for r in rows]
    random.Random(seed).shuffle(values)
    for r, v in zip(rows, values):
        r["label"]["value"] = v
with open(dst, "w") as f:
    for r in rows:
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
EOF
}

scaling_flags() {  # arm data n -> the --rlev.scaling flags of an arm
  case $1 in
    rlev | random) echo "--rlev.scaling rlev" ;;
    none) echo "--rlev.scaling none" ;;
    uniform) echo "--rlev.scaling uniform --rlev.uniform_scale $(mean_scale "$2" "$3")" ;;
    *) echo "unknown arm $1" >&2; return 2 ;;
  esac
}

train_cmd() {  # model data out seed steps rb n lr temp max_new scaling...
  local model=$1 data=$2 out=$3 seed=$4 steps=$5 rb=$6 n=$7 lr=$8 temp=$9 max_new=${10}
  shift 10
  TRAIN=(
    openrlhf-rlev train --rlev.cpu --reward_func rlev --rlev.alpha "$ALPHA" "$@"
    --rlev.log_jsonl "$out/log.jsonl"
    --actor.model_name_or_path "$model" --ckpt.output_dir "$out/model" --ckpt.path "$out/ckpt"
    --data.prompt_dataset "$data" --data.input_key prompt --data.label_key label --data.apply_chat_template
    --algo.advantage.estimator rloo --rollout.n_samples_per_prompt "$n" --rollout.batch_size "$rb"
    --train.batch_size $((rb * n)) --train.micro_batch_size 8 --rollout.micro_batch_size 8
    --rollout.max_new_tokens "$max_new" --data.max_len 256 --rollout.temperature "$temp"
    --actor.adam.lr "$lr" --actor.lr_warmup_ratio 0 --actor.lr_scheduler constant --algo.kl.init_coef 0
    --train.seed "$seed" --train.num_episodes 1 --data.max_samples $((steps * rb))
  )
}

train_logged() {  # cmdfile log: run TRAIN; retry (3 attempts) when Ray's node did not start in time on a busy machine
  local cmdfile=$1 log=$2 attempt
  for attempt in 1 2 3; do
    if log_cmd "$cmdfile" $NICE "${TRAIN[@]}" > "$log" 2>&1; then
      return 0
    fi
    grep -q "timed out during startup" "$log" || { echo "training failed: see $log" >&2; return 1; }
    echo "Ray did not start in time (attempt $attempt of 3, busy machine); retrying" >&2
    mv "$log" "$log.ray-timeout-$attempt"
    sleep 30
  done
  return 1
}

dry_run() {  # folder: with DRY_RUN set, check TRAIN against OpenRLHF's parser (no training) and succeed
  [[ -n "${DRY_RUN:-}" ]] || return 1
  "${TRAIN[@]}" --rlev.dry_run > "$1/dry_run.json" || { echo "dry run failed: $1/dry_run.json" >&2; exit 1; }
  echo "dry run ok: $1/dry_run.json"
}

abort_partial() {  # run folder: move a stopped run's files aside so the rerun starts clean
  local out=$1
  if [[ -d $out ]] && compgen -G "$out/*" > /dev/null; then
    local dest
    dest=$out/aborted-$(date -u +%Y%m%dT%H%M%S)
    mkdir -p "$dest"
    find "$out" -mindepth 1 -maxdepth 1 ! -name 'aborted-*' -exec mv {} "$dest"/ \;
    rm -rf "$dest/model" "$dest/ckpt"
    echo "moved the partial run to $dest"
  fi
}

heldout_eval() {  # model data out max_new temperature n_samples
  local model=$1 data=$2 out=$3 max_new=$4 temp=$5 n=$6
  mkdir -p "$out"
  log_cmd "$out/command.sh" $NICE openrlhf-rlev generate --model "$model" --data "$data" -o "$out/heldout_preds.jsonl" \
    --max-new-tokens "$max_new" --temperature "$temp" --n-samples "$n" --seed 0 --quiet
  log_cmd "$out/command.sh" openrlhf-rlev eval "$out/heldout_preds.jsonl" --data "$data" --tokenizer "$model" \
    -o "$out/heldout_eval.json" --quiet > "$out/heldout_eval.txt"
  log_cmd "$out/command.sh" $NICE openrlhf-rlev termination --model "$model" --predictions "$out/heldout_preds.jsonl" \
    --data "$data" -o "$out/termination.json" --quiet > "$out/termination.txt"
}

# ---- Stage A ----

a_tiny() {  # the committed base model, checked against stage_a/model.sha256 (make_tiny.py is not bit-reproducible
  # across machines: a rebuilt model would start later runs from other weights than the earlier ones)
  if [[ ! -f $A_MODEL/config.json ]]; then
    [[ $A_MODEL == "$A_DIR/model" ]] && { echo "the committed base model $A_MODEL is missing (git checkout it)" >&2; exit 1; }
    $NICE python $A_DIR/make_tiny.py --out "$A_MODEL" --data "$A_DATA"  # a pilot's own model (A_MODEL=...)
    return
  fi
  if [[ $A_MODEL == "$A_DIR/model" ]] && ! (cd "$A_MODEL" && sha256sum --quiet -c ../model.sha256); then
    echo "$A_MODEL differs from stage_a/model.sha256: every Stage A run starts from the committed weights" >&2
    exit 1
  fi
  echo "tiny model: $A_MODEL"
}

a_base() {
  for v in ${VARIANTS:-content shown}; do
    local out=$RUNS/stage_a/$v/base
    [[ -f $out/DONE ]] && continue
    abort_partial "$out"
    heldout_eval "$A_MODEL" "$A_DATA/${v}_heldout.jsonl" "$out" "$A_MAX_NEW" 1.0 "$A_EVAL_N"
    touch "$out/DONE"
  done
}

a_run() {  # variant arm seed
  local v=$1 arm=$2 seed=$3
  local out=$RUNS/stage_a/$v/$arm-seed$seed
  [[ -f $out/DONE ]] && { echo "skip $out (done)"; return; }
  if [[ -f $out/TRAINED && -z "${DRY_RUN:-}" ]]; then  # stopped during the held-out eval: redo only that
    rm -f "$out/heldout_preds.jsonl"
    heldout_eval "$out/model" "$A_DATA/${v}_heldout.jsonl" "$out" "$A_MAX_NEW" 1.0 "$A_EVAL_N"
    touch "$out/DONE"
    return
  fi
  [[ -z "${DRY_RUN:-}" ]] && abort_partial "$out"
  mkdir -p "$out"
  local n=$((A_STEPS * A_RB)) data=$out/train.jsonl permute=-1
  [[ $arm == random ]] && permute=$((1000 + seed))
  slice_rows "$A_DATA/${v}_train.jsonl" "$data" 0 "$n" "$permute"
  # shellcheck disable=SC2046
  train_cmd "$A_MODEL" "$data" "$out" "$seed" "$A_STEPS" "$A_RB" "$A_N" "$A_LR" 1.0 "$A_MAX_NEW" \
    $(scaling_flags "$arm" "$data" "$n")
  dry_run "$out" && return
  echo "== stage A $v $arm seed $seed: $A_STEPS steps =="
  train_logged "$out/command.sh" "$out/train.log"
  touch "$out/TRAINED"
  heldout_eval "$out/model" "$A_DATA/${v}_heldout.jsonl" "$out" "$A_MAX_NEW" 1.0 "$A_EVAL_N"
  touch "$out/DONE"
}

a_pilot() {  # PREREG.md's calibration pilot (Amendment 1's scan): arm none, variant content, seed 100, not counted
  a_tiny
  VARIANTS=content a_base
  local keep=$RUNS
  RUNS=$RUNS/stage_a_pilot/lr$A_LR a_run content none 100
  python - "$keep/stage_a/content/base/heldout_eval.json" "$keep/stage_a_pilot/lr$A_LR/stage_a/content/none-seed100/heldout_eval.json" <<'EOF2'
import json, sys
base, run = (json.load(open(p)) for p in sys.argv[1:])
base, run = base.get("metrics", base), run.get("metrics", run)
gain = 100 * (run["acc"] - base["acc"])
print(f"calibration pilot: held-out sampled Acc {100 * base['acc']:.1f} -> {100 * run['acc']:.1f} ({gain:+.1f} points); "
      f"in [base + 5, 85]% (PREREG.md, Amendment 1): "
      f"{'yes' if gain >= 5 and 100 * run['acc'] <= 85 else 'NO: the next lr of the scan (PREREG.md, Amendment 1)'}")
EOF2
}

stage_a() {
  check_code
  a_tiny
  [[ -n "${DRY_RUN:-}" ]] || a_base
  for s in ${SEEDS:-0 1 2 3 4}; do
    for v in ${VARIANTS:-content shown}; do
      for a in ${ARMS:-none rlev random uniform}; do
        a_run "$v" "$a" "$s"
      done
    done
  done
}

# ---- Stage B ----

b_data() {
  [[ -f $B_DATA/train.jsonl ]] && return
  python $B_DIR/make_data.py --hard "$B_HARD" --easy "$B_EASY" --out "$B_DATA"
}

b_base() {
  local out=$RUNS/stage_b/base
  [[ -f $out/DONE ]] && return
  abort_partial "$out"
  heldout_eval smollm2 "$B_DATA/heldout.jsonl" "$out" "$B_MAX_NEW" 0 1
  touch "$out/DONE"
}

b_run() {  # arm seed
  local arm=$1 seed=$2
  local out=$RUNS/stage_b/$arm-seed$seed
  [[ -f $out/DONE ]] && { echo "skip $out (done)"; return; }
  mkdir -p "$out"
  local chunks=$((B_STEPS / CHUNK_STEPS)) per=$((CHUNK_STEPS * B_RB)) model=smollm2
  for ((k = 0; k < chunks; k++)); do
    local c=$out/chunk$k
    if [[ -f $c/DONE ]]; then
      model=$c/model
      continue
    fi
    [[ -z "${DRY_RUN:-}" ]] && abort_partial "$c"
    mkdir -p "$c"
    local permute=-1
    [[ $arm == random ]] && permute=$((1000 * (seed + 1) + k))
    slice_rows "$B_DATA/train.jsonl" "$c/train.jsonl" $((k * per)) "$per" "$permute"
    # shellcheck disable=SC2046
    train_cmd "$model" "$c/train.jsonl" "$c" $((seed * 1000 + k)) "$CHUNK_STEPS" "$B_RB" "$B_N" "$B_LR" "$B_TEMP" \
      "$B_MAX_NEW" $(scaling_flags "$arm" "$c/train.jsonl" "$per")
    dry_run "$c" && return
    echo "== stage B $arm seed $seed: chunk $((k + 1))/$chunks from $model =="
    train_logged "$out/command.sh" "$c/train.log"
    touch "$c/DONE"
    [[ $model == smollm2 ]] || rm -rf "$model"  # keep only the newest weights (540 MB each)
    model=$c/model
  done
  heldout_eval "$model" "$B_DATA/heldout.jsonl" "$out" "$B_MAX_NEW" 0 1
  touch "$out/DONE"
}

stage_b() {
  check_code
  b_data
  [[ -n "${DRY_RUN:-}" ]] || b_base
  for s in ${SEEDS:-0 1 2}; do
    for a in ${ARMS:-none rlev random}; do
      b_run "$a" "$s"
    done
  done
}

status() {  # what is done, what is in progress and what is left, per stage (reads only)
  local v a s done=0 total=0 state
  for v in content shown; do
    for s in 0 1 2 3 4; do
      for a in none rlev random uniform; do
        state=missing
        local out=$RUNS/stage_a/$v/$a-seed$s
        [[ -d $out ]] && state="in progress ($(wc -l < "$out/log.jsonl" 2>/dev/null || echo 0)/$A_STEPS steps)"
        [[ -f $out/TRAINED ]] && state="trained; held-out eval not finished"
        [[ -f $out/DONE ]] && { state=done; done=$((done + 1)); }
        total=$((total + 1))
        [[ $state == missing ]] || echo "stage A $v $a seed $s: $state"
      done
    done
  done
  echo "Stage A: $done of $total runs done"
  done=0 total=0
  for s in 0 1 2; do
    for a in none rlev random; do
      local out=$RUNS/stage_b/$a-seed$s chunks
      chunks=$(compgen -G "$out/chunk*/DONE" | wc -l || true)
      total=$((total + 1))
      if [[ -f $out/DONE ]]; then
        done=$((done + 1))
        echo "stage B $a seed $s: done"
      elif [[ -d $out ]]; then
        echo "stage B $a seed $s: $chunks of $((B_STEPS / CHUNK_STEPS)) chunks done"
      fi
    done
  done
  echo "Stage B: $done of $total runs done"
}

case ${1:-} in
  status) status ;;
  stage_a) stage_a ;;
  stage_b) stage_b ;;
  a_tiny) a_tiny ;;
  a_base) a_base ;;
  a_pilot) a_pilot ;;
  a_run) check_code; a_run "$2" "$3" "$4" ;;
  b_data) b_data ;;
  b_base) b_base ;;
  b_run) check_code; b_run "$2" "$3" ;;
  *) echo "usage: $0 status|stage_a|stage_b|a_tiny|a_base|a_pilot|a_run VARIANT ARM SEED|b_data|b_base|b_run ARM SEED" >&2; exit 2 ;;
esac
