"""Multiple-choice letters: single (B), multi-select ("AC" as one entry) and multi-question (["C","F","A"]).

Conventions read: "答案是 D", "【答案】D", "故选 B", "The answer is (B)", "\\boxed{C}", "\\boxed{\\text{C}}",
"答案：AC", "A、C", "A, C, and D" (after a marker), and for several questions either one marker per question ("【答案】C ... 【答案】F") or one
list ("答案：C F A E D", "1. C 2. F"; "答案：CF" when each question has one letter). Letters are read in upper case only, so the English article
"a" is never an answer; a multi-select answer is a set, so "CA" equals "AC". A hedged answer ("A or B",
"答案：A或C", "A (or possibly B)") is no answer: unclear counts as wrong, as in the paper's judge protocol.
"""

import re
from dataclasses import dataclass

from openrlhf_rlev.reward import reasons
from openrlhf_rlev.verifiers import extract
from openrlhf_rlev.verifiers.registry import Check, plain_check
from openrlhf_rlev.verifiers.unicode_math import nfkc

LETTERS = "ABCDEFG"
_ENTRY = re.compile(r"^[A-G](?:[\s,，、]*[A-G])*$")
_TOKEN = re.compile(r"(?<![A-Za-z])([A-G]+)(?![A-Za-z])")
_LEAD = re.compile(
    r"^(?:[\s(（【\[{:：*`]|选项|选|option\s+|choice\s+|(?:therefore|thus|hence|clearly|indeed|definitely|still)\b)*",
    re.IGNORECASE,
)
_NUMBERED = re.compile(r"^[(（]?\d{1,2}[)）.、:：]?\s*([A-G]+)(?![A-Za-z])")
# A letter group never crosses a line break: in "Answer: D\nA. 3 is wrong" the answer is D, not {A, D}.
_GROUP = re.compile(
    r"[A-G]+(?:(?:[^\S\n]*[,，]?[^\S\n]*(?:and|以及|和)[^\S\n]*|[^\S\n]*[,，、/&][^\S\n]*|[^\S\n]+)[A-G]+)*(?![A-Za-z])"
)
_HEDGE = re.compile(
    r"^\s*[,，]?\s*[(（]?\s*(?:or\b|或|还是|(?:(?:maybe|perhaps|possibly)\s+|也许是?|也可能是?|可能是?)[(（]?[A-G](?![A-Za-z]))",
    re.IGNORECASE,
)  # "A or B", "A (maybe B)", "A，也可能是B"; "A (possibly wrong)" is a remark
_HEDGED_PAIR = re.compile(
    r"(?<![A-Za-z])[A-G][)）]?\s*[,，]?\s*[(（]?\s*"
    r"(?:or\b|或|还是|(?:(?:maybe|perhaps|possibly)\s+|也许是?|也可能是?|可能是?)[(（]?[A-G](?![A-Za-z]))",
    re.IGNORECASE,
)


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


def _after_markers(text: str, found: list) -> list[tuple[frozenset, str, bool]]:
    """(letter set, the marker's line, whether the marker introduces the option list) after each answer marker
    (`found`: extract.markers(text)) that is followed by a letter set, in order."""
    out = []
    for m in found:
        group = first_group(text[m.end() : m.end() + 40])
        if group:
            line = extract.marker_region(text, m)
            out.append((group, line, lists_options(line) or _introduces_list(text[m.end() :])))
    return out


def _introduces_list(after: str) -> bool:
    """'Answer:\nA. 3\nB. 4\nC. 5' or 'The answer is\n(A) 3\n(B) 4\n(C) 5': the marker's answer is itself an
    option label, and the lines from it on are the option list. 'Answer: D\nA. 3 is wrong ...' is an answer."""
    lines = [line.strip().lstrip("*:：").strip() for line in after.splitlines()]
    lines = [line for line in lines if line][:8]
    if len({line for line in lines if _BARE_LETTER.fullmatch(line)}) >= 3:  # "Answer: A\nB\nC\nD"
        return all(_BARE_LETTER.fullmatch(line) for line in lines[:3])
    block = []
    for line in lines:
        if not _OPTION_LABEL.match(line):
            break
        block.append(line)
    return len(block) >= 2 and lists_options("\n".join(block))


_BARE_LETTER = re.compile(r"[(（]?[A-G][)）.]?")


