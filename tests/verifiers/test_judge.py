"""The LLM-judge verifier against a real chat-completions server on loopback (no mocks of HTTP).

The fake judge is a ThreadingHTTPServer speaking OpenAI's /v1/chat/completions and /v1/models; a test scripts
its behaviour (YES, NO, garbage, slow, HTTP 500, dropped connection) and reads back the requests it received.
"""

import json
import logging
import re
import threading
import time

import pytest
from servers import FakeJudge  # tests/servers.py

from openrlhf_rlev.integrations.openrlhf.reward_func import reward_func
from openrlhf_rlev.reward import reasons
from openrlhf_rlev.reward.settings import Settings
from openrlhf_rlev.verifiers import judge, verify
from openrlhf_rlev.verifiers.judge_client import CircuitBreaker

API_KEY = "sk-test-not-a-real-key-7f3a"


@pytest.fixture
def fake():
    server = FakeJudge()
    yield server
    server.close()


def settings_for(fake, **kw) -> Settings:
    base = dict(
        judge_url=fake.url,
        judge_model="judge-72b",
        judge_timeout=2.0,
        judge_deadline=5.0,
        judge_retries=2,
        judge_backoff=0.01,
        judge_breaker_failures=100,
    )
    base.update(kw)
    return Settings(**base)


def sent_line(request) -> str:
    """The response line the judge was shown (the default template puts it after "...response):")."""
    return re.search(r"response\):\n(.*)\n", request["body"]["messages"][0]["content"]).group(1)


def judge_check(
    fake_settings, response="Let me think.\n\nSo the total is 42 apples.\n", answers=("42",), q="How many?"
):
    return verify("judge", response, answers, settings=fake_settings, question=q)


# --- the protocol: what the judge is asked and how its reply is read ---------------------------------------------


def test_yes_is_correct_and_request_follows_the_paper_protocol(fake, monkeypatch):
    monkeypatch.setenv("RLEV_JUDGE_API_KEY", API_KEY)
    response = "Step 1: count.\n\nStep 2: add 40 and 2.\nThe answer is 42 apples.\n\n   \n"
    check = judge_check(settings_for(fake), response=response, q="How many apples are there?")
    assert check == judge.Check(True, None)
    (req,) = fake.requests
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["Authorization"] == f"Bearer {API_KEY}"
    body = req["body"]
    assert body["model"] == "judge-72b"
    assert body["temperature"] == 0
    (message,) = body["messages"]
    assert message["role"] == "user"
    text = message["content"]
    assert "The answer is 42 apples." in text  # the last non-empty line ...
    assert "Step 2" not in text and "Step 1" not in text  # ... and nothing else of the response
    assert "How many apples are there?" in text
    assert "\n42\n" in text  # the reference
    assert "YES or NO" in text
    assert text == judge.build_prompt(
        judge.DEFAULT_TEMPLATE, "How many apples are there?", "The answer is 42 apples.", ("42",)
    )


def test_no_and_garbage_are_incorrect_without_failure(fake):
    fake.script = ["no"]
    assert judge_check(settings_for(fake)) == judge.Check(False, None)
    fake.script = ["garbage"]
    assert judge_check(settings_for(fake)) == judge.Check(False, None)  # unclear means NO
    assert fake.posts() == 2  # answered replies are not retried


def test_no_api_key_sends_no_authorization_header(fake, monkeypatch):
    monkeypatch.delenv("RLEV_JUDGE_API_KEY", raising=False)
    assert judge_check(settings_for(fake)).correct
    assert "Authorization" not in fake.requests[0]["headers"]


def test_model_is_discovered_from_the_server_when_not_set(fake):
    assert judge_check(settings_for(fake, judge_model=None)).correct
    assert fake.requests[0]["body"]["model"] == "served-judge"


def test_empty_response_is_no_without_a_request(fake):
    assert judge_check(settings_for(fake), response="  \n\n \t\n") == judge.Check(False, None)
    assert fake.posts() == 0


