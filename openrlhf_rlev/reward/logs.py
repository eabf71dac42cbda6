"""The per-sample `rlev/*` logs every adapter reports (OpenRLHF averages its `extra_logs` per batch as `train/<key>`).

Batch accuracy is `rlev/correct`; batch H-Acc is mean(`rlev/value_x_correct`) / mean(`rlev/value`).
Every call returns every key (OpenRLHF stacks them per batch), errors included.
"""

from openrlhf_rlev.reward import reasons
from openrlhf_rlev.verifiers.extract import SOURCES

PREFIX = "rlev/"
FAIL_KEYS = {reason: f"{PREFIX}fail_{reason}" for reason in reasons.FAILURES}
# Where each answer came from (extract.SOURCES): a batch whose rewards come from guesses shows it at once.
SOURCE_KEYS = {source: f"{PREFIX}answer_from_{source}" for source in SOURCES}
KEYS = (
    f"{PREFIX}correct",
    f"{PREFIX}value",
    f"{PREFIX}scale",
    f"{PREFIX}value_x_correct",
    f"{PREFIX}prompt_not_found",
    *FAIL_KEYS.values(),
    *SOURCE_KEYS.values(),
)


def extra_logs(verdict, prompt_found: bool = True) -> dict[str, float]:
    c = 1.0 if verdict.correct else 0.0
    logs = {
        f"{PREFIX}correct": c,
        f"{PREFIX}value": float(verdict.value),
        f"{PREFIX}scale": float(verdict.scale),
        f"{PREFIX}value_x_correct": float(verdict.value) * c,
        f"{PREFIX}prompt_not_found": 0.0 if prompt_found else 1.0,
    }
    for reason, key in FAIL_KEYS.items():
        logs[key] = 1.0 if verdict.reason == reason else 0.0
    source = getattr(verdict, "source", None)
    for name, key in SOURCE_KEYS.items():
        logs[key] = 1.0 if source == name else 0.0
    return logs


def h_acc(logs: dict) -> float | None:
    """Batch H-Acc from the reward's logs: mean(v * c) / mean(v)."""
    value, value_x_correct = logs.get("rlev/value"), logs.get("rlev/value_x_correct")
    if value is None or value_x_correct is None or not value > 0:
        return None
    return float(value_x_correct) / float(value)