# An option label: "A.", "(B)", "C：", "D、", "A．3" (a letter that introduces an option's text; GAOKAO prints
# 1,262 of its options with the text right after the dot, "A．3 B．4 C．5 D．6", so a digit may follow it).
_OPTION_LABEL = re.compile(r"(?<![A-Za-z])[(（]?([A-G])\s*(?:[)）]|[.．、:：])")


def lists_options(text: str) -> bool:
    """The text restates an option list: three or more different option labels ("A. 3 B. 4 C. 5", one per line or
    inline). A response that does this names no answer, whatever letter it happens to end on."""
    return len({m.group(1) for m in _OPTION_LABEL.finditer(text)}) >= 3


def option_letters(question: str | None) -> frozenset:
    """The options a question offers (its option labels), or A-D when it is not known."""
    found = frozenset(m.group(1) for m in _OPTION_LABEL.finditer(question or ""))
    return found if len(found) >= 2 else frozenset("ABCD")


# A line that is one option letter and nothing else, perhaps as a list item ("D", "- D", "2. D", "(D)").
_LONE_LETTER = re.compile(r"^(?:[-*•·]|\d{1,2}[.)、])?\s*[(（]?([A-G])[)）]?[.。]?$")


def _tail_lists_options(text: str) -> bool:
    lines = [line.strip() for line in text.splitlines() if line.strip()][-8:]
    items = [line for line in lines if _OPTION_LABEL.match(line)]
    if bool(lines) and _OPTION_LABEL.match(lines[-1]) is not None and lists_options("\n".join(items)):
        return True
    # the letters alone, one a line ("A\nB\nC\nD", "- A\n- B ...", "1. A\n2. B ..."): a list with no text
    return len({m.group(1) for m in map(_LONE_LETTER.match, lines) if m}) >= 3


@dataclass(frozen=True)
class Choices:
    """What a response answers: one letter set per entry, where it came from, and whether it only restated the
    option list (then it answers nothing)."""

    groups: list
    source: str
    listed: bool = False


def read_choices(response: str, n: int, single: bool = False) -> Choices:
    """The response's letter set for each of the n entries, in order (shorter if it gave fewer). `single`: every
    entry is one letter (n single-answer questions), so a run of letters is one per question: "答案：AC" for two
    questions is A then C, as GAOKAO-Bench's official scorer reads the first n letters."""
    text = nfkc(extract.clean_text(extract.tail(response)))  # not plain NFKC: it reads "B²" as "B2"
    b_start = extract._last_boxed_start(text)
    found = extract.markers(text)
    marker = found[-1] if found else None
    boxed = extract.last_boxed(text)
    if n == 1 and marker is not None and (boxed is None or marker.end() > b_start):
        region = extract.marker_region(text, marker)
        correction = extract.denied(region)
        if correction:  # "not B but C": the last marker gives its own answer
            group = first_group(correction)
            return Choices([group] if group else [], extract.MARKER_SOURCE)
        if correction is not None:
            # "Answer: D ... The answer is not D." revokes D (no answer); "答案：A。答案不是B。" leaves A standing
            before = read_choices(text[: marker.start()], n, single)
            if before.groups and before.groups[0] and before.groups[0] != first_group(extract.denied_span(region)):
                return before
            return Choices([], extract.MARKER_SOURCE)
    if boxed is not None and (marker is None or marker.end() <= b_start or n > 1):
        boxed = extract.TEXT_CMD.sub(r"\1", boxed)
        if lists_options(boxed):
            return Choices([], extract.BOXED, True)
        if n == 1:
            group = first_group(boxed)
            return Choices([group] if group else [], extract.BOXED)
        return Choices(_split(_TOKEN.findall(boxed), single)[:n], extract.BOXED)
    marked = _after_markers(text, found)
    if n == 1:
        if marked:
            group, _, listed = marked[-1]
            return Choices([] if listed else [group], extract.MARKER_SOURCE, listed)
        stripped = text.strip()
        bare = extract.is_bare(stripped) and not lists_options(stripped)  # "A. 3 B. 4 C. 5 D. 6" is a list
        if bare or re.fullmatch(r"[(（]?[A-G][)）]?[.。]?", stripped):
            group = first_group(stripped)
            if group:
                return Choices([group], extract.BARE)
        line = extract.last_line(text)
        if _tail_lists_options(text) or lists_options(line):
            return Choices([], extract.GUESS, True)
        tokens = _TOKEN.findall(line)
        hedged = _HEDGED_PAIR.search(line)  # "A, C, or D": a hedge, no answer (its own case)
        if len(set(tokens)) >= 3 and not hedged:  # "The options are A, B, C and D.": a guess reads one letter
            return Choices([], extract.GUESS, True)
        ok = tokens and not hedged
        return Choices([frozenset(tokens[-1])] if ok else [], extract.GUESS)
    return _several(text, n, [g for g, _, _ in marked], single)


