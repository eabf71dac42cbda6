#!/usr/bin/env bash
# RLEV training with OpenRLHF 0.10.2-0.11.x: six presets with the paper's settings, plus their accuracy-only baselines.
#
#   bash configs/train_rlev.sh PRESET [more OpenRLHF flags or --rlev.* settings]
#
# Presets (model x estimator; GPUs are 80 GB, 8 per node):
#   7b-reinforce   Qwen2.5-7B,  REINFORCE++ (reinforce),        1 node:  actor/ref ZeRO-3 on 8 GPUs, 8 vLLM engines (TP 1)
#   7b-rloo        Qwen2.5-7B,  RLOO (rloo),                    1 node
#   7b-grpo        Qwen2.5-7B,  GRPO (group_norm, value-preserving: advantages s(x) * (c - mean c) / std c)
#   32b-reinforce  Qwen2.5-32B, REINFORCE++,                    2 nodes: actor/ref ZeRO-3 + Adam offload on 16 GPUs,
#   32b-rloo       Qwen2.5-32B, RLOO,                                    4 vLLM engines (TP 4)
#   32b-grpo       Qwen2.5-32B, GRPO (value-preserving)
# All models share their GPUs with vLLM (colocate_all + sleep mode).
#
# Paper settings (RLEV, arXiv 2510.20187): lr 5e-7, rollout batch 128 prompts, train batch 128, 4 samples per
# prompt, prompts and responses up to 1024 tokens each (max_len 2048, max_new_tokens 1024), 1 episode, 1 epoch,
# KL coefficient 0.01 (REINFORCE++ and RLOO: KL penalty in the reward, k1; GRPO: KL loss, k3, as in GRPO).
#
# Environment:
#   DATA=path.jsonl   the prepared dataset (`openrlhf-rlev prepare`; columns prompt and label). Default
#                     data/rlev/train.jsonl
#   BASELINE=1        the matching accuracy-only baseline: the same run with --rlev.scaling none (s(x) = 1)
#   DRY_RUN=1         validate against OpenRLHF's real parser and print the resolved arguments (no GPU needed)
#   MODEL=...         another model path; CKPT_DIR=... (default ./ckpt)
#   RLEV_LAUNCH=...   the launch command (default: python3 -m openrlhf_rlev.cli.train_ppo_ray)
set -euo pipefail

preset=${1:?usage: bash configs/train_rlev.sh PRESET [flags]; presets: 7b-reinforce 7b-rloo 7b-grpo 32b-reinforce 32b-rloo 32b-grpo}
shift

case "$preset" in
  7b-*)
    model=${MODEL:-Qwen/Qwen2.5-7B}
    nodes=1 vllm_engines=8 vllm_tp=1 rollout_micro=16 train_micro=4
    size=()
    ;;
  32b-*)
    model=${MODEL:-Qwen/Qwen2.5-32B}
    nodes=2 vllm_engines=4 vllm_tp=4 rollout_micro=4 train_micro=1
    size=(--ds.adam_offload)
    ;;
  *) echo "unknown preset '$preset'; presets: 7b-reinforce 7b-rloo 7b-grpo 32b-reinforce 32b-rloo 32b-grpo" >&2; exit 2 ;;
esac

case "$preset" in
  *-reinforce) algo=(--algo.advantage.estimator reinforce --algo.kl.init_coef 0.01) ;;
  *-rloo) algo=(--algo.advantage.estimator rloo --algo.kl.init_coef 0.01) ;;
  *-grpo) algo=(--algo.advantage.estimator group_norm --algo.kl.init_coef 0.01 --algo.kl.use_loss --algo.kl.estimator k3
                --rlev.grpo value) ;;
  *) echo "unknown preset '$preset'" >&2; exit 2 ;;
esac

run_name=rlev-$preset
rlev=(--reward_func rlev)
if [[ "${BASELINE:-0}" == 1 ]]; then
  run_name=baseline-$preset
  rlev+=(--rlev.scaling none)
fi
if [[ "${DRY_RUN:-0}" == 1 ]]; then
  rlev+=(--rlev.dry_run)
fi
ckpt=${CKPT_DIR:-./ckpt}/$run_name

args=(
  --actor.model_name_or_path "$model"
  --data.prompt_dataset "${DATA:-data/rlev/train.jsonl}"
  --data.input_key prompt
  --data.label_key label
  --data.apply_chat_template
  --actor.num_nodes "$nodes" --actor.num_gpus_per_node 8
  --ref.num_nodes "$nodes" --ref.num_gpus_per_node 8
  --vllm.num_engines "$vllm_engines" --vllm.tensor_parallel_size "$vllm_tp"
  --train.colocate_all --vllm.enable_sleep --ds.enable_sleep --vllm.gpu_memory_utilization 0.5
  --ds.zero_stage 3 --ds.param_dtype bf16 --actor.gradient_checkpointing_enable --ds.packing_samples
  "${size[@]}"
  --actor.adam.lr 5e-7
  --rollout.batch_size 128 --train.batch_size 128 --rollout.n_samples_per_prompt 4
  --rollout.micro_batch_size "$rollout_micro" --train.micro_batch_size "$train_micro"
  --data.max_len 2048 --rollout.max_new_tokens 1024
  --train.num_episodes 1 --train.max_epochs 1
  --rollout.temperature 1.0 --train.seed 42
  "${algo[@]}"
  --ckpt.output_dir "$ckpt" --ckpt.path "$ckpt/checkpoints" --ckpt.save_steps 20 --ckpt.save_hf
  --logger.logging_steps 1 --logger.tensorboard_dir "$ckpt/tensorboard"
  "${rlev[@]}"
)

read -r -a launch <<< "${RLEV_LAUNCH:-python3 -m openrlhf_rlev.cli.train_ppo_ray}"
exec "${launch[@]}" "${args[@]}" "$@"
