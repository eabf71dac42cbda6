"""Hostile load and hostile sizes: a correct answer keeps its reward under load, and every sample is bounded.

Everything is real: OpenRLHF's calling pattern (one `reward_func` call per sample, many threads at once), the real
reward file, the real worker pool with real math-verify in worker processes, the real launcher. Nothing is stubbed.
Time bounds here are correctness bounds (a sample must end within its documented limit plus a generous margin for
this shared 2-core machine), not performance claims; those live in benchmarks/bench_load.py.
The limits are documented in docs/limits.md.
"""

import concurrent.futures
import json
import time
import tracemalloc

import psutil
import pytest
import sympy

from openrlhf_rlev.integrations.openrlhf import launcher, registry
from openrlhf_rlev.integrations.openrlhf.reward_func import reward_func
from openrlhf_rlev.reward import reasons
from openrlhf_rlev.reward.core import score
from openrlhf_rlev.reward.settings import Settings
from openrlhf_rlev.verifiers import math as math_verifier
from openrlhf_rlev.verifiers import pool, verify

MARGIN = 4.0  # shared machine; far below what an unbounded sample takes (tens of seconds to minutes)
HANG = "\\boxed{5^{5^{5^{5^5}}}+x}"  # against an expression gold no fast path settles it: sympy hangs in a worker until it is killed
PROMPT = "<|im_start|>user\nSolve.<|im_end|>\n<|im_start|>assistant\n"


def sympy_bound(i: int) -> tuple[str, str]:
    """A correct (response, gold) pair only math-verify in a worker can settle, distinct for every i: an expression gold
    (a numeric gold refuses an unevaluated expression before any worker call, docs/answers.md)."""
    return f"So the answer is \\boxed{{\\binom{{{i + 2}}}{{1}} x}}", f"{i + 2}x"


@pytest.fixture(autouse=True)
def _fresh_pool(monkeypatch):
    for name in ("RLEV_TIMEOUT", "RLEV_SAMPLE_TIMEOUT", "RLEV_QUEUE_TIMEOUT", "RLEV_VERIFY_WORKERS"):
        monkeypatch.delenv(name, raising=False)
    pool.shutdown()
    yield
    pool.shutdown()


def _children() -> list[psutil.Process]:
    return [c for c in psutil.Process().children(recursive=True) if c.status() != psutil.STATUS_ZOMBIE]


def _timed(fn, *args):
    t0 = time.monotonic()
    out = fn(*args)
    return out, time.monotonic() - t0


# ── point 1: the deadline covers verification only; correct answers keep their reward under load ──


@pytest.mark.slow
def test_correct_answers_keep_their_reward_at_128_threads_with_hanging_samples(monkeypatch):
    """The issue's failure: with the wait for a worker inside the 5 s deadline, 109 of 256 correct sympy-bound
    answers from 128 threads scored 0. Here 120 distinct correct answers and 8 hanging samples share 2 workers
    with a 3 s timeout: every correct answer must be rewarded, every hang must be a verifier_timeout."""
    monkeypatch.setenv("RLEV_TIMEOUT", "3")
    monkeypatch.setenv("RLEV_VERIFY_WORKERS", "2")
    assert pool.get_pool(2).wait_ready(60)  # as in a vLLM engine, which prestarts the workers on loading the file
    calls = [(*sympy_bound(i), "ok") for i in range(120)]
    for j in range(8):
        calls.insert(16 * j + 3, (HANG, "x+1", "hang"))

    def one(call):
        response, gold, _ = call
        return reward_func([PROMPT + response], [PROMPT], [{"answer": gold, "value": 0.05}])

    with concurrent.futures.ThreadPoolExecutor(128) as ex:
        outs = list(ex.map(one, calls))
    zeros = [(c[0], o["extra_logs"]) for c, o in zip(calls, outs) if c[2] == "ok" and o["rewards"] != 1.5]
    assert not zeros, f"{len(zeros)} correct answers scored 0, e.g. {zeros[0]}"
    hangs = [o for c, o in zip(calls, outs) if c[2] == "hang"]
    assert len(hangs) == 8
    assert all(o["rewards"] == 0.0 and o["extra_logs"]["rlev/fail_verifier_timeout"] == 1.0 for o in hangs)


