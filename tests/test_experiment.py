"""The pre-registered CPU experiment's analysis (benchmarks/train_cpu/analyze.py, issue 18): its self-test on
synthetic runs with known effects, so that a change to the plugin's evaluation or to the analysis that would alter
a reported number fails here rather than in a report."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ANALYZE = os.path.join(ROOT, "benchmarks", "train_cpu", "analyze.py")


def test_the_analysis_finds_the_known_effects_of_synthetic_runs():
    # The self-test asserts exact per-seed differences, the H1-H3 decisions, which folders count (finished,
    # registered, complete), the P(EOS) figure's data, the table beside the paper and that --check catches an edited
    # number in RESULTS.md; it exits non-zero on the first assertion that fails.
    done = subprocess.run([sys.executable, ANALYZE, "--selftest"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "selftest ok" in done.stdout
