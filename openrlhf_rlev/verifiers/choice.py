"""Multiple-choice letters: single (B), multi-select ("AC" as one entry) and multi-question (["C","F","A"])."""

import re

from openrlhf_rlev.verifiers import extract

LETTERS = "ABCDEFG"
_ENTRY = re.compile(r"^[A-G](?:[\s,，、]*[A-G])*$")
_TOKEN = re.compile(r"(?<![A-Za-z])([A-G]+)(?![A-Za-z])")
_SEPARATED = re.compile(r"^[\s(（【\[{]*([A-G](?:[\s,，、和&]*(?:and\s+)?[A-G])*)(?![A-Za-z])")


def is_choice(answers: tuple[str, ...]) -> bool:
    return all(_ENTRY.match(a.strip().upper()) and a.strip().upper() == a.strip() for a in answers)


def _letters(entry: str) -> frozenset:
    return frozenset(ch for ch in entry.upper() if ch in LETTERS)


def _single(region: str) -> frozenset:
    m = _SEPARATED.match(region)
    return _letters(m.group(1)) if m else frozenset()


def extract_choices(response: str, n: int) -> list[frozenset]:
    """The response's letter set for each of the n entries, in order (shorter if it gave fewer)."""
    text = extract.tail(response)
    boxed = extract.last_boxed(text)
    if boxed is not None:
        region = boxed
    else:
        region = extract.after_last_marker(text)
        if region is None:
            region = extract.last_line(text)
    if n == 1:
        return [_single(region)] if _single(region) else []
    return [frozenset(tok) for tok in _TOKEN.findall(region) if len(tok) == 1][:n]


def choice_parts(response: str, answers: tuple[str, ...]) -> list[bool]:
    """Per-entry correctness, for all-or-nothing rewards and for GAOKAO-style partial credit."""
    got = extract_choices(response, len(answers))
    return [i < len(got) and got[i] == _letters(gold) for i, gold in enumerate(answers)]


def check(response: str, answers: tuple[str, ...]) -> bool:
    return all(choice_parts(response, answers))
