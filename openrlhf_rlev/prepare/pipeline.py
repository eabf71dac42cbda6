"""`prepare`: read -> value -> select -> (shuffle) -> rows -> (eval copies) -> write. Each step is its own module."""

import math
from collections import Counter
from dataclasses import dataclass, field

from openrlhf_rlev.integrations.openrlhf import eval_labels
from openrlhf_rlev.prepare import gaokao, select, summary, values, writer
from openrlhf_rlev.prepare.prompts import build_prompt
from openrlhf_rlev.prepare.readers import (
    FORMATS,
    Keys,
    ReadOptions,
    ReadResult,
    expand_inputs,
    iter_inputs,
    read_inputs,
)
from openrlhf_rlev.prepare.records import DUPLICATE_PROMPT, Item, NothingWritten, PrepareError, Reject
from openrlhf_rlev.reward.scaling import DEFAULT_ALPHA, SCALINGS, check_alpha
from openrlhf_rlev.reward.scaling import scale as scale_of
from openrlhf_rlev.verifiers import choices as verifier_choices


@dataclass
class PrepareOptions:
    inputs: list[str]
    output: str
    fmt: str = "auto"
    input_key: str | None = None
    answer_key: str | None = None
    value_key: str | None = None
    total_key: str | None = None
    group_key: str | None = None
    total: float | None = None
    difficulty_key: str | None = None
    difficulty_map: str | None = None  # JSON object or file; None = the paper's map
    datasource: str | None = None
    verifier: str = "auto"
    subjects: list[str] | None = None
    include_open_ended: bool = False
    instruction: bool = True
    shuffle_values: int | None = None
    alpha: float | None = None
    scaling: str | None = None
    uniform_scale: float | None = None
    sample: int | None = None
    seed: int = 0
    limit: int | None = None
    eval: bool = False
    eval_scope: str = "datasource"
    eval_marker: str = eval_labels.DEFAULT_MARKER
    paper_total: str = "printed"  # GAOKAO-Bench: "printed" totals or the points in the "bench"
    progress: bool = True
    output_format: str = "openrlhf"  # writer.OUTPUT_FORMATS
    extra: dict = field(default_factory=dict)


def prepare(opts: PrepareOptions) -> dict:
    """Write opts.output, its rejects and summary files as one set; return the summary. PrepareError for unusable
    arguments or input files, NothingWritten (nothing written) when no row survives.

    Without --sample, --shuffle-values and --eval, the run streams: rows are read, valued and written one at a
    time (a first pass sums the groups for --group-key), so memory does not grow with the input. Those three
    options need every question at once and run in memory."""
    keys = _check(opts)
    outputs = (opts.output, writer.rejects_path(opts.output), writer.summary_path(opts.output))
    read_opts = ReadOptions(
        fmt=opts.fmt,
        keys=keys,
        fixed_total=opts.total,
        datasource=opts.datasource,
        verifier=opts.verifier,
        subjects=tuple(opts.subjects) if opts.subjects else None,
        difficulty_key=opts.difficulty_key,
        paper_total=opts.paper_total,
        progress=opts.progress,
    )
    if opts.sample is None and opts.shuffle_values is None and not opts.eval:
        return _prepare_streaming(opts, keys, read_opts, outputs)
    read = read_inputs(opts.inputs, read_opts, outputs)
    dmap = values.load_difficulty_map(opts.difficulty_map) if opts.difficulty_key else None
    items, value_rejects, group_warnings = values.normalise(read.items, dmap, read.rejects)
    rejects = read.rejects + value_rejects
    skipped_open = [it for it in items if it.open_ended and not opts.include_open_ended]
    items = [it for it in items if not (it.open_ended and not opts.include_open_ended)]
    items, skipped_sample, skipped_limit = _select(items, opts)
    # per written question (not per question read): the warning is about the values in this dataset
    unknown = Counter(it.meta["printed_total_unknown"] for it in items if "printed_total_unknown" in it.meta)
    if opts.shuffle_values is not None:
        values.shuffle_values(items, opts.shuffle_values)

    alpha, scaling, precompute = _scaling(opts)
    rows = [_row(it, opts.instruction, (alpha, scaling, opts.uniform_scale) if precompute else None) for it in items]
    extra = dict(opts.extra)
    if opts.eval:
        items, rows, dup_rejects, extra["eval"] = _eval(items, rows, opts)
        rejects += dup_rejects
    if group_warnings:
        extra["groups_with_rejects"] = group_warnings
    if any(gaokao.is_gaokao_item(it) for it in read.items) and opts.total is None:
        extra["paper_total"] = {"rule": opts.paper_total, "printed_total_unknown": dict(sorted(unknown.items()))}

    tally = summary.tally_of(rows, items, rejects, skipped_open, alpha, scaling, opts.uniform_scale)
    result = _summary(opts, tally, read, skipped_sample, skipped_limit, extra)
    if not rows:
        raise NothingWritten(_nothing_written(result, tally), result)
    writer.write_set(opts.output, rows, precompute or opts.eval, rejects, result, opts.output_format)
    return result


