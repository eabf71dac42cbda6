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

import json
import os
import subprocess
import sys

import pytest
import tiny_policy  # tests/conftest.py puts tests/ on sys.path

pytestmark = pytest.mark.slow
pytest.importorskip("openrlhf")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("async_cpu")
    return root, tiny_policy.build(root / "tiny"), tiny_policy.write_dataset(root / "train.jsonl", 4)


def train(setup, name: str, scaling: str):
    root, model, data = setup
    out = root / name
    argv = [
        sys.executable, "-m", "openrlhf_rlev.cli.train_ppo_ray", "--rlev.cpu", "--reward_func", "rlev",
        "--rlev.scaling", scaling, "--rlev.log_jsonl", str(out / "log.jsonl"), "--train.async_enable",
        "--actor.model_name_or_path", str(model), "--ckpt.output_dir", str(out / "model"),
        "--data.prompt_dataset", str(data), "--data.input_key", "prompt", "--data.label_key", "label",
        "--data.apply_chat_template", "--rollout.n_samples_per_prompt", "4", "--rollout.batch_size", "4",
        "--train.batch_size", "16", "--train.micro_batch_size", "4", "--rollout.max_new_tokens", "8",
        "--data.max_len", "160", "--actor.adam.lr", "1e-4", "--actor.lr_scheduler", "constant",
        "--actor.lr_warmup_ratio", "0", "--actor.adam.eps", "1e-15", "--actor.max_norm", "0", "--train.seed", "7",
        "--algo.kl.init_coef", "0", "--algo.advantage.estimator", "group_norm", "--rlev.grpo", "value",
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=900, cwd=root)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    from safetensors.torch import load_file

    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return {"output": output, "log": log, "weights": load_file(str(out / "model" / "model.safetensors"))}


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
