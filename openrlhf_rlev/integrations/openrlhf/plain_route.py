"""The plain route's warning: RLEV's reward file under stock OpenRLHF GRPO trains the accuracy-only baseline.

`python -m openrlhf.cli.train_ppo_ray --reward.remote_url $(openrlhf-rlev reward-path) ...` (or the same through
`ray job submit`) runs no code of ours except the reward file, in each rollout engine. With
`--algo.advantage.estimator group_norm` and no setup hook, OpenRLHF divides s(x) out of every group, and nothing
in the run would say so. So when the reward file is loaded by OpenRLHF it reads the driver's command line (Ray
records it as the job's entrypoint in the GCS, readable from any worker on any node) and logs a warning in that
engine's output: its worker log in the Ray session's logs folder, which Ray also forwards to the driver's output
(asynchronously, best-effort).
"""

import logging
import shlex
import sys

from openrlhf_rlev.integrations.openrlhf.launcher import pop_flag

logger = logging.getLogger("openrlhf_rlev.plain_route")

ESTIMATOR_FLAG = "--algo.advantage.estimator"
WEIGHT_FLAG = "--algo.advantage.weight_key"  # the upstream PR's flag (patches/advantage-weight): keeps s(x) itself
OPENRLHF_DEFAULT_ESTIMATOR = "gae"  # train_ppo_ray's default (0.10.2-0.11.x)
WARNING = (
    "RLEV: this run uses --algo.advantage.estimator group_norm without openrlhf-rlev's Ray setup hook: OpenRLHF's "
    "group_norm computes (r - mean r) / std r per prompt group, which divides s(x) out exactly, so this run trains "
    "the accuracy-only baseline. Launch with `openrlhf-rlev train --reward_func rlev ...` (value-keeping GRPO), or "
    "pass `openrlhf-rlev train ... --rlev.print_runtime_env`'s runtime env to ray job submit, or use an estimator "
    "that keeps the value: reinforce, rloo, reinforce_baseline, dr_grpo (or, on an OpenRLHF with the upstream "
    "advantage-weight change, pass --algo.advantage.weight_key rlev/scale)"
)
_warned: list[str] = []


def flag_value(argv: list[str], flag: str, default: str | None = None) -> str | None:
    """A flag's value on an OpenRLHF command line (the launcher's reader; `default` without the flag)."""
    value, _ = pop_flag(argv, flag)
    return default if value is None else value


def estimator(argv: list[str]) -> str:
    """The estimator an OpenRLHF command line asks for (OpenRLHF's default without the flag)."""
    return flag_value(argv, ESTIMATOR_FLAG, OPENRLHF_DEFAULT_ESTIMATOR)


def warning_for(argv: list[str] | None, hook_active: bool) -> str | None:
    """The warning this run needs, or None: only group_norm with neither our hook nor the upstream weight flag (an
    OpenRLHF without that flag rejects the command line, so its presence means OpenRLHF keeps s(x) itself)."""
    if argv is None or hook_active or flag_value(argv, WEIGHT_FLAG):
        return None
    return WARNING if estimator(argv) == "group_norm" else None


def driver_argv() -> list[str] | None:
    """The command line of this Ray job's driver, from the GCS job table; None outside Ray or if unreadable."""
    ray = sys.modules.get("ray")  # a Ray worker has imported it; anywhere else there is no job to ask
    try:
        if ray is None or not ray.is_initialized():
            return None
        job_id = ray.get_runtime_context().get_job_id()
        worker = ray._private.worker.global_worker  # the GCS client of this process (no public job-table API)
        infos = worker.gcs_client.get_all_job_info(
            skip_submission_job_info_field=True, skip_is_running_tasks_field=True
        )
        for key, info in infos.items():
            key_hex = key.hex() if hasattr(key, "hex") else str(key)
            if key_hex == job_id and info.entrypoint:
                return shlex.split(info.entrypoint)
    except Exception as e:  # a warning must never stop an engine from starting
        logger.debug("RLEV: could not read the driver's command line: %s", e)
    return None


def warn_when_loaded() -> str | None:
    """Called when OpenRLHF loads the reward file: log the warning once per process if this run needs it."""
    argv = driver_argv()
    if argv is None:  # not in Ray (a test, the HTTP server): nothing to read, and no Ray or trainer code imported
        return None
    from openrlhf_rlev.integrations.openrlhf import ray_setup

    message = warning_for(argv, bool(ray_setup.state()))
    if message and message not in _warned:
        _warned.append(message)
        if not logger.handlers and not logging.getLogger().handlers:
            logger.addHandler(logging.StreamHandler())
        logger.warning(message)
    return message


def warned() -> list[str]:
    """The warnings this process logged (for checks and tests)."""
    return list(_warned)