@pytest.mark.parametrize(
    "reply, verdict",
    [("YES", True), ("yes.", True), ("**Yes**", True), ("<think>compare 42 and 42</think>\nYES", True),
     ("NO", False), ("Yes, but", False), ("YES NO", False), ("", False), ("Y", False),
     # the verdict is the FINAL line only (the paper's protocol): reasoning above it is not read
     ("The response gives 42 and the reference is 42.\nYES", True), ("Verdict: **YES**", True),
     ("YES\nOn second thought the units differ.\nNO", False), ("YES\n\nNO.", False), ("YES/NO", False),
     # a reply that echoes the question's options is no verdict, whatever its last line says
     ("A. 3\nB. 4\nC. 5\nD. 6\nYES", False), ("The options were A. 3 B. 4 C. 5.\nYES", False)],
)  # fmt: skip
def test_parse_verdict(reply, verdict):
    assert judge.parse_verdict(reply) is verdict


def test_last_line_and_multi_part_reference():
    assert judge.last_line("a\n\nfinal: 42\r\n\n  \n") == "final: 42"
    assert judge.last_line("") == ""
    assert judge.last_line("x" * 5000 + "END").endswith("END")
    assert len(judge.last_line("x" * 5000)) == judge.MAX_LINE_CHARS
    assert judge.reference_text(("C", "F")) == "(1) C; (2) F"


# --- failures: retries, deadline, breaker -------------------------------------------------------------------------


@pytest.mark.parametrize("behaviour", ["500", "drop", "not_json"])
def test_persistent_failure_is_judge_unavailable_after_retries(fake, behaviour):
    fake.script = [behaviour]
    assert judge_check(settings_for(fake, judge_retries=2)) == judge.Check(False, reasons.JUDGE_UNAVAILABLE)
    assert fake.posts() == 3  # one try + 2 retries


@pytest.mark.parametrize("behaviour", ["500", "drop"])
def test_transient_failure_is_retried(fake, behaviour):
    fake.script = [behaviour, "yes"]
    assert judge_check(settings_for(fake, judge_retries=2)) == judge.Check(True, None)
    assert fake.posts() == 2


def test_client_errors_are_not_retried(fake):
    fake.script = ["401"]
    assert judge_check(settings_for(fake)).reason == reasons.JUDGE_UNAVAILABLE
    assert fake.posts() == 1
    fake.script = ["no_choices"]  # a 200 that is not a chat completion: a broken judge, not a NO
    assert judge_check(settings_for(fake)).reason == reasons.JUDGE_UNAVAILABLE
    assert fake.posts() == 2


def test_slow_judge_is_cut_at_the_deadline(fake):
    fake.script, fake.slow_seconds = ["slow"], 30.0
    settings = settings_for(fake, judge_timeout=0.4, judge_deadline=1.0, judge_retries=10)
    t0 = time.monotonic()
    check = judge_check(settings)
    elapsed = time.monotonic() - t0
    assert check == judge.Check(False, reasons.JUDGE_UNAVAILABLE)
    assert elapsed < 1.0 + 0.75  # the deadline bounds the whole check, retries included
    assert 2 <= fake.posts() <= 3  # per-request timeout 0.4 s: at most ceil(1.0 / 0.4) attempts


def test_judge_down_is_unavailable_quickly():
    settings = Settings(judge_url="http://127.0.0.1:9/v1", judge_model="m", judge_backoff=0.01, judge_deadline=3.0)
    assert judge_check(settings) == judge.Check(False, reasons.JUDGE_UNAVAILABLE)


