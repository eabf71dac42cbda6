"""OpenRLHF's `DeepspeedStrategy`, on a CPU: gloo instead of NCCL, torch AdamW instead of DeepSpeed's engine.

The subclass keeps everything of the parent that runs on a CPU (dataloaders and their distributed sampler,
all_reduce / all_gather through gloo, `save_model`'s HF save, prepare()'s dispatch, the config builders the
`Actor` reads) and replaces what needs DeepSpeed or CUDA: process-group set-up and the training engine.

The engine each model is wrapped in is `ds_engine.CPUEngine` (DeepSpeed's engine, for one CPU process). Models
are kept in float32: they load in the
configured `--ds.param_dtype` (as on GPU) and are upcast, as DeepSpeed's bf16 mode keeps fp32 master weights.
"""

import math
from datetime import timedelta

import torch
import torch.distributed as dist
import transformers
from torch.distributed.device_mesh import init_device_mesh

from openrlhf_rlev.integrations.openrlhf.cpu import shims
from openrlhf_rlev.integrations.openrlhf.cpu.ds_engine import CPUEngine

shims.install()  # OpenRLHF imports vllm and flash_attn at module level

from openrlhf.models import Actor  # noqa: E402
from openrlhf.utils.deepspeed import DeepspeedStrategy  # noqa: E402


class CPUStrategy(DeepspeedStrategy):
    def setup_distributed(self, timeout=timedelta(minutes=60)) -> None:
        if self.full_determinism:
            transformers.enable_full_determinism(self.seed)
        else:
            transformers.set_seed(self.seed)
        if not dist.is_initialized():
            # MASTER_ADDR / MASTER_PORT / RANK / WORLD_SIZE come from OpenRLHF's BaseDistributedActor.
            dist.init_process_group(backend="gloo", timeout=timeout)
        self.world_size = dist.get_world_size()
        dp_size = self.world_size // self.ring_attn_size // self.ds_tensor_parallel_size
        self.ds_device_mesh = init_device_mesh(
            "cpu", (dp_size, self.ring_attn_size, self.ds_tensor_parallel_size), mesh_dim_names=("dp", "sp", "tp")
        )
        self.setup_ring_attn(self.ds_device_mesh)
        # As the parent: micro-batches per optimizer step on this rank.
        self.accumulated_gradient = (
            self.train_batch_size
            * self.ring_attn_size
            * self.ds_tensor_parallel_size
            // self.micro_train_batch_size
            // self.world_size
        )

    def _ds_init_train_model(self, model, cfg: dict):
        if cfg["optim"] != "adam":
            raise ValueError(f"the CPU backend trains with AdamW only, not --actor.optim {cfg['optim']}")
        adam = cfg["adam"]
        raw_model, groups = self._get_model_parameters(model, optim="adam", weight_decay=adam["weight_decay"])
        raw_model.float()
        optimizer = torch.optim.AdamW(groups, lr=adam["lr"], betas=tuple(adam["betas"]), eps=adam["eps"])
        engine = CPUEngine(
            raw_model,
            optimizer,
            _scheduler(optimizer, cfg),
            gas=1 if self.use_dynamic_batch else self.accumulated_gradient,
            max_norm=cfg.get("max_norm", 1.0),
        )
        if isinstance(model, Actor):
            model.model = engine
        else:
            model = engine
        return model, optimizer, engine.lr_scheduler

    def _ds_init_eval_model(self, model):
        if not model:
            return model
        raw_model = model.model if isinstance(model, Actor) else model
        engine = CPUEngine(raw_model.float())
        if isinstance(model, Actor):
            model.model = engine
            return model
        return engine

    def moving_average(self, model, model_ema, beta=0.992, device="cpu"):
        super().moving_average(model, model_ema, beta, device="cpu")

    def save_ckpt(self, *args, **kwargs):
        raise NotImplementedError("the CPU backend saves the final model (--ckpt.output_dir), not DeepSpeed states")

    def load_ckpt(self, *args, **kwargs):
        raise NotImplementedError("the CPU backend cannot resume from DeepSpeed checkpoints")


def _scheduler(optimizer, cfg: dict):
    """The LR schedule DeepspeedStrategy asks DeepSpeed for: transformers' `get_scheduler` with the same knobs."""
    from transformers.trainer import get_scheduler

    steps = cfg["scheduler_steps"]
    name = cfg.get("lr_scheduler", "cosine_with_min_lr")
    extra = (
        {"min_lr_rate": cfg.get("min_lr_ratio", 0.1)}
        if name in {"cosine_with_min_lr", "cosine_warmup_with_min_lr"}
        else {}
    )
    return get_scheduler(
        name,
        optimizer,
        num_warmup_steps=math.ceil(steps * cfg.get("lr_warmup_ratio", 0.03)),
        num_training_steps=steps,
        scheduler_specific_kwargs=extra,
    )


def get_strategy(args) -> CPUStrategy:
    """OpenRLHF's own `get_strategy(args)`, as a CPUStrategy: the parent's __init__ reads every argument."""
    from openrlhf.utils.utils import get_strategy as openrlhf_get_strategy

    strategy = openrlhf_get_strategy(args)
    cpu = CPUStrategy.__new__(CPUStrategy)
    cpu.__dict__.update(vars(strategy))
    return cpu
