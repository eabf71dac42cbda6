"""The label schema: the one column that survives OpenRLHF's `PromptDataset` carries answer and value.

    {"answer": str | [str, ...], "value": float in [0, 1], "scale": float >= 0 (optional),
     "verifier": "math" | "choice" | "exact" | "judge" | a registered kind (optional),
     "answer_format": "strict" | "lenient" (optional; prepare writes the format its instruction asked for)}

A dict or its JSON string. A plain string is an answer with no value (s = 1), unless it starts like a JSON
object (`{"`): then it must parse, or it is `label_malformed` (a truncated label must not pass as an answer;
a set answer such as "{1, 2}" is still a plain answer). Keys that are None count as absent, because Arrow fills
missing struct fields with null. A label above MAX_LABEL_CHARS of text is `label_malformed` before any parsing,
so no label can cost the reward more than a bounded time.
"""

import json
import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from openrlhf_rlev.reward import reasons
from openrlhf_rlev.verifiers.cache import bounded_cache
from openrlhf_rlev.verifiers.registry import AUTO, BUILTIN
from openrlhf_rlev.verifiers.registry import choices as verifier_choices

# Real answers are at most a few hundred characters; a label this size is a data bug, and verifying it would
# cost seconds per sample (a 10 MB label took 20 s in the reward thread, beyond the verifier's hard timeout).
MAX_LABEL_CHARS = 100_000
_JSON_OBJECT = re.compile(r'^\{\s*(?:"|\}$)')


class _JSONNumber(float):
    """A JSON number that remembers how the label wrote it: `0.00001` must stay "0.00001", not become "1e-05"."""

    text: str

    def __new__(cls, text: str):
        self = super().__new__(cls, text)
        self.text = text
        return self


def number_text(x: int | float) -> str:
    """The answer text of a numeric label entry: the label's own digits when it came as JSON text, else the
    shortest decimal that reads back as the same float, written positionally (1e-05 -> 0.00001, 1e+20 ->
    100000000000000000000): a scientific form would be compared with the response as a formula in e."""
    text = getattr(x, "text", None)
    if text is not None:
        return text
    if isinstance(x, int) or not math.isfinite(x):
        return str(x)
    try:
        return format(Decimal(repr(x)), "f")
    except InvalidOperation:  # pragma: no cover - repr of a finite float is always a valid Decimal
        return str(x)


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
    answer_format: str | None = None  # "strict" | "lenient"; None: the settings' answer_format


# The parsed label is cached per gold: OpenRLHF scores every label n_samples_per_prompt times in a row. Keyed by the
# label string, or for a dict by exactly what parsing reads (answers of str only, with the types of value and scale,
# so 1, 1.0 and True stay apart); at most LABEL_CACHE_CHARS characters of answers are kept (docs/limits.md).
LABEL_CACHE_SIZE = 65536
LABEL_CACHE_CHARS = 2_000_000


def parse_label(raw) -> Label:
    key = _cache_key(raw)
    return _parse_label(raw) if key is None else _parse_cached(key)


def _cache_key(raw):
    if type(raw) is str:
        return raw if len(raw) <= MAX_LABEL_CHARS else None
    if type(raw) is not dict:
        return None
    get = raw.get
    answer = get("answer")
    answers = (answer,) if type(answer) is str else tuple(answer) if type(answer) in (list, tuple) else None
    if not answers or any(type(a) is not str for a in answers):
        return None
    value, scale, verifier, answer_format = get("value"), get("scale"), get("verifier"), get("answer_format")
    if (value is not None and type(value) not in _NUMBER_TYPES) or (
        scale is not None and type(scale) not in _NUMBER_TYPES
    ):
        return None
    if verifier is not None and verifier not in _CACHED_KINDS:
        return None  # a registered kind may be unregistered later: parse (and validate) it every time
    if answer_format is not None and type(answer_format) is not str:
        return None
    return (answers, type(value), value, type(scale), scale, verifier, answer_format)


_NUMBER_TYPES = (int, float, _JSONNumber)
_CACHED_KINDS = (AUTO, *BUILTIN)


def _key_chars(key) -> int:
    return len(key) if type(key) is str else sum(map(len, key[0]))


@bounded_cache(LABEL_CACHE_SIZE, LABEL_CACHE_CHARS, weight=_key_chars)
def _parse_cached(key) -> Label:
    if type(key) is str:
        return _parse_label(key)
    answers, _, value, _, scale, verifier, answer_format = key
    return _from_dict(
        {"answer": list(answers), "value": value, "scale": scale, "verifier": verifier, "answer_format": answer_format}
    )


def _parse_label(raw) -> Label:
    if isinstance(raw, str):
        if len(raw) > MAX_LABEL_CHARS:
            raise LabelError(reasons.LABEL_MALFORMED, f"label is {len(raw)} characters, above {MAX_LABEL_CHARS}")
        text = raw.strip()
        if _JSON_OBJECT.match(text):
            try:
                decoded = json.loads(text, parse_float=_JSONNumber)
            except (ValueError, RecursionError) as e:
                raise LabelError(
                    reasons.LABEL_MALFORMED, f"label starts like a JSON object but is not one: {e}"
                ) from None
            if not isinstance(decoded, dict):
                raise LabelError(reasons.LABEL_MALFORMED, "label starts like a JSON object but is not one")
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
        answer_format=_answer_format(d.get("answer_format")),
    )


def _answers(raw) -> tuple[str, ...]:
    if raw is None:
        raise LabelError(reasons.LABEL_MISSING_ANSWER, "label has no 'answer'")
    items = raw if isinstance(raw, (list, tuple)) else [raw]
    out = []
    size = 0
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise LabelError(reasons.LABEL_MALFORMED, f"answer entries must be strings, got {type(item).__name__}")
        if isinstance(item, int) and abs(item) >= 10**100:
            raise LabelError(reasons.LABEL_MALFORMED, "answer entry is an integer of more than 100 digits")
        text = (item if isinstance(item, str) else number_text(item)).strip()
        size += len(text)
        if size > MAX_LABEL_CHARS:
            raise LabelError(reasons.LABEL_MALFORMED, f"label answers are above {MAX_LABEL_CHARS} characters")
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
        raise LabelError(reasons.LABEL_BAD_VALUE, f"label {key!r} must be a number, got {str(raw)[:80]!r}")
    try:
        x = float(raw)
    except OverflowError:  # an integer beyond float range
        raise LabelError(reasons.LABEL_BAD_VALUE, f"label {key!r} is beyond float range") from None
    if not (math.isfinite(x) and 0.0 <= x <= upper):
        raise LabelError(reasons.LABEL_BAD_VALUE, f"label {key!r} must be in [0, {upper}], got {x!r}")
    return x


def _verifier(raw) -> str | None:
    if raw is None:
        return None
    if raw not in verifier_choices():
        raise LabelError(
            reasons.LABEL_MALFORMED, f"label verifier must be one of {', '.join(verifier_choices())}, got {raw!r}"
        )
    return None if raw == "auto" else raw


ANSWER_FORMATS = ("lenient", "strict")


def _answer_format(raw) -> str | None:
    if raw is None:
        return None
    if raw not in ANSWER_FORMATS:
        raise LabelError(
            reasons.LABEL_MALFORMED, f"label answer_format must be one of {', '.join(ANSWER_FORMATS)}, got {raw!r}"
        )
    return raw
