"""The reward file through OpenRLHF 0.11.2's own `SingleTurnAgentExecutor`.

Real: the executor (file loading by path, tokenisation, decode with special tokens kept, `asyncio.to_thread` call,
result unpacking) and a real HF tokenizer. Stubbed: only the vLLM engine, which needs a GPU; the stub returns the
token ids of a fixed response, exactly what vLLM's `RequestOutput.outputs[0]` carries.
"""

import asyncio
import json
from types import SimpleNamespace

import pytest

from openrlhf_rlev import REWARD_FUNC_PATH
from openrlhf_rlev.cli.main import main as cli_main
from openrlhf_rlev.reward import reasons
from openrlhf_rlev.reward.logs import KEYS

agent = pytest.importorskip("openrlhf.utils.agent")


class ReplayEngine:
    """Stands in for vLLM: 'generates' the given response's tokens (plus EOS, as a real stop would)."""

    def __init__(self, tokenizer, response: str):
        self.ids = tokenizer(response, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]

    async def generate(self, prompt_token_ids, sampling_params, multi_modal_data=None):
        out = SimpleNamespace(token_ids=self.ids, text="", finish_reason="stop", logprobs=None)
        return SimpleNamespace(outputs=[out])


def run_executor(tokenizer, question: str, response: str, label):
    executor = agent.SingleTurnAgentExecutor(remote_rm_url=REWARD_FUNC_PATH)
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True
    )
    params = SimpleNamespace(max_tokens=256, logprobs=None)
    return asyncio.run(executor.execute(prompt, label, params, 4096, tokenizer, ReplayEngine(tokenizer, response)))


def expected_scale(v):
    return 1 + min(10 * v, 1)


CASES = [
    # (response, label, correct, value)
    ("Reasoning...\n答案是 D", {"answer": ["D"], "value": 0.04}, True, 0.04),
    ("Reasoning...\n答案是 C", {"answer": ["D"], "value": 0.04}, False, 0.04),
    ("So x = 1/2, i.e. \\boxed{\\frac{1}{2}}", json.dumps({"answer": "0.5", "value": 0.2}), True, 0.2),
    ("So \\boxed{3}", json.dumps({"answer": "0.5", "value": 0.2}), False, 0.2),
    ("The answer is (B)", {"answer": "B", "value": 0.0}, True, 0.0),
    ("Therefore the answer is 42.", "42", True, None),
    ("Therefore the answer is 41.", "42", False, None),
    ("【答案】C F A E D", {"answer": ["C", "F", "A", "E", "D"], "value": 0.0667}, True, 0.0667),
    ("Final answer: AC", {"answer": ["AC"], "value": 0.04, "verifier": "choice"}, True, 0.04),
]


@pytest.mark.parametrize("response,label,correct,value", CASES)
def test_executor_rewards_every_label_form(byte_tokenizer, response, label, correct, value):
    out = run_executor(byte_tokenizer, "Which option?", response, label)
    s = expected_scale(value) if value is not None else 1.0
    assert out["scores"] == (1.0 if correct else 0.0)
    assert out["reward"] == pytest.approx(s if correct else 0.0)
    logs = out["extra_logs"]
    assert tuple(logs) == KEYS
    assert logs["rlev/correct"] == (1.0 if correct else 0.0)
    assert logs["rlev/scale"] == pytest.approx(s)
    assert logs["rlev/value"] == pytest.approx(value or 0.0)
    assert logs["rlev/value_x_correct"] == pytest.approx((value or 0.0) * correct)
    assert logs["rlev/prompt_not_found"] == 0.0
    assert all(logs[f"rlev/fail_{r}"] == 0.0 for r in reasons.FAILURES)


MALFORMED = [
    (None, reasons.LABEL_MALFORMED),
    (42, reasons.LABEL_MALFORMED),
    (["D"], reasons.LABEL_MALFORMED),
    ({"value": 0.1}, reasons.LABEL_MISSING_ANSWER),
    ({"answer": [], "value": 0.1}, reasons.LABEL_MISSING_ANSWER),
    ("", reasons.LABEL_MISSING_ANSWER),
    ({"answer": "D", "value": 1.5}, reasons.LABEL_BAD_VALUE),
    ({"answer": "D", "value": -0.1}, reasons.LABEL_BAD_VALUE),
    ({"answer": "D", "value": "high"}, reasons.LABEL_BAD_VALUE),
    (json.dumps({"answer": "D", "value": float("nan")}), reasons.LABEL_BAD_VALUE),
    ({"answer": "D", "value": 0.1, "verifier": "oracle"}, reasons.LABEL_MALFORMED),
    ({"answer": {"x": 1}, "value": 0.1}, reasons.LABEL_MALFORMED),
]


