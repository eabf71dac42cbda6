"""RLEV on a user's own reward, through OpenRLHF's REAL executors (openrlhf/utils/agent.py).

Real: SingleTurnAgentExecutor loading `weighted_reward.py` by path and calling it through `asyncio.to_thread`;
the engine's own agent loader (`vllm_engine._load_agent_executor`) loading `weighted_agent.py` and, inside it, the
user's agent file with a real MultiTurnAgentExecutor; a real HF tokenizer; the value-keeping GRPO's signal choice.
Stubbed: the vLLM engine (needs a GPU): it replays a fixed response's token ids, as RequestOutput.outputs[0] does;
`vllm_engine` itself is imported with the CPU backend's import-only vllm shim (its module imports vllm at the top).
"""

import asyncio
import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest

from openrlhf_rlev.integrations.openrlhf import weighted, weighted_reward

agent = pytest.importorskip("openrlhf.utils.agent")
torch = pytest.importorskip("torch")

WEIGHTED_REWARD = str(Path(weighted.__file__).with_name("weighted_reward.py"))
WEIGHTED_AGENT = str(Path(weighted.__file__).with_name("weighted_agent.py"))
HIGH = {"answer": "42", "value": 0.2}  # s = 1 + min(10 * 0.2, 1) = 2
LOW = {"answer": "42", "value": 0.02}  # s = 1.2

# A user's shaped reward: 1 if the answer is at the end, plus a 0.25 format bonus for "Answer:"; its own logs.
USER_REWARD = """
import torch

def reward_func(queries, prompts, labels):
    text, label = queries[0], labels[0]
    correct = float(text.split("<|im_end|>")[-2].strip().endswith(label["answer"]))
    bonus = 0.25 if "Answer:" in text else 0.0
    return {"rewards": torch.tensor(correct + bonus), "scores": torch.tensor(correct),
            "extra_logs": {"format_bonus": torch.tensor(bonus)}}
"""

USER_AGENT = """
import torch
from openrlhf.utils.agent import AgentInstanceBase, MultiTurnAgentExecutor

class AgentInstance(AgentInstanceBase):
    def __init__(self, *args, **kwargs):
        self.turn = 0

    async def step(self, states, **kwargs):
        self.turn += 1
        correct = float(states["action_text"].strip().endswith(states["label"]["answer"]))
        return {"rewards": torch.tensor(correct * 0.5), "scores": torch.tensor(correct),
                "environment_feedback": "", "done": True, "extra_logs": {"turns": torch.tensor(float(self.turn))}}

class AgentExecutor(MultiTurnAgentExecutor):
    def __init__(self):
        super().__init__(AgentInstance)
"""


class ReplayEngine:
    """Stands in for vLLM: 'generates' the given response's tokens (plus EOS, as a real stop would)."""

    def __init__(self, tokenizer, response: str):
        self.response = response
        self.ids = tokenizer(response, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]

    async def generate(self, prompt_token_ids, sampling_params, multi_modal_data=None):
        out = SimpleNamespace(token_ids=self.ids, text=self.response, finish_reason="stop", logprobs=None)
        return SimpleNamespace(outputs=[out])


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    import os

    for name in list(os.environ):
        if name.startswith(("RLEV_", "OPENRLHF_RLEV_")):
            monkeypatch.delenv(name)
    weighted_reward._loaded.clear()


def prompt_of(tokenizer, question="What is 6*7?"):
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True
    )


def run(executor, tokenizer, response, label):
    params = SimpleNamespace(max_tokens=64, logprobs=None)
    engine = ReplayEngine(tokenizer, response)
    return asyncio.run(executor.execute(prompt_of(tokenizer), label, params, 512, tokenizer, engine))


@pytest.fixture
def user_reward(tmp_path, monkeypatch):
    path = tmp_path / "shaped_reward.py"
    path.write_text(USER_REWARD)
    monkeypatch.setenv(weighted.INNER_REWARD_ENV, str(path))
    return path


