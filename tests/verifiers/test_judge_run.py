"""The judge client at run scale: one connection pool per process, a run-wide cap across real engine processes
(local Ray), a failure-rate guard that stops the process instead of training on zeros, and an API key that the
nodes hold (file or env) instead of the job's runtime env.

The judge is a real OpenAI-compatible chat-completions server on loopback (`FakeJudge`, tests/servers.py), which
counts TCP connections and requests in flight. Nothing is mocked.
"""

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from servers import FakeJudge  # tests/servers.py

from openrlhf_rlev.reward.settings import Settings
from openrlhf_rlev.verifiers import judge_client
from openrlhf_rlev.verifiers.judge import client_config
from openrlhf_rlev.verifiers.judge_client import ClientConfig, FailureRate, JudgeClient
from openrlhf_rlev.verifiers.judge_slots import SlotTable


def counting_judge(hold: float = 0.0, script: str = "yes") -> FakeJudge:
    j = FakeJudge()
    j.hold, j.script = hold, [script]
    return j


@pytest.fixture
def judge():
    j = counting_judge()
    yield j
    j.close()


def config(url: str, **kw) -> ClientConfig:
    base = dict(url=url, model="m", timeout=10.0, deadline=20.0, retries=0, backoff=0.05, concurrency=8,
                breaker_failures=1000, breaker_cooldown=1.0, max_tokens=4)  # fmt: skip
    base.update(kw)
    return ClientConfig(**base)


# --- one connection pool per process ----------------------------------------------------------------------------


def test_requests_reuse_kept_alive_connections(judge):
    client = JudgeClient(config(judge.url))
    for _ in range(20):
        assert client.complete("q") == "YES"
    assert len(judge.requests) == 20
    assert judge.connections == 1, "every request opened its own connection"
    # two clients of one process (two settings, one endpoint) share the pool
    other = JudgeClient(config(judge.url, max_tokens=8))
    with ThreadPoolExecutor(4) as ex:
        assert list(ex.map(other.complete, ["q"] * 40)) == ["YES"] * 40
    assert other._pool is client._pool  # one pool per endpoint per process, whatever the client's settings
    assert judge.connections <= 4


def test_a_connection_the_judge_closed_is_replaced_without_resending(judge):
    judge.idle_timeout = 0.3  # the judge closes a keep-alive connection idle this long
    client = JudgeClient(config(judge.url))
    assert client.complete("q") == "YES"
    time.sleep(1.0)
    assert client.complete("q") == "YES"  # the pooled connection was closed: noticed before sending
    assert len(judge.requests) == 2 and judge.connections == 2


# --- run-wide concurrency cap -------------------------------------------------------------------------------------


def test_slot_table_caps_and_expires_leases():
    now = [0.0]
    table = SlotTable(2, clock=lambda: now[0])
    a, b = table.try_acquire(5), table.try_acquire(5)
    assert a and b and table.try_acquire(5) is None
    table.release(a)
    assert table.try_acquire(5) is not None and table.try_acquire(5) is None
    now[0] = 6.0  # a holder that died: its leases come back after their hold
    assert table.try_acquire(5) is not None and table.expired == 2


