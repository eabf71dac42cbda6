"""Which numbers a CPU run computes with: `--rlev.cpu_dtype` fp32 (the default) or bf16 (a GPU run's numerics).

The launcher puts the choice in every Ray worker's environment (`DTYPE_ENV`); `ds_engine` reads it when it wraps a
model and the rollout engine when it loads one, so the trainer and the engines of one run always agree.

- fp32: weights are loaded in `--ds.param_dtype` (the GPU's bf16 rounding at load), then upcast; forward, backward,
  weights and AdamW are float32, the engine samples in float32. Bit-reproducible, engine and trainer logprobs equal.
- bf16: what DeepSpeed's bf16 mode and vLLM do on GPUs. The model's weights stay bf16, so forward and backward run
  in bf16 and gradients are bf16 (accumulated across micro-batches in `--ds.grad_accum_dtype`, bf16 unless given);
  the optimizer keeps a float32 master copy of every trained weight and AdamW's state in float32, steps the master
  and writes it back rounded to bf16. The weight sync sends the bf16 weights and the engine samples in bf16.
"""

import os

DTYPE_ENV = "OPENRLHF_RLEV_CPU_DTYPE"
CHOICES = ("fp32", "bf16")
DEFAULT = "fp32"


def check(value: str) -> str:
    if value not in CHOICES:
        raise ValueError(f"--rlev.cpu_dtype {value!r}: choose one of {', '.join(CHOICES)}")
    return value


def cpu_dtype(environ=None) -> str:
    """The run's choice, from the worker's environment (fp32 when the launcher set none)."""
    environ = os.environ if environ is None else environ
    return check(environ.get(DTYPE_ENV) or DEFAULT)


def bf16(environ=None) -> bool:
    return cpu_dtype(environ) == "bf16"