def _prepare_streaming(opts: PrepareOptions, keys: Keys | None, read_opts: ReadOptions, outputs: tuple) -> dict:
    """prepare() one row at a time: what it holds is a few counters (and one sum per group with --group-key)."""
    dmap = values.load_difficulty_map(opts.difficulty_map) if opts.difficulty_key else None
    groups = values.GroupSums()
    # v = points / the group's sum (--group-key; a GAOKAO-Bench paper): a first pass sums the groups
    if (keys is not None and keys.group) or _may_be_gaokao(opts, outputs):
        for out in iter_inputs(opts.inputs, read_opts, outputs, ReadResult([], [], files=[], files_skipped=[])):
            groups.add(out)
        groups.close()
    alpha, scaling, precompute = _scaling(opts)
    tally = summary.Tally(alpha, scaling, opts.uniform_scale)
    read = ReadResult([], [], files=[], files_skipped=[])
    unknown, gaokao_seen, skipped_limit = Counter(), False, 0
    with writer.SetWriter(opts.output, precompute, opts.output_format) as out_set:
        for out in iter_inputs(opts.inputs, read_opts, outputs, read):
            if isinstance(out, Item):
                gaokao_seen = gaokao_seen or gaokao.is_gaokao_item(out)
                out = values.set_value(out, groups.sums, dmap) or out
            if isinstance(out, Reject):
                tally.reject(out)
                out_set.reject(out)
            elif out.open_ended and not opts.include_open_ended:
                tally.skip_open_ended(out)
            elif opts.limit is not None and tally.written >= opts.limit:
                skipped_limit += 1
            else:
                if "printed_total_unknown" in out.meta:
                    unknown[out.meta["printed_total_unknown"]] += 1
                row = _row(out, opts.instruction, (alpha, scaling, opts.uniform_scale) if precompute else None)
                tally.item(out)
                tally.row(row)
                out_set.row(row)
        extra = dict(opts.extra)
        if groups.warnings():
            extra["groups_with_rejects"] = groups.warnings()
        if gaokao_seen and opts.total is None:
            extra["paper_total"] = {"rule": opts.paper_total, "printed_total_unknown": dict(sorted(unknown.items()))}
        result = _summary(opts, tally, read, 0, skipped_limit, extra)
        if not tally.rows:
            raise NothingWritten(_nothing_written(result, tally), result)
        out_set.commit(result)
    return result


def _may_be_gaokao(opts: PrepareOptions, outputs: tuple) -> bool:
    """GAOKAO-Bench files are .json (read whole anyway); other inputs need no group pass."""
    return opts.fmt in ("auto", "gaokao") and any(
        f.lower().endswith(".json") for f in expand_inputs(opts.inputs, outputs)
    )


