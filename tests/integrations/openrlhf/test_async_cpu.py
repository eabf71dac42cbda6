"""`--train.async_enable` on the CPU backend: OpenRLHF 0.11.2's PPOTrainerAsync (GenerateSamplesActor + TrainingActor
with a rollout queue and the VLLMLock weight broadcast), with value-keeping GRPO and the step log.

Real: the launcher, OpenRLHF's train() choosing PPOTrainerAsync, its actors, queue and lock, RemoteExperienceMaker in
the TrainingActor with the GRPO wrapper from the real setup hook, the step log. Replaced because they need CUDA: as
in test_train_cpu (vLLM -> the CPU engine, whose pause/resume are no-ops because its calls run one at a time;
DeepSpeed -> CPUStrategy; NCCL -> a state-dict copy).

The check that value-keeping GRPO acted in the async trainer: two runs that differ only in --rlev.scaling (rlev vs
none) draw the same rollouts (same seed, same weights at generation time) and so the same correctness; under
OpenRLHF's stock group_norm their updates would be identical (s(x) divides out, see test_train_cpu). They differ
only if the TrainingActor's advantages carry s(x).
"""

import importlib.util
from pathlib import Path

import pytest
import tiny_policy  # tests/conftest.py puts tests/ on sys.path

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
    # 4 prompts x 4 samples = one rollout batch = one step: the two runs below then draw the same rollouts
    return root, tiny_policy.build(root / "tiny"), tiny_policy.write_dataset(root / "train.jsonl", 4)


def train(setup, name: str, scaling: str):
    """test_train_cpu's GRPO run (group_norm, --rlev.grpo value, same seed and flags), with --train.async_enable."""
    return _train_cpu_module().train(setup, name, "grpo_value", scaling, extra=["--train.async_enable"])


@pytest.fixture(scope="module")
def runs(setup):
    return {scaling: train(setup, f"async-{scaling}", scaling) for scaling in ("rlev", "none")}


def test_async_trainer_runs_with_the_hook_and_the_step_log(runs):
    for scaling, run in runs.items():
        out = run["output"]
        assert "TrainingActor" in out  # OpenRLHF's async trainer, not PPOTrainer
        grpo_line = next(x for x in out.splitlines() if "value-preserving GRPO active" in x)
        assert "TrainingActor" in grpo_line  # the wrapper patched the experience maker where async computes it
        assert any("TrainingActor" in x and "RLEV step 1" in x for x in out.splitlines())
        (step,) = [e for e in run["log"] if e["kind"] == "train"]
        assert step["global_step"] == 1 and 0 < step["rlev/correct"] < 1
        assert (step["rlev/scale"] > 1) == (scaling == "rlev")


def test_the_value_reaches_the_async_update(runs):
    rlev, none = runs["rlev"], runs["none"]
    assert rlev["log"][0]["rlev/correct"] == none["log"][0]["rlev/correct"]  # the same rollouts
    diff = max(float((rlev["weights"][k].float() - none["weights"][k].float()).abs().max()) for k in rlev["weights"])
    assert diff > 0  # stock group_norm would give identical weights here (s(x) cancels)
