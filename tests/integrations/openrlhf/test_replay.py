"""OpenRLHF's real `SingleTurnAgentExecutor` scores generated responses through the plugin's reward file (only vLLM
is replaced, by `ReplayEngine`), and the direct fallback (no openrlhf) agrees with it."""

import sys

import pytest

from openrlhf_rlev.integrations.openrlhf import replay
from openrlhf_rlev.reward.core import score


def rows_for(tok):
    """Predictions rows as `generate` writes them: right, wrong, unparsable, and a math label."""
    cases = [
        ("Let me see.\nAnswer: B", {"answer": ["B"], "value": 0.05, "verifier": "choice"}, "stop"),
        ("Answer: C", {"answer": ["B"], "value": 0.4, "verifier": "choice"}, "stop"),
        ("I am not sure", {"answer": ["A", "C"], "value": 0.2, "verifier": "choice"}, "length"),
        ("so the result is \\boxed{12}", {"answer": "12", "value": 0.1}, "stop"),
    ]
    rows = []
    for i, (response, label, finish) in enumerate(cases):
        ids = tok(response, add_special_tokens=False)["input_ids"] + ([tok.eos_token_id] if finish == "stop" else [])
        rows.append(
            {
                "index": i,
                "sample": 0,
                "prompt": f"Question {i}?",
                "response": response,
                "label": label,
                "response_token_ids": ids,
                "finish_reason": finish,
            }
        )
    return rows


def test_openrlhf_executor_scores_like_the_core(byte_tokenizer):
    rows = rows_for(byte_tokenizer)
    rewards, path = replay.score_predictions(rows, byte_tokenizer, progress=False)
    assert path == replay.PATH_EXECUTOR
    for row, r in zip(rows, rewards):
        verdict = score(row["response"], row["label"])
        assert r["reward"] == pytest.approx(verdict.reward) and r["score"] == float(verdict.correct)
        assert r["extra_logs"]["rlev/prompt_not_found"] == 0.0  # the executor's query starts with the prompt
        assert r["extra_logs"]["rlev/value"] == pytest.approx(row["label"]["value"])
    assert [r["score"] for r in rewards] == [1.0, 0.0, 0.0, 1.0]
    assert rewards[0]["reward"] == pytest.approx(1 + min(10 * 0.05, 1))  # s = 1 + min(alpha v, 1)


def test_without_openrlhf_the_reward_func_is_called_directly_and_agrees(byte_tokenizer, monkeypatch):
    rows = rows_for(byte_tokenizer)
    via_executor, _ = replay.score_predictions(rows, byte_tokenizer, progress=False)
    monkeypatch.setitem(sys.modules, "openrlhf.utils.agent", None)  # as if openrlhf were not importable
    direct, path = replay.score_predictions(rows, byte_tokenizer, progress=False)
    assert path == replay.PATH_DIRECT
    assert direct == via_executor


def test_replay_engine_refuses_other_prompt_ids():
    import asyncio

    engine = replay.ReplayEngine([1, 2, 3], replay._CompletionOutput([4], "x", "stop"))
    assert asyncio.run(engine.generate([1, 2, 3], None)).outputs[0].token_ids == [4]
    with pytest.raises(ValueError, match="tokenized the prompt differently"):
        asyncio.run(engine.generate([1, 2], None))
