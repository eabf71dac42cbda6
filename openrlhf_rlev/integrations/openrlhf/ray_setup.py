"""Ray `worker_process_setup_hook`: runs once in every Ray worker process, on every node, before any task.

Installed by the launcher's ray.init (or `ray job submit --runtime-env-json`, see `runtime_env`). It
(a) validates the RLEV settings the runtime env carried, so a bad value stops the run at worker start instead
of zeroing rewards later, and logs them once per process; (b) installs the value-preserving GRPO wrapper
(`grpo.install`), which patches the experience maker only in the process that imports it (the PPO trainer);
(c) installs the per-step log and progress line (`steplog`); (d) adds Acc and H-Acc to OpenRLHF's eval metrics
(`eval_metrics`); (e) on a `--rlev.cpu` run, the CPU backend's worker side (`cpu.install.worker`).
"""

import dataclasses
import logging
import os

from openrlhf_rlev.integrations.openrlhf import eval_metrics, grpo, steplog
from openrlhf_rlev.integrations.openrlhf.cpu import install as cpu_install
from openrlhf_rlev.reward.settings import Settings

# Set by the launcher: the value-preserving GRPO wrapper only makes sense for RLEV's rewards.
REWARD_FUNC_ENV = "OPENRLHF_RLEV_REWARD_FUNC"

logger = logging.getLogger("openrlhf_rlev")
_state: dict = {}


def setup() -> None:
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
    if not _state:
        _ensure_handler()
        logger.info(
            "RLEV worker pid %d: reward_func=%s settings=%s value-preserving-grpo=%s cpu-backend=%s",
            os.getpid(),
            reward_func,
            dataclasses.asdict(settings),
            grpo_state,
            cpu_state,
        )
    _state.update(settings=settings, reward_func=reward_func, grpo=grpo_state, cpu=cpu_state, pid=os.getpid())


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
