"""Normalised string equality, for answers that are words rather than numbers."""

import re

from openrlhf_rlev.verifiers import extract
from openrlhf_rlev.verifiers.registry import Check
from openrlhf_rlev.verifiers.unicode_math import nfkc

_SPACE = re.compile(r"\s+")
_WRAPPERS = re.compile(r"^\$+|\$+$|^\\\(|\\\)$|^\\\[|\\\]$")
_TRAILING = " .。;；,，!！"
_OPEN, _CLOSE = "([{（【", ")]}）】"


def normalize(text: str) -> str:
    text = nfkc(text).strip()  # not plain NFKC: that reads 2³ as 23 and x² as x2
    text = extract.TEXT_CMD.sub(r"\1", text)
    text = _WRAPPERS.sub("", text.strip()).strip()
    text = _SPACE.sub(" ", text).strip(_TRAILING)
    return text.lower()


def _split_top_level(text: str, separators: str) -> list[str]:
    """Split on separators outside brackets, so "(1,2); 3" keeps its pair together."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth = max(0, depth - 1)
        elif ch in separators and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def split_parts(answer: str, n: int) -> list[str]:
    """A multi-part final answer split into n pieces when it has exactly n: on semicolons if it has any (what
    prepare's instruction asks for, and "1,000; 3" needs), else on commas and 、 outside brackets."""
    if n == 1:
        return [answer]
    text = answer.strip()
    parts = _split_top_level(text, ";；")
    if len(parts) == 1:
        parts = _split_top_level(text, ",，、")
    return parts if len(parts) == n else [answer]


def check(response: str, answers: tuple[str, ...], *, settings=None, question=None) -> Check:
    answer, source = extract.find_answer(response)
    got = split_parts(answer, len(answers))
    ok = len(got) == len(answers) and all(normalize(g) == normalize(a) for g, a in zip(got, answers))
    return Check(ok, None, source)


def instruction(n_answers: int) -> str:
    """The final-answer form `check` extracts (appended to prompts by `prepare`)."""
    if n_answers == 1:
        return "End your response with a final line 'Answer: <your answer>'."
    return f"This question has {n_answers} parts. End your response with a final line 'Answer: ' followed by the {n_answers} answers in order, separated by '; '."
