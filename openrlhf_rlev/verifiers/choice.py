"""Multiple-choice letters: single (B), multi-select ("AC" as one entry) and multi-question (["C","F","A"]).

Conventions read: "答案是 D", "【答案】D", "故选 B", "The answer is (B)", "\\boxed{C}", "\\boxed{\\text{C}}",
"答案：AC", "A、C", "A, C, and D" (after a marker), and for several questions either one marker per question ("【答案】C ... 【答案】F") or one
list ("答案：C F A E D", "1. C 2. F"; "答案：CF" when each question has one letter). Letters are read in upper case only, so the English article
"a" is never an answer; a multi-select answer is a set, so "CA" equals "AC". A hedged answer ("A or B",
"答案：A或C", "A (or possibly B)") is no answer: unclear counts as wrong, as in the paper's judge protocol.
"""

import re
import unicodedata

from openrlhf_rlev.verifiers import extract

LETTERS = "ABCDEFG"
_ENTRY = re.compile(r"^[A-G](?:[\s,，、]*[A-G])*$")
_TOKEN = re.compile(r"(?<![A-Za-z])([A-G]+)(?![A-Za-z])")
_LEAD = re.compile(r"^(?:[\s(（【\[{:：*]|选项|选|option\s+|choice\s+)*", re.IGNORECASE)
_NUMBERED = re.compile(r"^[(（]?\d{1,2}[)）.、:：]?\s*([A-G]+)(?![A-Za-z])")
_GROUP = re.compile(r"[A-G]+(?:(?:\s*[,，]?\s*(?:and|以及|和)\s*|\s*[,，、/&]\s*|\s+)[A-G]+)*(?![A-Za-z])")
_HEDGE = re.compile(r"^\s*[,，]?\s*[(（]?\s*(?:or\b|或|还是)", re.IGNORECASE)
_HEDGED_PAIR = re.compile(r"(?<![A-Za-z])[A-G][)）]?\s*[,，]?\s*[(（]?\s*(?:or\b|或|还是)", re.IGNORECASE)


def is_choice(answers: tuple[str, ...]) -> bool:
    return bool(answers) and all(_ENTRY.match(a.strip()) for a in answers)


def _letters(entry: str) -> frozenset:
    """Upper-case option letters only: the 'a' and 'd' of 'A and D' are not options."""
    return frozenset(ch for ch in entry if ch in LETTERS)


def first_group(region: str) -> frozenset:
    """The letter set a region starts with: '(B) because A...' -> {B}; 'A、C 正确' -> {A, C}."""
    rest = region[_LEAD.match(region).end() :]
    m = _GROUP.match(rest)
    if not m or (m.end() < len(rest) and rest[m.end()].isalpha() and rest[m.end()].isascii()):
        return frozenset()
    if _HEDGE.match(rest[m.end() :]):
        return frozenset()  # "A or B": unclear is wrong
    return _letters(m.group(0))


def _after_markers(text: str) -> list[frozenset]:
    """The letter set after each answer marker that is followed by one, in order."""
    out = []
    for m in extract.MARKER.finditer(text):
        if m.end() > m.start():
            group = first_group(text[m.end() : m.end() + 40])
            if group:
                out.append(group)
    return out


def extract_choices(response: str, n: int, single: bool = False) -> list[frozenset]:
    """The response's letter set for each of the n entries, in order (shorter if it gave fewer). `single`: every
    entry is one letter (n single-answer questions), so a run of letters is one per question: "答案：AC" for two
    questions is A then C, as GAOKAO-Bench's official scorer reads the first n letters."""
    text = unicodedata.normalize("NFKC", extract.clean_text(extract.tail(response)))
    boxed = extract.last_boxed(text)
    if boxed is not None:
        boxed = extract.TEXT_CMD.sub(r"\1", boxed)
        if n == 1:
            group = first_group(boxed)
            return [group] if group else []
        return _split(_TOKEN.findall(boxed), single)[:n]
    marked = _after_markers(text)
    if n == 1:
        if marked:
            return marked[-1:]
        line = extract.last_line(text)
        tokens = _TOKEN.findall(line)
        return [frozenset(tokens[-1])] if tokens and not _HEDGED_PAIR.search(line) else []
    return _several(text, n, marked, single)


def _split(tokens: list[str], single: bool) -> list[frozenset]:
    return [frozenset(ch) for tok in tokens for ch in tok] if single else [frozenset(tok) for tok in tokens]


def _several(text: str, n: int, marked: list, single: bool) -> list[frozenset]:
    """n questions: a closing numbered list, else one list after the last marker, else one marker per question."""
    lines = [line.strip() for line in text.splitlines() if line.strip()][-n:]
    numbered = [_NUMBERED.match(line) for line in lines]
    if len(lines) == n and all(numbered):
        return [_letters(m.group(1)) for m in numbered]
    last = None
    for m in extract.MARKER.finditer(text):
        if m.end() > m.start():
            last = m
    region = text[last.end() :] if last is not None else "\n".join(lines)
    tokens = _split(_TOKEN.findall(region), single)
    if len(tokens) >= n or len(marked) < n:
        return tokens[:n]
    return marked[-n:]


def one_letter_each(answers: tuple[str, ...]) -> bool:
    return len(answers) > 1 and all(len(_letters(a.upper())) == 1 for a in answers)


def choice_parts(response: str, answers: tuple[str, ...]) -> list[bool]:
    """Per-entry correctness, for all-or-nothing rewards and for GAOKAO-style partial credit."""
    got = extract_choices(response, len(answers), one_letter_each(answers))
    return [i < len(got) and got[i] == _letters(gold.upper()) for i, gold in enumerate(answers)]


def check(response: str, answers: tuple[str, ...], *, settings=None, question=None) -> bool:
    return all(choice_parts(response, answers))


def instruction(n_answers: int) -> str:
    """The final-answer form `check` extracts (appended to prompts by `prepare`)."""
    if n_answers == 1:
        return "End your response with a final line 'Answer: <letter(s)>' giving the correct option letter(s)."
    return (
        f"This question has {n_answers} parts. End your response with a final line 'Answer: ' followed by "
        f"the {n_answers} option letters in order, separated by spaces."
    )
