"""The Ray runtime env that carries RLEV's settings and setup hook to every worker process on every node.

Ray does not forward the driver's environment to workers. OpenRLHF's `train()` calls `ray.init(runtime_env=...)`
only when Ray is not initialised yet, so the launcher initialises Ray first with OpenRLHF's own runtime env
(read from train(), see `train_entry.ray_init_kwargs`) plus our env vars and `worker_process_setup_hook`.

`ray job submit` users pass the same through `--runtime-env-json` (`job_submit_command` prints it). There the
job's runtime env and OpenRLHF's later ray.init are merged by Ray, which refuses overlapping keys: so the job's
JSON carries only RLEV's keys and OpenRLHF's defaults stay with OpenRLHF.

Ray allows one `worker_process_setup_hook` per job. A job that brings its own keeps it: the plugin's hook takes the
slot and runs the job's first (named in OPENRLHF_RLEV_SETUP_HOOKS), then its own. Everything else in the job's
runtime env (pip, working_dir, py_modules, its env vars) is left to Ray's own merge.
"""

import copy
import json
import os
import shlex
from typing import Mapping

from openrlhf_rlev.integrations.openrlhf.ray_setup import CHAIN_ENV

SETUP_HOOK = "openrlhf_rlev.integrations.openrlhf.ray_setup.setup"
HOOK_KEY = "worker_process_setup_hook"
# Set by Ray's job manager in a submitted job's driver (ray._private.runtime_env.constants).
JOB_CONFIG_ENV = "RAY_JOB_CONFIG_JSON_ENV_VAR"
# Ray's switch that lets ray.init's runtime env win a conflict with the job's (ray._private.worker.init).
OVERRIDE_ENV = "RAY_OVERRIDE_JOB_RUNTIME_ENV"


class RuntimeEnvError(ValueError):
    pass


def rlev_runtime_env(worker_env: Mapping[str, str]) -> dict:
    return {"env_vars": dict(worker_env), HOOK_KEY: SETUP_HOOK}


def ray_init_kwargs(openrlhf_kwargs: dict, worker_env: Mapping[str, str]) -> dict:
    """OpenRLHF's ray.init kwargs with RLEV's env vars and setup hook merged into its runtime env."""
    kwargs = copy.deepcopy(openrlhf_kwargs)
    runtime_env = dict(kwargs.get("runtime_env") or {})
    hook = runtime_env.get(HOOK_KEY)
    if hook not in (None, SETUP_HOOK):
        raise RuntimeEnvError(f"OpenRLHF already sets {HOOK_KEY}={hook!r}; cannot install {SETUP_HOOK}")
    runtime_env["env_vars"] = {**(runtime_env.get("env_vars") or {}), **worker_env}
    runtime_env[HOOK_KEY] = SETUP_HOOK
    kwargs["runtime_env"] = runtime_env
    return kwargs


def reconcile_with_job(kwargs: dict, environ: Mapping[str, str] | None = None) -> dict:
    """Inside a `ray job submit` driver, drop what the job's runtime env already sets identically.

    Ray refuses to merge a job's runtime env with ray.init's when they share a key. OpenRLHF's defaults yield
    to the job's values (as OpenRLHF's own `os.environ.get` defaults do); an RLEV key that the job sets to something
    else is a contradiction and an error. A job's own setup hook is chained: it runs first in every worker, then
    the plugin's (`init_ray` lets ours take Ray's single slot).
    """
    environ = os.environ if environ is None else environ
    if JOB_CONFIG_ENV not in environ:
        return kwargs
    job_env = (json.loads(environ[JOB_CONFIG_ENV]) or {}).get("runtime_env") or {}
    kwargs = copy.deepcopy(kwargs)
    ours = kwargs["runtime_env"]
    job_vars = job_env.get("env_vars") or {}
    for key in list(ours["env_vars"]):
        if key not in job_vars:
            continue
        if key == CHAIN_ENV and job_env.get(HOOK_KEY) not in (None, SETUP_HOOK):
            continue  # rewritten below to include the job's hook
        if job_vars[key] != ours["env_vars"][key] and key.startswith(("RLEV_", "OPENRLHF_RLEV_")):
            raise RuntimeEnvError(
                f"the submitted job's runtime env sets {key}={job_vars[key]!r} but this launch asks for "
                f"{ours['env_vars'][key]!r}; set it in one place"
            )
        del ours["env_vars"][key]
    job_hook = job_env.get(HOOK_KEY)
    if job_hook is not None and job_hook != SETUP_HOOK:
        if not isinstance(job_hook, str):
            raise RuntimeEnvError(f"the submitted job's {HOOK_KEY} is {job_hook!r}; chaining needs 'module.function'")
        # Chained, not refused: ours takes Ray's one slot and calls the job's hook first (see ray_setup).
        chained = [job_hook, *[h for h in str(job_vars.get(CHAIN_ENV, "")).split(",") if h.strip()]]
        ours["env_vars"][CHAIN_ENV] = ",".join(dict.fromkeys(h.strip() for h in chained))
    elif job_hook == SETUP_HOOK:
        del ours[HOOK_KEY]
    for key in set(ours) & set(job_env) - {"env_vars", HOOK_KEY}:
        raise RuntimeEnvError(f"the submitted job's runtime env and this launch both set {key!r}")
    return kwargs


def job_submit_command(worker_env: Mapping[str, str], openrlhf_argv: list[str], python: str = "python3") -> str:
    """The `ray job submit` command that runs the same training with plain OpenRLHF as the entrypoint."""
    runtime_env = json.dumps(rlev_runtime_env(worker_env), sort_keys=True)
    rest = shlex.join(
        ["--runtime-env-json", runtime_env, "--", python, "-m", "openrlhf.cli.train_ppo_ray", *openrlhf_argv]
    )
    return 'ray job submit --address "${RAY_ADDRESS:-http://127.0.0.1:8265}" ' + rest


def overrides_job_hook(kwargs: dict, environ: Mapping[str, str] | None = None) -> bool:
    """Whether ray.init must replace the submitted job's own setup hook with ours (which then chains it)."""
    environ = os.environ if environ is None else environ
    if JOB_CONFIG_ENV not in environ:
        return False
    job_env = (json.loads(environ[JOB_CONFIG_ENV]) or {}).get("runtime_env") or {}
    ours = (kwargs.get("runtime_env") or {}).get(HOOK_KEY)
    return HOOK_KEY in job_env and ours is not None and job_env[HOOK_KEY] != ours


def init_ray(kwargs: dict, **extra):
    """ray.init with the merged runtime env; `extra` is for tests (num_cpus, include_dashboard) and the CPU backend.

    Where the job's own setup hook is chained (`reconcile_with_job`), Ray is told to let ray.init's hook win the
    slot; every other conflict was already resolved, so nothing else of the job's is overridden.
    """
    import ray

    if not overrides_job_hook(kwargs):
        return ray.init(**kwargs, **extra)
    saved = os.environ.get(OVERRIDE_ENV)
    os.environ[OVERRIDE_ENV] = "1"
    try:
        return ray.init(**kwargs, **extra)
    finally:
        if saved is None:
            os.environ.pop(OVERRIDE_ENV, None)
        else:
            os.environ[OVERRIDE_ENV] = saved
