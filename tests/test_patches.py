"""The upstream patch series in patches/ against a copy of the installed openrlhf 0.11.2 sources.

The copy is patched with the standard tools (GNU patch, and git apply where available) and then imported from
the copy, in a subprocess with the copy first on sys.path, so nothing in this process or the venv changes. In the
subprocess the patched code runs for real: the entry-point lookup, OpenRLHF's SingleTurnAgentExecutor, the
patched train_ppo_ray parser, and the patched compute_advantages_and_returns. Stubbed there, as in OpenRLHF's own
tests, only what needs the GPU stack: `deepspeed` (imported at the top of models/utils.py, unused by the reward
shaping), `openrlhf.models.utils` loaded by path (its package __init__ imports peft), and
`openrlhf.trainer.ray.launcher` (imports vllm; a type hint in the experience maker); the dry-run parser turns
the training stack's top-level imports into placeholders (openrlhf_rlev.train_entry).
"""

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("openrlhf")

from openrlhf_rlev import grpo  # noqa: E402

PATCHES = sorted((Path(__file__).resolve().parents[1] / "patches").glob("*.patch"))
INSTALLED = grpo.installed_openrlhf_root()


def test_series_is_present_and_described():
    assert [p.name for p in PATCHES] == ["0001-reward-func-entry-points.patch", "0002-group-norm-keep-scale.patch"]
    for path in PATCHES:
        header = path.read_text().split("\ndiff ", 1)[0]
        assert header.startswith("From:") and "Subject: [PATCH" in header
        assert "Why\n---" in header and "What\n----" in header and "0.11.2" in header


