"""What the dry run checks in the training data before a cluster starts: the files, the keys, the labels, the values.

OpenRLHF finds a missing file, a missing `--data.input_key` column or an unusable label only after Ray, the engines
and the model are up; an unusable label does not even fail, it is reward 0 for every sample of that prompt. Here
each local file of `--data.prompt_dataset` (comma-separated, as OpenRLHF's `blending_datasets` reads it) is read
with the evaluation's reader: every row must have the input and label keys, the first rows' labels must parse, and
the value distribution (mean v, share of v > 0.1, max v) is reported so that a flat or empty value column shows.
"""

import os

from openrlhf_rlev.evaluation import datafiles
from openrlhf_rlev.reward.labels import LabelError, parse_label

FIRST_ROWS = 20  # a label that fails among these stops the launch; later failures are counted and reported
CHECKED_FORMATS = (".jsonl", ".json", ".parquet")
DATA_FORMATS = (*CHECKED_FORMATS, ".csv", ".arrow")
HIGH_VALUE = 0.1


class DataCheckError(ValueError):
    pass


def paths(prompt_dataset: str) -> list[str]:
    """The sources in OpenRLHF's comma-separated `--data.prompt_dataset` (0.10.2-0.11.x: no '@' probabilities)."""
    return [p.strip() for p in str(prompt_dataset).split(",") if p.strip()]


def looks_local(path: str) -> bool:
    """A path OpenRLHF would read from disk (a data file or a folder); anything else it tries on the hub."""
    return os.path.exists(path) or path.endswith(DATA_FORMATS) or path.startswith(("/", "./", "../", "~"))


def check_file(path: str, input_key: str, label_key: str, rlev_labels: bool = True) -> dict:
    """One local file's report; raises DataCheckError for what would break or silently zero the run."""
    if not os.path.exists(path):
        raise DataCheckError(f"--data.prompt_dataset: {path} does not exist (relative to {os.getcwd()})")
    if not path.endswith(CHECKED_FORMATS):
        return {"path": path, "checked": False, "why": "only .jsonl/.json/.parquet are read by the dry run"}
    try:
        rows, rejects = datafiles.load_prepared(path, input_key, label_key)
    except datafiles.DataError as e:
        raise DataCheckError(f"--data.prompt_dataset: {e}") from None
    if rejects:
        first = rejects[0]
        raise DataCheckError(
            f"{path}: {len(rejects)} of {len(rows) + len(rejects)} rows unusable; first at line {first['line']}: "
            f"{first['reason']} (--data.input_key {input_key})"
        )
    if not rows:
        raise DataCheckError(f"{path}: no rows")
    missing = [r["index"] for r in rows if r["label"] is None]
    if missing:
        raise DataCheckError(
            f"{path}: {len(missing)} of {len(rows)} rows have no {label_key!r} (first: row {missing[0]}); "
            f"--data.label_key names the column OpenRLHF passes to the reward"
        )
    report = {"path": path, "checked": True, "rows": len(rows)}
    if not rlev_labels:
        return report
    values, bad = [], []
    for row in rows:
        try:
            values.append(parse_label(row["label"]).value)
        except LabelError as e:
            if row["index"] < FIRST_ROWS:
                raise DataCheckError(
                    f"{path}: row {row['index']}'s {label_key!r} does not parse as an RLEV label: {e} "
                    f"(got {str(row['label'])[:200]!r}; `openrlhf-rlev prepare` writes them)"
                ) from None
            bad.append(row["index"])
    known = [v for v in values if v is not None]
    report.update(
        bad_labels=len(bad),
        first_bad_label_row=bad[0] if bad else None,
        with_value=len(known),
        mean_value=sum(known) / len(known) if known else None,
        share_value_above_0_1=sum(v > HIGH_VALUE for v in known) / len(known) if known else None,
        max_value=max(known) if known else None,
    )
    return report


def check(prompt_dataset: str, input_key: str, label_key: str, rlev_labels: bool = True) -> list[dict]:
    reports = []
    for path in paths(prompt_dataset):
        if looks_local(path):
            reports.append(check_file(os.path.expanduser(path), input_key, label_key, rlev_labels))
        else:
            reports.append({"path": path, "checked": False, "why": "not a local path: OpenRLHF loads it from the hub"})
    return reports


def summary_line(report: dict) -> str:
    if not report.get("checked"):
        return f"RLEV data: {report['path']}: not checked ({report['why']})"
    line = f"RLEV data: {report['path']}: {report['rows']} rows"
    if "with_value" not in report:
        return line
    if not report["with_value"]:
        return line + ", no label carries a value: every s(x) is 1 (accuracy-only)"
    line += (
        f", {report['with_value']} with a value: mean v {report['mean_value']:.4f}, "
        f"share v > {HIGH_VALUE} {report['share_value_above_0_1']:.1%}, max v {report['max_value']:.4f}"
    )
    if report["bad_labels"]:
        line += f"; {report['bad_labels']} labels do not parse (first: row {report['first_bad_label_row']})"
    return line