def test_circuit_breaker_opens_fails_fast_then_probes(fake):
    fake.script = ["500"]
    settings = settings_for(fake, judge_retries=0, judge_breaker_failures=3, judge_breaker_cooldown=1.0)
    for _ in range(3):
        assert judge_check(settings).reason == reasons.JUDGE_UNAVAILABLE
    assert fake.posts() == 3
    for _ in range(20):  # open: fail at once, nothing sent
        assert judge_check(settings).reason == reasons.JUDGE_UNAVAILABLE
    assert fake.posts() == 3
    time.sleep(1.1)  # cool-down over: one probe; it fails, so the circuit opens again
    assert judge_check(settings).reason == reasons.JUDGE_UNAVAILABLE
    assert fake.posts() == 4
    assert judge_check(settings).reason == reasons.JUDGE_UNAVAILABLE
    assert fake.posts() == 4
    fake.script = ["yes"]
    time.sleep(1.1)  # the next probe succeeds and closes the circuit
    assert judge_check(settings).correct
    assert judge_check(settings).correct
    assert fake.posts() == 6


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_breaker_half_open_lets_exactly_one_probe_through():
    clock = FakeClock()
    breaker = CircuitBreaker(failures=2, cooldown=10.0, clock=clock)
    breaker.record(False)
    assert breaker.state == "closed" and breaker.allow()
    breaker.record(True)  # success resets the count
    breaker.record(False)
    assert breaker.state == "closed"
    breaker.record(False)
    assert breaker.state == "open" and not breaker.allow()
    clock.now = 9.9
    assert not breaker.allow()
    clock.now = 10.0
    assert breaker.state == "half_open"
    assert breaker.allow()  # the probe
    assert not breaker.allow() and not breaker.allow()  # everyone else waits for its outcome
    breaker.record(False)
    assert breaker.state == "open" and not breaker.allow()
    clock.now = 20.0
    assert breaker.allow()
    breaker.record(True)
    assert breaker.state == "closed" and breaker.allow() and breaker.allow()


def test_concurrency_is_bounded_and_results_stay_with_their_threads(fake):
    fake.hold = 0.15
    settings = settings_for(fake, judge_concurrency=2)
    results = {}

    def run(i):
        # Even i: the judge says YES to everything, so correctness comes from the reply; check the line sent.
        results[i] = judge_check(settings, response=f"work\nanswer {i}", answers=(str(i),))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert all(results[i] == judge.Check(True, None) for i in range(8))
    assert fake.max_in_flight == 2
    assert sorted(sent_line(r) for r in fake.requests) == sorted(f"answer {i}" for i in range(8))


def test_api_key_is_never_logged(fake, monkeypatch, caplog):
    monkeypatch.setenv("RLEV_JUDGE_API_KEY", API_KEY)
    fake.script = ["401"]
    with caplog.at_level(logging.DEBUG):
        assert judge_check(settings_for(fake)).reason == reasons.JUDGE_UNAVAILABLE
    assert fake.requests[0]["headers"]["Authorization"] == f"Bearer {API_KEY}"
    assert caplog.records, "the failure should be logged"
    assert all(API_KEY not in r.getMessage() for r in caplog.records)
    assert API_KEY not in repr(settings_for(fake))


# --- the template override ----------------------------------------------------------------------------------------


def test_template_file_overrides_the_prompt(fake, tmp_path, monkeypatch):
    path = tmp_path / "judge.txt"
    path.write_text("Q={question}\nA={response}\nR={reference}\nLiteral {{braces}} and \\frac{{1}}{{2}}. YES/NO?")
    monkeypatch.setenv("RLEV_JUDGE_TEMPLATE_FILE", str(path))
    monkeypatch.setenv("RLEV_JUDGE_URL", fake.url)
    monkeypatch.setenv("RLEV_JUDGE_BACKOFF", "0.01")
    settings = Settings.from_env()
    assert settings.judge_template_file == str(path)
    assert judge_check(settings, response="x\n{question} is 42", q="What {is} it?").correct
    content = fake.requests[0]["body"]["messages"][0]["content"]
    # Substituted text is never re-read as a template: braces in the question or response stay as they are.
    assert content == "Q=What {is} it?\nA={question} is 42\nR=42\nLiteral {braces} and \\frac{1}{2}. YES/NO?"


