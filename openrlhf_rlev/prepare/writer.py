"""Write the dataset (.jsonl or .parquet, by extension), its rejects and its summary as one set: all or none.

Every row has the same columns and the same label keys, so Arrow reads `label` as a struct and OpenRLHF's
PromptDataset (and TRL's GRPOTrainer) hands the reward a dict. `--output-format verl` writes the same rows in
verl's RL dataset schema instead (`verl_row`).
"""

import json
import os

from openrlhf_rlev.prepare.records import PrepareError, Reject, valid_text

OUTPUT_EXTENSIONS = (".jsonl", ".parquet")
OUTPUT_FORMATS = ("openrlhf", "verl")  # openrlhf: prompt + label (TRL reads it as is); verl: verl's schema


def check_output(path: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    if ext not in OUTPUT_EXTENSIONS:
        raise PrepareError(f"output {path!r}: the extension must be .jsonl or .parquet (it picks the format)")
    for target in (path, rejects_path(path), summary_path(path)):
        if os.path.isdir(target):  # checked up front: the set is renamed into place only once all are written
            raise PrepareError(f"output {target!r} is a directory")
    stem = os.path.splitext(path)[0]
    for other in (stem + e for e in OUTPUT_EXTENSIONS if e != ext):
        if os.path.exists(other) and os.path.exists(summary_path(path)):  # its rejects and summary would be lost
            raise PrepareError(
                f"output {path!r}: {other!r} already has its rejects and summary at {stem}.rejects.jsonl and "
                f"{stem}.summary.json (named without the extension); choose another output name"
            )
    return path


def side_path(output: str, suffix: str) -> str:
    """out.jsonl -> out.rejects.jsonl / out.summary.json."""
    return os.path.splitext(output)[0] + suffix


def rejects_path(output: str) -> str:
    return side_path(output, ".rejects.jsonl")


def summary_path(output: str) -> str:
    return side_path(output, ".summary.json")


def verl_row(row: dict, index: int) -> dict:
    """One row in verl's RL dataset schema. The full label rides in `extra_info` (what the verl adapter's
    `compute_score` reads); `ground_truth` is the answer as text for verl's own tools (parts joined by "; ")."""
    label = row["label"]
    return {
        "data_source": row["datasource"],
        "prompt": row["prompt"],
        "ability": label["verifier"],
        "reward_model": {"style": "rule", "ground_truth": "; ".join(label["answer"])},
        "extra_info": {"index": index, "id": row["id"], "value": label["value"], "label": label},
    }


def write_set(
    output: str, rows: list[dict], with_scale: bool, rejects: list[Reject], summary: dict, fmt: str = "openrlhf"
) -> None:
    """Each file goes to a temporary first and is renamed into place only once all three are written, so a
    failed write (full disk, no permission, a bad value) leaves the previous run's set as it was and no
    temporaries behind."""
    parquet = output.lower().endswith(".parquet")
    if fmt == "verl":
        rows = [verl_row(row, i) for i, row in enumerate(rows)]
        schema = None  # Arrow infers it: every row has the same keys and types
    else:
        schema = _schema(with_scale)
    targets = [
        (output, lambda tmp: _write_parquet(tmp, rows, schema) if parquet else _write_jsonl(tmp, rows)),
        (rejects_path(output), lambda tmp: _write_jsonl(tmp, [r.to_json() for r in rejects])),
        (summary_path(output), lambda tmp: write_json(tmp, summary)),
    ]
    tmps, path = [], output
    try:
        os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
        for path, write in targets:
            tmps.append(f"{path}.tmp-{os.getpid()}")
            write(tmps[-1])
        for (path, _), tmp in zip(targets, tmps):
            os.replace(tmp, path)
    except Exception as e:  # OSError, or pyarrow's own errors for a value it cannot store
        for tmp in tmps:
            if os.path.exists(tmp):
                os.remove(tmp)
        raise PrepareError(f"cannot write {path!r}: {e}; nothing was written") from None


def write_json(path: str, obj: dict) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=2, default=str)
        f.write("\n")


def _write_jsonl(path: str, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            line = json.dumps(row, ensure_ascii=False, default=str)
            if not valid_text(line):  # a reject's text that is not valid Unicode: keep it as \u escapes
                line = json.dumps(row, default=str)
            f.write(line + "\n")


def _schema(with_scale: bool):
    import pyarrow as pa

    label = [
        ("answer", pa.list_(pa.string())),
        ("value", pa.float64()),
        ("verifier", pa.string()),
        ("answer_format", pa.string()),
    ]
    if with_scale:
        label.append(("scale", pa.float64()))
    return pa.schema(
        [
            ("prompt", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
            ("label", pa.struct(label)),
            ("datasource", pa.string()),
            ("id", pa.string()),
        ]
    )


def _write_parquet(path: str, rows: list[dict], schema) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