@pytest.mark.parametrize(
    ("label", "response", "reward", "score", "bonus"),
    [
        (HIGH, "Answer: 42", 2 * 1.25, 1.0, 0.25),
        (LOW, "Answer: 42", 1.2 * 1.25, 1.0, 0.25),
        (HIGH, "It is 42", 2 * 1.0, 1.0, 0.0),
        (HIGH, "Answer: 41", 2 * 0.25, 0.0, 0.25),
    ],
)
def test_single_turn_reward_is_scale_times_theirs(byte_tokenizer, user_reward, label, response, reward, score, bonus):
    executor = agent.SingleTurnAgentExecutor(remote_rm_url=WEIGHTED_REWARD)  # OpenRLHF loads our file by path
    out = run(executor, byte_tokenizer, response, label)
    assert out["reward"] == pytest.approx(reward)
    assert out["scores"] == score  # theirs, unscaled: dynamic filtering reads them
    logs = out["extra_logs"]
    assert logs["format_bonus"] == bonus  # their log kept
    assert logs["rlev/scale"] == pytest.approx(2.0 if label is HIGH else 1.2)
    assert logs["rlev/value"] == label["value"] and logs["rlev/base_reward"] == pytest.approx(score + bonus)
    assert logs["rlev/label_error"] == 0.0 and logs["rlev/inner_error"] == 0.0


def test_module_colon_function_and_labels_that_are_not_rlevs(byte_tokenizer, tmp_path, monkeypatch):
    (tmp_path / "their_pkg.py").write_text(USER_REWARD.replace("def reward_func", "def shaped"))
    (tmp_path / "their_flat.py").write_text("def flat(queries, prompts, labels):\n    return {'rewards': 0.5}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(weighted.INNER_REWARD_ENV, "their_pkg:shaped")
    executor = agent.SingleTurnAgentExecutor(remote_rm_url=WEIGHTED_REWARD)
    assert run(executor, byte_tokenizer, "Answer: 42", HIGH)["reward"] == pytest.approx(2.5)
    monkeypatch.setenv(weighted.INNER_REWARD_ENV, "their_flat:flat")
    plain = weighted_reward.reward_func(["q"], ["p"], ["42"])  # an answer with no value: s = 1
    assert plain["rewards"] == 0.5 and plain["scores"] == 0.5  # no scores of theirs: their unscaled reward
    assert plain["extra_logs"]["rlev/scale"] == 1.0 and plain["extra_logs"]["rlev/label_error"] == 0.0
    broken = weighted_reward.reward_func(["q"], ["p"], ['{"answer": '])  # unparseable: theirs unchanged, logged
    assert broken["rewards"] == 0.5 and broken["extra_logs"]["rlev/label_error"] == 1.0


def test_their_exception_never_reaches_openrlhf_and_keeps_the_log_keys(byte_tokenizer, user_reward):
    executor = agent.SingleTurnAgentExecutor(remote_rm_url=WEIGHTED_REWARD)
    good = run(executor, byte_tokenizer, "Answer: 42", HIGH)
    bad = run(executor, byte_tokenizer, "Answer: 42", "plain string label")  # theirs raises on label["answer"]
    assert bad["reward"] == 0.0 and bad["scores"] == 0.0
    assert set(bad["extra_logs"]) == set(good["extra_logs"])  # OpenRLHF stacks extra_logs: same keys everywhere
    assert bad["extra_logs"]["rlev/inner_error"] == 1.0 and bad["extra_logs"]["rlev/scale"] == 1.0


def test_multi_turn_agent_through_the_engines_own_loader(byte_tokenizer, tmp_path, monkeypatch):
    from openrlhf_rlev.integrations.openrlhf.cpu import shims

    shims.install()  # vllm_engine imports vllm at the top; conftest removes the shim after the test
    vllm_engine = importlib.import_module("openrlhf.trainer.ray.vllm_engine")
    (tmp_path / "their_agent.py").write_text(USER_AGENT)
    monkeypatch.setenv(weighted.INNER_AGENT_ENV, str(tmp_path / "their_agent.py"))
    executor = vllm_engine._load_agent_executor(WEIGHTED_AGENT)  # what the engine does with --train.agent_func_path
    out = run(executor, byte_tokenizer, "the answer is 42", HIGH)
    assert out["reward"] == pytest.approx(2 * 0.5) and float(out["scores"]) == 1.0
    assert float(out["extra_logs"]["turns"]) == 1.0 and out["extra_logs"]["rlev/scale"] == 2.0
    assert out["extra_logs"]["rlev/base_reward"] == 0.5
    wrong = run(executor, byte_tokenizer, "the answer is 41", LOW)
    assert wrong["reward"] == 0.0 and wrong["extra_logs"]["rlev/scale"] == pytest.approx(1.2)
