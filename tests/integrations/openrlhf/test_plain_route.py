"""The plain route (OpenRLHF's own command with RLEV's reward file, no setup hook) warns when group_norm will divide
s(x) out. The slow test is a real local Ray job whose driver's command line asks for group_norm: a Ray actor loads
the reward file through OpenRLHF's real SingleTurnAgentExecutor, as a rollout engine does, and the warning must be
logged there; nothing is stubbed."""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest
import ray_logs  # tests/conftest.py puts tests/ on sys.path

from openrlhf_rlev.integrations.openrlhf import plain_route


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--algo.advantage.estimator", "group_norm"], "group_norm"),
        (["--algo.advantage.estimator=rloo"], "rloo"),
        (["--algo.advantage.estimator", "group_norm", "--algo.advantage.estimator", "rloo"], "rloo"),
        (["--data.label_key", "label"], "gae"),
    ],
)
def test_estimator_from_a_command_line(argv, expected):
    assert plain_route.estimator(["python", "-m", "openrlhf.cli.train_ppo_ray", *argv]) == expected


def test_warning_only_when_group_norm_cancels_the_value():
    grpo = ["--algo.advantage.estimator", "group_norm"]
    assert plain_route.warning_for(grpo, hook_active=False) == plain_route.WARNING
    assert plain_route.warning_for(grpo, hook_active=True) is None
    # an OpenRLHF with the upstream advantage-weight change, told to weight by s(x), keeps it itself
    assert plain_route.warning_for([*grpo, "--algo.advantage.weight_key", "rlev/scale"], hook_active=False) is None
    assert plain_route.warning_for(["--algo.advantage.estimator", "rloo"], False) is None
    assert plain_route.warning_for(None, False) is None  # not in Ray: nothing to read


def test_outside_ray_nothing_is_read():
    assert plain_route.driver_argv() is None and plain_route.warn_when_loaded() is None


DRIVER = textwrap.dedent(
    """
    import json, sys, ray
    from openrlhf_rlev import REWARD_FUNC_PATH

    ray.init(num_cpus=1, include_dashboard=False)

    @ray.remote(num_cpus=0)
    class Engine:
        def load(self):
            from openrlhf.utils.agent import SingleTurnAgentExecutor  # as vllm_engine.py builds it
            SingleTurnAgentExecutor(REWARD_FUNC_PATH)
            from openrlhf_rlev.integrations.openrlhf import plain_route
            print("ENGINE LOADED THE REWARD FILE", file=sys.stderr, flush=True)  # what came before is in its log
            return plain_route.warned()

    print("WARNED", json.dumps(ray.get(Engine.remote().load.remote(), timeout=300)))
    ray.shutdown()
    """
)


@pytest.mark.slow
@pytest.mark.parametrize(("estimator", "warns"), [("group_norm", True), ("rloo", False)])
def test_a_ray_engine_loading_the_reward_file_warns_for_stock_group_norm(tmp_path, estimator, warns):
    """The warning is read from the engine's own log file (ray_logs.py: Ray forwards it to the driver's output only
    asynchronously and best-effort, so the driver's stderr may miss it)."""
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    argv = [sys.executable, str(script), "--algo.advantage.estimator", estimator, "--data.label_key", "label"]
    temp = ray_logs.short_temp_dir("rlev-plain")
    try:
        env = {**os.environ, "RAY_TMPDIR": str(temp)}  # this driver's Ray session, and only it, under `temp`
        done = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env)
        assert done.returncode == 0, done.stderr[-4000:]
        line = next(x for x in done.stdout.splitlines() if x.startswith("WARNED"))
        assert (plain_route.WARNING in json.loads(line[len("WARNED") :])) == warns, line
        ray_logs.wait_for_actor_line(temp, "Engine", "ENGINE LOADED THE REWARD FILE")  # its log is complete to there
        log = "\n".join(ray_logs.actor_logs(temp, "Engine").values())  # its stdout and stderr files
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    assert (plain_route.WARNING in log) == warns, log[-3000:]  # logged at run time, in the engine's log
    assert "could not check the estimator" not in log  # the check itself ran
