"""GAOKAO-Bench files -> items whose value is the question's share of its exam paper.

A file is `{"keywords": ..., "example": [{year, category, question, answer, analysis, index, score}]}`, where
`score` is the points of each entry of `answer` (a list, or a string counting as one entry). A question is worth
score x entries, and v is its points over its exam paper's total, as the paper defines v:

- `printed` (default): the paper's printed total, from `PRINTED_TOTALS` by subject and paper type (the 2021
  "解析版" questions: their subject's national paper, see ANNOTATED_EDITION). Where the type is not known, the
  question falls back to the `bench` rule and the summary says which papers did.
- `bench`: the points of that paper present in the bench. Its paper is (subject, year, category) across all
  files of the subject (Math_I_MCQs, Math_I_Fill-in-the-Blank and Math_I_Open-ended_Questions of one year and
  category are one paper). The bench holds only part of each paper, so these values are far above the paper's
  dataset: on the bundled copy's 1,948 objective questions mean v 0.078 and 15.7% above 0.1, against 0.028 and
  1.54% with printed totals (the paper's data: mean 0.02, 1.18% above 0.1).
- a fixed total (`--total 150`) for every question.

Verifier: option letters -> choice; other list answers -> exact; Math fill-in-the-blank -> math; other string
answers are open-ended (essays, proofs): skipped unless asked for, then graded by a judge.
"""

import os
import re
import unicodedata
from importlib import resources

from openrlhf_rlev.prepare import records as R
from openrlhf_rlev.prepare.records import Item, Reject, valid_text
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

PAPER_TOTAL_RULES = ("printed", "bench")
NATIONAL = "national"
# Printed totals of the national papers (全国卷) that every GAOKAO-Bench question comes from: categories 新课标,
# 新课标 I/II/III, 全国 II/III, 全国甲/乙. Source: the National Education Examinations Authority's exam syllabus
# (教育部考试中心《普通高等学校招生全国统一考试大纲》, every year 2010-2019; the 2020-2022 national papers keep
# it): Chinese, Mathematics (both the science-track Math_I and the humanities-track Math_II paper) and the foreign
# language 150 points each; the combined science paper 理科综合 (Physics, Chemistry, Biology in one paper) and the
# combined humanities paper 文科综合 (Politics, History, Geography) 300 each. So a 6-point Physics multiple-choice
# question is v = 6/300. Provincial papers (e.g. Beijing's, or the separate 100-point subjects of the reformed
# provinces) would need their own rows; the bundled bench has none.
# The category "解析版" ("annotated edition", 11 questions of 2021, 9 of them objective) names no paper, but its
# subject's national paper of that year is the only one its questions fit, so they get that paper's printed
# total (ANNOTATED_EDITION): Chemistry's 6-point multiple choice exists only in the 300-point 理科综合 paper; the
# English ones are the national paper's sections, point for point (短文改错 10 x 1, 语法填空 10 x 1.5, 七选五 5 x 2,
# reading 2 each, 完形填空 20 x 1.5), in its 150-point paper. Falling back to the bench rule instead gave them
# v = 0.333 (the points of the few questions present), s = 2: the largest rewards of the bundle for no reason.
# A "解析版" question of another subject or year still falls back to the bench rule, and the summary lists it.
PRINTED_TOTALS = {
    ("Chinese", NATIONAL): 150.0,
    ("Math_I", NATIONAL): 150.0,
    ("Math_II", NATIONAL): 150.0,
    ("English", NATIONAL): 150.0,
    ("Physics", NATIONAL): 300.0,
    ("Chemistry", NATIONAL): 300.0,
    ("Biology", NATIONAL): 300.0,
    ("Political_Science", NATIONAL): 300.0,
    ("History", NATIONAL): 300.0,
    ("Geography", NATIONAL): 300.0,
}
ANNOTATED = "解析版"
ANNOTATED_EDITION = {("Chemistry", "2021"): NATIONAL, ("English", "2021"): NATIONAL}
_NATIONAL = re.compile(r"(?:新课标|全国)(?:i{1,3}|甲|乙)?|甲|乙")
# The paper's own dataset, for comparison in prepare's summary (RLEV, arXiv 2510.20187, Sec. 4).
PAPER_VALUE_MEAN = 0.02
PAPER_SHARE_ABOVE_CLIP = 0.0118


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


def is_gaokao_item(it: Item) -> bool:
    return "category" in it.meta


def paper_type(category) -> str | None:
    """NATIONAL for the national papers' categories, None where the category does not name a known paper type."""
    return NATIONAL if _NATIONAL.fullmatch(paper_category(category)) else None


def printed_total(subj: str, category, year=None) -> float | None:
    kind = paper_type(category)
    if kind is None and paper_category(category) == ANNOTATED:
        kind = ANNOTATED_EDITION.get((subj, str(year or "")))
    return PRINTED_TOTALS.get((subj, kind))


def kind_of(answer, kw: str) -> tuple[str, bool]:
    """(verifier, open_ended) for one question."""
    if isinstance(answer, list):
        entries = tuple(str(a).strip() for a in answer)
        return ("choice" if is_choice(entries) else "exact"), False
    if subject(kw).startswith("Math") and "fill-in-the-blank" in kw.casefold():
        return "math", False
    entries = (str(answer).strip(),)
    return ("choice" if entries[0] and is_choice(entries) else "judge"), True


def read_file(path: str, obj: dict, fixed_total: float | None, paper_total: str = "printed") -> list:
    """Items and rejects of one parsed GAOKAO-Bench file."""
    kw = keyword(path, obj)
    subj = subject(kw)
    return [_item(path, i, ex, kw, subj, fixed_total, paper_total) for i, ex in enumerate(obj["example"], start=1)]


def _item(path: str, row: int, ex, kw: str, subj: str, fixed_total: float | None, paper_total: str):
    if not isinstance(ex, dict):
        return Reject(path, row, R.NOT_AN_OBJECT, f"example is a {type(ex).__name__}", raw=ex)
    total = fixed_total
    if total is None and paper_total == "printed":
        total = printed_total(subj, ex.get("category"), ex.get("year"))
    paper = (subj, str(ex.get("year", "")), paper_category(ex.get("category")))
    group = None if total is not None else paper
    answer = ex.get("answer")
    answers = _answers(answer)
    try:
        per_entry = parse_points(ex.get("score"), "score")
    except NumberError as e:
        return Reject(path, row, e.reason, str(e), ex, None, group)
    points = per_entry * len(answers) if isinstance(answers, list) else None
    question = ex.get("question")
    if not isinstance(question, str) or not question.strip():
        return Reject(path, row, R.MISSING_QUESTION, "no 'question' text", ex, points, group)
    if isinstance(answers, Reject):
        return Reject(path, row, answers.reason, answers.detail, ex, points, group)
    if not valid_text([question, answers]):
        return Reject(path, row, R.BAD_TEXT, "text that is not valid Unicode (a lone surrogate)", ex, points, group)
    verifier, open_ended = kind_of(answer, kw)
    meta = {"year": paper[1], "category": str(ex.get("category", "")), "index": ex.get("index")}
    if total is None and fixed_total is None and paper_total == "printed":
        meta["printed_total_unknown"] = f"{subj} {paper[1]} {ex.get('category', '')}".strip()
    return Item(
        source=path,
        row=row,
        question=question.strip(),
        answers=answers,
        datasource=f"gaokao/{kw}",
        verifier=verifier,
        points=points,
        total=total,
        group=group,
        open_ended=open_ended,
        meta=meta,
        raw=ex,
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
