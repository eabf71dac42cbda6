"""`--train.async_enable` on the CPU backend: OpenRLHF 0.11.2's PPOTrainerAsync (GenerateSamplesActor + TrainingActor
with a rollout queue and the VLLMLock weight broadcast), with value-keeping GRPO and the step log.

Real: the launcher, OpenRLHF's train() choosing PPOTrainerAsync, its actors, queue and lock, RemoteExperienceMaker in
the TrainingActor with the GRPO wrapper from the real setup hook, the step log. Replaced because they need CUDA: as
in test_train_cpu (vLLM -> the CPU engine, whose pause/resume are no-ops because its calls run one at a time;
DeepSpeed -> CPUStrategy; NCCL -> a state-dict copy).

The check that value-keeping GRPO acted in the async trainer: two runs with RLEV rewards that differ only in
--rlev.grpo (value vs stock) draw the same rollouts (same seed, same weights at generation time), so the same
rewards. The stock run is the control: OpenRLHF's group_norm divides s(x) out there, which leaves its update that of
accuracy-only rewards up to group_norm's eps (measured on this setup against a --rlev.scaling none run: an L2
difference of 3e-5 of the step; test_train_cpu asserts the cancellation). The value run's update differs from the
control's by a share of the step itself (measured: 12%), and only if the TrainingActor's advantages carry s(x).

What the TrainingActor logged is read from its own Ray log files (tests/ray_logs.py): Ray forwards worker output to
the driver only asynchronously and best-effort.
"""

import importlib.util
import shutil
from pathlib import Path

import pytest
import ray_logs
import tiny_policy  # tests/conftest.py puts tests/ on sys.path
import torch

pytestmark = pytest.mark.slow
pytest.importorskip("openrlhf")


def _train_cpu_module():
    """test_train_cpu's launcher command and result reading, reused (its module is not importable by name)."""
    spec = importlib.util.spec_from_file_location("rlev_test_train_cpu", Path(__file__).with_name("test_train_cpu.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("async_cpu")
    # 4 prompts x 4 samples = one rollout batch = one step: the runs below then draw the same rollouts
    return root, tiny_policy.build(root / "tiny"), tiny_policy.write_dataset(root / "train.jsonl", 4)


def train(setup, name: str, grpo: str, scaling: str, ray_temp: Path):
    """test_train_cpu's GRPO run (group_norm, same seed and flags), with --train.async_enable, its Ray session (and
    so its workers' log files) under `ray_temp`."""
    extra = ["--train.async_enable"]
    return _train_cpu_module().train(setup, name, f"grpo_{grpo}", scaling, extra=extra, ray_temp=ray_temp)


@pytest.fixture(scope="module")
def runs(setup):
    temps, out = {}, {}
    try:
        for grpo in ("value", "stock"):
            temps[grpo] = ray_logs.short_temp_dir(f"rlev-async-{grpo}")
            out[grpo] = train(setup, f"async-{grpo}", grpo, "rlev", temps[grpo])
        yield out
    finally:
        for temp in temps.values():
            shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def initial(setup):
    """The weights as the trainer loaded them (bf16, see test_train_cpu)."""
    loaded = _train_cpu_module().weights(setup[1])
    return {name: tensor.to(torch.bfloat16).to(torch.float32) for name, tensor in loaded.items()}


def test_async_trainer_runs_with_the_hook_and_the_step_log(runs):
    for grpo, run in runs.items():
        temp = run["ray_temp"]
        # OpenRLHF's async trainer (not PPOTrainer) wrote the step log in its TrainingActor...
        ray_logs.wait_for_actor_line(temp, "TrainingActor", "RLEV step 1")
        assert not ray_logs.actor_logs(temp, "PPOTrainer"), grpo
        # ...where value-keeping GRPO computed the advantages (the stock run: OpenRLHF's own group_norm)
        if grpo == "value":
            ray_logs.wait_for_actor_line(temp, "TrainingActor", "value-preserving GRPO active")
        else:  # the actor's log is complete: it holds the step line written after the advantages
            logs = ray_logs.actor_logs(temp, "TrainingActor").values()
            assert not any("value-preserving GRPO active" in log for log in logs)
        (step,) = [e for e in run["log"] if e["kind"] == "train"]
        assert step["global_step"] == 1 and 0 < step["rlev/correct"] < 1 and step["rlev/scale"] > 1


def test_the_value_reaches_the_async_update(runs, initial):
    """Value-keeping GRPO moves the update away from the stock control by a share of the control's own step."""
    l2 = _train_cpu_module().l2_diff
    value, stock = runs["value"], runs["stock"]
    assert value["log"][0]["rlev/correct"] == stock["log"][0]["rlev/correct"]  # the same rollouts
    assert value["log"][0]["rlev/scale"] == stock["log"][0]["rlev/scale"] > 1.0  # the same RLEV rewards
    step, effect = l2(initial, stock["weights"]), l2(value["weights"], stock["weights"])
    print(f"async: control step {step:.4g}, value - control {effect:.4g} ({effect / step:.3g} of the step)")
    assert step > 0
    assert effect > 0.05 * step  # rounding alone (s(x) divided out) is 3e-5 of the step here
