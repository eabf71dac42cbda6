"""Wire the CPU backend into OpenRLHF: `driver` in the launcher's process, `worker` in every Ray worker.

The driver runs OpenRLHF's real `train(args)`; two names it looks up at call time are pointed at the CPU
backend: `get_strategy` (in train_ppo_ray's namespace) and `RolloutRayActor` (in vllm_engine, which
`create_vllm_engines` instantiates). Workers get the import shims, the `torch.cuda` redirection and, in the
processes that import the policy trainer, the state-dict weight sync. `worker` runs only where the launcher
put OPENRLHF_RLEV_CPU=1 in Ray's runtime env.

Both refuse an OpenRLHF whose relevant code differs from what the backend was tested on (`check_compatible`).
"""

import os
from pathlib import Path

from openrlhf_rlev.integrations.openrlhf import import_hooks, version_guard
from openrlhf_rlev.integrations.openrlhf.cpu import device, shims

CPU_ENV = "OPENRLHF_RLEV_CPU"
SEED_ENV = "OPENRLHF_RLEV_CPU_SEED"
PPO_ACTOR_MODULE = "openrlhf.trainer.ray.ppo_actor"
SAMPLES_GENERATOR_MODULE = "openrlhf.trainer.ppo_utils.samples_generator"
ACTOR_MODEL_MODULE = "openrlhf.models.actor"

# The OpenRLHF code the backend calls into, replaces, or mirrors the interface of.
FUNCTIONS = (
    ("cli/train_ppo_ray.py", "train"),
    ("trainer/ray/vllm_engine.py", "RolloutRayActor.generate_responses"),
    ("trainer/ray/vllm_engine.py", "create_vllm_engines"),
    ("utils/agent.py", "SingleTurnAgentExecutor.execute"),
    ("trainer/ray/ppo_actor.py", "ActorPPOTrainer.__init__"),
    ("trainer/ray/ppo_actor.py", "ActorPPOTrainer.broadcast_to_vllm"),
    ("trainer/ray/ppo_actor.py", "PolicyModelActor.init_model_from_pretrained"),
    ("utils/deepspeed/deepspeed.py", "DeepspeedStrategy.setup_distributed"),
    ("utils/deepspeed/deepspeed.py", "DeepspeedStrategy.prepare"),
    ("utils/deepspeed/deepspeed.py", "DeepspeedStrategy._ds_init_train_model"),
    ("utils/deepspeed/deepspeed.py", "DeepspeedStrategy._ds_init_eval_model"),
    ("utils/deepspeed/deepspeed.py", "DeepspeedStrategy.backward"),
    ("utils/deepspeed/deepspeed.py", "DeepspeedStrategy.optimizer_step"),
    ("utils/utils.py", "get_strategy"),
)
TESTED = {
    "82c50fb9291f680c462520ab221a077b21948ffb7bbed490b302727d6af374d3": "openrlhf 0.10.2/0.10.3",
    "205136d9d6c89a08aae2fb70e3a0d3c09fdfe173ce6e2f1de2f4148fffaa5588": "openrlhf 0.10.4",
    "ec7bfd8a999c0cf53d39dae3924b70f50561043a225b261fff75269f2fc3dada": "openrlhf 0.11.0/0.11.1",
    "80a71ffc54c6b3b6b3c558d731bd9988108de36cf62a80e802991cdb2376c205": "openrlhf 0.11.2",
}


def check_compatible(openrlhf_root: Path | None = None) -> str:
    return version_guard.check(
        FUNCTIONS,
        TESTED,
        "the CPU backend (--rlev.cpu) refuses to run on",
        "Train on GPUs without --rlev.cpu, or use an openrlhf-rlev release that supports this OpenRLHF",
        openrlhf_root,
    )


def enabled() -> bool:
    return os.environ.get(CPU_ENV) == "1"


def driver(train_namespace: dict) -> None:
    """Point OpenRLHF's train() at the CPU strategy and rollout engine (call after parsing, before train)."""
    check_compatible()
    shims.install()
    from openrlhf.trainer.ray import vllm_engine

    from openrlhf_rlev.integrations.openrlhf.cpu import engine, strategy

    train_namespace["get_strategy"] = strategy.get_strategy
    vllm_engine.RolloutRayActor = engine.remote_class()


def _patch_policy_trainer(module) -> None:
    from openrlhf_rlev.integrations.openrlhf.cpu import weight_sync

    weight_sync.patch(module)


def _patch_samples_generator(module) -> None:
    from openrlhf_rlev.integrations.openrlhf.cpu import engine

    engine.patch_samples_generator(module)


def seed_process(seed: int) -> None:
    """Seed every global RNG at worker start. OpenRLHF seeds its model processes (strategy.setup_distributed) but
    not the PPO trainer, whose prompt dataloader shuffles from torch's global generator; without this the prompt
    order, and so the run, would change from one launch to the next."""
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def worker() -> dict:
    """From the Ray setup hook, in every worker process of a CPU run."""
    check_compatible()
    installed = shims.install()
    device.redirect_cuda_to_cpu()
    threads = device.configure_threads()
    seed = os.environ.get(SEED_ENV)
    if seed is not None:
        seed_process(int(seed))
    sync = import_hooks.after_import(PPO_ACTOR_MODULE, _patch_policy_trainer)
    batching = import_hooks.after_import(SAMPLES_GENERATOR_MODULE, _patch_samples_generator)
    split = import_hooks.after_import(ACTOR_MODEL_MODULE, device.split_actor_threads)
    return {"shims": installed, "threads": threads, "weight_sync": sync, "batched_dispatch": batching, "split": split}