@pytest.mark.parametrize("label,reason", MALFORMED)
def test_executor_malformed_labels_give_zero_and_a_counted_reason(byte_tokenizer, label, reason, caplog):
    out = run_executor(byte_tokenizer, "Which option?", "答案是 D", label)
    assert out["reward"] == 0.0 and out["scores"] == 0.0
    logs = out["extra_logs"]
    assert tuple(logs) == KEYS  # same keys on every call, errors included
    assert logs[f"rlev/fail_{reason}"] == 1.0
    assert sum(logs[f"rlev/fail_{r}"] for r in reasons.FAILURES) == 1.0


def test_label_scale_overrides_and_settings_apply(byte_tokenizer, monkeypatch):
    out = run_executor(byte_tokenizer, "q", "答案是 D", {"answer": "D", "value": 0.5, "scale": 1.25})
    assert out["reward"] == pytest.approx(1.25)
    monkeypatch.setenv("RLEV_SCALING", "multiplicative")
    monkeypatch.setenv("RLEV_ALPHA", "4")
    out = run_executor(byte_tokenizer, "q", "答案是 D", {"answer": "D", "value": 0.5})
    assert out["reward"] == pytest.approx(3.0)
    monkeypatch.setenv("RLEV_SCALING", "none")
    out = run_executor(byte_tokenizer, "q", "答案是 D", {"answer": "D", "value": 0.5})
    assert out["reward"] == pytest.approx(1.0)


def test_invalid_settings_never_raise_into_openrlhf(byte_tokenizer, monkeypatch):
    monkeypatch.setenv("RLEV_ALPHA", "lots")
    out = run_executor(byte_tokenizer, "q", "答案是 D", {"answer": "D", "value": 0.5})
    assert out["reward"] == 0.0
    assert out["extra_logs"]["rlev/fail_internal_error"] == 1.0


def test_a_failed_response_recovery_is_an_internal_error_not_a_scored_prompt(monkeypatch):
    """Scoring prompt + response as the response could reward an answer that only the prompt contains."""
    from openrlhf_rlev.integrations.openrlhf import query
    from openrlhf_rlev.integrations.openrlhf import reward_func as rf

    def broken(query, prompt):
        raise RuntimeError("boom")

    monkeypatch.setattr(query, "recover_response", broken)
    out = rf.reward_func(["The answer is D. 答案是 D"], ["The answer is D."], [{"answer": "D"}])
    assert out["rewards"] == 0.0 and out["scores"] == 0.0
    assert out["extra_logs"]["rlev/fail_internal_error"] == 1.0


def test_reward_path_command_prints_the_loaded_file(capsys):
    assert cli_main(["reward-path"]) == 0
    assert capsys.readouterr().out.strip() == REWARD_FUNC_PATH


def test_failures_are_warned_but_rate_limited(caplog):
    from openrlhf_rlev.integrations.openrlhf import reward_func as rf

    rf._warner._last.clear()
    with caplog.at_level("WARNING", logger="openrlhf_rlev"):
        for _ in range(50):
            rf.reward_func(["答案是 D"], [""], [{"answer": "D", "value": 7}])
    warned = [r for r in caplog.records if reasons.LABEL_BAD_VALUE in r.getMessage()]
    assert len(warned) == 1


def test_loading_the_file_as_openrlhf_does_prestarts_verifier_workers(monkeypatch):
    import importlib.util

    from openrlhf_rlev.verifiers import pool

    pool.shutdown()
    monkeypatch.setenv("RLEV_VERIFY_WORKERS", "1")
    agent.SingleTurnAgentExecutor(remote_rm_url=REWARD_FUNC_PATH)  # OpenRLHF's own loader: module "reward_func"
    assert pool._pool is not None and pool._pool.size == 1
    pool.shutdown()
    spec = importlib.util.find_spec(
        "openrlhf_rlev.integrations.openrlhf.reward_func"
    )  # as a package module: no side effect
    importlib.util.module_from_spec(spec).__loader__.exec_module(importlib.util.module_from_spec(spec))
    assert pool._pool is None


@pytest.mark.parametrize("grpo", ["value", "stock"])
def test_scale_is_logged_for_every_sample_and_no_extra_key(monkeypatch, grpo):
    """extra_logs["rlev/scale"] = s(x) for right and wrong answers alike: what upstream's
    `--algo.advantage.weight_key rlev/scale` and the GRPO wrapper weight by (a wrong answer's advantage is nonzero
    under group_norm). The return has only OpenRLHF's keys; --rlev.grpo stock changes nothing here (the launcher
    then passes no weight flag)."""
    from openrlhf_rlev.integrations.openrlhf.reward_func import reward_func

    monkeypatch.setenv("RLEV_GRPO", grpo)
    one = reward_func(["Answer: C"], [""], [{"answer": "B", "value": 0.05}])
    assert one["rewards"] == 0.0 and one["extra_logs"]["rlev/scale"] == 1.5
    batch = reward_func(["Answer: B", "Answer: B"], ["", ""], [{"answer": "B", "value": 0.3}, {"answer": "B"}])
    assert batch["extra_logs"]["rlev/scale"] == [2.0, 1.0] and batch["rewards"] == [2.0, 1.0]
    assert set(one) == set(batch) == {"rewards", "scores", "extra_logs"}