def extract_choices(response: str, n: int, single: bool = False) -> list[frozenset]:
    return read_choices(response, n, single).groups


_QUESTION_NUMBER = re.compile(r"^[(（]?\d{1,3}[)）.、:：]\s*")


def _numbered_line(line: str) -> frozenset:
    rest = line[_QUESTION_NUMBER.match(line).end() :]
    marker = extract.last_marker(rest)
    return first_group(rest[marker.end() :] if marker else rest)


def _split(tokens: list[str], single: bool) -> list[frozenset]:
    return [frozenset(ch) for tok in tokens for ch in tok] if single else [frozenset(tok) for tok in tokens]


def _several(text: str, n: int, marked: list, single: bool) -> Choices:
    """n questions: a closing numbered list, else one list after the last marker, else one marker per question."""
    lines = [line.strip() for line in text.splitlines() if line.strip()][-n:]
    numbered = [_NUMBERED.match(line) for line in lines]
    if len(lines) == n and all(numbered):
        return Choices([_letters(m.group(1)) for m in numbered], extract.GUESS)
    every = [m for m in extract.MARKER.finditer(text) if m.end() > m.start()]
    # One marker per question, some followed by no letter ("（2）【答案】 文中未提及"): that question is unanswered,
    # the others keep their own answers (GAOKAO-Bench's per-question credit). "【答案】" first: the reasoning's own
    # "应选 D" before each "【答案】: D" would count twice.
    bracketed = [m for m in every if m.group(0).startswith("【")]
    per_question = bracketed if len(bracketed) == n else every if len(every) == n and len(marked) < n else None
    if per_question:
        return Choices([first_group(text[m.end() : m.end() + 40]) for m in per_question], extract.MARKER_SOURCE)
    if len(lines) == n and all(_QUESTION_NUMBER.match(line) for line in lines):
        # "48. 【答案】 A / 49. The passage does not say. / ...": one numbered line per question
        return Choices([_numbered_line(line) for line in lines], extract.MARKER_SOURCE)
    last = every[-1] if every else None
    region = text[last.end() :] if last is not None else "\n".join(lines)
    source = extract.MARKER_SOURCE if last is not None else extract.GUESS
    if lists_options(region) and not single:
        return Choices([], source, True)
    tokens = _split(_TOKEN.findall(region), single)
    if len(tokens) >= n or len(marked) < n:
        return Choices(tokens[:n], source)
    return Choices(marked[-n:], extract.MARKER_SOURCE)


def one_letter_each(answers: tuple[str, ...]) -> bool:
    return len(answers) > 1 and all(len(_letters(a.upper())) == 1 for a in answers)


def choice_parts(response: str, answers: tuple[str, ...], question: str | None = None) -> list[bool]:
    """Per-entry correctness, for all-or-nothing rewards and for GAOKAO-style partial credit."""
    return read_parts(response, answers, question)[0]


def read_parts(response: str, answers: tuple[str, ...], question: str | None = None) -> tuple[list[bool], Choices]:
    """(per-entry correctness, what was read). An entry that names every option the question offers names no
    answer (unless the gold itself is every option)."""
    got = read_choices(response, len(answers), one_letter_each(answers))
    everything = option_letters(question)
    parts = []
    for i, gold in enumerate(answers):
        want = _letters(gold.upper())
        have = got.groups[i] if i < len(got.groups) else None
        if have is not None and len(have) > 1 and have >= everything and want != have:
            got = Choices(got.groups, got.source, True)
        parts.append(have is not None and have == want)
    return parts, got


def check(response: str, answers: tuple[str, ...], *, settings=None, question=None) -> Check:
    parts, got = read_parts(response, answers, question)
    if got.listed:
        return Check(False, reasons.OPTIONS_LISTED, got.source)
    return plain_check(all(parts), got.source)


def instruction(n_answers: int) -> str:
    """The final-answer form `check` extracts (appended to prompts by `prepare`)."""
    if n_answers == 1:
        return "End your response with a final line 'Answer: <letter(s)>' giving the correct option letter(s)."
    return (
        f"This question has {n_answers} parts. End your response with a final line 'Answer: ' followed by "
        f"the {n_answers} option letters in order, separated by spaces."
    )
