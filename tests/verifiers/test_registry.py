"""A new verifier is one module plus one registration, and everything that names verifiers reads the registry:
labels, settings, `prepare`'s prompt instruction and its CLI choices, and the reward."""

import subprocess
import sys
import textwrap

import pytest

from openrlhf_rlev.cli.prepare import build_parser
from openrlhf_rlev.prepare.prompts import build_prompt
from openrlhf_rlev.reward import reasons
from openrlhf_rlev.reward.core import score
from openrlhf_rlev.reward.settings import Settings
from openrlhf_rlev.verifiers import registry

MODULE = """
def check(response, answers, *, settings, question=None):
    if "boom" in response:
        raise ValueError("a verifier bug")
    return response.strip().upper() == answers[0].upper()


def instruction(n_answers):
    return "Shout your answer."
"""


@pytest.fixture
def shout(tmp_path, monkeypatch):
    (tmp_path / "shout_verifier.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_registry", {})
    yield "shout_verifier"
    sys.modules.pop("shout_verifier", None)


def test_builtins_are_registered_lazily():
    assert registry.kinds()[:4] == ("math", "choice", "exact", "judge")
    assert registry.choices()[0] == "auto"


def test_one_registration_reaches_labels_settings_prompts_cli_and_reward(shout):
    registry.register("shout", shout)
    label = {"answer": "yes", "value": 0.1, "verifier": "shout"}
    verdict = score("YES", label, Settings())
    assert verdict.correct and verdict.reward == pytest.approx(2.0)
    assert not score("no", label, Settings()).correct
    assert Settings.from_env({"RLEV_VERIFIER": "shout"}).verifier == "shout"
    assert build_prompt("Q?", "shout", 1)[-1]["content"].endswith("Shout your answer.")
    assert build_parser().parse_args(["x.jsonl", "-o", "y.jsonl", "--verifier", "shout"]).verifier == "shout"


def test_a_raising_verifier_is_a_verifier_error_not_a_crash(shout):
    registry.register("shout", shout)
    verdict = score("boom", {"answer": "x", "verifier": "shout"}, Settings())
    assert verdict.reward == 0.0 and verdict.reason == reasons.VERIFIER_ERROR


def test_an_unregistered_kind_is_a_malformed_label_and_a_bad_setting():
    assert score("x", {"answer": "x", "verifier": "whisper"}).reason == reasons.LABEL_MALFORMED
    with pytest.raises(ValueError, match="verifier"):
        Settings.from_env({"RLEV_VERIFIER": "whisper"})


def test_register_refuses_auto_and_non_identifiers():
    for kind in ("auto", "two words", ""):
        with pytest.raises(ValueError):
            registry.register(kind, "m")


def test_an_installed_package_registers_through_its_entry_point(shout, tmp_path):
    """What `[project.entry-points."openrlhf_rlev.verifiers"]` in a plugin's pyproject installs; seen by every
    process, Ray workers included. A plugin cannot take over a built-in kind."""
    dist = tmp_path / "shout_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: shout-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        textwrap.dedent(f"""
        [{registry.ENTRY_POINT_GROUP}]
        shout = {shout}
        math = {shout}
        """)
    )
    assert "shout" in registry.kinds()
    assert registry.module("math").__name__ == "openrlhf_rlev.verifiers.math"
    assert score("YES", {"answer": "yes", "verifier": "shout"}, Settings()).correct


CONCURRENT_FIRST_CALLS = """
from concurrent.futures import ThreadPoolExecutor
from openrlhf_rlev.reward.core import score
cases = [("\\\\boxed{42}", {"answer": "42", "value": 0.02}), ("\\\\boxed{\\\\frac{1}{2}}", {"answer": "0.5", "value": 0.05}),
         ("Answer: C", {"answer": ["C"], "value": 0.1}), ("The answer is 7.", {"answer": "7", "value": 0.2})] * 4
with ThreadPoolExecutor(16) as pool:  # the verifier modules are imported by these calls, concurrently
    verdicts = list(pool.map(lambda case: score(*case), cases))
print(sorted({v.reason for v in verdicts if not v.correct}) or "all correct")
"""


def test_concurrent_first_calls_wait_for_the_verifier_import():
    """A fresh process whose first reward calls come from 16 threads at once (an engine's thread pool right after
    start): each must see the verifier module fully imported. A half-imported module from sys.modules made most of
    such runs score correct answers internal_error; three fresh processes, each a new chance of the race."""
    for _ in range(3):
        done = subprocess.run(
            [sys.executable, "-c", CONCURRENT_FIRST_CALLS], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.strip().splitlines()[-1] == "all correct", done.stdout + done.stderr[-2000:]


def test_a_thread_never_sees_a_half_read_registry(monkeypatch):
    """Reading the entry points takes file I/O, during which another thread runs. A registry filled in two steps
    (built-ins first, then plugins) let that thread refuse a label naming a plugin kind as malformed: a correct
    answer scored label_malformed on an engine's first concurrent calls. Forced, not hoped for: the entry-point
    read (the one thing replaced, by an in-memory list naming the math verifier) waits until the other thread has
    parsed its label, or 0.5 s when a lock makes that thread wait instead."""
    import importlib.metadata
    import threading

    from openrlhf_rlev.reward import labels

    plugin = importlib.metadata.EntryPoint("plugin_kind", "openrlhf_rlev.verifiers.math", registry.ENTRY_POINT_GROUP)
    reading, parsed = threading.Event(), threading.Event()

    def slow_entry_points(group=None):
        reading.set()
        parsed.wait(0.5)
        return [plugin]

    monkeypatch.setattr(importlib.metadata, "entry_points", slow_entry_points)
    monkeypatch.setattr(registry, "_registry", {})
    got = {}

    def first():
        got["kinds"] = registry.choices()

    def second():
        reading.wait(10)
        try:
            got["label"] = labels.parse_label({"answer": "15", "verifier": "plugin_kind"}).verifier
        except labels.LabelError as e:
            got["label"] = e
        parsed.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert "plugin_kind" in got["kinds"]
    assert got["label"] == "plugin_kind"
