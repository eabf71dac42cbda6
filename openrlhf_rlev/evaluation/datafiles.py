"""The files evaluation reads: prepared datasets (JSONL or Parquet) and JSONL predictions, bad lines reported."""

import json
import os


class DataError(ValueError):
    pass


def load_prepared(path: str, input_key: str = "prompt", label_key: str = "label") -> tuple[list[dict], list[dict]]:
    """(rows, rejects) of a prepared JSONL or Parquet file. `index` is the 0-based number of the row (for JSONL,
    among the non-blank lines: the row order `datasets.load_dataset("json")` gives), so predictions join back
    to the data by it."""
    if not os.path.isfile(path):
        raise DataError(f"prepared dataset not found: {path}")
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq

        records = ((i + 1, row, None, "") for i, row in enumerate(pq.read_table(path).to_pylist()))
    elif path.endswith((".jsonl", ".json")):
        records = iter_jsonl(path)
    else:
        raise DataError(f"{path}: expected .jsonl or .parquet, as `openrlhf-rlev prepare` writes")
    rows, rejects = [], []
    for index, (line_no, obj, error, raw) in enumerate(records):
        problem = error or _row_problem(obj, input_key, label_key)
        if problem:
            rejects.append({"line": line_no, "index": index, "reason": problem, "raw": raw[:2000]})
            continue
        row = {"index": index, "prompt": obj[input_key], "label": obj.get(label_key)}
        row["datasource"] = obj.get("datasource") or "unknown"
        if obj.get("id") is not None:
            row["id"] = obj["id"]
        rows.append(row)
    return rows, rejects


def iter_jsonl(path: str):
    """(line number, object or None, error or None, raw line) for every non-blank line: bad lines (bad JSON, bad
    UTF-8, nesting too deep) are reported, never fatal."""
    with open(path, "rb") as f:
        for line_no, data in enumerate(f, 1):
            line = data.decode("utf-8", "replace")
            if not line.strip():
                continue
            try:
                yield line_no, json.loads(data), None, line
            except (ValueError, RecursionError) as e:
                yield line_no, None, f"invalid JSON: {e}", line


def _row_problem(obj, input_key: str, label_key: str) -> str | None:
    if not isinstance(obj, dict):
        return f"row is a JSON {type(obj).__name__}, not an object"
    prompt = obj.get(input_key)
    if isinstance(prompt, str):
        return None if prompt.strip() else f"empty {input_key!r}"
    if isinstance(prompt, list) and prompt and all(isinstance(m, dict) and "role" in m for m in prompt):
        return None
    return f"missing or invalid {input_key!r} (need a string or a list of chat messages)"
