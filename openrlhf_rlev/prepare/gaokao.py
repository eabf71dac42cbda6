"""GAOKAO-Bench files -> items whose value is the question's share of its exam paper.

A file is `{"keywords": ..., "example": [{year, category, question, answer, analysis, index, score}]}`, where
`score` is the points of each entry of `answer` (a list, or a string counting as one entry). A question is worth
score x entries; its paper is (subject, year, category) across all files of the subject (Math_I_MCQs,
Math_I_Fill-in-the-Blank and Math_I_Open-ended_Questions of one year and category are one paper), so v is its
points over that paper's total, unless a fixed total (e.g. 150) is given. The bench holds only part of each
paper, so paper totals are the points present in the bench, not the printed 150.

Verifier: option letters -> choice; other list answers -> exact; Math fill-in-the-blank -> math; other string
answers are open-ended (essays, proofs): skipped unless asked for, then graded by a judge.
"""

import os
import re
import unicodedata
from importlib import resources

from openrlhf_rlev.prepare import records as R
from openrlhf_rlev.prepare.records import Item, Reject
from openrlhf_rlev.prepare.values import NumberError, parse_points
from openrlhf_rlev.verifiers.choice import is_choice

# Longest first, so Math_II is not read as Math_I.
SUBJECTS = (
    "Political_Science",
    "Chemistry",
    "Geography",
    "Biology",
    "Chinese",
    "English",
    "History",
    "Math_II",
    "Math_I",
    "Physics",
)
_YEARS = re.compile(r"^\d{4}(?:-\d{4})?_")


def bundled_dir() -> str:
    """The GAOKAO-Bench copy shipped in the wheel (Apache-2.0, see its NOTICE)."""
    return str(resources.files("openrlhf_rlev").joinpath("data", "gaokao_bench"))


def is_gaokao(obj) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("example"), list)


def keyword(path: str, obj: dict | None = None) -> str:
    """'2010-2022_Math_I_MCQs' -> 'Math_I_MCQs' (the file's keyword without its year range)."""
    raw = obj.get("keywords") if isinstance(obj, dict) and isinstance(obj.get("keywords"), str) else None
    raw = raw or os.path.splitext(os.path.basename(path))[0]
    return _YEARS.sub("", raw)


def subject(kw: str) -> str:
    """The exam subject of a file keyword; an unknown subject is its own (the keyword), so its paper is the file."""
    for s in SUBJECTS:
        if kw == s or kw.startswith(s + "_"):
            return s
    return kw


def paper_category(category) -> str:
    """One spelling per paper: '（新课标Ⅰ）', '(新课标i)' and '（新课标Ⅰ卷）' are the same paper."""
    text = unicodedata.normalize("NFKC", str(category or "")).casefold()
    return re.sub(r"[()\s卷]", "", text)


def kind_of(answer, kw: str) -> tuple[str, bool]:
    """(verifier, open_ended) for one question."""
    if isinstance(answer, list):
        entries = tuple(str(a).strip() for a in answer)
        return ("choice" if is_choice(entries) else "exact"), False
    if subject(kw).startswith("Math") and "fill-in-the-blank" in kw.casefold():
        return "math", False
    entries = (str(answer).strip(),)
    return ("choice" if entries[0] and is_choice(entries) else "judge"), True


def read_file(path: str, obj: dict, fixed_total: float | None) -> list:
    """Items and rejects of one parsed GAOKAO-Bench file."""
    kw = keyword(path, obj)
    subj = subject(kw)
    out = []
    for i, ex in enumerate(obj["example"], start=1):
        out.append(_item(path, i, ex, kw, subj, fixed_total))
    return out


def _item(path: str, row: int, ex, kw: str, subj: str, fixed_total: float | None):
    if not isinstance(ex, dict):
        return Reject(path, row, R.NOT_AN_OBJECT, f"example is a {type(ex).__name__}")
    question = ex.get("question")
    if not isinstance(question, str) or not question.strip():
        return Reject(path, row, R.MISSING_QUESTION, "no 'question' text")
    answer = ex.get("answer")
    answers = _answers(answer)
    if isinstance(answers, Reject):
        return Reject(path, row, answers.reason, answers.detail)
    try:
        per_entry = parse_points(ex.get("score"), "score")
    except NumberError as e:
        return Reject(path, row, e.reason, str(e))
    verifier, open_ended = kind_of(answer, kw)
    return Item(
        source=path,
        row=row,
        question=question.strip(),
        answers=answers,
        datasource=f"gaokao/{kw}",
        verifier=verifier,
        points=per_entry * len(answers),
        total=fixed_total,
        group=None if fixed_total is not None else (subj, str(ex.get("year", "")), paper_category(ex.get("category"))),
        open_ended=open_ended,
        meta={"year": str(ex.get("year", "")), "category": str(ex.get("category", "")), "index": ex.get("index")},
    )


def _answers(answer) -> list[str] | Reject:
    if answer is None:
        return Reject("", 0, R.MISSING_ANSWER, "no 'answer'")
    if isinstance(answer, str):
        answer = [answer]
    if not isinstance(answer, list):
        return Reject("", 0, R.BAD_ANSWER, f"'answer' must be a list or a string, got {type(answer).__name__}")
    entries = [str(a).strip() for a in answer if isinstance(a, (str, int, float)) and not isinstance(a, bool)]
    if len(entries) != len(answer):
        return Reject("", 0, R.BAD_ANSWER, "'answer' entries must be strings")
    if not entries or not all(entries):
        return Reject("", 0, R.MISSING_ANSWER, f"empty answer {answer!r}")
    return entries
