"""The reward under OpenRLHF's calling pattern: one call per sample, many at once, through `asyncio.to_thread`.

Nothing is stubbed: the real reward file, the real worker pool, real math-verify in worker processes.
"""

import asyncio
import concurrent.futures
import os
import time

import pytest

from openrlhf_rlev.integrations.openrlhf.reward_func import reward_func
from openrlhf_rlev.reward import reasons
from openrlhf_rlev.verifiers import pool

TIMEOUT = 2.0
MARGIN = 1.5
RESTART = 10.0  # a killed worker's replacement imports sympy and math-verify: seconds on a shared 2-core machine

HANG = "Compute it.\n\\boxed{5^{5^{5^{5^5}}}+x}"  # against an expression gold the fast paths cannot settle it: sympy hangs in a worker
CASES = [
    (HANG, {"answer": "x+1", "value": 0.1}, "hang"),
    ("x" * (1 << 20) + "\n答案是 B", {"answer": "B", "value": 0.05}, True),
    ("\ud800\udfff broken \udcff 答案是 B", {"answer": "B", "value": 0.05}, True),
    ("", {"answer": "B", "value": 0.05}, False),
    (None, {"answer": "B", "value": 0.05}, False),
    ("\\boxed{\\frac{1}{2}}", {"answer": "0.5", "value": 0.02}, True),
    ("\\boxed{(x+1)^2}", {"answer": "x^2+2x+1", "value": 0.02}, "slow-ok"),
    ("答案是 C", {"answer": "B", "value": 0.05}, False),
]


async def _run_all(calls):
    loop = asyncio.get_running_loop()
    # As many threads as calls: every call is in flight at once, the hardest case for the pool.
    loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(max_workers=len(calls)))

    async def one(response, label):
        start = time.monotonic()
        result = await asyncio.to_thread(reward_func, [response], [""], [label])
        return result, time.monotonic() - start

    return await asyncio.gather(*(one(r, lbl) for r, lbl, _ in calls))


@pytest.mark.slow
def test_64_concurrent_calls_with_adversarial_inputs_finish_in_time(monkeypatch):
    monkeypatch.setenv("RLEV_TIMEOUT", str(TIMEOUT))
    monkeypatch.setenv("RLEV_VERIFY_WORKERS", "2")
    calls = [CASES[i % len(CASES)] for i in range(64)]
    # As in a vLLM engine, whose loading of the reward file prestarts the workers (a cold pool lets the first calls
    # wait for worker start-up, bounded separately by pool.STARTUP_TIMEOUT).
    assert pool.get_pool(2).wait_ready(60)
    t0 = time.monotonic()
    results = asyncio.run(_run_all(calls))  # an escaping exception would fail here
    wall = time.monotonic() - t0
    hangs = sum(1 for c in calls if c[2] == "hang")
    bound = hangs * (TIMEOUT + RESTART) / 2 + MARGIN
    for (response, label, expected), (out, elapsed) in zip(calls, results):
        # Waiting for a worker is not part of a sample's deadline (docs/limits.md): a call ends within its own
        # timeout after the hangs queued before it, at worst all of them, two at a time, each with a worker restart.
        assert elapsed < bound, (expected, elapsed)
        assert set(out) == {"rewards", "scores", "extra_logs"}
        logs = out["extra_logs"]
        if expected == "hang":  # its worker is killed at the deadline
            assert out["rewards"] == 0.0 and out["scores"] == 0.0
            assert logs["rlev/fail_verifier_timeout"] == 1.0
        elif expected is True or expected == "slow-ok":  # queued behind hangs or not, a correct answer is rewarded
            assert out["scores"] == 1.0 and out["rewards"] == pytest.approx(1 + min(10 * label["value"], 1))
        else:
            assert out["rewards"] == 0.0
            if response is None:
                assert logs["rlev/fail_response_invalid"] == 1.0
    assert wall < bound


def test_pool_is_cleaned_up_and_replaced_after_a_timeout():
    p = pool.get_pool(1)
    before = p.pids()
    with pytest.raises(pool.VerifierTimeout):
        p.call("sleep", [30], timeout=1.0)
    assert not set(before) & set(p.pids())  # the hung worker is gone
    assert p.call("math_equal", ["\\boxed{1/2}", "\\boxed{0.5}"], timeout=10.0) is True
    pool.shutdown()
    assert all(_gone(pid) for pid in before)


def _gone(pid: int) -> bool:
    return not os.path.exists(f"/proc/{pid}")  # a zombie still has an entry: reaped means gone


@pytest.fixture(autouse=True)
def _fresh_pool():
    pool.shutdown()
    yield
    pool.shutdown()


def test_every_call_logs_every_failure_key():
    out = reward_func(["答案是 B"], [""], [{"answer": "B", "value": 0.05}])
    assert {k for k in out["extra_logs"] if k.startswith("rlev/fail_")} == {f"rlev/fail_{r}" for r in reasons.FAILURES}
