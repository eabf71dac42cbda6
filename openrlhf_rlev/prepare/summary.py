"""What prepare did, as numbers that add up: read = written + rejected + skipped, and the value distribution."""

from collections import Counter

from openrlhf_rlev.prepare.gaokao import PAPER_SHARE_ABOVE_CLIP, PAPER_VALUE_MEAN
from openrlhf_rlev.reward.scaling import scale as scale_of


def build(
    *,
    output: str,
    rows: list[dict],
    items: list,
    read: int,
    rejects: list,
    skipped_open_ended: list,
    skipped_sample: int,
    skipped_limit: int,
    alpha: float,
    scaling: str,
    uniform_scale: float | None,
    files: list[str],
    files_skipped: list[str],
    extra: dict | None = None,
) -> dict:
    values = [it.value for it in items]
    threshold = 1.0 / alpha if alpha > 0 else float("inf")
    scales = [scale_of(v, scaling, alpha, uniform_scale) for v in values]
    out = {
        "output": output,
        "rows": len(rows),
        "counts": {
            "read": read,
            "written": len(items),
            "rejected": len(rejects),
            "skipped_open_ended": len(skipped_open_ended),
            "skipped_sample": skipped_sample,
            "skipped_limit": skipped_limit,
        },
        "rejected_by_reason": dict(sorted(Counter(r.reason for r in rejects).items())),
        "skipped_open_ended_by_datasource": dict(sorted(Counter(it.datasource for it in skipped_open_ended).items())),
        "rows_per_datasource": dict(sorted(Counter(r["datasource"] for r in rows).items())),
        "value": {
            "mean": _mean(values),
            "min": min(values) if values else None,
            "max": max(values) if values else None,
            "clip_threshold": threshold,
            "share_above_clip": _mean([1.0 if v > threshold else 0.0 for v in values]),
        },
        "scale": {"scaling": scaling, "alpha": alpha, "mean": _mean(scales)},
        "files": files,
        "files_skipped": files_skipped,
    }
    if extra:
        out.update(extra)
    return out


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


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