def _scaling(opts: PrepareOptions) -> tuple[float, str, bool]:
    """(alpha, scaling, whether labels carry a precomputed scale)."""
    alpha = opts.alpha if opts.alpha is not None else DEFAULT_ALPHA
    scaling = opts.scaling or "rlev"
    return alpha, scaling, not opts.eval and (opts.alpha is not None or opts.scaling is not None)


def _summary(opts, tally, read: ReadResult, skipped_sample: int, skipped_limit: int, extra: dict) -> dict:
    result = summary.build(
        output=opts.output,
        tally=tally,
        read=read.read,
        skipped_sample=skipped_sample,
        skipped_limit=skipped_limit,
        files=read.files,
        files_skipped=read.files_skipped,
        extra=extra,
    )
    result["rejects_file"] = writer.rejects_path(opts.output)
    return result


def _nothing_written(result: dict, tally: summary.Tally) -> str:
    """Why no row survived, with the first rejects (file, row, reason, detail) to act on."""
    c = result["counts"]
    lines = [f"no usable row: read {c['read']}, rejected {c['rejected']}, skipped {c['read'] - c['rejected']}"]
    lines += [f"  {r.source}:{r.row}: {r.reason}: {r.detail}" for r in tally.first_rejects]
    if tally.rejected > 5:
        lines.append(
            f"  ... and {tally.rejected - 5} more ({', '.join(f'{k} {v}' for k, v in result['rejected_by_reason'].items())})"
        )
    lines.append(f"nothing written ({result['output']} and its rejects and summary files are unchanged)")
    return "\n".join(lines)


def _select(items: list[Item], opts: PrepareOptions) -> tuple[list[Item], int, int]:
    """--sample, then --limit; returns the kept items and how many each one skipped."""
    n_valid = len(items)
    if opts.sample is not None:
        items = select.stratified_sample(items, opts.sample, opts.seed)
    n_sampled = len(items)
    items = select.limit(items, opts.limit)
    return items, n_valid - n_sampled, n_sampled - len(items)


def _eval(items: list[Item], rows: list[dict], opts: PrepareOptions):
    """Acc and H-Acc copies (eval_labels); a prompt shared across datasources is rejected, not mis-counted."""
    dups = eval_labels.cross_datasource_duplicates(rows, opts.eval_scope)
    rejects = [items[i].reject(DUPLICATE_PROMPT, why) for i, why in dups.items()]
    items = [it for i, it in enumerate(items) if i not in dups]
    rows = [r for i, r in enumerate(rows) if i not in dups]
    rows, undefined = eval_labels.eval_rows(rows, opts.eval_scope, opts.eval_marker)
    n_acc = sum(r["datasource"].endswith("/" + eval_labels.ACC) for r in rows)
    info = {"scope": opts.eval_scope, "acc_rows": n_acc, "h_acc_rows": len(rows) - n_acc, "h_acc_undefined": undefined}
    return items, rows, rejects, info


def answer_format(verifier: str, add_instruction: bool) -> str:
    """The format the prompt asked for, written into the label so the reward holds the policy to it: "strict" when
    prepare appended an answer instruction its verifier extracts (a marked answer), else "lenient" (no instruction,
    or the judge, which reads a line and not a marked answer)."""
    return "strict" if add_instruction and verifier != "judge" else "lenient"


def _row(it: Item, add_instruction: bool, scaling: tuple | None) -> dict:
    label = {
        "answer": list(it.answers),
        "value": float(it.value),
        "verifier": it.verifier,
        "answer_format": answer_format(it.verifier, add_instruction),
    }
    if scaling is not None:
        alpha, mode, uniform = scaling
        label["scale"] = float(scale_of(it.value, mode, alpha, uniform))
    return {
        "prompt": build_prompt(it.question, it.verifier, len(it.answers), add_instruction),
        "label": label,
        "datasource": it.datasource,
        "id": it.id,
    }


