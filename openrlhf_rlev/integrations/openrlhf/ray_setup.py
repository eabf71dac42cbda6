"""Ray `worker_process_setup_hook`: runs once in every Ray worker process, on every node, before any task.

Installed by the launcher's ray.init (or `ray job submit --runtime-env-json`, see `runtime_env`). It
(a) validates the RLEV settings the runtime env carried, so a bad value stops the run at worker start instead
of zeroing rewards later, and logs them once per process; (b) installs the value-preserving GRPO wrapper
(`grpo.install`), which patches the experience maker only in the process that imports it (the PPO trainer);
(c) installs the per-step log and progress line (`steplog`); (d) adds Acc and H-Acc to OpenRLHF's eval metrics
(`eval_metrics`); (e) on a `--rlev.cpu` run, the CPU backend's worker side (`cpu.install.worker`).

Ray gives a job one setup hook. A job that has its own names it in OPENRLHF_RLEV_SETUP_HOOKS (comma-separated
"module.function"; the launcher does this itself inside `ray job submit`): those run FIRST, in the order given,
then the plugin's steps above, so the plugin reads the environment the job's hooks leave behind. A job hook that
raises stops the worker, as it would without the plugin.
"""

import dataclasses
import importlib
import logging
import os

from openrlhf_rlev.integrations.openrlhf import eval_metrics, grpo, steplog
from openrlhf_rlev.integrations.openrlhf.cpu import install as cpu_install
from openrlhf_rlev.reward.settings import Settings

# Set by the launcher: the value-preserving GRPO wrapper only makes sense for RLEV's rewards.
REWARD_FUNC_ENV = "OPENRLHF_RLEV_REWARD_FUNC"
CHAIN_ENV = "OPENRLHF_RLEV_SETUP_HOOKS"  # the job's own setup hooks, run before ours (runtime_env.CHAIN_ENV)

logger = logging.getLogger("openrlhf_rlev")
_state: dict = {}


def chained_hooks(environ=None) -> list[str]:
    environ = os.environ if environ is None else environ
    return [h.strip() for h in environ.get(CHAIN_ENV, "").split(",") if h.strip()]


def run_chained() -> list[str]:
    """Call each hook named in OPENRLHF_RLEV_SETUP_HOOKS, in order, as Ray would call a job's own hook."""
    ran = []
    for name in chained_hooks():
        module, _, attr = name.rpartition(".")
        if not module:
            raise ValueError(f"{CHAIN_ENV}: {name!r} is not 'module.function'")
        func = getattr(importlib.import_module(module), attr, None)
        if not callable(func):
            raise ValueError(f"{CHAIN_ENV}: {module} has no callable {attr!r}")
        func()
        ran.append(name)
    return ran


def setup() -> None:
    chained = run_chained() if not _state else _state.get("chained", [])
    settings = Settings.from_env()  # raises ValueError naming the bad RLEV_* variable
    cpu_state = cpu_install.worker() if cpu_install.enabled() else "off"
    reward_func = os.environ.get(REWARD_FUNC_ENV, "rlev")
    if reward_func == "rlev" and settings.grpo == "value":
        grpo_state = grpo.install()
    else:
        grpo_state = "off"
    steplog.install()
    if reward_func == "rlev":
        eval_metrics.install()
    node_id = _node_id()
    if not _state:
        _ensure_handler()
        logger.info(
            "RLEV worker pid %d node %s: reward_func=%s settings=%s value-preserving-grpo=%s cpu-backend=%s "
            "chained-hooks=%s",
            os.getpid(),
            node_id,
            reward_func,
            dataclasses.asdict(settings),
            grpo_state,
            cpu_state,
            chained,
        )
    _state.update(
        settings=settings,
        reward_func=reward_func,
        grpo=grpo_state,
        cpu=cpu_state,
        pid=os.getpid(),
        chained=chained,
        node_id=node_id,
    )


def _node_id() -> str | None:
    """This worker's Ray node id (which node of a multi-node cluster logged the line), None outside Ray."""
    import sys

    ray = sys.modules.get("ray")
    try:
        return ray.get_runtime_context().get_node_id() if ray is not None and ray.is_initialized() else None
    except Exception:
        return None


def state() -> dict:
    """What the hook did in this process (empty if it never ran); for checks and tests."""
    return dict(_state)


def _ensure_handler() -> None:
    # Ray workers do not configure logging; without a handler the one line above would be dropped.
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
