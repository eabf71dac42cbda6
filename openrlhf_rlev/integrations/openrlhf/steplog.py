"""A plain per-step log of an OpenRLHF run, and one progress line per step, without wandb or tensorboard.

OpenRLHF hands each step's metrics to its wandb/tensorboard loggers in `BasePPOTrainer.save_logs_and_checkpoints`
and each evaluation's to `save_best_checkpoint`. Both are wrapped in the PPO trainer's process (installed on import
by the Ray setup hook, GPU and CPU runs alike): the same dict goes, as one JSON object per line, to the file named
by `--rlev.log_jsonl` (OPENRLHF_RLEV_LOG_JSONL), and a one-line summary (step time, Acc, H-Acc, mean length) is
printed. The trainer's behaviour is unchanged: the wrappers call the originals and only read what they return.
"""

import functools
import json
import math
import os
import time

from openrlhf_rlev.integrations.openrlhf import import_hooks
from openrlhf_rlev.reward.logs import h_acc
from openrlhf_rlev.reward.reasons import ANSWER_FORMAT, OPTIONS_LISTED
from openrlhf_rlev.verifiers.extract import SOURCES

LOG_ENV = "OPENRLHF_RLEV_LOG_JSONL"
TRAINER_MODULE = "openrlhf.trainer.ppo_trainer"
PATCHED_MARK = "__rlev_steplog__"


def _plain(value):
    """A JSON-safe copy of a logged value (tensors of one element become numbers)."""
    if hasattr(value, "item") and getattr(value, "numel", lambda: 1)() == 1:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return repr(value)


def record(kind: str, global_step: int, logs: dict) -> dict:
    return {"kind": kind, "global_step": int(global_step), "time": round(time.time(), 3), **_plain(dict(logs))}


def append(path: str, entry: dict) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")


def progress_line(global_step: int, logs: dict, max_steps=None) -> str:
    def fmt(x, spec):
        return "n/a" if x is None else format(float(x), spec)

    step = f"{global_step}/{max_steps}" if max_steps else str(global_step)
    return (
        f"RLEV step {step}: {fmt(logs.get('timing/step_total'), '.1f')} s | "
        f"Acc {fmt(logs.get('rlev/correct'), '.3f')} | H-Acc {fmt(h_acc(logs), '.3f')} | "
        f"mean length {fmt(logs.get('rollout/response_length_mean'), '.1f')} | "
        f"reward {fmt(logs.get('rollout/reward_mean'), '.3f')}" + answers_part(logs)
    )


def answers_part(logs: dict) -> str:
    """' | answers boxed 0.50 marker 0.25 bare 0.00 guess 0.25 | no answer 0.06': where the batch's answers came
    from (`rlev/answer_from_*`) and the share that named none (options listed, strict format); empty without them."""
    shares = [(s, logs.get(f"rlev/answer_from_{s}")) for s in SOURCES]
    if all(x is None for _, x in shares):
        return ""
    out = " | answers " + " ".join(f"{s} {float(x or 0):.2f}" for s, x in shares)
    none = sum(float(logs.get(f"rlev/fail_{r}") or 0) for r in (OPTIONS_LISTED, ANSWER_FORMAT))
    return out + f" | no answer {none:.2f}"


def eval_line(global_step: int, metrics: dict) -> str | None:
    """One line per evaluation with each datasource's Acc and H-Acc (see eval_metrics), or None without them."""
    parts = []
    for key in sorted(k for k in metrics if k.startswith("eval_") and k.endswith("/acc")):
        name = key[len("eval_") : -len("/acc")]
        h = metrics.get(f"eval_{name}/h_acc")
        parts.append(f"{name} Acc {float(metrics[key]):.3f} H-Acc " + ("n/a" if h is None else f"{float(h):.3f}"))
    return f"RLEV eval at step {global_step}: " + " | ".join(parts) if parts else None


def _wrap_save_logs(original):
    @functools.wraps(original)
    def save_logs_and_checkpoints(self, global_step, logs_dict=None, client_states=None):
        result = original(self, global_step, logs_dict, client_states)
        logs = logs_dict or {}
        if logs:
            print(progress_line(global_step, logs, getattr(self, "max_steps", None)), flush=True)
            path = os.environ.get(LOG_ENV)
            if path and global_step % self.args.logger.logging_steps == 0:
                append(path, record("train", global_step, logs))
        return result

    setattr(save_logs_and_checkpoints, PATCHED_MARK, True)
    return save_logs_and_checkpoints


def _wrap_save_best(original):
    # Called with each evaluation's metrics right after `evaluate` (PPOTrainer.fit), and defined on the base class:
    # Ray ships the @ray.remote PPOTrainer class by value, so its own methods cannot be patched in the worker.
    @functools.wraps(original)
    def save_best_checkpoint(self, eval_metrics, global_step, client_states=None):
        path = os.environ.get(LOG_ENV)
        if eval_metrics:
            line = eval_line(global_step, eval_metrics)
            if line:
                print(line, flush=True)
            if path:
                append(path, record("eval", global_step, eval_metrics))
        return original(self, eval_metrics, global_step, client_states)

    setattr(save_best_checkpoint, PATCHED_MARK, True)
    return save_best_checkpoint


def patch(module) -> None:
    """Wrap the trainer's logging points in `openrlhf.trainer.ppo_trainer` (idempotent)."""
    base = module.BasePPOTrainer
    if not getattr(base.save_logs_and_checkpoints, PATCHED_MARK, False):
        base.save_logs_and_checkpoints = _wrap_save_logs(base.save_logs_and_checkpoints)
    if not getattr(base.save_best_checkpoint, PATCHED_MARK, False):
        base.save_best_checkpoint = _wrap_save_best(base.save_best_checkpoint)


def install() -> str:
    return import_hooks.after_import(TRAINER_MODULE, patch)