@pytest.mark.slow  # 3-4 s: the fast suite stays under 2 minutes
def test_a_label_of_many_parts_is_bounded_by_the_sample_limit():
    """A label of many parts used to run one worker call per part, each with its own full timeout (40 parts: 56 s).
    The whole sample now stops at sample_timeout, and the reason names that limit."""
    settings = Settings(timeout=2.0, sample_timeout=2.0, verify_workers=2)
    assert pool.get_pool(2).wait_ready(60)
    # 80 distinct parts, each a real sympy expansion in a worker (no cache hits; an expression gold, which no fast path
    # decides) of 0.2-0.3 s on an idle machine and far below the per-call timeout: about 14 s of work in all, so only
    # the sample's own limit can end it at 2 s, on a fast machine as on a loaded one. (A cheaper part, \binom{i}{1} x,
    # let a quiet CI machine finish 200 parts inside the limit.)
    x = sympy.Symbol("x")
    parts = [f"(x+{i})^{{16}}" for i in range(2, 82)]
    gold = [sympy.latex(sympy.expand((x + i) ** 16)) for i in range(2, 82)]
    verdict, elapsed = _timed(score, "\\boxed{" + "; ".join(parts) + "}", {"answer": gold}, settings)
    assert verdict.reason == reasons.SAMPLE_TIMEOUT and verdict.reward == 0.0
    assert elapsed < 2.0 + MARGIN


def test_a_set_comparison_of_thousands_of_items_is_bounded():
    """Sets were compared item by item, quadratically, in the reward thread with no timeout (49,000 items: 131 s).
    Here every predicted item matches only the gold's last one: an index settles it at once."""
    gold = "\\{" + ",".join(["1"] * 20_000 + ["2"]) + "\\}"
    response = "\\boxed{\\{" + ",".join(["2"] * 1_900) + "\\}}"
    settings = Settings(timeout=1.0, sample_timeout=1.0, verify_workers=1)
    math_verifier.parse_answer(gold)  # the gold's parse is cached per process, like every prompt's in a run
    verdict, elapsed = _timed(score, response, gold, settings)
    assert not verdict.correct and verdict.reason is None  # {2} is not {1, 2}, decided, not timed out
    assert elapsed < 1.0 + MARGIN


def test_a_set_whose_items_defeat_the_index_still_stops_at_the_sample_limit():
    """Exact fractions that all round to 0.000000 share one index key: pairwise comparison again, so the loop
    must watch the sample's budget."""
    gold = "\\{" + ",".join(f"1/{10**7 + i}" for i in range(7_000)) + "\\}"
    response = "\\boxed{\\{" + ",".join([f"1/{10**7 + 6_999}"] * 300) + "\\}}"  # each matches the gold's last item
    settings = Settings(timeout=0.2, sample_timeout=0.2, verify_workers=1)
    math_verifier.parse_answer(gold)
    verdict, elapsed = _timed(score, response, gold, settings)
    assert verdict.reason == reasons.SAMPLE_TIMEOUT
    assert elapsed < 0.2 + MARGIN


def test_trailing_pad_tokens_are_stripped_in_linear_time():
    """Stripping 400k trailing <pad> texts copied the response at every step (14 s; 74 s through the server)."""
    query = PROMPT + "The answer is \\boxed{7}" + "<pad>" * 400_000
    out, elapsed = _timed(reward_func, [query], [PROMPT], [{"answer": "7", "value": 0.05}])
    assert out["rewards"] == 1.5
    assert elapsed < MARGIN


# ── point 3: settings in range, numbers kept exactly, normalisation that keeps meaning ──


@pytest.mark.parametrize(
    "flag, value, message",
    [
        ("timeout", "1e10", "at most 600 seconds"),
        ("verify_workers", "100000", "from 1 to 64"),
        ("queue_timeout", "0", "> 0"),
        ("sample_timeout", "1e9", "at most 3600 seconds"),
    ],
)
def test_settings_out_of_range_stop_a_dry_run_with_the_flag_named(flag, value, message):
    argv = ["--reward_func", "rlev", "--actor.model_name_or_path", "m", "--data.prompt_dataset", "d.jsonl"]
    argv += ["--data.input_key", "prompt", "--data.label_key", "label", f"--rlev.{flag}", value, "--rlev.dry_run"]
    with pytest.raises(launcher.LaunchError, match=f"--rlev.{flag}.*{message}"):
        launcher.plan(argv, environ={})


def test_an_out_of_range_environment_variable_names_itself():
    with pytest.raises(ValueError, match="RLEV_TIMEOUT.*at most 600 seconds"):
        launcher.plan(
            ["--reward_func", "rlev", "--data.label_key", "label", "--rlev.dry_run"], environ={"RLEV_TIMEOUT": "1e10"}
        )


