"""A predictions file -> RLEV metrics (JSON), a Markdown table and value-decile plots.

Each row needs `response` and a label: its own `label`, or one joined from the prepared dataset (`--data`) by
`index` (the 0-based row number `generate` writes) or else by `id`. A row's own label wins over the joined one.
Samples of one prompt share a key (`index`, else `id`, else the prompt text) and are averaged before any metric.

Scoring is the reward's own: `core.score`, all-or-nothing over a label's parts. `partial_credit=True` scores
choice labels the way GAOKAO-Bench's objective scorer does (`choice_credit`); other verifiers stay all-or-nothing.

Bad rows never stop the run: each goes to the rejects file with its line number and reason.
"""

import json
import os
from collections import Counter
from dataclasses import dataclass, field

from tqdm import tqdm

from openrlhf_rlev.evaluation import metrics
from openrlhf_rlev.evaluation.datafiles import iter_jsonl, load_prepared
from openrlhf_rlev.prepare.records import valid_text
from openrlhf_rlev.reward import reasons
from openrlhf_rlev.reward.core import score
from openrlhf_rlev.reward.labels import Label, LabelError, parse_label
from openrlhf_rlev.reward.settings import Settings
from openrlhf_rlev.verifiers import choice, default_kind
from openrlhf_rlev.verifiers.extract import SOURCES as ANSWER_SOURCES

UNIT_CHARS = "characters"
UNIT_TOKENS = "tokens"


@dataclass
class EvalResult:
    metrics: dict
    prompts: list = field(default_factory=list)  # list[metrics.PromptResult]
    rejects: list = field(default_factory=list)  # list[dict]


class RowRejected(ValueError):
    pass


# ---- scoring one response ----

NO_ANSWER = (reasons.OPTIONS_LISTED, reasons.ANSWER_FORMAT)


# An n_tokens beyond any context window is not a token count (float() of a 400-digit one overflows): the file's
# lengths fall back to characters, as for a missing one.
MAX_TOKENS = 1 << 31


def choice_credit(response: str, answers: tuple[str, ...]) -> float:
    """GAOKAO-Bench's objective rule, as a fraction of the question's points: an answer count that differs
    from the standard's scores nothing; otherwise each entry earns its share when its letters equal the
    standard's, or half its share when the standard has several letters and the response picked a non-empty
    subset of them (its Physics multi-select rule; no other file has multi-letter entries)."""
    got = choice.extract_choices(response, len(answers), choice.one_letter_each(answers))
    if len(got) != len(answers):
        return 0.0
    exact = choice.choice_parts(response, answers)
    total = 0.0
    for picked, gold, right in zip(got, answers, exact):
        gold_letters = {ch for ch in gold.upper() if ch in choice.LETTERS}
        if right:
            total += 1.0
        elif len(gold_letters) > 1 and picked and picked < gold_letters:
            total += 0.5
    return total / len(answers)


def label_kind(label: Label, settings: Settings) -> str:
    if label.verifier:
        return label.verifier
    return settings.verifier if settings.verifier != "auto" else default_kind(label.answers)


def score_response(response: str, raw_label, settings: Settings, partial_credit: bool = False):
    """(credit in [0, 1], value, failure reason or None, partial credit applied?, answer source). Raises
    RowRejected for a bad label: an eval must not silently count a broken label as a wrong answer. A response the
    reward gives nothing for its form (an option list, the strict format's guess) earns no partial credit either."""
    try:
        label = parse_label(raw_label)
    except LabelError as e:
        raise RowRejected(f"bad label ({e.reason}): {e}") from None
    verdict = score(response, raw_label, settings)
    if partial_credit and label_kind(label, settings) == "choice":
        credit = 0.0 if verdict.reason in NO_ANSWER else choice_credit(response, label.answers)
        return credit, verdict.value, verdict.reason, True, verdict.source
    return (1.0 if verdict.correct else 0.0), verdict.value, verdict.reason, False, verdict.source


# ---- reading and joining ----


class DataJoin:
    """Labels and datasources from the prepared dataset, by `index` or `id`."""

    def __init__(self, data_path: str | None):
        self.by_index, self.by_id = {}, {}
        if data_path:
            rows, _ = load_prepared(data_path)
            self.by_index = {r["index"]: r for r in rows}
            self.by_id = ids_of(rows, data_path)
        self.enabled = bool(data_path)

    def find(self, row: dict) -> dict | None:
        if not self.enabled:
            return None
        if isinstance(row.get("index"), int) and not isinstance(row.get("index"), bool):
            hit = self.by_index.get(row["index"])
            if hit is None:
                raise RowRejected(f"index {row['index']} is not a row of --data")
            return hit
        if "id" in row:
            hit = self.by_id.get(id_key(row["id"]))
            if hit is None:
                same_text = [r["id"] for r in self.by_id.values() if str(r["id"]) == str(row["id"])][:1]
                hint = f" (--data has {same_text[0]!r}: the JSON types differ)" if same_text else ""
                raise RowRejected(f"id {json.dumps(row['id'])} is not in --data{hint}")
            return hit
        return None


