"""DeepSpeed's engine, the part OpenRLHF's trainer and strategy use, for one CPU process.

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
