"""The pre-registered CPU experiment's analysis (benchmarks/train_cpu/analyze.py, issue 18): its self-test on
synthetic runs with known effects, so that a change to the analysis that would alter a reported number fails here
rather than in a report. It scores with the plugin's code of the counted runs (run.sh's EXPERIMENT_CODE, exported),
so a change to the plugin on main does not move the report (PREREG.md, Amendment 3)."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ANALYZE = os.path.join(ROOT, "benchmarks", "train_cpu", "analyze.py")


def test_the_analysis_finds_the_known_effects_of_synthetic_runs():
    # The self-test asserts exact per-seed differences, the H1-H3 decisions, which folders count (finished,
    # registered, complete), the P(EOS) figure's data, the table beside the paper and that --check catches an edited
    # number in RESULTS.md; it exits non-zero on the first assertion that fails.
    done = subprocess.run([sys.executable, ANALYZE, "--selftest"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "selftest ok" in done.stdout


@pytest.mark.slow
def test_results_md_is_what_the_committed_runs_give():
    # Recomputes the whole analysis from the committed raw files (benchmarks/train_cpu/runs/) and compares it with
    # the report in RESULTS.md, and every interval quoted in the reading above it; fails on any difference (a run
    # committed without regenerating the report, a changed evaluation, an edited number).
    results_md = os.path.join(ROOT, "benchmarks", "train_cpu", "RESULTS.md")
    done = subprocess.run(
        [sys.executable, ANALYZE, "--check", results_md], capture_output=True, text=True, timeout=900, cwd=ROOT
    )
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-3000:]
    assert "its report is what the committed runs give" in done.stdout
