"""RLEV for TRL's GRPOTrainer (tested with trl 1.16.0): `GRPOTrainer(reward_funcs=[rlev_reward], ...)`.

`rlev_reward` is the OpenRLHF reward (`reward.sample.score_response`: the same core, verifier pool with its hard
timeout, rate-limited warnings, never raises) behind TRL's reward-function signature. It reads the dataset's
`label` column, returns s(x)·c per completion and reports the `rlev/*` logs, batch Acc and H-Acc through the
`log_metric` / `log_extra` hooks TRL (>= 1.x) passes to reward functions; without them it only returns rewards.

TRL's default `scale_rewards="group"` divides each group by its std, which cancels s(x) exactly as OpenRLHF's
group_norm does. `"none"` (Dr. GRPO) and `"batch"` keep it; `RLEVGRPOTrainer` keeps `"group"` and puts s(x)
back. It is built on first access (PEP 562), so importing this module for the reward needs neither trl nor torch.
"""

import functools
import logging

from openrlhf_rlev.reward.logs import h_acc
from openrlhf_rlev.reward.sample import score_response
from openrlhf_rlev.reward.sample import warner as _warner
from openrlhf_rlev.reward.settings import Settings

# RLEVGRPOTrainer is public too, but left out of __all__: a star-import must not need trl and torch.
__all__ = ["rlev_reward", "batch_metrics", "message_text", "value_keeping_advantages"]

logger = logging.getLogger("openrlhf_rlev.trl")


def message_text(x, role: str = "assistant") -> str | None:
    """A completion or prompt as text: a string as is; chat messages -> the last `role` message's content (text
    parts joined); anything else None, which scores as `response_invalid`."""
    if isinstance(x, str):
        return x
    if not isinstance(x, (list, tuple)) or not x or not all(isinstance(m, dict) for m in x):
        return None
    picked = [m for m in x if m.get("role") == role] or list(x)
    content = picked[-1].get("content")
    if isinstance(content, list):  # multimodal content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return content if isinstance(content, str) else None


def batch_metrics(logs: list[dict]) -> dict[str, float]:
    """The mean of every `rlev/*` log over a batch (`rlev/correct` is Acc), plus `rlev/h_acc` when some value > 0."""
    if not logs:
        return {}
    means = {k: sum(log[k] for log in logs) / len(logs) for k in logs[0]}
    hacc = h_acc(means)
    if hacc is not None:
        means["rlev/h_acc"] = hacc
    return means


def rlev_reward(prompts=None, completions=None, label=None, log_metric=None, log_extra=None, **kwargs) -> list:
    """TRL reward function: s(x)·c per completion, from the dataset's `label` column. Never raises."""
    try:
        n = len(completions)
        labels = (list(label) if label is not None else []) + [None] * n
        prompts = (list(prompts) if prompts is not None else []) + [None] * n
    except Exception as e:
        _warner.warn("bad_call", f"RLEV rlev_reward called with unusable arguments: {type(e).__name__}: {e}")
        return [0.0] * _length(completions)
    results = [
        score_response(message_text(completions[i]), labels[i], message_text(prompts[i], "user")) for i in range(n)
    ]
    _report([log for _, log in results], log_metric, log_extra)
    return [v.reward for v, _ in results]


def _length(x) -> int:
    try:
        return len(x)
    except Exception:
        return 0


def _report(logs: list[dict], log_metric, log_extra) -> None:
    """TRL averages `log_metric` values over each logging step and adds `log_extra` columns to its completions
    table; a failing hook must not cost the rewards."""
    try:
        if callable(log_metric):
            for name, value in batch_metrics(logs).items():
                log_metric(name, value)
        if callable(log_extra) and logs:
            for key in ("rlev/value", "rlev/correct"):
                log_extra(key, [log[key] for log in logs])
    except Exception as e:
        _warner.warn("trl_log", f"RLEV could not log to TRL: {type(e).__name__}: {e}")


def value_keeping_advantages(advantages, labels, settings: Settings):
    """TRL's group-normalised advantage times each sample's s(x): s·(r − mean r)/(std r + eps). With r = s·c that
    is s·(c − mean c)/(std c + eps/s), the advantage OpenRLHF's value-preserving GRPO computes."""
    import torch

    from openrlhf_rlev.reward.core import label_scale

    scales = torch.tensor([label_scale(x, settings) for x in labels], dtype=advantages.dtype)
    return advantages * scales.to(advantages.device)


@functools.cache
def _trainer_class():
    from trl import GRPOTrainer

    class RLEVGRPOTrainer(GRPOTrainer):
        """GRPOTrainer whose default `scale_rewards="group"` keeps s(x) (see `value_keeping_advantages`).

        TRL computes advantages inline in `_generate_and_score_completions` (no method of its own to override), so
        this multiplies the local advantages that method returns by the s(x) of its local inputs' labels. With
        `scale_rewards` "batch" or "none" s(x) is already kept and nothing changes. s multiplies the whole
        normalised advantage, so other reward functions summed in (format, length) are scaled with it.
        """

        def _generate_and_score_completions(self, inputs):
            output = super()._generate_and_score_completions(inputs)
            if self.scale_rewards != "group" or self.multi_objective_aggregation != "sum_then_normalize":
                return output
            if "advantages" not in output or len(output["advantages"]) != len(inputs):
                raise RuntimeError(
                    "RLEVGRPOTrainer: this TRL's _generate_and_score_completions does not return one advantage per "
                    "input; value-keeping GRPO was tested with trl 1.16.0. Use scale_rewards='none' or 'batch'."
                )
            labels = [x.get("label") for x in inputs]
            output["advantages"] = value_keeping_advantages(output["advantages"], labels, Settings.from_env())
            return output

    return RLEVGRPOTrainer


def __getattr__(name):
    if name == "RLEVGRPOTrainer":
        return _trainer_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
