"""The two-node test job's OWN Ray setup hook (a user's hook, shipped in the job's working_dir).

Ray allows one hook per job; the plugin's hook takes the slot and runs this one first (OPENRLHF_RLEV_SETUP_HOOKS).
It records, once a second, what this worker process is and what the plugin did in it, into
$RLEV_TEST_EVIDENCE/<pid>.json, so that the test can check every worker on both nodes.
"""

import dataclasses
import json
import os
import sys
import threading
import time

ORDER = []  # "job" when this hook ran; the plugin's hook has not yet run then (its state is empty)


def record() -> dict:
    import ray

    import openrlhf_rlev
    from openrlhf_rlev.integrations.openrlhf import grpo, ray_setup, steplog

    state = ray_setup.state()
    maker = sys.modules.get(grpo.TARGET_MODULE)
    trainer = sys.modules.get(steplog.TRAINER_MODULE)
    method = getattr(getattr(maker, grpo.TARGET_CLASS, None), grpo.TARGET_METHOD, None)
    save_logs = getattr(getattr(trainer, "BasePPOTrainer", None), "save_logs_and_checkpoints", None)
    with open("/proc/self/cmdline", "rb") as f:
        title = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    return {
        "pid": os.getpid(),
        "node_id": ray.get_runtime_context().get_node_id(),
        "title": title,
        "plugin_file": openrlhf_rlev.__file__,
        "order": list(ORDER),
        "job_env": os.environ.get("RLEV_TEST_JOB_ENV"),
        "plugin_hook": {
            "ran": bool(state),
            "node_id": state.get("node_id"),
            "settings": dataclasses.asdict(state["settings"]) if state else None,
            "grpo": state.get("grpo"),
            "chained": state.get("chained"),
            "cpu": state.get("cpu"),
        },
        "grpo_patched": bool(method is not None and getattr(method, grpo.PATCHED_MARK, False)),
        "steplog_patched": bool(save_logs is not None and getattr(save_logs, steplog.PATCHED_MARK, False)),
    }


def _write_forever(folder: str) -> None:
    while True:
        try:
            data = json.dumps(record())
            path = os.path.join(folder, f"{os.getpid()}.json")
            with open(path + ".tmp", "w") as f:
                f.write(data)
            os.replace(path + ".tmp", path)
        except Exception as e:  # record what went wrong rather than nothing
            with open(os.path.join(folder, f"{os.getpid()}.error"), "w") as f:
                f.write(repr(e))
        time.sleep(1)


def setup() -> None:
    from openrlhf_rlev.integrations.openrlhf import ray_setup

    ORDER.append("job" if not ray_setup.state() else "job-after-plugin")
    folder = os.environ["RLEV_TEST_EVIDENCE"]
    threading.Thread(target=_write_forever, args=(folder,), daemon=True).start()
