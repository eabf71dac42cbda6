"""Normalised string equality, for answers that are words rather than numbers."""

import re
import unicodedata

from openrlhf_rlev.verifiers import extract

_SPACE = re.compile(r"\s+")
_WRAPPERS = re.compile(r"^\$+|\$+$|^\\\(|\\\)$|^\\\[|\\\]$")
_TEXT = re.compile(r"\\(?:text|textbf|mathrm|mbox)\{([^{}]*)\}")
_TRAILING = " .。;；,，!！"
_SPLIT = re.compile(r"\s*[,，;；、]\s*")


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).strip()
    text = _TEXT.sub(r"\1", text)
    text = _WRAPPERS.sub("", text.strip()).strip()
    text = _SPACE.sub(" ", text).strip(_TRAILING)
    return text.lower()


def split_parts(answer: str, n: int) -> list[str]:
    """A multi-part final answer, "3, 5" or "3；5", split into n pieces when it has exactly n."""
    if n == 1:
        return [answer]
    parts = _SPLIT.split(answer.strip())
    return parts if len(parts) == n else [answer]


def check(response: str, answers: tuple[str, ...]) -> bool:
    got = split_parts(extract.final_answer(response), len(answers))
    return len(got) == len(answers) and all(normalize(g) == normalize(a) for g, a in zip(got, answers))
