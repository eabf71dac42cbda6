"""The label schema: the one column that survives OpenRLHF's `PromptDataset` carries answer and value.

    {"answer": str | [str, ...], "value": float in [0, 1], "scale": float >= 0 (optional),
     "verifier": "math" | "choice" | "exact" | "judge" (optional)}

A dict or its JSON string. A plain string is an answer with no value (s = 1). Keys that are None count
as absent, because Arrow fills missing struct fields with null.
"""

import json
import math
from dataclasses import dataclass

from openrlhf_rlev import reasons
from openrlhf_rlev.settings import VERIFIERS


class LabelError(ValueError):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Label:
    answers: tuple[str, ...]
    value: float | None = None
    scale: float | None = None
    verifier: str | None = None


def parse_label(raw) -> Label:
    if isinstance(raw, str):
        text = raw.strip()
        if text.startswith("{"):
            try:
                decoded = json.loads(text)
            except ValueError:
                decoded = None  # e.g. a set answer "{1, 2}": a plain answer, not JSON
            if isinstance(decoded, dict):
                return _from_dict(decoded)
        if not text:
            raise LabelError(reasons.LABEL_MISSING_ANSWER, "label is an empty string")
        return Label(answers=(text,))
    if isinstance(raw, dict):
        return _from_dict(raw)
    raise LabelError(reasons.LABEL_MALFORMED, f"label must be a dict or a string, got {type(raw).__name__}")


def _from_dict(d: dict) -> Label:
    return Label(
        answers=_answers(d.get("answer")),
        value=_number(d, "value", upper=1.0),
        scale=_number(d, "scale", upper=math.inf),
        verifier=_verifier(d.get("verifier")),
    )


def _answers(raw) -> tuple[str, ...]:
    if raw is None:
        raise LabelError(reasons.LABEL_MISSING_ANSWER, "label has no 'answer'")
    items = raw if isinstance(raw, (list, tuple)) else [raw]
    out = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise LabelError(reasons.LABEL_MALFORMED, f"answer entries must be strings, got {type(item).__name__}")
        text = str(item).strip()
        if not text:
            raise LabelError(reasons.LABEL_MISSING_ANSWER, "label has an empty answer entry")
        out.append(text)
    if not out:
        raise LabelError(reasons.LABEL_MISSING_ANSWER, "label has an empty answer list")
    return tuple(out)


def _number(d: dict, key: str, upper: float) -> float | None:
    raw = d.get(key)
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise LabelError(reasons.LABEL_BAD_VALUE, f"label {key!r} must be a number, got {raw!r}")
    x = float(raw)
    if not (math.isfinite(x) and 0.0 <= x <= upper):
        raise LabelError(reasons.LABEL_BAD_VALUE, f"label {key!r} must be in [0, {upper}], got {raw!r}")
    return x


def _verifier(raw) -> str | None:
    if raw is None:
        return None
    if raw not in VERIFIERS:
        raise LabelError(reasons.LABEL_MALFORMED, f"label verifier must be one of {', '.join(VERIFIERS)}, got {raw!r}")
    return None if raw == "auto" else raw