@pytest.mark.slow
def test_run_wide_cap_holds_across_engine_processes():
    """Three Ray worker processes, 8 threads each, per-process concurrency 8, run-wide cap 3: the judge never sees
    more than 3 requests at once, and every call still gets its answer."""
    ray = pytest.importorskip("ray")
    judge = counting_judge(hold=0.3)
    ray.init(num_cpus=3, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:

        def engine(fields: dict, n: int):  # self-contained: Ray ships it to a worker process by value
            import os
            from concurrent.futures import ThreadPoolExecutor

            from openrlhf_rlev.verifiers.judge_client import ClientConfig, get_client

            client = get_client(ClientConfig(**fields))
            with ThreadPoolExecutor(8) as ex:
                return os.getpid(), list(ex.map(client.complete, ["q"] * n))

        fields = dataclasses.asdict(config(judge.url, run_concurrency=3))
        remote = ray.remote(num_cpus=1)(engine)
        results = ray.get([remote.remote(fields, 8) for _ in range(3)], timeout=240)
    finally:
        ray.shutdown()
        judge.close()
    assert len({pid for pid, _ in results}) == 3, "the engines did not run in separate processes"
    assert all(replies == ["YES"] * 8 for _, replies in results)
    assert len(judge.requests) == 24
    assert judge.max_in_flight <= 3, f"{judge.max_in_flight} judge requests in flight at once with a run-wide cap of 3"
    assert judge.max_in_flight == 3  # the cap, not a lack of load, is what held it


def test_run_cap_without_ray_caps_this_process_and_says_so(judge, caplog):
    judge.hold = 0.2
    client = JudgeClient(config(judge.url, run_concurrency=2))
    with ThreadPoolExecutor(8) as ex:
        assert list(ex.map(client.complete, ["q"] * 8)) == ["YES"] * 8
    assert judge.max_in_flight <= 2
    assert "judge_run_concurrency needs Ray" in caplog.text


# --- fail fast instead of training on zeros -----------------------------------------------------------------------


def test_failure_rate_trips_only_over_a_full_window():
    rate = FailureRate(0.5, window=10)
    assert all(rate.record(True) is None for _ in range(9))  # 9 failures, window not full yet
    assert "10 of the last 10 judge calls failed" in rate.record(True)
    healthy = FailureRate(0.5, window=10)
    assert all(healthy.record(i % 3 == 0) is None for i in range(100))  # a third failing: below the limit
    assert FailureRate(None, 10).record(True) is None  # off by default


FAIL_FAST_SCRIPT = textwrap.dedent(
    """
    import sys
    from openrlhf_rlev.reward.settings import Settings
    from openrlhf_rlev.verifiers.registry import verify

    settings = Settings(judge_url=sys.argv[1], judge_model="m", judge_retries=0, judge_timeout=5,
                        judge_deadline=5, judge_breaker_failures=1000, judge_max_failure_rate=0.5,
                        judge_failure_window=20)
    for i in range(200):
        verify("judge", "The answer is 42.", ("42",), settings=settings, question="q")
    print("trained on", i + 1, "zeros")
    """
)


@pytest.mark.parametrize("rate", ["0.5", pytest.param(None, marks=pytest.mark.slow)])
def test_a_failing_judge_stops_the_process_with_a_clear_error(rate, tmp_path):
    judge = counting_judge(script="500")
    script = tmp_path / "engine.py"
    source = FAIL_FAST_SCRIPT if rate else FAIL_FAST_SCRIPT.replace("judge_max_failure_rate=0.5,", "")
    script.write_text(source)
    try:
        proc = subprocess.run([sys.executable, str(script), judge.url], capture_output=True, text=True, timeout=120)
    finally:
        judge.close()
    if rate:
        assert proc.returncode == judge_client.FAIL_FAST_EXIT, proc.stderr[-2000:]
        assert "20 of the last 20 judge calls failed" in proc.stderr
        assert "judge_max_failure_rate" in proc.stderr and "trained on" not in proc.stdout
        assert len(judge.requests) == 20  # stopped at the first full window
    else:  # without the option: the old behaviour, every reward 0, the run goes on
        assert proc.returncode == 0 and "trained on 200 zeros" in proc.stdout


def test_failure_rate_settings_are_validated():
    with pytest.raises(ValueError, match="judge_max_failure_rate"):
        Settings.from_strings({"judge_max_failure_rate": "1.5"})
    with pytest.raises(ValueError, match="judge_failure_window"):
        Settings.from_strings({"judge_failure_window": "0"})
    assert client_config(Settings.from_strings({"judge_max_failure_rate": "0.2"})).max_failure_rate == 0.2


# --- the API key stays on the nodes -------------------------------------------------------------------------------


def test_api_key_from_a_file_on_the_node_is_sent_and_reread_on_rotation(judge, tmp_path, monkeypatch):
    monkeypatch.setenv("RLEV_JUDGE_API_KEY", "sk-from-driver")
    key = tmp_path / "judge.key"
    key.write_text("sk-from-file-1\n")
    client = JudgeClient(config(judge.url, api_key_file=str(key)))
    client.complete("q")
    key.write_text("sk-from-file-2\n")
    os.utime(key, ns=(time.time_ns() + 10**9,) * 2)  # a new mtime even on a coarse clock
    client.complete("q")
    assert [r["headers"]["Authorization"] for r in judge.requests] == [
        "Bearer sk-from-file-1",
        "Bearer sk-from-file-2",
    ]


def test_api_key_from_a_named_environment_variable(judge, monkeypatch):
    monkeypatch.setenv("NODE_JUDGE_KEY", "sk-node")
    JudgeClient(config(judge.url, api_key_env="NODE_JUDGE_KEY")).complete("q")
    assert judge.requests[0]["headers"]["Authorization"] == "Bearer sk-node"


def test_launcher_keeps_the_key_out_of_the_runtime_env_when_the_nodes_hold_it(tmp_path):
    from openrlhf_rlev.integrations.openrlhf import launcher

    base = ["--actor.model_name_or_path", "m", "--data.prompt_dataset", "d.jsonl", "--data.input_key", "prompt"]
    base += ["--data.label_key", "label", "--reward_func", "rlev", "--rlev.verifier", "judge"]
    base += ["--rlev.judge_url", "http://127.0.0.1:9/v1"]
    environ = {"RLEV_JUDGE_API_KEY": "sk-secret", "RLEV_JUDGE_API_KEY_FILE": "/etc/rlev/judge.key"}
    plan = launcher.plan(base, environ=environ, check_reward_func=False)
    assert plan.secret_env == {}
    assert plan.worker_env["RLEV_JUDGE_API_KEY_FILE"] == "/etc/rlev/judge.key"
    assert "sk-secret" not in json.dumps(plan.worker_env)
    # with nothing on the nodes, the key still reaches the workers (as before), with a warning at launch
    plan = launcher.plan(base, environ={"RLEV_JUDGE_API_KEY": "sk-secret"}, check_reward_func=False)
    assert plan.secret_env == {"RLEV_JUDGE_API_KEY": "sk-secret"}