@pytest.mark.parametrize(
    "text, message",
    [
        ("Q={question} A={response}", "missing placeholder(s) {reference}"),
        ("{response} {reference} {answer}", "unknown placeholder {answer}"),
        ("{response} {reference} {response:>10}", "unknown placeholder {response:>10}"),
        ("{response} {reference} \\frac{1}{2}", "unknown placeholder {1}"),
        ("{response} {reference} {", "not a valid template"),
    ],
)
def test_bad_template_is_a_clear_error_at_settings_time(tmp_path, text, message):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(ValueError) as err:
        Settings.from_strings({"judge_url": "http://x/v1", "judge_template_file": str(path)}, source="--rlev flags")
    assert message in str(err.value)
    assert str(path) in str(err.value) and "judge_template_file" in str(err.value)


def test_missing_template_file_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no/such/file.txt"):
        Settings.from_strings({"judge_template_file": str(tmp_path / "no/such/file.txt")})


def test_judge_settings_are_validated():
    with pytest.raises(ValueError, match="judge_retries"):
        Settings.from_strings({"judge_retries": "-1"})
    with pytest.raises(ValueError, match="judge_deadline"):
        Settings.from_strings({"judge_deadline": "0"})
    assert Settings.from_strings({"judge_retries": "0"}).judge_retries == 0


# --- end to end through OpenRLHF's reward file ------------------------------------------------------------------


@pytest.fixture
def judge_env(fake, monkeypatch):
    monkeypatch.setenv("RLEV_JUDGE_URL", fake.url)
    monkeypatch.setenv("RLEV_JUDGE_MODEL", "judge-72b")
    monkeypatch.setenv("RLEV_JUDGE_BACKOFF", "0.01")
    monkeypatch.setenv("RLEV_JUDGE_RETRIES", "1")
    return fake


PROMPT = "<|im_start|>user\nHow many apples?<|im_end|>\n<|im_start|>assistant\n"
LABEL = {"answer": "forty-two", "value": 0.1, "verifier": "judge"}


def test_reward_func_end_to_end_yes(judge_env):
    out = reward_func([PROMPT + "Counting...\nThere are 42 apples.<|im_end|>"], [PROMPT], [LABEL])
    assert out["rewards"] == pytest.approx(2.0)  # s = 1 + min(10 * 0.1, 1)
    assert out["scores"] == 1.0
    assert out["extra_logs"]["rlev/value"] == pytest.approx(0.1)
    assert out["extra_logs"]["rlev/fail_judge_unavailable"] == 0.0
    assert sent_line(judge_env.requests[0]) == "There are 42 apples."  # EOS text stripped, last line only
    content = judge_env.requests[0]["body"]["messages"][0]["content"]
    assert "\nforty-two\n" in content and "Question:\nHow many apples?\n\n" in content
    assert "<|im_start|>" not in content and "<|im_end|>" not in content and "assistant" not in content


@pytest.mark.parametrize(
    "prompt",
    [
        PROMPT,
        "<|im_start|>system\nBe brief.<|im_end|>\n" + PROMPT,
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHow many apples?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n",
        "<bos><start_of_turn>user\nHow many apples?<end_of_turn>\n<start_of_turn>model\n",
        "<s>[INST] How many apples? [/INST]",
        "<｜begin▁of▁sentence｜><｜User｜>How many apples?<｜Assistant｜>",
        "<|user|>\nHow many apples?<|end|>\n<|assistant|>\n",
        "  How many apples?\n",
    ],
)
def test_judge_sees_the_question_without_chat_markup(prompt):
    assert judge.plain_question(prompt) == "How many apples?"


def test_reward_func_end_to_end_no(judge_env):
    judge_env.script = ["no"]
    out = reward_func([PROMPT + "There are 41 apples."], [PROMPT], [json.dumps(LABEL)])
    assert (out["rewards"], out["scores"]) == (0.0, 0.0)
    assert out["extra_logs"]["rlev/fail_judge_unavailable"] == 0.0


def test_reward_func_end_to_end_judge_down(judge_env):
    judge_env.script = ["500"]
    out = reward_func([PROMPT + "There are 42 apples."], [PROMPT], [LABEL])
    assert (out["rewards"], out["scores"]) == (0.0, 0.0)
    assert out["extra_logs"]["rlev/fail_judge_unavailable"] == 1.0
    assert judge_env.posts() == 2
