"""The framework-free reward: r = s(x) * 1[correct], from a response and the label that carries answer and value.

`score(response, label) -> Verdict` is the one call every adapter makes; `score_response` wraps it for trainers
(never raises, `rlev/*` logs, rate-limited warnings). Nothing here imports a trainer, torch or Ray.
"""

from openrlhf_rlev._lazy import exports

_WHERE = {
    "Verdict": "core",
    "score": "core",
    "Label": "labels",
    "LabelError": "labels",
    "parse_label": "labels",
    "scale": "scaling",
    "Settings": "settings",
    "extra_logs": "logs",
    "score_response": "sample",
}
__all__ = sorted(_WHERE)
__getattr__ = exports(__name__, _WHERE)
