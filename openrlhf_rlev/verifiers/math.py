"""Math answers: cheap exact and numeric checks first, math-verify (sympy) in the worker pool last."""

import re
from fractions import Fraction

from openrlhf_rlev.verifiers import exact, extract
from openrlhf_rlev.verifiers.pool import get_pool

_NUM = re.compile(r"^[-+−]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?$")
_FRAC = re.compile(r"^([-+−]?)\\[dt]?frac\{([^{}]+)\}\{([^{}]+)\}$")
_UNIT = re.compile(r"\\(?:text|mathrm|mbox)\{[^{}]*\}|\^\\circ|°|\\%|%")
_LATEX_SPACE = re.compile(r"\\[,;:! ]|\\q?quad")
REL_TOL = 1e-6


def to_number(text: str) -> Fraction | None:
    """A plain number, decimal, fraction (a/b, \\frac{a}{b}) or percentage; None if it is anything else."""
    t = exact.normalize(text).replace("−", "-")
    percent = "%" in t
    t = _LATEX_SPACE.sub("", _UNIT.sub("", t)).replace(" ", "")
    m = _FRAC.match(t)
    try:
        if m:
            num, den = to_number(m.group(2)), to_number(m.group(3))
            if num is None or not den:
                return None
            value = num / den * (-1 if m.group(1) in "-−" and m.group(1) else 1)
        elif "/" in t and t.count("/") == 1:
            a, b = (to_number(p) for p in t.split("/"))
            if a is None or not b:
                return None
            value = a / b
        elif t and _NUM.match(t) and any(c.isdigit() for c in t):
            value = Fraction(t.replace(",", ""))
        else:
            return None
    except (ValueError, ZeroDivisionError):
        return None
    return value / 100 if percent else value


def numbers_equal(a: Fraction, b: Fraction) -> bool:
    return a == b or abs(a - b) <= REL_TOL * max(abs(a), abs(b))


def fast_check(pred: str, gold: str) -> bool | None:
    """True/False when decidable without sympy, else None."""
    if exact.normalize(pred) == exact.normalize(gold):
        return True
    a, b = to_number(pred), to_number(gold)
    if a is not None and b is not None:
        return numbers_equal(a, b)
    return None


def part_equal(pred: str, gold: str, timeout: float, workers: int) -> bool:
    decided = fast_check(pred, gold)
    if decided is not None:
        return decided
    return bool(get_pool(workers).call("math_equal", [f"\\boxed{{{gold}}}", f"\\boxed{{{pred}}}"], timeout))


def check(response: str, answers: tuple[str, ...], timeout: float, workers: int) -> bool:
    """Raises VerifierTimeout / VerifierFailed from the pool; the caller turns them into reasons."""
    got = exact.split_parts(extract.final_answer(response), len(answers))
    if len(got) != len(answers):
        return False
    return all(part_equal(p, g, timeout, workers) for p, g in zip(got, answers))
