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

from openrlhf_rlev.integrations.openrlhf.cpu import numerics

# --ds.grad_accum_dtype in bf16 mode (DeepSpeed's names) -> what the CPU engine sums gradients in; None: the weights'
# dtype (p.grad, as autograd accumulates it), which is DeepSpeed's default (grad_accum_dtype = the model's dtype)
ACCUM_DTYPES = {None: None, "bf16": None, "bfloat16": None, "fp32": torch.float32, "float32": torch.float32}


def output_embeddings(module: nn.Module):
    """The LM head of a HF model or of OpenRLHF's Actor around one (None if neither has one)."""
    for candidate in (module, getattr(module, "model", None)):
        head = getattr(candidate, "get_output_embeddings", lambda: None)()
        if head is not None:
            return head
    return None


class CPUEngine(nn.Module):
    """The slice of DeepSpeed's engine that OpenRLHF's trainer and strategy use, for one CPU process."""

    def __init__(
        self,
        module: nn.Module,
        optimizer=None,
        scheduler=None,
        gas: int = 1,
        max_norm: float = 0.0,
        masters: list | None = None,
        accum_dtype: torch.dtype | None = None,
    ):
        super().__init__()
        self.module = module
        self.optimizer = optimizer
        self.lr_scheduler = scheduler
        self.gradient_accumulation_steps = max(1, int(gas))
        self.max_norm = max_norm
        self.micro_steps = 0
        self._grad_norm = None
        # bf16 mode: (model weight, its float32 master) pairs; the optimizer steps the masters.
        self.masters = masters or []
        self.accum_dtype = accum_dtype  # None: gradients accumulate in the weights' dtype (p.grad, as autograd does)
        self._accum: dict = {}
        self.forward_dtypes: set = set()  # dtypes the LM head's input had in forwards (what the log line reports)
        head = output_embeddings(module)
        if head is not None:
            head.register_forward_pre_hook(self._record_dtype)

    def _record_dtype(self, _module, inputs):
        if inputs and torch.is_tensor(inputs[0]):
            self.forward_dtypes.add(inputs[0].dtype)

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def backward(self, loss: torch.Tensor) -> None:
        (loss / self.gradient_accumulation_steps).backward()
        # --ds.grad_accum_dtype fp32: each micro-batch's bf16 gradient, summed in fp32
        if self.accum_dtype is not None:
            for p, _ in self.masters:
                if p.grad is not None:
                    grad = p.grad.to(self.accum_dtype)
                    self._accum[p] = grad if p not in self._accum else self._accum[p].add_(grad)
                    p.grad = None

    def is_gradient_accumulation_boundary(self) -> bool:
        return (self.micro_steps + 1) % self.gradient_accumulation_steps == 0

    def step(self) -> None:
        boundary = self.is_gradient_accumulation_boundary()
        self.micro_steps += 1
        if not boundary or self.optimizer is None:
            return
        if self.masters:  # the bf16 gradients, in float32, become the masters' (DeepSpeed: fp32 grad partition)
            for p, master in self.masters:
                grad = self._accum.pop(p, None) if self.accum_dtype is not None else p.grad
                master.grad = None if grad is None else grad.to(torch.float32)
                p.grad = None
        params = [p for group in self.optimizer.param_groups for p in group["params"] if p.grad is not None]
        if dist.is_initialized() and dist.get_world_size() > 1:
            for p in params:
                dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
                p.grad.div_(dist.get_world_size())
        limit = self.max_norm if self.max_norm and self.max_norm > 0 else math.inf
        self._grad_norm = float(torch.nn.utils.clip_grad_norm_(params, limit)) if params else 0.0
        self.optimizer.step()
        if self.masters:
            with torch.no_grad():
                for p, master in self.masters:
                    p.copy_(master)  # rounded to the nearest bf16
        if self.lr_scheduler is not None:
            self.lr_scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.masters and self.micro_steps == self.gradient_accumulation_steps:  # the first optimizer step
            weights = {p.dtype for p, _ in self.masters}
            state = {t.dtype for s in self.optimizer.state.values() for t in s.values() if torch.is_tensor(t)}
            print(
                f"RLEV CPU backend: bf16 step: forward in {sorted(map(str, self.forward_dtypes))}, weights "
                f"{sorted(map(str, weights))}, master weights {sorted({str(m.dtype) for _, m in self.masters})}, "
                f"AdamW state {sorted(map(str, state))}",
                flush=True,
            )

    def get_global_grad_norm(self):
        return self._grad_norm


def initialize(model=None, optimizer=None, model_parameters=None, lr_scheduler=None, config=None, **_):
    """`deepspeed.initialize(...)` as OpenRLHF calls it -> (engine, optimizer, None, lr_scheduler), on a CPU.

    By default (`--rlev.cpu_dtype fp32`) the model is trained and run in float32 whatever the config's `bf16` says:
    the float32 weights are the model's own (one copy, no bf16 rounding of activations or gradients; see
    docs/cpu.md). With `--rlev.cpu_dtype bf16` the model stays in bf16, as DeepSpeed's bf16 mode keeps it: forward
    and backward in bf16, and AdamW over float32 master copies of the trained weights (`numerics`). ZeRO settings do
    not apply (one process holds everything); data-parallel gradients are averaged over gloo as DeepSpeed averages
    them over NCCL.
    """
    from deepspeed.runtime.config import DeepSpeedConfig

    if optimizer is not None:
        raise ValueError(
            "the CPU backend builds the optimizer from the DeepSpeed config, as OpenRLHF asks DeepSpeed to"
        )
    batch = DeepSpeedConfig(config)  # DeepSpeed's batch rule; raises AssertionError on an inconsistent batch
    bf16 = numerics.bf16()
    if bf16 and not config.get("bf16", {}).get("enabled"):
        raise ValueError("--rlev.cpu_dtype bf16 mirrors DeepSpeed's bf16 mode, which this config does not enable")
    if bf16:
        model.to(torch.bfloat16)
    else:
        model.float()
    if model_parameters is None:  # an eval model (reference, reward): no optimizer
        return CPUEngine(model, gas=batch.gradient_accumulation_steps), None, None, None
    optim = config.get("optimizer", {})
    if optim.get("type") != "AdamW":
        raise ValueError(f"the CPU backend trains with AdamW only, not the DeepSpeed optimizer {optim.get('type')}")
    params = optim["params"]
    masters = []
    if bf16:  # the optimizer holds float32 copies of the trained weights; the model keeps its bf16 ones
        groups = [g if isinstance(g, dict) else {"params": [g]} for g in model_parameters]
        groups = [{**g, "params": list(g["params"])} for g in groups]
        masters = [(p, p.detach().to(torch.float32).requires_grad_(True)) for g in groups for p in g["params"]]
        by_weight = {id(p): master for p, master in masters}
        model_parameters = [{**g, "params": [by_weight[id(p)] for p in g["params"]]} for g in groups]
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
    accum = config.get("data_types", {}).get("grad_accum_dtype")
    if bf16 and accum not in ACCUM_DTYPES:
        raise ValueError(
            f"--ds.grad_accum_dtype {accum}: with --rlev.cpu_dtype bf16 the CPU backend sums in bf16 or fp32"
        )
    engine = CPUEngine(
        model,
        adamw,
        scheduler,
        gas=batch.gradient_accumulation_steps,
        max_norm=batch.gradient_clipping,
        masters=masters,
        accum_dtype=ACCUM_DTYPES.get(accum) if bf16 else None,
    )
    return engine, adamw, None, scheduler