def _check(o: PrepareOptions) -> Keys | None:
    """Reject unusable argument combinations up front, naming the flags."""
    if not o.inputs:
        raise PrepareError("no input: give INPUT files/directories or --gaokao")
    writer.check_output(o.output)
    if o.fmt not in FORMATS:
        raise PrepareError(f"--format must be one of {', '.join(FORMATS)}, got {o.fmt!r}")
    if o.output_format not in writer.OUTPUT_FORMATS:
        raise PrepareError(
            f"--output-format must be one of {', '.join(writer.OUTPUT_FORMATS)}, got {o.output_format!r}"
        )
    if o.paper_total not in gaokao.PAPER_TOTAL_RULES:
        raise PrepareError(
            f"--paper-total must be one of {', '.join(gaokao.PAPER_TOTAL_RULES)}, got {o.paper_total!r}"
        )
    if o.verifier not in verifier_choices():
        raise PrepareError(f"--verifier must be one of {', '.join(verifier_choices())}, got {o.verifier!r}")
    if o.total is not None and not (math.isfinite(o.total) and o.total > 0):
        raise PrepareError(f"--total must be a number > 0, got {o.total!r}")
    if o.total_key and o.group_key:
        raise PrepareError("--total-key and --group-key are alternatives (v = value/total or value/group sum)")
    if o.total is not None and (o.total_key or o.group_key):
        raise PrepareError("--total is a fixed total; do not combine it with --total-key or --group-key")
    if o.difficulty_key and (o.value_key or o.total_key or o.group_key or o.total is not None):
        raise PrepareError(
            "--difficulty-key gives v directly; do not combine it with --value-key/--total-key/--group-key/--total"
        )
    if o.difficulty_map and not o.difficulty_key:
        raise PrepareError("--difficulty-map needs --difficulty-key")
    if o.alpha is not None:
        try:
            check_alpha(o.alpha)
        except ValueError as e:
            raise PrepareError(f"--alpha: {e}") from None
    if o.scaling is not None and o.scaling not in SCALINGS:
        raise PrepareError(f"--scaling must be one of {', '.join(SCALINGS)}, got {o.scaling!r}")
    if o.scaling == "uniform" and o.uniform_scale is None:
        raise PrepareError("--scaling uniform needs --uniform-scale")
    if o.eval and (o.alpha is not None or o.scaling is not None):
        raise PrepareError(
            "--eval writes its own label scales (1 for Acc, v/mean(v) for H-Acc); drop --alpha/--scaling"
        )
    if o.sample is not None and o.sample < 1:
        raise PrepareError(f"--sample must be >= 1, got {o.sample}")
    if o.limit is not None and o.limit < 0:
        raise PrepareError(f"--limit must be >= 0, got {o.limit}")
    if o.eval:
        try:
            eval_labels.check_marker(o.eval_marker)
        except ValueError as e:
            raise PrepareError(str(e)) from None
        if o.eval_scope not in eval_labels.SCOPES:
            raise PrepareError(f"--eval-scope must be one of {', '.join(eval_labels.SCOPES)}, got {o.eval_scope!r}")
    generic = [o.input_key, o.answer_key, o.value_key, o.total_key, o.group_key]
    if not any(generic) and not (o.difficulty_key and o.fmt == "generic"):
        if o.fmt == "generic":
            raise PrepareError(
                "--format generic needs --input-key, --answer-key and --value-key (or --difficulty-key)"
            )
        return None
    if not (o.input_key and o.answer_key):
        raise PrepareError("the generic reader needs both --input-key and --answer-key")
    if not (o.value_key or o.difficulty_key):
        raise PrepareError("the generic reader needs --value-key (or --difficulty-key for weak labels)")
    if o.fmt in ("gaokao", "rlev"):
        raise PrepareError(f"--input-key/--answer-key/--value-key are for generic data, not --format {o.fmt}")
    return Keys(o.input_key, o.answer_key, o.value_key, o.total_key, o.group_key, o.difficulty_key)
