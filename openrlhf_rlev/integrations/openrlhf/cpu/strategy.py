"""OpenRLHF's `DeepspeedStrategy`, on a CPU: its own methods run, with only their CUDA calls pointed at the CPU.

Nothing of the parent is re-implemented here. `setup_distributed` is the parent's (seeding, `LOCAL_RANK`,
`deepspeed.init_distributed`, which picks gloo with DeepSpeed's CPU accelerator, the device mesh, ring-attention
set-up and the gradient-accumulation count), with the mesh built on "cpu" instead of "cuda" (`torch.cuda.set_device`
is already a no-op in the backend's processes, see `device`). `_ds_init_train_model` / `_ds_init_eval_model` are the
parent's (optimizer config, LR-schedule factory, DeepSpeed train/eval config, parameter groups), with
`deepspeed.initialize` answered by `ds_engine.initialize`, which reads that same config: DeepSpeed's batch rule,
AdamW settings, gradient clipping and accumulation come from it, so a flag OpenRLHF passes to DeepSpeed reaches the
CPU engine the same way.
"""

import contextlib
import sys

from torch.distributed import device_mesh

from openrlhf_rlev.integrations.openrlhf.cpu import ds_engine, shims

shims.install()  # OpenRLHF imports vllm and flash_attn at module level

from openrlhf.utils.deepspeed import DeepspeedStrategy  # noqa: E402

openrlhf_deepspeed = sys.modules[DeepspeedStrategy.__module__]  # the module whose globals the methods look up
SHM_COMM_OP = "deepspeed_shm_comm"


def _cpu_mesh(device_type, *args, **kwargs):
    """`init_device_mesh` on the CPU whatever device type OpenRLHF names (it names "cuda")."""
    return device_mesh.init_device_mesh("cpu", *args, **kwargs)


@contextlib.contextmanager
def _replaced(owner, name: str, value):
    """`owner.name` is `value` for the duration (the strategy's calls run one at a time in their process)."""
    original = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, original)


@contextlib.contextmanager
def _without_shm_comm_op():
    """DeepSpeed's comm backend, on its CPU accelerator, JIT-compiles a shared-memory all-reduce op (a C++ build with
    a compiler, minutes, a lock file a killed process leaves behind) used only by its inference all-reduce. Marked
    unavailable, the backend runs on plain torch.distributed (gloo), as it does where the op is not built."""
    ops = openrlhf_deepspeed.deepspeed.ops.__compatible_ops__
    original = ops.get(SHM_COMM_OP)
    ops[SHM_COMM_OP] = False
    try:
        yield
    finally:
        ops[SHM_COMM_OP] = original


class CPUStrategy(DeepspeedStrategy):
    def setup_distributed(self, *args, **kwargs) -> None:
        with _replaced(openrlhf_deepspeed, "init_device_mesh", _cpu_mesh), _without_shm_comm_op():
            super().setup_distributed(*args, **kwargs)

    def _ds_init_train_model(self, model, cfg: dict):
        if cfg["optim"] != "adam":
            raise ValueError(f"the CPU backend trains with AdamW only, not --actor.optim {cfg['optim']}")
        with _replaced(openrlhf_deepspeed.deepspeed, "initialize", ds_engine.initialize):
            return super()._ds_init_train_model(model, cfg)

    def _ds_init_eval_model(self, model):
        with _replaced(openrlhf_deepspeed.deepspeed, "initialize", ds_engine.initialize):
            return super()._ds_init_eval_model(model)

    def moving_average(self, model, model_ema, beta=0.992, device="cpu"):
        super().moving_average(model, model_ema, beta, device="cpu")

    def save_ckpt(self, *args, **kwargs):
        raise NotImplementedError("the CPU backend saves the final model (--ckpt.output_dir), not DeepSpeed states")

    def load_ckpt(self, *args, **kwargs):
        raise NotImplementedError("the CPU backend cannot resume from DeepSpeed checkpoints")


def get_strategy(args) -> CPUStrategy:
    """OpenRLHF's own `get_strategy(args)`, as a CPUStrategy: the parent's __init__ reads every argument."""
    from openrlhf.utils.utils import get_strategy as openrlhf_get_strategy

    strategy = openrlhf_get_strategy(args)
    cpu = CPUStrategy.__new__(CPUStrategy)
    cpu.__dict__.update(vars(strategy))
    return cpu
