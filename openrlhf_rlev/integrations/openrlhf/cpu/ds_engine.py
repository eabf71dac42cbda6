"""`deepspeed.initialize` and the slice of DeepSpeed's engine OpenRLHF's trainer and strategy use, for one CPU process.

`initialize` takes what OpenRLHF's `DeepspeedStrategy` passes to `deepspeed.initialize` and reads the DeepSpeed
config as DeepSpeed does: the batch sizes go through DeepSpeed's own `DeepSpeedConfig` (so a batch DeepSpeed
refuses, `train_batch_size != micro_batch x accumulation x world size`, is refused here with DeepSpeed's message),
the optimizer is torch's fused AdamW with the config's parameters over the strategy's parameter groups, clipping is
the config's `gradient_clipping`, and the LR schedule is OpenRLHF's own factory called on that optimizer. Weights
are float32 (see `initialize`).

`backward` scales the loss by 1/gas, as DeepSpeed does (OpenRLHF >= 0.10.4 pre-compensates exactly that in its loss), `step` steps the
optimizer and the LR schedule only at the gradient-accumulation boundary, after averaging gradients over
data-parallel ranks and clipping them to `max_norm`, and `get_global_grad_norm` is the norm before clipping.
`.module` is the wrapped model, as OpenRLHF's `_unwrap_model` and `save_model` expect.
"""

import math

import torch
import torch.distributed as dist
import torch.nn as nn


class CPUEngine(nn.Module):
    """The slice of DeepSpeed's engine that OpenRLHF's trainer and strategy use, for one CPU process."""

    def __init__(self, module: nn.Module, optimizer=None, scheduler=None, gas: int = 1, max_norm: float = 0.0):
        super().__init__()
        self.module = module
        self.optimizer = optimizer
        self.lr_scheduler = scheduler
        self.gradient_accumulation_steps = max(1, int(gas))
        self.max_norm = max_norm
        self.micro_steps = 0
        self._grad_norm = None

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def backward(self, loss: torch.Tensor) -> None:
        (loss / self.gradient_accumulation_steps).backward()

    def is_gradient_accumulation_boundary(self) -> bool:
        return (self.micro_steps + 1) % self.gradient_accumulation_steps == 0

    def step(self) -> None:
        boundary = self.is_gradient_accumulation_boundary()
        self.micro_steps += 1
        if not boundary or self.optimizer is None:
            return
        params = [p for group in self.optimizer.param_groups for p in group["params"] if p.grad is not None]
        if dist.is_initialized() and dist.get_world_size() > 1:
            for p in params:
                dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
                p.grad.div_(dist.get_world_size())
        limit = self.max_norm if self.max_norm and self.max_norm > 0 else math.inf
        self._grad_norm = float(torch.nn.utils.clip_grad_norm_(params, limit)) if params else 0.0
        self.optimizer.step()
        if self.lr_scheduler is not None:
            self.lr_scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)

    def get_global_grad_norm(self):
        return self._grad_norm


def initialize(model=None, optimizer=None, model_parameters=None, lr_scheduler=None, config=None, **_):
    """`deepspeed.initialize(...)` as OpenRLHF calls it -> (engine, optimizer, None, lr_scheduler), on a CPU.

    The model is trained and run in float32 whatever the config's `bf16` says: DeepSpeed's bf16 mode computes the
    forward and backward in bf16 and keeps float32 master weights in its optimizer; here the float32 weights are
    the model's own (one copy, no bf16 rounding of activations or gradients; see docs/cpu.md). ZeRO settings do not
    apply (one process holds everything); data-parallel gradients are averaged over gloo as DeepSpeed averages
    them over NCCL.
    """
    from deepspeed.runtime.config import DeepSpeedConfig

    if optimizer is not None:
        raise ValueError(
            "the CPU backend builds the optimizer from the DeepSpeed config, as OpenRLHF asks DeepSpeed to"
        )
    batch = DeepSpeedConfig(config)  # DeepSpeed's batch rule; raises AssertionError on an inconsistent batch
    model.float()
    if model_parameters is None:  # an eval model (reference, reward): no optimizer
        return CPUEngine(model, gas=batch.gradient_accumulation_steps), None, None, None
    optim = config.get("optimizer", {})
    if optim.get("type") != "AdamW":
        raise ValueError(f"the CPU backend trains with AdamW only, not the DeepSpeed optimizer {optim.get('type')}")
    params = optim["params"]
    adamw = torch.optim.AdamW(
        model_parameters,
        lr=params["lr"],
        betas=tuple(params["betas"]),
        eps=params["eps"],
        weight_decay=params["weight_decay"],
        # One pass over each weight per step, as DeepSpeed's fused Adam on a GPU: torch's default on CPU is a Python
        # loop of ~10 elementwise passes per tensor, ~5x the fused step's CPU on SmolLM2-135M (bench_step.py).
        fused=True,
    )
    scheduler = lr_scheduler(adamw) if callable(lr_scheduler) else lr_scheduler
    engine = CPUEngine(
        model, adamw, scheduler, gas=batch.gradient_accumulation_steps, max_norm=batch.gradient_clipping
    )
    return engine, adamw, None, scheduler
