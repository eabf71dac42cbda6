"""`openrlhf-rlev serve` as a real subprocess on loopback, driven by plain HTTP and by OpenRLHF's own client.

Nothing is mocked on the HTTP path. The one stub: the OpenRLHF tensor test fakes the vLLM engine and the
tokenizer (generation needs a GPU and a model hub), so that `SingleTurnAgentExecutor.execute` and
`SamplesGenerator._process_response_into_experience` run for real on the server's reply.
"""

import asyncio
import http.client
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
from servers import PROMPT, Server, SlowJudge, descendants, get_json, post  # tests/servers.py

from openrlhf_rlev.cli import serve as serve_cli
from openrlhf_rlev.reward.logs import KEYS


@pytest.fixture(scope="module")
def baseline():
    return descendants(os.getpid())


@pytest.fixture(scope="module")
def server(tmp_path_factory, baseline):
    s = Server(tmp_path_factory.mktemp("srv"), "--max-body-mb", "0.25", "--rlev.verify_workers", "1")
    yield s
    s.stop()
    assert descendants(os.getpid()) == baseline, "the server or its verifier workers outlived it"


def one(answer="42", value=0.1, verifier="exact", response="6 * 7 = 42. The answer is \\boxed{42}."):
    return {"query": [PROMPT + response + "<|im_end|>"], "prompts": [PROMPT], "labels": [
        {"answer": answer, "value": value, "verifier": verifier}]}  # fmt: skip


# --- protocol ----------------------------------------------------------------------------------------------------


def test_health(server):
    status, body = get_json(server.base + "/health")
    assert status == 200 and body["status"] == "ok"
    assert body["scaling"] == "rlev" and body["alpha"] == 10.0


def test_one_sample_gets_scalars(server):
    status, body = post(server.url, one())
    assert status == 200
    assert body["rewards"] == pytest.approx(2.0) and body["scores"] == 1.0  # s = 1 + min(10 * 0.1, 1)
    assert set(body["extra_logs"]) == set(KEYS)
    assert all(isinstance(v, float) for v in body["extra_logs"].values())
    assert body["extra_logs"]["rlev/value"] == pytest.approx(0.1)
    status, body = post(server.url, one(answer="41"))
    assert (body["rewards"], body["scores"], body["extra_logs"]["rlev/correct"]) == (0.0, 0.0, 0.0)


def test_batch_keeps_order_and_uses_the_verifier_pool(server):
    labels = [
        {"answer": "42", "value": 0.02},  # math (via the worker pool): right
        {"answer": "0.5", "value": 0.05},  # math: \frac{1}{2} == 0.5
        {"answer": "7", "value": 0.5},  # wrong
        "not json {",  # a bad label is that sample's reward 0, not a bad request
        {"answer": "42", "value": 7},
    ]
    responses = ["\\boxed{42}", "\\boxed{\\frac{1}{2}}", "\\boxed{8}", "\\boxed{1}", "\\boxed{42}"]
    body = {"query": [PROMPT + r for r in responses], "prompts": [PROMPT] * 5, "labels": labels}
    status, out = post(server.url, body)
    assert status == 200
    assert out["rewards"] == pytest.approx([1.2, 1.5, 0.0, 0.0, 0.0])
    assert out["scores"] == [1.0, 1.0, 0.0, 0.0, 0.0]
    assert "scales" not in out  # s(x) travels in extra_logs["rlev/scale"], even where the reward is 0:
    assert out["extra_logs"]["rlev/scale"] == pytest.approx([1.2, 1.5, 2.0, 1.0, 1.0])
    assert out["extra_logs"]["rlev/value"] == pytest.approx([0.02, 0.05, 0.5, 0.0, 0.0])
    assert out["extra_logs"]["rlev/fail_label_bad_value"] == [0.0, 0.0, 0.0, 0.0, 1.0]
    assert all(len(v) == 5 for v in out["extra_logs"].values())


def test_prompts_may_be_omitted(server):
    status, out = post(server.url, {"query": ["\\boxed{42}"], "labels": ["42"]})
    assert status == 200 and out["rewards"] == 1.0


