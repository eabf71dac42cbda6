"""The per-step JSONL log and progress line, wrapped around OpenRLHF 0.11.2's real BasePPOTrainer methods.

The trainer class is OpenRLHF's; its wandb/tensorboard loggers are left unset and its checkpoint saving is
disabled (save_steps = inf), so what runs is OpenRLHF's own `save_logs_and_checkpoints` and the wrapper."""

import json
import sys
import types
from types import SimpleNamespace

import pytest
import torch

from openrlhf_rlev.integrations.openrlhf import steplog


@pytest.fixture
def trainer_module(monkeypatch):
    from openrlhf_rlev.integrations.openrlhf.cpu import shims

    shims.install()  # ppo_trainer imports vllm at module level
    # A fresh copy of OpenRLHF's module, so that patching it does not leak into other tests.
    import importlib.util

    spec = importlib.util.find_spec(steplog.TRAINER_MODULE)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, steplog.TRAINER_MODULE, module)
    spec.loader.exec_module(module)
    return module


def _trainer(module, logging_steps=1):
    trainer = module.BasePPOTrainer.__new__(module.BasePPOTrainer)
    trainer.args = SimpleNamespace(
        logger=SimpleNamespace(logging_steps=logging_steps), ckpt=SimpleNamespace(save_steps=float("inf"))
    )
    trainer.wandb_logger = trainer.tensorboard_logger = None
    trainer.max_steps = 10
    trainer.best_eval_metric_key = "none"
    return trainer


LOGS = {
    "rlev/correct": torch.tensor(0.5),
    "rlev/value": 0.04,
    "rlev/value_x_correct": 0.03,
    "rollout/response_length_mean": 12.25,
    "timing/step_total": 3.5,
    "rollout/reward_mean": 0.7,
    "generated_samples": ["text", 1.5],
}


def test_each_step_goes_to_the_file_and_one_progress_line(trainer_module, tmp_path, monkeypatch, capsys):
    path = tmp_path / "logs" / "steps.jsonl"
    monkeypatch.setenv(steplog.LOG_ENV, str(path))
    steplog.patch(trainer_module)
    steplog.patch(trainer_module)  # idempotent
    trainer = _trainer(trainer_module, logging_steps=2)
    for step in (1, 2, 3, 4):
        trainer.save_logs_and_checkpoints(step, dict(LOGS), {})
    trainer.save_best_checkpoint({"eval_arith_pass1": 0.25}, 4, {})
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(e["kind"], e["global_step"]) for e in entries] == [("train", 2), ("train", 4), ("eval", 4)]
    assert entries[0]["rlev/correct"] == 0.5 and entries[0]["generated_samples"] == ["text", 1.5]
    assert entries[2]["eval_arith_pass1"] == 0.25
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("RLEV step")]
    assert len(lines) == 4  # printed every step, logged at logging_steps
    assert lines[0] == "RLEV step 1/10: 3.5 s | Acc 0.500 | H-Acc 0.750 | mean length 12.2 | reward 0.700"


def test_without_a_path_nothing_is_written_and_missing_keys_print_na(trainer_module, monkeypatch, capsys, tmp_path):
    monkeypatch.delenv(steplog.LOG_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    steplog.patch(trainer_module)
    _trainer(trainer_module).save_logs_and_checkpoints(1, {"policy_loss": 0.1}, {})
    assert list(tmp_path.iterdir()) == []
    assert "Acc n/a | H-Acc n/a" in capsys.readouterr().out


def test_values_become_plain_json():
    entry = steplog.record("train", 3, {"a": torch.tensor([2.0]), "b": float("nan"), "c": types.SimpleNamespace()})
    assert entry["a"] == 2.0 and entry["b"] == "nan" and entry["c"].startswith("namespace")
    json.dumps(entry)


def test_the_step_line_says_where_the_answers_came_from():
    """A batch whose rewards come from guesses or restated option lists shows it in the line every step prints."""
    logs = {
        "rlev/correct": 0.5,
        "rlev/answer_from_boxed": 0.25,
        "rlev/answer_from_marker": 0.125,
        "rlev/answer_from_bare": 0.0,
        "rlev/answer_from_guess": 0.625,
        "rlev/fail_options_listed": 0.125,
        "rlev/fail_answer_format": 0.25,
    }
    line = steplog.progress_line(3, logs, 10)
    assert line.endswith(" | answers boxed 0.25 marker 0.12 bare 0.00 guess 0.62 | no answer 0.38")
    assert "answers" not in steplog.progress_line(3, {"rlev/correct": 0.5}, 10)  # older logs: unchanged line
