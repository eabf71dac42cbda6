"""Write the dataset (.jsonl or .parquet, by extension), its rejects and its summary, each atomically.

Every row has the same columns and the same label keys, so Arrow reads `label` as a struct and OpenRLHF's
PromptDataset hands the reward a dict.
"""

import json
import os

from openrlhf_rlev.prepare.records import PrepareError, Reject

OUTPUT_EXTENSIONS = (".jsonl", ".parquet")


def check_output(path: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    if ext not in OUTPUT_EXTENSIONS:
        raise PrepareError(f"output {path!r}: the extension must be .jsonl or .parquet (it picks the format)")
    if os.path.isdir(path):
        raise PrepareError(f"output {path!r} is a directory")
    return path


def side_path(output: str, suffix: str) -> str:
    """out.jsonl -> out.rejects.jsonl / out.summary.json."""
    return os.path.splitext(output)[0] + suffix


def rejects_path(output: str) -> str:
    return side_path(output, ".rejects.jsonl")


def summary_path(output: str) -> str:
    return side_path(output, ".summary.json")


def write_rows(path: str, rows: list[dict], with_scale: bool) -> None:
    _atomic(
        path,
        lambda tmp: (
            _write_parquet(tmp, rows, with_scale) if path.lower().endswith(".parquet") else _write_jsonl(tmp, rows)
        ),
    )


def write_rejects(path: str, rejects: list[Reject]) -> None:
    _atomic(path, lambda tmp: _write_jsonl(tmp, [r.to_json() for r in rejects]))


def write_json(path: str, obj: dict) -> None:
    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False, indent=2)
            f.write("\n")

    _atomic(path, write)


def _atomic(path: str, write) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        tmp = f"{path}.tmp-{os.getpid()}"
        write(tmp)
        os.replace(tmp, path)
    except OSError as e:
        raise PrepareError(f"cannot write {path!r}: {e}") from None


def _write_jsonl(path: str, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _schema(with_scale: bool):
    import pyarrow as pa

    label = [("answer", pa.list_(pa.string())), ("value", pa.float64()), ("verifier", pa.string())]
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


def _write_parquet(path: str, rows: list[dict], with_scale: bool) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows, schema=_schema(with_scale)), path)
