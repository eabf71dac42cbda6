"""What flows through prepare: an `Item` (one question on its way to a row) or a `Reject` (why a row was not).

Every reason a row can be rejected is named here, so the rejects file and the summary use one vocabulary.
"""

import os
from dataclasses import dataclass, field

# Why a row is rejected (written to OUTPUT.rejects.jsonl with file and row).
BAD_JSON = "bad_json"  # a JSONL line or JSON file that does not parse
NOT_AN_OBJECT = "not_an_object"  # a row that is not a JSON object / mapping
MISSING_QUESTION = "missing_question"
BAD_QUESTION = "bad_question"  # neither a string nor a list of {"role", "content"} messages
MISSING_ANSWER = "missing_answer"
BAD_ANSWER = "bad_answer"  # an answer that is not a string, a number or a list of them
MISSING_VALUE = "missing_value"
BAD_VALUE = "bad_value"  # not a finite number
NEGATIVE_VALUE = "negative_value"
VALUE_ABOVE_TOTAL = "value_above_total"  # includes a direct value above 1
MISSING_TOTAL = "missing_total"
BAD_TOTAL = "bad_total"  # not a finite number, or negative
ZERO_TOTAL = "zero_total"  # a row's own total is 0
ZERO_GROUP_TOTAL = "zero_group_total"  # the values of the row's group (or exam paper) sum to 0
MISSING_GROUP = "missing_group"
UNKNOWN_DIFFICULTY = "unknown_difficulty"
DUPLICATE_PROMPT = "duplicate_prompt"  # --eval only: same prompt as a question of another datasource
UNKNOWN_SCHEMA = "unknown_schema"  # a row (or a .json file) of none of the known schemas, with no --input-key etc.
BAD_ROW = "bad_row"  # a CSV row with more or fewer fields than the header, or that the CSV parser cannot read
BAD_TEXT = "bad_text"  # text that is not valid Unicode (bad UTF-8 bytes, lone surrogates)

REASONS = (
    BAD_JSON,
    NOT_AN_OBJECT,
    MISSING_QUESTION,
    BAD_QUESTION,
    MISSING_ANSWER,
    BAD_ANSWER,
    MISSING_VALUE,
    BAD_VALUE,
    NEGATIVE_VALUE,
    VALUE_ABOVE_TOTAL,
    MISSING_TOTAL,
    BAD_TOTAL,
    ZERO_TOTAL,
    ZERO_GROUP_TOTAL,
    MISSING_GROUP,
    UNKNOWN_DIFFICULTY,
    DUPLICATE_PROMPT,
    UNKNOWN_SCHEMA,
    BAD_ROW,
    BAD_TEXT,
)


class PrepareError(ValueError):
    """An unusable argument or input file: the run stops with this message (what and where), exit code 2."""


class NothingWritten(PrepareError):
    """Every row was rejected or skipped: nothing is written (the previous output set stays as it was), exit 1."""

    def __init__(self, message: str, summary: dict):
        super().__init__(message)
        self.summary = summary


@dataclass(frozen=True)
class Reject:
    source: str  # input file
    row: int  # 1-based row (JSONL line, list index + 1, CSV data row, Parquet row)
    reason: str  # one of REASONS
    detail: str = ""
    raw: object = None  # the original row (parsed object, or the line's text when it did not parse)
    # Known even for a rejected row, so its group's total still counts its points (None: unknown).
    points: float | None = None
    group: tuple | None = None

    def to_json(self) -> dict:
        return {"file": self.source, "row": self.row, "reason": self.reason, "detail": self.detail, "raw": self.raw}


@dataclass
class Item:
    """One question. Its value v comes from exactly one of: `value` (already final, e.g. from a difficulty map),
    `points / total`, `points / sum of its group's points`, or `points` itself (already normalised)."""

    source: str
    row: int
    question: str | list  # a string, or chat messages [{"role", "content"}]
    answers: list[str]
    datasource: str
    verifier: str
    points: float | None = None
    total: float | None = None
    group: tuple | None = None
    difficulty: str | None = None
    value: float | None = None
    open_ended: bool = False  # GAOKAO essay questions: skipped unless --include-open-ended
    meta: dict = field(default_factory=dict)
    raw: object = None  # the original row, for the rejects file if a later step rejects it
    name: str | None = None  # the file's name in ids when inputs share a base name (readers.file_names)

    def reject(self, reason: str, detail: str) -> "Reject":
        return Reject(self.source, self.row, reason, detail, self.raw, self.points, self.group)

    @property
    def id(self) -> str:
        """'<file name>:<row>', stable across machines (the rejects file keeps the full path). Inputs that share a
        base name are told apart by as many parent folders as it takes ('a/data.jsonl:1', 'b/data.jsonl:1')."""
        return f"{self.name or os.path.basename(self.source)}:{self.row}"


def valid_text(x) -> bool:
    """No lone surrogates (undecodable bytes, or JSON escapes like \\ud800) anywhere: they cannot be written.
    Iterative, so a deeply nested row is no RecursionError."""
    stack = [x]
    while stack:
        x = stack.pop()
        if isinstance(x, str):
            try:
                x.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(x, dict):
            stack += x.keys()
            stack += x.values()
        elif isinstance(x, (list, tuple)):
            stack += x
    return True