@pytest.mark.parametrize(
    "body, status, message",
    [
        (b"{not json", 400, "not valid JSON"),
        (b"\xff\xfe", 400, "not valid JSON"),
        (b"[1, 2]", 422, "must be a JSON object"),
        ({"query": ["a"], "prompts": [None]}, 422, "missing 'labels'"),
        ({"prompts": [], "labels": []}, 422, "missing 'query'"),
        ({"query": "a", "prompts": ["p"], "labels": ["x"]}, 422, "'query' must be a list"),
        ({"query": ["a", 3], "prompts": ["p", "p"], "labels": ["x", "y"]}, 422, "'query'[1] must be a string"),
        ({"query": ["a"], "prompts": "p", "labels": ["x"]}, 422, "'prompts' must be a list"),
        ({"query": ["a"], "prompts": [{"p": 1}], "labels": ["x"]}, 422, "'prompts'[0] must be a string or null"),
        ({"query": ["a"], "prompts": ["p"], "labels": {"answer": "x"}}, 422, "'labels' must be a list"),
        ({"query": ["a", "b"], "prompts": ["p"], "labels": ["x", "y"]}, 422, "query has 2, prompts 1, labels 2"),
        ({"query": ["a"], "prompts": ["p"], "labels": ["x", "y"]}, 422, "query has 1, prompts 1, labels 2"),
    ],
)
def test_malformed_bodies_are_4xx_with_a_message(server, body, status, message):
    got, out = post(server.url, body)
    assert got == status
    assert message in out["detail"]


def test_wrong_method_and_path_are_4xx(server):
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(server.url, timeout=10)  # GET
    assert err.value.code == 405
    assert post(server.base + "/nope", one())[0] == 404


