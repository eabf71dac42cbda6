"""Verifiers by name. Each returns a `Check`; none raises for any input text."""

from dataclasses import dataclass

from openrlhf_rlev import reasons
from openrlhf_rlev.verifiers import choice, exact
from openrlhf_rlev.verifiers import math as math_verifier
from openrlhf_rlev.verifiers.pool import VerifierFailed, VerifierTimeout

KINDS = ("choice", "exact", "math", "judge")


@dataclass(frozen=True)
class Check:
    correct: bool
    reason: str | None = None


def default_kind(answers: tuple[str, ...]) -> str:
    """Option letters are choice; everything else goes through math (whose first step is exact match)."""
    return "choice" if choice.is_choice(answers) else "math"


def verify(kind: str, response: str, answers: tuple[str, ...], *, settings, question: str | None = None) -> Check:
    try:
        if kind == "choice":
            return Check(choice.check(response, answers))
        if kind == "exact":
            return Check(exact.check(response, answers))
        if kind == "math":
            return Check(math_verifier.check(response, answers, settings.timeout, settings.verify_workers))
        if kind == "judge":
            from openrlhf_rlev.verifiers import judge

            return judge.check(response, answers, question=question, settings=settings)
    except VerifierTimeout:
        return Check(False, reasons.VERIFIER_TIMEOUT)
    except (VerifierFailed, RecursionError, MemoryError, ValueError, TypeError, OSError):
        return Check(False, reasons.VERIFIER_ERROR)
    raise ValueError(f"unknown verifier {kind!r}; known: {', '.join(KINDS)}")