def id_key(value) -> str:
    """An id as its JSON text: 0 and "0" (or 1 and 1.0 and true) stay different ids."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def ids_of(rows: list[dict], data_path: str) -> dict[str, dict]:
    """The prepared rows by id; ValueError if two rows share one (a join by id would pick one of them silently)."""
    out: dict[str, dict] = {}
    for r in rows:
        if "id" not in r:
            continue
        key = id_key(r["id"])
        if key in out:
            raise ValueError(
                f"{data_path}: id {key} is on rows {out[key]['index']} and {r['index']} (0-based): ids must be "
                "unique to join predictions by id (prepare gives inputs that share a file name distinct ids)"
            )
        out[key] = r
    return out


def prompt_key(row: dict, line_no: int) -> str:
    if "index" in row:
        return f"index:{row['index']}"
    if "id" in row:
        return f"id:{id_key(row['id'])}"
    if "prompt" in row:
        return "prompt:" + json.dumps(row["prompt"], ensure_ascii=False, sort_keys=True)
    return f"line:{line_no}"


# ---- the whole file ----


def evaluate(
    predictions: str,
    data: str | None = None,
    tokenizer=None,
    tokenizer_name: str | None = None,
    partial_credit: bool = False,
    settings: Settings | None = None,
    progress: bool = True,
) -> EvalResult:
    """Score every row and compute the metrics. Lengths: tokens of `tokenizer` when given; else the rows'
    `n_tokens` if every scored row has one; else characters. The unit is in `metrics["length_unit"]`."""
    settings = settings or Settings.from_env()
    join = DataJoin(data)
    scored, rejects, n_tokens = [], [], []
    fail_reasons: Counter = Counter()
    sources: Counter = Counter()
    n_read = n_partial = n_without_value = 0
    for line_no, row, error, raw in tqdm(iter_jsonl(predictions), desc="eval", unit="row", disable=not progress):
        n_read += 1
        try:
            if error:
                raise RowRejected(error)
            item = _score_row(row, line_no, join, tokenizer, partial_credit, settings)
        except RowRejected as e:
            rejects.append({"line": line_no, "reason": str(e), "raw": raw.rstrip("\r\n")})
            continue
        s, reason, partial, has_value, toks, source = item
        sources[source or "none"] += 1
        scored.append(s)
        n_tokens.append(toks)
        fail_reasons.update([reason] if reason else [])
        n_partial += partial
        n_without_value += not has_value
    if tokenizer is not None:
        unit, source = UNIT_TOKENS, f"response re-tokenized with {tokenizer_name or 'the given tokenizer'}"
    elif scored and all(t is not None for t in n_tokens):
        unit, source = UNIT_TOKENS, "n_tokens of each row (as generated)"
        scored = [metrics.Scored(s.key, s.value, s.credit, float(t), s.datasource) for s, t in zip(scored, n_tokens)]
    else:
        unit, source = UNIT_CHARS, "characters of the response text (no --tokenizer, no n_tokens)"
    prompts = metrics.per_prompt(scored)
    out = metrics.summarize(prompts)
    out.update(
        length_unit=unit,
        length_source=source,
        partial_credit=partial_credit,
        n_rows_read=n_read,
        n_rejected=len(rejects),
        n_scored=len(scored),
        n_partial_credit_rows=n_partial,
        n_without_value=n_without_value,
        fail_reasons=dict(fail_reasons),
        answer_sources={k: sources.get(k, 0) for k in (*ANSWER_SOURCES, "none")},
        value_bins=[vars(b) for b in metrics.value_bins(prompts)],
        per_datasource=metrics.summarize_by_datasource(prompts),
    )
    return EvalResult(out, prompts, rejects)


def _score_row(row, line_no, join, tokenizer, partial_credit, settings):
    if not isinstance(row, dict):
        raise RowRejected(f"row is a JSON {type(row).__name__}, not an object")
    if not valid_text(row):
        raise RowRejected("text that is not valid Unicode (a lone surrogate escape)")
    response = row.get("response")
    if not isinstance(response, str):
        raise RowRejected("missing 'response' (need a string)")
    joined = join.find(row)
    label = row.get("label")
    if label is None:
        if joined is None:
            why = "pass --data to join labels" if not join.enabled else "the row has neither 'index' nor 'id'"
            raise RowRejected(f"no 'label' ({why})")
        label = joined["label"]
    credit, value, reason, partial, source = score_response(response, label, settings, partial_credit)
    datasource = row.get("datasource") or (joined or {}).get("datasource") or "unknown"
    if tokenizer is not None:
        length = float(len(tokenizer(response, add_special_tokens=False)["input_ids"]))
    else:
        length = float(len(response))
    toks = row.get("n_tokens")
    toks = toks if isinstance(toks, int) and not isinstance(toks, bool) and 0 <= toks <= MAX_TOKENS else None
    has_value = parse_label(label).value is not None
    return (
        metrics.Scored(prompt_key(row, line_no), value, credit, length, str(datasource)),
        reason,
        partial,
        has_value,
        toks,
        source,
    )


# ---- outputs ----


def _pct(x) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def _num(x, digits=1) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def markdown_table(m: dict) -> str:
    """Overall first, then one row per datasource."""
    head = (
        f"| datasource | n | Acc % | H-Acc % | mean length ({m['length_unit']}) | value density | "
        "Acc top-20% | Acc bottom-20% |"
    )
    lines = [head, "|" + "---|" * 8]
    rows = [("**all**", m)] + list(m["per_datasource"].items())
    for name, r in rows:
        lines.append(
            f"| {name} | {r['n']} | {_pct(r['acc'])} | {_pct(r['h_acc'])} | {_num(r['mean_length'])} | "
            f"{_num(r['value_density'], 3)} | {_pct(r['acc_top20'])} | {_pct(r['acc_bottom20'])} |"
        )
    notes = ["value density = H-Acc % / mean length; n = prompts (samples averaged per prompt first)"]
    notes.append(f"length: {m['length_source']}")
    if m["partial_credit"]:
        notes.append("partial credit: GAOKAO-Bench per-entry rule for choice labels")
    counts = f"rows: read {m['n_rows_read']} = scored {m['n_scored']} + rejected {m['n_rejected']}"
    return counts + "\n\n" + "\n".join(lines) + "\n\n" + answers_table(m) + "\n\n" + "; ".join(notes)


def answers_table(m: dict) -> str:
    """Where the scored answers came from, and the rows that named no answer: rewards that come from guesses or
    from restated option lists show here at once."""
    src = m.get("answer_sources") or {}
    fails = m.get("fail_reasons") or {}
    cols = [*ANSWER_SOURCES, "none"]
    head = "| answers from | " + " | ".join(cols) + " | options listed | answer format |"
    row = (
        "| rows | "
        + " | ".join(str(src.get(c, 0)) for c in cols)
        + f" | {fails.get(reasons.OPTIONS_LISTED, 0)} | {fails.get(reasons.ANSWER_FORMAT, 0)} |"
    )
    return "\n".join([head, "|" + "---|" * (len(cols) + 3), row])


def output_paths(predictions: str, out_json: str | None = None, plots_dir: str | None = None) -> dict:
    stem = os.path.splitext(out_json or predictions)[0]
    if out_json is None:
        stem += ".eval"
    plot_stem = os.path.join(plots_dir, os.path.basename(stem)) if plots_dir else stem
    return {
        "metrics": stem + ".json" if out_json is None else out_json,
        "rejects": stem + ".rejects.jsonl",
        "acc_plot": plot_stem + ".acc_by_value.png",
        "length_plot": plot_stem + ".length_by_value.png",
    }


def write_outputs(result: EvalResult, paths: dict, plots: bool = True) -> dict:
    """Metrics JSON, rejects file (only when there are rejects) and the two decile plots. Returns what was written."""
    written = {}
    os.makedirs(os.path.dirname(os.path.abspath(paths["metrics"])), exist_ok=True)
    if result.rejects:
        with open(paths["rejects"], "w", encoding="utf-8") as f:
            for r in result.rejects:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        written["rejects"] = paths["rejects"]
        result.metrics["rejects_file"] = paths["rejects"]
    elif os.path.exists(paths["rejects"]):
        os.remove(paths["rejects"])  # stale from an earlier run
    if plots and result.prompts:
        from openrlhf_rlev.evaluation import plots as plotting

        bins = metrics.value_bins(result.prompts)
        n = result.metrics["n"]
        os.makedirs(os.path.dirname(os.path.abspath(paths["acc_plot"])), exist_ok=True)
        written["acc_plot"] = plotting.plot_value_bins(
            bins, paths["acc_plot"], "acc", f"Accuracy by value bin ({n} prompts)", "accuracy"
        )
        written["length_plot"] = plotting.plot_value_bins(
            bins,
            paths["length_plot"],
            "mean_length",
            f"Mean response length by value bin ({n} prompts)",
            f"mean length ({result.metrics['length_unit']})",
        )
    with open(paths["metrics"], "w", encoding="utf-8") as f:
        json.dump(result.metrics, f, ensure_ascii=False, indent=2)
    written["metrics"] = paths["metrics"]
    return written
