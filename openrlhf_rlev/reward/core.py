"""The pure core: one response, one label, one verdict. Every adapter (reward file, server, CLI, eval) calls this."""

from dataclasses import dataclass

from openrlhf_rlev.reward import reasons
from openrlhf_rlev.reward.labels import Label, LabelError, parse_label
from openrlhf_rlev.reward.scaling import scale as scale_of
from openrlhf_rlev.reward.settings import Settings
from openrlhf_rlev.verifiers import default_kind, verify
from openrlhf_rlev.verifiers.extract import GUESS

STRICT = "strict"


@dataclass(frozen=True)
class Verdict:
    correct: bool
    value: float
    scale: float
    reward: float
    reason: str | None = None
    source: str | None = None  # where the answer came from: boxed, marker, bare, guess (None: not extracted)


def scale_for(label: Label, settings: Settings) -> float:
    """s(x), with its precedence: the label's own scale, then its value through the settings, else 1 (an answer
    with no value is plain accuracy). The GRPO patch uses this too, so the two can never disagree."""
    if label.scale is not None:
        return label.scale
    if label.value is not None:
        return scale_of(label.value, settings.scaling, settings.alpha, settings.uniform_scale)
    return 1.0


def label_scale(raw_label, settings: Settings) -> float:
    """s(x) from a label, with `score`'s precedence: label scale, then value + settings, else 1."""
    try:
        label = parse_label(raw_label)
    except LabelError:
        return 1.0  # core.score gives such a sample reward 0 and scale 1
    return scale_for(label, settings)


def score(response, label, settings: Settings | None = None, question: str | None = None) -> Verdict:
    """r = s(x) * 1[correct]. Never raises: a bad label or a failed verifier is reward 0 with a reason."""
    try:
        return _score(response, label, settings or Settings.from_env(), question)
    except Exception:  # the last guard: a bug here must not become a crashed RL run
        return Verdict(False, 0.0, 1.0, 0.0, reasons.INTERNAL_ERROR)


def _score(response, label, settings: Settings, question: str | None) -> Verdict:
    try:
        parsed = parse_label(label)
    except LabelError as e:
        return Verdict(False, 0.0, 1.0, 0.0, e.reason)
    value = parsed.value if parsed.value is not None else 0.0
    s = scale_for(parsed, settings)
    if not isinstance(response, str):
        return Verdict(False, value, s, 0.0, reasons.RESPONSE_INVALID)
    kind = parsed.verifier or (settings.verifier if settings.verifier != "auto" else default_kind(parsed.answers))
    check = verify(kind, response, parsed.answers, settings=settings, question=question)
    strict = (parsed.answer_format or settings.answer_format) == STRICT
    if strict and check.reason is None and check.source == GUESS:
        # Neither marked nor bare: the strict format pays nothing for an answer read out of prose.
        return Verdict(False, value, s, 0.0, reasons.ANSWER_FORMAT, check.source)
    return Verdict(check.correct, value, s, s if check.correct else 0.0, check.reason, check.source)