def pristine_copy(tmp_path) -> Path:
    from importlib.metadata import version

    assert version("openrlhf") == "0.11.2"
    root = tmp_path / "src"
    shutil.copytree(INSTALLED, root / "openrlhf", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def apply(root: Path, patch: Path, dry_run: bool = False):
    args = ["patch", "-p1", "--batch", "--forward", *(["--dry-run"] if dry_run else []), "-i", str(patch)]
    return subprocess.run(args, cwd=root, capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(shutil.which("patch") is None, reason="GNU patch not installed")
def test_series_applies_cleanly_with_patch(tmp_path):
    root = pristine_copy(tmp_path)
    for patch in PATCHES:
        dry = apply(root, patch, dry_run=True)
        assert dry.returncode == 0 and "FAILED" not in dry.stdout and "fuzz" not in dry.stdout, dry.stdout
        assert apply(root, patch).returncode == 0
    assert (root / "openrlhf/utils/reward_funcs.py").exists()
    assert "group_norm_scale_key" in (root / "openrlhf/trainer/ppo_utils/experience_maker.py").read_text()


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_series_applies_cleanly_with_git_apply(tmp_path):
    root = pristine_copy(tmp_path)
    for patch in PATCHES:
        check = subprocess.run(["git", "apply", "--check", str(patch)], cwd=root, capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        subprocess.run(["git", "apply", str(patch)], cwd=root, check=True, timeout=60)


CHILD = textwrap.dedent(
    r"""
    import importlib, importlib.util, json, sys, types
    from types import SimpleNamespace

    root = sys.argv[1]
    sys.path.insert(0, root)
    import openrlhf
    import openrlhf_rlev.reward_func as rlev

    out = {"openrlhf_file": openrlhf.__file__}

    # (a) --reward.func: the entry point by name, in the executor every vLLM engine builds
    from openrlhf.utils.reward_funcs import load_reward_func
    from openrlhf.utils.agent import SingleTurnAgentExecutor

    out["same_func"] = load_reward_func("rlev") is rlev.reward_func
    try:
        load_reward_func("nope")
    except ValueError as e:
        out["unknown"] = str(e)
    executor = SingleTurnAgentExecutor(["func:rlev"])
    out["executor_func"] = executor.reward_func is rlev.reward_func
    prompt = "Which option? (A) 1 (B) 2\n"
    result = executor.reward_func([prompt + "The answer is (B)"], [prompt], [{"answer": "B", "value": 0.1}])
    out["reward"], out["score"] = result["rewards"], result["scores"]

    from openrlhf_rlev import train_entry

    base = ["--actor.model_name_or_path", "m", "--data.label_key", "label", "--rollout.n_samples_per_prompt", "4"]
    parsed = train_entry.parse(
        base + ["--reward.func", "rlev", "--algo.advantage.estimator", "group_norm",
                "--algo.advantage.group_norm_scale_key", "rlev/scale"],
        allow_missing_imports=True,
    )
    out["parser_file"] = parsed.namespace["__file__"]
    out["remote_url"] = parsed.args.reward.remote_url
    out["scale_key"] = parsed.args.algo.advantage.group_norm_scale_key
    out["errors"] = []
    for extra in (
        ["--reward.func", "rlev", "--reward.remote_url", "x.py"],
        ["--reward.func", "nope"],
        ["--reward.func", "rlev", "--algo.advantage.estimator", "rloo", "--algo.advantage.group_norm_scale_key", "k"],
    ):
        try:
            train_entry.parse(base + extra, allow_missing_imports=True)
            out["errors"].append(None)
        except (AssertionError, ValueError) as e:
            out["errors"].append(str(e))

    # (b) group_norm keeping the scale, in the patched compute_advantages_and_returns
    import torch
    import openrlhf.trainer.ppo_utils
    from openrlhf.trainer.ppo_utils.experience import Experience

    sys.modules["deepspeed"] = types.ModuleType("deepspeed")
    spec = importlib.util.spec_from_file_location("openrlhf.models.utils", root + "/openrlhf/models/utils.py")
    utils = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(utils)
    sys.modules["openrlhf.models.utils"] = utils
    launcher = types.ModuleType("openrlhf.trainer.ray.launcher")
    launcher.RayActorGroup = object
    sys.modules["openrlhf.trainer.ray.launcher"] = launcher
    em = importlib.import_module("openrlhf.trainer.ppo_utils.experience_maker")
    out["em_file"] = em.__file__

    n, pattern = 4, [1.0, 0.0, 0.0, 1.0]
    groups = [(1.0, pattern), (2.0, pattern), (2.0, [1.0] * n), (1.5, [0.0] * n)]
    order = [5, 0, 14, 9, 3, 12, 7, 1, 10, 15, 2, 8, 6, 13, 4, 11]

    def batch():
        experiences = []
        for start in range(0, len(order), 4):
            index = order[start : start + 4]
            s = torch.tensor([groups[i // n][0] for i in index])
            c = torch.tensor([groups[i // n][1][i % n] for i in index])
            experiences.append(Experience(
                index=index, rewards=s * c, scores=c, action_mask=torch.ones(4, 3, dtype=torch.bool),
                kl=torch.zeros(4, 3), info={"rlev/scale": s, "reward": s * c},
            ))
        return experiences

    def advantages(scale_key):
        maker = em.RemoteExperienceMaker.__new__(em.RemoteExperienceMaker)
        maker.advantage_estimator = "group_norm"
        maker.kl_ctl = SimpleNamespace(value=0.0)
        advantage = SimpleNamespace(estimator="group_norm", gamma=1.0, group_norm_scale_key=scale_key)
        maker.strategy = SimpleNamespace(args=SimpleNamespace(
            rollout=SimpleNamespace(n_samples_per_prompt=n), reward=SimpleNamespace(clip_range=(-10, 10)),
            algo=SimpleNamespace(advantage=advantage),
        ))
        rows = {}
        for e in maker.compute_advantages_and_returns(batch()):
            for k, i in enumerate(e.index):
                rows[i] = e.advantages[k, 0].item()
        return [rows[i] for i in sorted(rows)]

    out["kept"] = advantages("rlev/scale")
    out["stock"] = advantages(None)
    try:
        advantages("no/such_key")
    except ValueError as e:
        out["missing_key"] = str(e)
    print(json.dumps(out))
    """
)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("patch") is None, reason="GNU patch not installed")
def test_patched_openrlhf_finds_the_plugin_and_keeps_the_scale(tmp_path):
    root = pristine_copy(tmp_path)
    for patch in PATCHES:
        assert apply(root, patch).returncode == 0
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(root)], capture_output=True, text=True, timeout=600, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in ("openrlhf_file", "parser_file", "em_file"):
        assert out[key].startswith(str(root)), key  # the patched copy ran, not the installed package

    # (a) the plugin's entry point, found by name
    assert out["same_func"] and out["executor_func"]
    assert "unknown reward func 'nope'" in out["unknown"] and "rlev" in out["unknown"]
    assert (out["reward"], out["score"]) == (2.0, 1.0)  # value 0.1, alpha 10: s = 2
    assert out["remote_url"] == ["func:rlev"] and out["scale_key"] == "rlev/scale"
    conflict, unknown, wrong_estimator = out["errors"]
    assert "--reward.func cannot be combined with --reward.remote_url" in conflict
    assert "unknown reward func 'nope'" in unknown
    assert "group_norm_scale_key requires --algo.advantage.estimator group_norm" in wrong_estimator

    # (b) group_norm with the new option: the s = 2 group gets exactly 2x the s = 1 group's advantages
    n = 4
    kept = [out["kept"][i : i + n] for i in range(0, 4 * n, n)]
    stock = [out["stock"][i : i + n] for i in range(0, 4 * n, n)]
    assert any(kept[0]) and kept[1] == [2 * a for a in kept[0]]
    assert kept[2] == [0.0] * n and kept[3] == [0.0] * n  # all correct, all wrong
    assert stock[1] == pytest.approx(stock[0])  # without the option: s cancels, as in 0.11.2
    assert kept[0] == pytest.approx(stock[0])  # s = 1: identical to plain group_norm
    assert "no info['no/such_key']" in out["missing_key"]
