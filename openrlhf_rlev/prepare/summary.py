"""What prepare did, as numbers that add up: read = written + rejected + skipped, and the value distribution."""

from collections import Counter

from openrlhf_rlev.prepare.gaokao import PAPER_SHARE_ABOVE_CLIP, PAPER_VALUE_MEAN
from openrlhf_rlev.reward.scaling import scale as scale_of


class Tally:
    """The summary's numbers, kept as running sums: what was written, rejected and skipped, one row at a time, so
    a streaming run holds a few counters instead of its rows."""

    def __init__(self, alpha: float, scaling: str, uniform_scale: float | None):
        self.alpha, self.scaling, self.uniform_scale = alpha, scaling, uniform_scale
        self.threshold = 1.0 / alpha if alpha > 0 else float("inf")
        self.rows = self.written = 0
        self.value_sum = self.scale_sum = 0.0
        self.value_min = self.value_max = None
        self.above_clip = 0
        self.rows_per_datasource: Counter = Counter()
        self.rejected = 0
        self.rejected_by_reason: Counter = Counter()
        self.first_rejects: list = []  # what an error message shows
        self.skipped_open_ended: Counter = Counter()

    def item(self, item) -> None:
        """One question written (its rows are counted by `row`: --eval writes two per question)."""
        v = item.value
        self.written += 1
        self.value_sum += v
        self.value_min = v if self.value_min is None else min(self.value_min, v)
        self.value_max = v if self.value_max is None else max(self.value_max, v)
        self.above_clip += v > self.threshold
        self.scale_sum += scale_of(v, self.scaling, self.alpha, self.uniform_scale)

    def row(self, row: dict) -> None:
        self.rows += 1
        self.rows_per_datasource[row["datasource"]] += 1

    def reject(self, reject) -> None:
        self.rejected += 1
        self.rejected_by_reason[reject.reason] += 1
        if len(self.first_rejects) < 5:
            self.first_rejects.append(reject)

    def skip_open_ended(self, item) -> None:
        self.skipped_open_ended[item.datasource] += 1


def tally_of(rows: list[dict], items: list, rejects: list, skipped_open_ended: list, alpha, scaling, uniform):
    """A Tally of lists already in memory."""
    t = Tally(alpha, scaling, uniform)
    for it in items:
        t.item(it)
    for row in rows:
        t.row(row)
    for r in rejects:
        t.reject(r)
    for it in skipped_open_ended:
        t.skip_open_ended(it)
    return t


def build(
    *,
    output: str,
    tally: Tally,
    read: int,
    skipped_sample: int,
    skipped_limit: int,
    files: list[str],
    files_skipped: list[str],
    extra: dict | None = None,
) -> dict:
    t = tally
    out = {
        "output": output,
        "rows": t.rows,
        "counts": {
            "read": read,
            "written": t.written,
            "rejected": t.rejected,
            "skipped_open_ended": sum(t.skipped_open_ended.values()),
            "skipped_sample": skipped_sample,
            "skipped_limit": skipped_limit,
        },
        "rejected_by_reason": dict(sorted(t.rejected_by_reason.items())),
        "skipped_open_ended_by_datasource": dict(sorted(t.skipped_open_ended.items())),
        "rows_per_datasource": dict(sorted(t.rows_per_datasource.items())),
        "value": {
            "mean": t.value_sum / t.written if t.written else None,
            "min": t.value_min,
            "max": t.value_max,
            "clip_threshold": t.threshold,
            "share_above_clip": t.above_clip / t.written if t.written else None,
        },
        "scale": {"scaling": t.scaling, "alpha": t.alpha, "mean": t.scale_sum / t.written if t.written else None},
        "files": files,
        "files_skipped": files_skipped,
    }
    if extra:
        out.update(extra)
    return out


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.4g}"


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


def format_text(s: dict) -> str:
    c = s["counts"]
    lines = [
        f"prepare: read {c['read']} = written {c['written']} + rejected {c['rejected']}"
        f" + skipped open-ended {c['skipped_open_ended']} + skipped by --sample {c['skipped_sample']}"
        f" + skipped by --limit {c['skipped_limit']}",
        f"  wrote {s['rows']} rows to {s['output']}",
    ]
    if s["rejected_by_reason"]:
        lines.append("  rejected: " + ", ".join(f"{k} {v}" for k, v in s["rejected_by_reason"].items()))
    if s["skipped_open_ended_by_datasource"]:
        lines.append("  skipped open-ended (use --include-open-ended to keep them, graded by a judge):")
        lines += [f"    {k}: {v}" for k, v in s["skipped_open_ended_by_datasource"].items()]
    if s["files_skipped"]:
        lines.append(f"  files not matching --subjects: {len(s['files_skipped'])}")
    lines.append("  rows per datasource:")
    lines += [f"    {k}: {v}" for k, v in s["rows_per_datasource"].items()]
    v, sc = s["value"], s["scale"]
    lines.append(
        f"  value v: mean {_fmt(v['mean'])}, min {_fmt(v['min'])}, max {_fmt(v['max'])},"
        f" share above 1/alpha = {_fmt(v['clip_threshold'])}: {_pct(v['share_above_clip'])}"
        f"  (the paper's data: mean {PAPER_VALUE_MEAN:g}, {_pct(PAPER_SHARE_ABOVE_CLIP)} above 0.1)"
    )
    pt = s.get("paper_total")
    if pt:
        rule = "each paper's printed total" if pt["rule"] == "printed" else "the paper's points present in the bench"
        lines.append(f"  GAOKAO-Bench v = points / {rule} (--paper-total {pt['rule']})")
        if pt["printed_total_unknown"]:
            lines.append("  WARNING: printed total unknown, fell back to the points in the bench for:")
            lines += [f"    {k}: {n} questions" for k, n in pt["printed_total_unknown"].items()]
    for g in s.get("groups_with_rejects", []):
        unknown = f", {g['points_unknown']} of unknown points (not counted: values there may be too high)"
        lines.append(
            f"  WARNING: group {g['group']} lost {g['rejected']} rows to rejects; their total counts the points"
            f" of {g['points_known']}" + (unknown if g["points_unknown"] else "")
        )
    lines.append(f"  scale s ({sc['scaling']}, alpha {sc['alpha']:g}): mean {_fmt(sc['mean'])}")
    if s.get("eval"):
        e = s["eval"]
        lines.append(f"  eval rows: {e['acc_rows']} Acc + {e['h_acc_rows']} H-Acc (scope {e['scope']})")
        if e["h_acc_undefined"]:
            lines.append(f"  WARNING: all values are 0 in {', '.join(e['h_acc_undefined'])}: no H-Acc rows there")
    return "\n".join(lines)