def test_body_size_limit(server):
    big = one(response="x" * 300_000)  # > 0.25 MB
    status, out = post(server.url, big)
    assert status == 413 and "limit" in out["detail"]
    # Without Content-Length (chunked), the limit holds while streaming.
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    chunks = (json.dumps(big).encode()[i : i + 65536] for i in range(0, 400_000, 65536))
    conn.request("POST", "/get_reward", body=chunks, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 413 and "limit" in json.loads(resp.read())["detail"]
    conn.close()
    assert post(server.url, one())[0] == 200  # and the server is fine


def test_cli_rejects_bad_settings_before_serving(capsys):
    assert serve_cli.main(["--rlev.alpha", "abc", "--port", "1"]) == 2
    assert "alpha" in capsys.readouterr().err


@pytest.mark.parametrize("port", ["99999", "-1", "busy"])
def test_bad_or_busy_port_is_one_line_before_announcing(capsys, port):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        if port == "busy":
            port = str(taken.getsockname()[1])
        assert serve_cli.main(["--port", port]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "remote_url" not in err and "Traceback" not in err
    assert "port" in err or "in use" in err


def test_settings_flags_reach_the_scorer(tmp_path):
    before = descendants(os.getpid())
    s = Server(tmp_path, "--rlev.alpha", "5", env={"RLEV_SCALING": "rlev"})
    try:
        assert post(s.url, one(value=0.1))[1]["rewards"] == pytest.approx(1.5)  # 1 + min(5 * 0.1, 1)
    finally:
        s.stop()
    assert descendants(os.getpid()) == before


# --- graceful shutdown -------------------------------------------------------------------------------------------


def test_sigterm_finishes_in_flight_requests(tmp_path):
    before = descendants(os.getpid())
    judge = SlowJudge()
    s = Server(tmp_path, "--rlev.judge_url", judge.url, "--rlev.judge_model", "m", "--graceful-timeout", "30")
    try:
        result = {}
        body = one(answer="forty-two", verifier="judge", response="6 * 7\nforty two")
        client = threading.Thread(target=lambda: result.update(zip(("status", "body"), post(s.url, body))))
        client.start()
        assert judge.received.wait(30), "the request never reached the judge"
        assert s.health()["in_flight"] == 1  # verification blocks a worker thread, not the event loop
        s.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while True:  # stops accepting new connections ...
            try:
                socket.create_connection(("127.0.0.1", s.port), timeout=1).close()
            except ConnectionRefusedError:
                break
            assert time.monotonic() < deadline, "still accepting connections after SIGTERM"
            time.sleep(0.05)
        assert s.proc.poll() is None  # ... but waits for the request in flight
        judge.release.set()
        client.join(30)
        assert result["status"] == 200
        assert result["body"]["rewards"] == pytest.approx(2.0) and result["body"]["scores"] == 1.0
        assert s.proc.wait(30) == 0  # a clean drain is a normal exit (uvicorn alone would re-raise the SIGTERM)
        assert "Finished server process" in s.output()
    finally:
        s.stop()
        judge.close()
    assert descendants(os.getpid()) == before


# --- through OpenRLHF's own client ------------------------------------------------------------------------------


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.mark.slow
def test_load_1000_concurrent_requests_through_openrlhf_client(server):
    """1,000 one-sample requests at once via SingleTurnAgentExecutor._fetch_rewards_via_http; each has its own
    value, answer and correctness, so a lost, duplicated or swapped reply shows up."""
    from openrlhf.utils.agent import SingleTurnAgentExecutor

    n = 1000
    executor = SingleTurnAgentExecutor(remote_rm_url=[server.url])
    records = _Records()
    agent_logger = logging.getLogger("openrlhf.utils.agent")
    agent_logger.addHandler(records)
    before = server.health()

    def request(i):
        answer = str(1000 + i) if i % 3 else str(5000 + i)  # every third response is wrong
        query = PROMPT + f"Working...\nThe answer is \\boxed{{{1000 + i}}}.<|im_end|>"
        label = {"answer": answer, "value": i / n, "verifier": "exact"}
        return executor._fetch_rewards_via_http([query], [PROMPT], [label])

    async def run_all():
        return await asyncio.gather(*(request(i) for i in range(n)))

    t0 = time.monotonic()
    try:
        replies = asyncio.run(asyncio.wait_for(run_all(), timeout=240))
    finally:
        agent_logger.removeHandler(records)
    elapsed = time.monotonic() - t0
    after = server.health()

    assert len(replies) == n
    for i, reply in enumerate(replies):
        (info,) = reply  # one server, one shard
        correct = i % 3 != 0
        assert info["extra_logs"]["rlev/value"] == pytest.approx(i / n), f"request {i} got another's reply"
        assert info["scores"] == (1.0 if correct else 0.0), i
        assert info["rewards"] == pytest.approx(1 + min(10 * i / n, 1.0) if correct else 0.0), i
    assert not [m for m in records.messages if "error" in m.lower()], records.messages[:3]
    assert after["requests"] - before["requests"] == n  # exactly once each: no client retry happened
    assert after["rejected"] == before["rejected"]
    print(f"{n} concurrent requests in {elapsed:.1f} s")


@pytest.mark.slow
def test_openrlhf_turns_a_one_sample_reply_into_1d_tensors(server, monkeypatch):
    """The real `execute` (reward via HTTP) then the real `_process_response_into_experience`: rewards, scores
    and every rlev/* log must come out as shape-(1,) tensors, like OpenRLHF's reward-file path."""
    import types

    import torch

    # Stub vLLM (needs a GPU; samples_generator imports it only for SamplingParams and the engine helpers).
    vllm = types.ModuleType("vllm")
    vllm.SamplingParams = object
    engine_mod = types.ModuleType("openrlhf.trainer.ray.vllm_engine")
    engine_mod.batch_vllm_engine_call = engine_mod.create_vllm_engines = None
    monkeypatch.setitem(sys.modules, "vllm", vllm)
    monkeypatch.setitem(sys.modules, "openrlhf.trainer.ray.vllm_engine", engine_mod)
    monkeypatch.delitem(sys.modules, "openrlhf.trainer.ray", raising=False)
    monkeypatch.delitem(sys.modules, "openrlhf.trainer.ppo_utils.samples_generator", raising=False)
    from openrlhf.trainer.ppo_utils.samples_generator import SamplesGenerator
    from openrlhf.utils.agent import SingleTurnAgentExecutor

    class CharTokenizer:  # one token per character: decode(encode(x)) == x, as a real tokenizer's would be
        def __call__(self, text, add_special_tokens=False, return_tensors=None):
            return {"input_ids": torch.tensor([[ord(c) for c in text]])}

        def decode(self, ids, skip_special_tokens=False):
            return "".join(chr(i) for i in ids)

    class Engine:  # what vLLM would generate
        async def generate(self, prompt_token_ids, sampling_params, multi_modal_data=None):
            out = types.SimpleNamespace(
                token_ids=[ord(c) for c in "The answer is \\boxed{42}.<|im_end|>"], finish_reason="stop", logprobs=None
            )
            return types.SimpleNamespace(outputs=[out])

    params = types.SimpleNamespace(max_tokens=64, logprobs=None)
    label = {"answer": "42", "value": 0.05, "verifier": "exact"}
    executor = SingleTurnAgentExecutor(remote_rm_url=server.url)
    response = asyncio.run(executor.execute(PROMPT, label, params, 2048, CharTokenizer(), Engine()))
    exp = SamplesGenerator._process_response_into_experience(None, response, max_len=2048)

    assert exp.rewards.shape == (1,) and exp.rewards.item() == pytest.approx(1.5)
    assert exp.scores.shape == (1,) and exp.scores.item() == 1.0
    for key in KEYS:
        assert exp.info[key].shape == (1,), key
    assert exp.info["rlev/value"].item() == pytest.approx(0.05)
    assert exp.info["rlev/correct"].item() == 1.0


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "--reward.remote_url http://127.0.0.1:5000/get_reward"),
        ("::1", "--reward.remote_url http://[::1]:5000/get_reward"),
        ("0.0.0.0", "--reward.remote_url http://node-7:5000/get_reward (this machine's hostname"),
        ("::", "--reward.remote_url http://node-7:5000/get_reward"),
    ],
)
def test_the_announced_url_is_one_other_nodes_can_use(host, expected):
    line = serve_cli.announcement(host, 5000, hostname="node-7")
    assert expected in line and "0.0.0.0:" not in line and "//[::]" not in line