def test_a_sample_limit_below_the_call_limit_is_refused():
    with pytest.raises(ValueError, match="sample_timeout 2 s is below timeout 5 s"):
        Settings(timeout=5.0, sample_timeout=2.0)


@pytest.mark.parametrize("text", ["0.00001", "-0.00005", "0.0000001", "100000000000000000000.5"])
def test_a_json_number_label_keeps_its_decimal_text(text):
    """`0.00001` went through float and str() to "1e-05", which then compared as a formula: the right answer lost."""
    label = '{"answer": ' + text + ', "value": 0.05}'
    written = json.loads(label, parse_float=str)["answer"]
    assert score(f"\\boxed{{{written}}}", label, Settings()).reward == 1.5
    assert score("\\boxed{0.5}", label, Settings()).reward == 0.0


def test_a_float_answer_in_a_dict_label_is_compared_as_its_decimal():
    assert score("\\boxed{0.00001}", {"answer": 0.00001}, Settings()).correct
    assert score("\\boxed{0.0000001}", {"answer": [1e-7]}, Settings()).correct
    assert not score("\\boxed{0.00002}", {"answer": 0.00001}, Settings()).correct


@pytest.mark.parametrize(
    "kind, response, gold, correct",
    [
        ("exact", "Answer: 2³", "23", False),
        ("exact", "Answer: x²", "x2", False),
        ("exact", "Answer: 1½", "1 1/2", True),
        ("exact", "Answer: x²", "x^2", True),
        ("math", "\\boxed{2³}", "23", False),
        ("math", "\\boxed{2³}", "2^3", True),
        ("math", "\\boxed{2³}", "8", False),  # an unevaluated power for a number (docs/answers.md), not "23"
        ("math", "\\boxed{x²}", "x2", False),
        ("math", "\\boxed{x²}", "x^2", True),
        ("math", "\\boxed{½}", "0.5", True),
        ("math", "\\boxed{H₂O}", "H2O", False),
    ],
)
def test_normalisation_never_changes_what_a_number_means(kind, response, gold, correct):
    """NFKC turned 2³ into 23 and x² into x2: a wrong answer passed, a right one (x² for x^2) failed."""
    assert verify(kind, response, (gold,), settings=Settings()).correct is correct


# ── smaller: no workers in the driver, a gold cache bounded in memory ──


def test_the_launchers_reward_file_check_starts_no_verifier_workers():
    """The launcher loads the reward file as OpenRLHF will, to fail early; that load prestarted verifier workers in
    the driver, dry runs included."""
    before = {c.pid for c in _children()}
    launcher.plan(
        ["--reward_func", "rlev", "--data.label_key", "label", "--rlev.dry_run"], environ={}, check_reward_func=True
    )
    registry.resolve("rlev", check=True)
    time.sleep(1.0)
    assert pool._pool is None
    assert {c.pid for c in _children()} - before == set()


def test_the_gold_cache_is_bounded_by_its_text_not_only_its_entries():
    """The per-process gold cache bounded entries only: 65,536 golds of 100,000 characters could hold gigabytes.
    Here 60 golds of 90,000 characters (5.4 MB of text) pass through it, then 60 more: what it keeps does not grow
    with what passed through, and stays within a few bytes per character of its 2,000,000-character budget (a parse
    keeps the gold in a few normalised forms)."""
    math_verifier.parse_answer.cache_clear()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = []
        for batch in (range(60), range(60, 120)):
            for k in batch:
                math_verifier.fast_check("1", f"x+{k}" + "+y" * 45_000)
            kept.append(tracemalloc.get_traced_memory()[0] - before)
    finally:
        tracemalloc.stop()
    assert kept[1] < 1.1 * kept[0], f"{kept[0] / 1e6:.1f} MB kept, then {kept[1] / 1e6:.1f} MB"
    assert kept[1] < 3 * math_verifier.GOLD_CACHE_CHARS, f"{kept[1] / 1e6:.1f} MB kept"  # 10.8 M characters passed
    info = math_verifier.parse_answer.cache_info()
    assert info.chars <= info.max_chars and 0 < info.entries < 60
    hits = info.hits
    math_verifier.fast_check("2", "x+119" + "+y" * 45_000)
    assert math_verifier.parse_answer.cache_info().hits == hits + 1  # it still caches: the latest golds are kept
