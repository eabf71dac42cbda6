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

# The OpenRLHF code the backend calls into, replaces, or mirrors the interface of. A change to any of these in a new
# OpenRLHF release is a change the backend must be re-checked against, so each is named here.
FUNCTIONS = (
    # The launcher runs OpenRLHF's train(); `driver` swaps two names it looks up (get_strategy, RolloutRayActor).
    ("cli/train_ppo_ray.py", "train"),
    ("utils/utils.py", "get_strategy"),
    # The rollout engine: engine.CPURolloutEngine replaces RolloutRayActor (same constructor arguments, executor
    # choice and methods), runs its generate_responses with a Sampler standing in for `generate`, and is built by
    # create_vllm_engines, called by the samples generator's dispatch and batch_vllm_engine_call.
    ("trainer/ray/vllm_engine.py", "RolloutRayActor.__init__"),
    ("trainer/ray/vllm_engine.py", "RolloutRayActor.generate"),
    ("trainer/ray/vllm_engine.py", "RolloutRayActor.generate_responses"),
    ("trainer/ray/vllm_engine.py", "RolloutRayActor.get_num_unfinished_requests"),
    ("trainer/ray/vllm_engine.py", "RolloutRayActor.reset_prefix_cache"),
    ("trainer/ray/vllm_engine.py", "RolloutRayActor.sleep"),
    ("trainer/ray/vllm_engine.py", "RolloutRayActor.wake_up"),
    ("trainer/ray/vllm_engine.py", "_load_agent_executor"),
    ("trainer/ray/vllm_engine.py", "create_vllm_engines"),
    ("trainer/ray/vllm_engine.py", "batch_vllm_engine_call"),
    ("trainer/ppo_utils/samples_generator.py", "SamplesGenerator._dispatch_prompts_to_vllm"),
    # engine.patch_samples_generator batches the dispatch and hands refs back in the order sent (InOrderRay), which
    # relies on _generate_vllm's ray.wait loop; device.share wraps Actor.forward to split the cores by phase.
    ("trainer/ppo_utils/samples_generator.py", "SamplesGenerator._generate_vllm"),
    ("models/actor.py", "Actor.forward"),
    ("utils/agent.py", "SingleTurnAgentExecutor.__init__"),
    ("utils/agent.py", "SingleTurnAgentExecutor.execute"),
    # The weight sync: weight_sync replaces these two methods of the policy trainer.
    ("trainer/ray/ppo_actor.py", "ActorPPOTrainer.__init__"),
    ("trainer/ray/ppo_actor.py", "ActorPPOTrainer._init_vllm_sync_group"),
    ("trainer/ray/ppo_actor.py", "ActorPPOTrainer.broadcast_to_vllm"),
    ("trainer/ray/ppo_actor.py", "PolicyModelActor.init_model_from_pretrained"),
    # The strategy: CPUStrategy runs these with their CUDA calls redirected (strategy.py), and ds_engine stands in
    # for the DeepSpeed engine they build from the train/eval configs below.
    ("utils/deepspeed/deepspeed.py", "DeepspeedStrategy.__init__"),
    ("utils/deepspeed/deepspeed.py", "DeepspeedStrategy.setup_distributed"),
    ("utils/deepspeed/deepspeed.py", "DeepspeedStrategy.prepare"),
    ("utils/deepspeed/deepspeed.py", "DeepspeedStrategy._get_model_parameters"),
    ("utils/deepspeed/deepspeed.py", "DeepspeedStrategy._ds_init_train_model"),
    ("utils/deepspeed/deepspeed.py", "DeepspeedStrategy._ds_init_eval_model"),
    ("utils/deepspeed/deepspeed.py", "DeepspeedStrategy.get_ds_train_config"),
    ("utils/deepspeed/deepspeed.py", "DeepspeedStrategy.get_ds_eval_config"),
    ("utils/deepspeed/deepspeed.py", "DeepspeedStrategy.backward"),
    ("utils/deepspeed/deepspeed.py", "DeepspeedStrategy.optimizer_step"),
    ("utils/deepspeed/deepspeed.py", "DeepspeedStrategy.moving_average"),
    ("utils/deepspeed/deepspeed_utils.py", "get_train_ds_config"),
    ("utils/deepspeed/deepspeed_utils.py", "get_eval_ds_config"),
)
# Computed from each release's wheel (PyPI) with scripts/fingerprints.py; CI checks the installed ones.
TESTED = {
    "1c2b6b4f1938e10185f452ead96c3c5e22f8782e2252e36a25919c9982e26527": "openrlhf 0.10.2/0.10.3",
    "1e298a65cf8e3f3589bef8d7200750db2e326b28ab88f5fc640978d338048b90": "openrlhf 0.10.4",
    "a5e7f6063a151adcc6cd1549f3f10b60e28ce9c1299b596d7dfc0ac73fbe3b24": "openrlhf 0.11.0",
    "64d9cd14538e6f6b33319fa206d0e9238b174af0dbf295cee00329a345df9267": "openrlhf 0.11.1",
    "72b32ec9fa3049ee73fad6286eceaec975e0df9e4152fd25d66c6f7ac2e02f1b": "openrlhf 0.11.2",
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
