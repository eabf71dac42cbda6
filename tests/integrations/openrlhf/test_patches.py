"""The two upstream pull requests in patches/, checked against the installed openrlhf 0.11.2 wheel.

Each PR (patches/remote-url, patches/advantage-weight) is one `git format-patch` commit against OpenRLHF's
repository at v0.11.0 (which CI cannot fetch) and the same change rebased onto the 0.11.2 release tree (the wheel's
sources, in its openrlhf-0.11.2/ folder). The wheel installs OpenRLHF's own tests/ next to openrlhf/, so here copies
of both are patched with the standard tools: each PR alone (its own tests run), then both (OpenRLHF's whole suite
runs once), and the patched copy loads this plugin's reward function by name and takes the launcher's upstream
route. Nothing in this process or the venv changes.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("openrlhf")

from openrlhf_rlev.integrations.openrlhf import grpo  # noqa: E402

PATCHES = Path(__file__).resolve().parents[3] / "patches"
# Each PR: its folder, and the OpenRLHF test file its tests extend (created on v0.11.0, which lacks it).
PRS = {"remote-url": "tests/test_agent.py", "advantage-weight": "tests/test_reward_shaping.py"}
INSTALLED = grpo.installed_openrlhf_root()
AUTHOR = "From: openrlhf-rlev developers <openrlhf-rlev@users.noreply.github.com>"
READMES = {"README.md", "README_zh.md", "README_ja.md"}


def repo_patch(pr: str) -> Path:
    (patch,) = (PATCHES / pr).glob("*.patch")
    return patch


def wheel_patch(pr: str) -> Path:
    (patch,) = (PATCHES / pr / "openrlhf-0.11.2").glob("*.patch")
    return patch


def added_and_removed(patch: Path) -> dict[str, list[str]]:
    """The +/- lines of each file a patch touches (what it changes, without context or line numbers)."""
    changes, path = {}, None
    for line in patch.read_text().splitlines():
        if line.startswith("diff --git "):
            path = line.split(" b/", 1)[1]
            changes[path] = []
        elif path and line[:1] in "+-" and not line.startswith(("+++", "---")):
            changes[path].append(line)
    return changes


def subject(patch: Path) -> str:
    return re.search(r"^Subject: \[PATCH\] (.*(?:\n .*)*)", patch.read_text(), re.M).group(1)


@pytest.mark.parametrize("pr", PRS)
def test_each_pr_is_one_commit_with_the_same_change_in_both_series(pr):
    repo, wheel = repo_patch(pr), wheel_patch(pr)
    assert AUTHOR in repo.read_text() and AUTHOR in wheel.read_text()
    assert subject(repo) == subject(wheel)
    repo_changes, wheel_changes = added_and_removed(repo), added_and_removed(wheel)
    # The same source change; README, README_zh and README_ja on the repository only (the wheel ships none).
    assert set(repo_changes) == READMES | {p for p in wheel_changes}
    assert all(repo_changes[readme] for readme in READMES)
    sources = {p for p in wheel_changes if p.startswith("openrlhf/")}
    assert sources and all(repo_changes[p] == wheel_changes[p] for p in sources)
    # The same tests: a new file on v0.11.0, appended to 0.11.2's existing one (reusing its loaders).
    (tests,) = set(wheel_changes) - sources
    assert tests == PRS[pr] and "new file mode" not in wheel.read_text()
    assert f"diff --git a/{tests} b/{tests}\nnew file mode" in repo.read_text()

    def test_names(changes):
        return [line.split("(")[0] for line in changes[tests] if line.startswith("+def test_")]

    assert test_names(repo_changes) == test_names(wheel_changes) != []


def test_the_prs_are_independent_and_the_readme_names_the_base():
    touched = [set(added_and_removed(repo_patch(pr))) - READMES for pr in PRS]
    # One shared file, train_ppo_ray.py, in different hunks (each PR's own flag or help text).
    assert touched[0] & touched[1] == {"openrlhf/cli/train_ppo_ray.py"}
    text = (PATCHES / "README.md").read_text()
    assert re.search(r"\b3c3be62[0-9a-f]*\b", text), "patches/README.md names the base commit"
    for pr in PRS:
        assert (PATCHES / pr / "PR.md").is_file() and f"{pr}/" in text


@pytest.fixture
def wheel_copy(tmp_path_factory) -> Path:
    """A copy of the installed openrlhf/ and of OpenRLHF's own tests/ (from the wheel's file list)."""
    from importlib.metadata import files, version

    if version("openrlhf") != "0.11.2":
        pytest.skip("patches/*/openrlhf-0.11.2 target the 0.11.2 wheel")
    if shutil.which("patch") is None or shutil.which("git") is None:
        pytest.skip("GNU patch or git not installed")
    if not (INSTALLED.parent / "tests" / "test_experience.py").exists():
        pytest.skip("the installed wheel has no OpenRLHF tests/")
    root = tmp_path_factory.mktemp("wheel")
    shutil.copytree(INSTALLED, root / "openrlhf", ignore=shutil.ignore_patterns("__pycache__"))
    # Only OpenRLHF's own files: other wheels (verl's) install a top-level tests/ into site-packages too.
    for file in files("openrlhf"):
        if file.parts[0] == "tests" and "__pycache__" not in file.parts:
            (root / file).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file.locate(), root / file)
    return root


def run(args, root: Path, check=False, **kwargs):
    return subprocess.run(args, cwd=root, capture_output=True, text=True, timeout=900, check=check, **kwargs)


def apply(patch: Path, root: Path):
    dry = run(["patch", "-p1", "--batch", "--forward", "--dry-run", "-i", str(patch)], root)
    assert dry.returncode == 0 and "FAILED" not in dry.stdout and "fuzz" not in dry.stdout, dry.stdout
    run(["patch", "-p1", "--batch", "--forward", "-i", str(patch)], root, check=True)


@pytest.mark.parametrize("pr", PRS)
def test_each_pr_applies_alone_to_the_wheel(wheel_copy, pr):
    # The repository commit's source hunks apply to 0.11.2 as they are (line offsets only); its test file does not,
    # because 0.11.2 already has it: that is what the rebased variant changes.
    check = ["git", "apply", "--check", "--include=openrlhf/*", str(repo_patch(pr))]
    assert run(check, wheel_copy).returncode == 0
    apply(wheel_patch(pr), wheel_copy)
    # The plugin's GRPO wrapper steps aside for an OpenRLHF with the weight flag, and only for it.
    assert grpo.upstream_weights_advantages(wheel_copy / "openrlhf") == (pr == "advantage-weight")
    assert not grpo.upstream_weights_advantages(INSTALLED)


CHILD = textwrap.dedent(
    """
    import json, sys

    sys.path.insert(0, sys.argv[1])
    from openrlhf.utils.agent import SingleTurnAgentExecutor
    import openrlhf_rlev.integrations.openrlhf.reward_func as rlev

    executor = SingleTurnAgentExecutor(["openrlhf_rlev.integrations.openrlhf.reward_func:reward_func"])
    prompt = "Which option? (A) 1 (B) 2\\n"
    out = executor.reward_func([prompt + "The answer is (B)"], [prompt], [{"answer": "B", "value": 0.1}])
    print(json.dumps({"file": sys.modules[SingleTurnAgentExecutor.__module__].__file__,
                      "same": executor.reward_func is rlev.reward_func, "reward": out["rewards"]}))
    """
)


@pytest.mark.slow
def test_patched_wheel_passes_openrlhf_tests_and_the_plugin_uses_it(wheel_copy, tmp_path):
    # Each PR alone: the test file it extends.
    for pr, tests in PRS.items():
        alone = tmp_path / pr
        shutil.copytree(wheel_copy, alone)
        apply(wheel_patch(pr), alone)
        result = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", tests], alone)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]

    # Both: OpenRLHF's whole suite, the PRs' tests included.
    for pr in PRS:
        apply(wheel_patch(pr), wheel_copy)
    tests = run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", "tests"], wheel_copy)
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
    for pr, name in zip(PRS.values(), ("test_remote_url_imports", "test_advantage_weight_multiplies_after")):
        assert f"PASSED {pr}::{name}" in tests.stdout, name

    # PR 1: the patched executor loads this plugin's reward function by name.
    child = run([sys.executable, "-c", CHILD, str(wheel_copy)], wheel_copy)
    assert child.returncode == 0, child.stderr[-3000:]
    out = json.loads(child.stdout.strip().splitlines()[-1])
    assert out["file"].startswith(str(wheel_copy))  # the patched copy ran, not the installed package
    assert out["same"] and out["reward"] == 2.0  # value 0.1, alpha 10: s = 2

    # PR 2: the launcher, against the patched OpenRLHF's real parser, passes the weight flag and no wrapper.
    argv = ["--actor.model_name_or_path", "m", "--data.prompt_dataset", "d", "--data.label_key", "label"]
    argv += ["--algo.advantage.estimator", "group_norm", "--rollout.n_samples_per_prompt", "4"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(wheel_copy), os.environ.get("PYTHONPATH")]))}
    launch = ["-m", "openrlhf_rlev.cli.train_ppo_ray", *argv, "--reward_func", "rlev", "--rlev.dry_run"]
    dry = run([sys.executable, *launch], wheel_copy, env=env)
    assert dry.returncode == 0, dry.stderr[-3000:]
    plan = json.loads(dry.stdout)
    assert plan["openrlhf_argv"][-2:] == ["--algo.advantage.weight_key", "rlev/scale"]
    assert plan["openrlhf_args"]["algo"]["advantage"]["weight_key"] == "rlev/scale"
    assert "weights advantages itself" in plan["grpo"]
