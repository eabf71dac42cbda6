"""The upstream patch series in patches/, checked against the installed openrlhf 0.11.2 wheel.

patches/*.patch is a `git format-patch` series against OpenRLHF's repository (v0.11.0, which CI cannot fetch);
patches/openrlhf-0.11.2/ is the same change rebased onto the 0.11.2 wheel's sources. The wheel installs OpenRLHF's
own tests/ next to openrlhf/, so here a copy of both is patched with the standard tools, OpenRLHF's tests (the
series' new ones included) run against the copy in a subprocess, and the patched executor loads this plugin's
reward function by name. Nothing in this process or the venv changes.
"""

import json
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
REPO_SERIES = sorted(PATCHES.glob("*.patch"))
WHEEL_SERIES = sorted((PATCHES / "openrlhf-0.11.2").glob("*.patch"))
INSTALLED = grpo.installed_openrlhf_root()
AUTHOR = "From: openrlhf-rlev developers <openrlhf-rlev@users.noreply.github.com>"
GROUP_NORM_FILE = "openrlhf/trainer/ppo_utils/experience_maker.py"


def added_and_removed(patch: Path) -> dict[str, list[str]]:
    """The +/- lines of each file a patch touches (what it changes, without context or line numbers)."""
    changes, path = {}, None
    for line in patch.read_text().splitlines():
        if line.startswith("diff --git "):
            path = line.split(" b/", 1)[1]
        elif path and line[:1] in "+-" and not line.startswith(("+++", "---")):
            changes.setdefault(path, []).append(line)
    return changes


def test_both_series_are_the_same_change_by_the_same_author():
    assert [p.name for p in REPO_SERIES] == [p.name for p in WHEEL_SERIES]
    assert [p.name[:5] for p in REPO_SERIES] == ["0001-", "0002-"]
    for i, (repo, wheel) in enumerate(zip(REPO_SERIES, WHEEL_SERIES), 1):
        for patch in (repo, wheel):
            assert AUTHOR in patch.read_text() and f"Subject: [PATCH {i}/2]" in patch.read_text()
        repo_changes = added_and_removed(repo)
        assert repo_changes.pop("README.md")  # the wheel ships no README
        assert repo_changes == added_and_removed(wheel)
    base = re.search(r"\b3c3be62[0-9a-f]*\b", (PATCHES / "README.md").read_text())
    assert base, "patches/README.md names the base commit"


@pytest.fixture
def wheel_copy(tmp_path) -> Path:
    from importlib.metadata import files, version

    if version("openrlhf") != "0.11.2":
        pytest.skip("patches/openrlhf-0.11.2 targets the 0.11.2 wheel")
    tests = INSTALLED.parent / "tests"
    if not (tests / "test_experience.py").exists():
        pytest.skip("the installed wheel has no OpenRLHF tests/")
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(INSTALLED, tmp_path / "openrlhf", ignore=ignore)
    # Only OpenRLHF's own files: other wheels (verl's) install a top-level tests/ into site-packages too.
    for file in files("openrlhf"):
        if file.parts[0] == "tests" and "__pycache__" not in file.parts:
            (tmp_path / file).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file.locate(), tmp_path / file)
    return tmp_path


def run(args, root: Path, check=False):
    return subprocess.run(args, cwd=root, capture_output=True, text=True, timeout=600, check=check)


@pytest.mark.skipif(shutil.which("patch") is None, reason="GNU patch not installed")
def test_wheel_series_applies_without_fuzz(wheel_copy):
    for patch in WHEEL_SERIES:
        dry = run(["patch", "-p1", "--batch", "--forward", "--dry-run", "-i", str(patch)], wheel_copy)
        assert dry.returncode == 0 and "FAILED" not in dry.stdout and "fuzz" not in dry.stdout, dry.stdout
        run(["patch", "-p1", "--batch", "--forward", "-i", str(patch)], wheel_copy, check=True)
    assert "scales" in (wheel_copy / GROUP_NORM_FILE).read_text()
    # The plugin steps aside for an OpenRLHF that keeps the scale itself, and only for it.
    assert grpo.upstream_keeps_scale(wheel_copy / "openrlhf") and not grpo.upstream_keeps_scale(INSTALLED)
    assert grpo.check_compatible(wheel_copy / "openrlhf") == grpo.UPSTREAM


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_repo_series_on_the_wheel_differs_only_in_the_group_norm_hunk(wheel_copy):
    # What patches/README.md says: beyond the README, only 0002's experience_maker.py hunk needs the rebase.
    first, second = REPO_SERIES
    run(["git", "apply", "--exclude=README.md", str(first)], wheel_copy, check=True)
    failed = run(["git", "apply", "--check", "--exclude=README.md", str(second)], wheel_copy)
    assert failed.returncode != 0 and f"patch failed: {GROUP_NORM_FILE}" in failed.stderr, failed.stderr
    exclude = ["--exclude=README.md", f"--exclude={GROUP_NORM_FILE}"]
    assert run(["git", "apply", "--check", *exclude, str(second)], wheel_copy).returncode == 0


CHILD = textwrap.dedent(
    """
    import json, sys

    sys.path.insert(0, sys.argv[1])
    from openrlhf.utils.agent import SingleTurnAgentExecutor
    import openrlhf_rlev.integrations.openrlhf.reward_func as rlev

    executor = SingleTurnAgentExecutor("openrlhf_rlev.integrations.openrlhf.reward_func:reward_func")
    prompt = "Which option? (A) 1 (B) 2\\n"
    out = executor.reward_func([prompt + "The answer is (B)"], [prompt], [{"answer": "B", "value": 0.1}])
    print(json.dumps({"file": sys.modules[SingleTurnAgentExecutor.__module__].__file__,
                      "same": executor.reward_func is rlev.reward_func, "reward": out["rewards"]}))
    """
)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("patch") is None, reason="GNU patch not installed")
def test_patched_wheel_passes_openrlhf_tests_and_loads_the_plugin_by_name(wheel_copy):
    for patch in WHEEL_SERIES:
        run(["patch", "-p1", "--batch", "--forward", "-i", str(patch)], wheel_copy, check=True)

    # OpenRLHF's own tests, the series' tests/test_reward_func.py included, against the patched copy.
    tests = run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests"], wheel_copy)
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
    assert "tests/test_reward_func.py ...." in tests.stdout, tests.stdout[-3000:]

    child = run([sys.executable, "-c", CHILD, str(wheel_copy)], wheel_copy)
    assert child.returncode == 0, child.stderr[-3000:]
    out = json.loads(child.stdout.strip().splitlines()[-1])
    assert out["file"].startswith(str(wheel_copy))  # the patched copy ran, not the installed package
    assert out["same"] and out["reward"] == 2.0  # value 0.1, alpha 10: s = 2
