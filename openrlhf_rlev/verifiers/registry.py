"""Verifiers by kind. A new verifier is one module plus one registration: a line in `BUILTIN`, an entry point in
the `openrlhf_rlev.verifiers` group (`kind = "package.module"`, seen in every Ray worker), or `register`.

A verifier module defines
    check(response, answers, *, settings, question=None) -> bool | Check   (True/False: correct, no failure;
        a Check may say where the answer came from, `source`, which the strict answer format and the logs read)
    instruction(n_answers) -> str   (what `prepare` appends to the prompt: the form `check` extracts)
Modules are imported on first use, so importing the registry (as settings and labels do) costs nothing.
"""

import importlib
import threading
from dataclasses import dataclass

from openrlhf_rlev.reward import reasons
from openrlhf_rlev.verifiers import budget
from openrlhf_rlev.verifiers.cache import bounded_cache
from openrlhf_rlev.verifiers.pool import VerifierBusy, VerifierFailed, VerifierTimeout  # stdlib only: cheap to import


@dataclass(frozen=True)
class Check:
    correct: bool
    reason: str | None = None
    source: str | None = None  # where the answer came from: extract.SOURCES, or None (e.g. the judge)


def plain_check(correct: bool, source: str | None) -> Check:
    """A reason-free Check, shared: they are immutable, and building a frozen dataclass costs a microsecond a call."""
    found = _PLAIN.get((correct, source))
    return found if found is not None else Check(correct, None, source)


_PLAIN = {(c, s): Check(c, None, s) for c in (True, False) for s in ("boxed", "marker", "bare", "guess", None)}

AUTO = "auto"  # not a verifier: option letters -> choice, anything else -> math (see default_kind)
BUILTIN = {
    "math": "openrlhf_rlev.verifiers.math",
    "choice": "openrlhf_rlev.verifiers.choice",
    "exact": "openrlhf_rlev.verifiers.exact",
    "judge": "openrlhf_rlev.verifiers.judge",
}
ENTRY_POINT_GROUP = "openrlhf_rlev.verifiers"
_registry: dict[str, str] = {}
_registry_lock = threading.Lock()


def _kinds() -> dict[str, str]:
    """The kinds, built once and published whole: reading entry points takes file I/O, and a thread that saw a
    half-filled registry would refuse a label naming a plugin kind (label_malformed for a correct answer)."""
    if not _registry:
        with _registry_lock:
            if not _registry:
                from importlib.metadata import entry_points

                found = dict(BUILTIN)
                for ep in entry_points(group=ENTRY_POINT_GROUP):
                    if ep.name != AUTO and ep.name not in BUILTIN:  # a plugin cannot replace a built-in kind
                        found[ep.name] = ep.value
                _registry.update(found)  # one C call: other threads see all of it or none
    return _registry


def register(kind: str, module: str) -> None:
    """Add a verifier by its module's dotted path (must be importable in every Ray worker)."""
    if not kind.isidentifier() or kind == AUTO:
        raise ValueError(f"verifier kind must be a Python identifier other than {AUTO!r}, got {kind!r}")
    _kinds()[kind] = module


def kinds() -> tuple[str, ...]:
    return tuple(_kinds())


def choices() -> tuple[str, ...]:
    """What a label's or the settings' `verifier` may say."""
    return (AUTO, *_kinds())


def module(kind: str):
    path = _kinds().get(kind)
    if path is None:
        raise ValueError(f"unknown verifier {kind!r}; known: {', '.join(_kinds())}")
    return _imported(path)


def _imported(path: str):
    """The module at `path`, imported once. Not `sys.modules.get(path)`: while one thread is still executing a
    module's import, sys.modules already holds it half-initialised, and a second thread would use it and fail (a
    correct answer scored internal_error under concurrent first calls). `_IMPORTED` holds only finished imports, and
    a lookup there costs less than import_module's bookkeeping on every cheap reward call."""
    found = _IMPORTED.get(path)
    if found is None:
        found = _IMPORTED[path] = importlib.import_module(path)  # the import lock makes a second thread wait
    return found


_IMPORTED: dict = {}


def instruction(kind: str, n_answers: int) -> str:
    return module(kind).instruction(n_answers)


def _answers_chars(answers: tuple[str, ...]) -> int:
    return sum(map(len, answers))


@bounded_cache(65536, 2_000_000, weight=_answers_chars)
def default_kind(answers: tuple[str, ...]) -> str:
    """Option letters are choice; everything else goes through math (whose first step is exact match). Cached per
    gold (every sample of a prompt shares it; at most 2 M characters of answers are kept, docs/limits.md)."""
    return "choice" if _imported("openrlhf_rlev.verifiers.choice").is_choice(answers) else "math"


def verify(kind: str, response: str, answers: tuple[str, ...], *, settings, question: str | None = None) -> Check:
    """Never raises for any response text: a verifier's timeout or failure is a Check with its reason.

    The whole check runs inside one sample budget (docs/limits.md): `sample_timeout` seconds of verification, plus
    at most `queue_timeout` seconds spent waiting for verifier workers; the reason names the limit that was hit."""
    check = module(kind).check  # an unknown kind is a programming error: raise
    try:
        token = budget.open_sample(sample_timeout(settings), settings.queue_timeout)
        try:
            result = check(response, answers, settings=settings, question=question)
        finally:
            budget.close_sample(token)
    except budget.SampleTimeout:
        return Check(False, reasons.SAMPLE_TIMEOUT)
    except VerifierBusy:
        return Check(False, reasons.VERIFIER_BUSY)
    except VerifierTimeout:
        return Check(False, reasons.VERIFIER_TIMEOUT)
    except (VerifierFailed, RecursionError, MemoryError, ValueError, TypeError, OSError):
        return Check(False, reasons.VERIFIER_ERROR)
    return result if isinstance(result, Check) else Check(bool(result))


def sample_timeout(settings) -> float:
    """RLEV_SAMPLE_TIMEOUT, or twice the per-call timeout when unset (one slow sympy call plus everything else)."""
    return settings.sample_timeout if settings.sample_timeout is not None else 2 * settings.timeout
