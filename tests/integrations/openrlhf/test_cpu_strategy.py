"""The CPU strategy runs OpenRLHF's own DeepspeedStrategy code; `ds_engine.initialize` answers its
`deepspeed.initialize` call from the DeepSpeed config that code builds (batch rule, AdamW, clipping, schedule).

Each test runs in a subprocess: the strategy needs a (gloo, one-process) torch.distributed group, and the CPU backend's
`torch.cuda` redirection, which a worker process gets from the Ray setup hook, must not leak into this process.
"""

import subprocess
import sys

import pytest
import torch

from openrlhf_rlev.integrations.openrlhf.cpu import ds_engine

pytestmark = pytest.mark.slow  # each imports OpenRLHF's and DeepSpeed's training stack (20-50 s on 2 busy cores)

SCRIPT = """
import os, sys, types, torch
os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=sys.argv[1], RANK="0", WORLD_SIZE="1", LOCAL_RANK="0")
from openrlhf_rlev.integrations.openrlhf.cpu import device, shims
shims.install(); device.redirect_cuda_to_cpu()
from openrlhf_rlev.integrations.openrlhf import train_entry
from openrlhf_rlev.integrations.openrlhf.cpu import strategy as cpu_strategy
from openrlhf_rlev.integrations.openrlhf.cpu.ds_engine import CPUEngine
parsed = train_entry.parse(
    ["--actor.model_name_or_path", "m", "--algo.advantage.estimator", "reinforce", "--train.batch_size", "16",
     "--train.micro_batch_size", "4"])
s = cpu_strategy.get_strategy(parsed.args)
s.setup_distributed()
print("mesh", s.ds_device_mesh.device_type, "accumulation", s.accumulated_gradient)
cfg = dict(optim="adam", adam=dict(lr=0.01, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.0), max_norm=0.7,
           scheduler_steps=4, lr_scheduler="cosine_with_min_lr", lr_warmup_ratio=0.5, min_lr_ratio=0.1)
s.train_batch_size = 18  # not 4 x accumulation x 1
try:
    s._ds_init_train_model(torch.nn.Linear(3, 2), cfg)
except AssertionError as e:
    print("refused:", e)
s.train_batch_size = 16
net = torch.nn.Linear(3, 2).to(torch.bfloat16)
engine, optim, sched = s._ds_init_train_model(net, cfg)
assert isinstance(engine, CPUEngine) and engine.module is net and net.weight.dtype == torch.float32
group = optim.param_groups[0]
print("gas", engine.gradient_accumulation_steps, "clip", engine.max_norm, "eps", group["eps"], "betas", group["betas"],
      "fused", group["fused"])
print("lrs", [round(sched.get_last_lr()[0], 6)] + [round((sched.step(), sched.get_last_lr()[0])[1], 6) for _ in range(4)])
ref = s._ds_init_eval_model(torch.nn.Linear(3, 2).to(torch.bfloat16))
print("eval", type(ref).__name__, ref.optimizer, ref.module.weight.dtype)
"""


@pytest.fixture(scope="module")
def strategy_run() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(port)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout


def test_openrlhfs_strategy_code_builds_the_cpu_engine_from_its_deepspeed_config(strategy_run):
    out = strategy_run
    assert "mesh cpu accumulation 4" in out  # OpenRLHF's setup_distributed, its mesh on the CPU
    # DeepSpeed's accumulation, the config's clipping and AdamW settings, reached the engine
    # fused: one pass per weight and step, as DeepSpeed's fused Adam (torch's CPU default loops ~10 passes per tensor)
    assert "gas 4 clip 0.7 eps 1e-08 betas (0.9, 0.95) fused True" in out
    # OpenRLHF's own schedule factory: warm-up over 2 of 4 steps, then cosine down to 10% of the peak
    assert "lrs [0.0, 0.005, 0.01, 0.0055, 0.001]" in out
    assert "eval CPUEngine None torch.float32" in out


def test_a_batch_deepspeed_refuses_is_refused_not_floored(strategy_run):
    """16 = 4 x 4 x 1 trains; 18 is not micro x accumulation x world: DeepSpeed's own assertion refuses it (the old
    backend floored it to 4 accumulation steps and trained on)."""
    out = strategy_run
    assert "refused: Check batch related parameters" in out and "18 != 4 * 4 * 1" in out


def test_initialize_refuses_an_optimizer_it_does_not_build():
    net = torch.nn.Linear(2, 2)
    config = {"train_batch_size": 4, "train_micro_batch_size_per_gpu": 4, "optimizer": {"type": "Muon", "params": {}}}
    with pytest.raises(ValueError, match="AdamW only"):
        ds_engine.initialize(model=net, model_parameters=list(net.parameters()), config=config)
