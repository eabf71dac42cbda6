"""Acc and H-Acc in OpenRLHF's own evaluation, from one generation per question.

OpenRLHF's eval (`compute_eval_metrics` in openrlhf/trainer/ppo_trainer.py) reports pass@k of the reward per
datasource; with RLEV's reward (s·c, s in [1, 2]) that is neither Acc nor H-Acc. Every eval sample already carries
the reward file's `rlev/*` extra_logs in its `info`, so the same samples give both. This wraps
`compute_eval_metrics` in the PPO trainer's process (installed on import by the Ray setup hook) and adds

    eval_<ds>/acc    mean of rlev/correct over the datasource's samples
    eval_<ds>/h_acc  sum of rlev/value_x_correct / sum of rlev/value (left out when every value is 0)
    eval_all/acc, eval_all/h_acc   the same over every datasource, when there are several

to the dict OpenRLHF logs (wandb, tensorboard, `--rlev.log_jsonl`) and uses for `--ckpt.best_metric_key`. The
original metrics are unchanged. `prepare --eval` (every question twice, see eval_labels) is the route for runs that
do not go through this plugin's launcher or setup hook.
"""

import functools
import logging
from collections import defaultdict

from openrlhf_rlev.integrations.openrlhf import import_hooks
from openrlhf_rlev.reward.ratelimit import RateLimitedWarner

MODULES = ("openrlhf.trainer.ppo_trainer", "openrlhf.trainer.ppo_trainer_async")
FUNCTION = "compute_eval_metrics"
PARAMETERS = ("eval_dataloader", "samples_list", "n_samples_per_prompt")
PATCHED_MARK = "__rlev_eval_metrics__"
ALL = "all"
CORRECT, VALUE, VALUE_X_CORRECT = "rlev/correct", "rlev/value", "rlev/value_x_correct"

_warner = RateLimitedWarner(logging.getLogger("openrlhf_rlev"), per_seconds=3600)


def _floats(x, n: int) -> list[float]:
    values = x.reshape(-1).tolist() if hasattr(x, "reshape") else list(x) if isinstance(x, (list, tuple)) else [x]
    if len(values) != n:
        raise ValueError(f"{n} prompts but {len(values)} values")
    return [float(v) for v in values]


def datasources(eval_dataloader) -> dict:
    """prompt -> datasource, as OpenRLHF's own eval maps them (the dataloader yields datasources, prompts, ...)."""
    found = {}
    for batch in eval_dataloader:
        for prompt, datasource in zip(batch[1], batch[0]):
            found[prompt] = datasource
    return found


def rlev_metrics(eval_dataloader, samples_list) -> dict:
    """`eval_<ds>/acc` and `eval_<ds>/h_acc` from the samples' `rlev/*` info; {} without RLEV's reward logs."""
    sums = defaultdict(lambda: [0, 0.0, 0.0, 0.0])  # n, sum correct, sum value, sum value x correct
    to_datasource = None
    for s in samples_list:
        info = getattr(s, "info", None) or {}
        if CORRECT not in info:
            return {}
        if to_datasource is None:
            to_datasource = datasources(eval_dataloader)
        prompts = list(s.prompts)
        n = len(prompts)
        correct, value = _floats(info[CORRECT], n), _floats(info.get(VALUE, [0.0] * n), n)
        value_x_correct = _floats(info.get(VALUE_X_CORRECT, [0.0] * n), n)
        for prompt, c, v, vc in zip(prompts, correct, value, value_x_correct):
            for key in {to_datasource.get(prompt, "unknown"), ALL}:
                t = sums[key]
                t[0], t[1], t[2], t[3] = t[0] + 1, t[1] + c, t[2] + v, t[3] + vc
    if len(sums) == 2:  # one datasource: its numbers are the overall ones
        sums.pop(ALL, None)
    logs = {}
    for key, (n, c, v, vc) in sums.items():
        logs[f"eval_{key}/acc"] = c / n
        if v > 0:
            logs[f"eval_{key}/h_acc"] = vc / v
    return logs


def _wrap(original):
    @functools.wraps(original)
    def compute_eval_metrics(eval_dataloader, samples_list, *args, **kwargs):
        logs = original(eval_dataloader, samples_list, *args, **kwargs)
        try:
            logs.update(rlev_metrics(eval_dataloader, samples_list))
        except Exception as e:  # never break OpenRLHF's eval over an extra metric
            _warner.warn("eval_metrics", f"RLEV eval Acc/H-Acc not computed: {type(e).__name__}: {e}")
        return logs

    setattr(compute_eval_metrics, PATCHED_MARK, True)
    return compute_eval_metrics


def supported(function) -> bool:
    import inspect

    names = tuple(inspect.signature(function).parameters)[: len(PARAMETERS)]
    return names == PARAMETERS


def patch(module) -> None:
    """Wrap the module's `compute_eval_metrics` (idempotent); an OpenRLHF without it keeps its own eval only."""
    original = getattr(module, FUNCTION, None)
    if original is None or getattr(original, PATCHED_MARK, False):
        return
    if not supported(original):
        _warner.warn("eval_metrics_api", f"RLEV eval Acc/H-Acc off: {module.__name__}.{FUNCTION} is not as tested")
        return
    setattr(module, FUNCTION, _wrap(original))


def install() -> list[str]:
    return [import_hooks.after_import(name, patch) for name in MODULES]
