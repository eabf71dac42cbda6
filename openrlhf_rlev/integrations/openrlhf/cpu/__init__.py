"""OpenRLHF's own PPO loop on a CPU: what stands in for the parts that need CUDA, and nothing else.

`openrlhf-rlev train --rlev.cpu ...` runs OpenRLHF's unmodified `train()`, trainer, samples generator, reward
executor, experience maker, replay buffer, policy loss, `Actor` and KL controller, on a local Ray cluster whose
"GPUs" are CPU processes. Replaced, each because it needs CUDA:

- vLLM's rollout engine -> `engine.CPURolloutEngine`, a Ray actor with the methods OpenRLHF calls on it; it runs
  OpenRLHF's own agent executor and samples with transformers (`sampling`).
- `DeepspeedStrategy` -> `strategy.CPUStrategy`: OpenRLHF's own methods with the device mesh on the CPU, and
  `deepspeed.initialize` answered by `ds_engine.initialize` (torch AdamW, DeepSpeed's batch rule, accumulation
  and clipping, read from the DeepSpeed config OpenRLHF builds).
- The NCCL weight sync to the engines -> a state-dict copy through Ray (`weight_sync`).
- `torch.cuda` device calls -> the CPU, in the CPU backend's own processes only (`device`).
- `vllm` and `flash_attn` imports -> import-only modules (`shims`) when the real packages are absent.

One difference is a choice, not a CUDA limit: by default weights, forward, backward and sampling are float32, where a
GPU run computes in bf16 (DeepSpeed's bf16 mode, vLLM's bf16 weights); `--rlev.cpu_dtype bf16` computes as the GPU
run does (`numerics`). See docs/cpu.md for why and what each changes.

`install` wires these in: `install.driver` in the launcher's process, `install.worker` from the Ray setup hook.
"""

__all__ = [
    "device",
    "ds_engine",
    "engine",
    "install",
    "launch",
    "numerics",
    "sampling",
    "shims",
    "strategy",
    "weight_sync",
]
