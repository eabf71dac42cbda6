"""Write the dataset (.jsonl or .parquet, by extension), its rejects and its summary as one set: all or none.

Every row has the same columns and the same label keys, so Arrow reads `label` as a struct and OpenRLHF's
PromptDataset (and TRL's GRPOTrainer) hands the reward a dict. `--output-format verl` writes the same rows in
verl's RL dataset schema instead (`verl_row`).
"""

import contextlib
import json
import os
import signal
import threading

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
    """The three files from lists in memory (SetWriter does the work)."""
    with SetWriter(output, with_scale, fmt) as w:
        for row in rows:
            w.row(row)
        for r in rejects:
            w.reject(r)
        w.commit(summary)


class SetWriter:
    """The dataset, its rejects and its summary, written as one set: rows and rejects as they come (memory stays
    flat whatever the input's size), each file to a temporary that is renamed into place only by `commit`, after
    all three are complete. Leaving the block without commit (an error, NothingWritten, Ctrl-C) removes the
    temporaries and leaves the previous run's set as it was; an OSError or pyarrow error becomes PrepareError."""

    BATCH = 2048  # Parquet rows per row group write

    def __init__(self, output: str, with_scale: bool, fmt: str = "openrlhf"):
        self.output, self.fmt = output, fmt
        self.parquet = output.lower().endswith(".parquet")
        self.schema = None if fmt == "verl" else _schema(with_scale)  # verl: inferred from the first rows
        self.targets = [output, rejects_path(output), summary_path(output)]
        self.tmps = [f"{path}.tmp-{os.getpid()}" for path in self.targets]
        self.n = 0
        self._batch: list[dict] = []
        self._rows = self._rejects = self._parquet = None
        self._path = output

    def __enter__(self) -> "SetWriter":
        try:
            os.makedirs(os.path.dirname(os.path.abspath(self.output)), exist_ok=True)
            if not self.parquet:
                self._rows = open(self.tmps[0], "w", encoding="utf-8")
            self._path = self.targets[1]
            self._rejects = open(self.tmps[1], "w", encoding="utf-8")
        except BaseException as e:
            self.__exit__(type(e), e, None)
            raise
        return self

    def row(self, row: dict) -> None:
        self._path = self.output
        if self.fmt == "verl":
            row = verl_row(row, self.n)
        self.n += 1
        if self.parquet:
            self._batch.append(row)
            if len(self._batch) >= self.BATCH:
                self._flush()
        else:
            _write_line(self._rows, row)

    def reject(self, reject: Reject) -> None:
        self._path = self.targets[1]
        _write_line(self._rejects, reject.to_json())

    def _flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist(self._batch, schema=self.schema)
        self._batch = []
        if self._parquet is None:
            self.schema = table.schema
            self._parquet = pq.ParquetWriter(self.tmps[0], self.schema)
        self._parquet.write_table(table)

    def commit(self, summary: dict) -> None:
        self._path = self.output
        if self.parquet:
            if self._batch or self._parquet is None:
                self._flush()
            self._parquet.close()
        else:
            self._rows.close()
        self._rejects.close()
        self._path = self.targets[2]
        write_json(self.tmps[2], summary)
        with _deferred_interrupts():  # the three renames happen together or not at all
            for path, tmp in zip(self.targets, self.tmps):
                self._path = path
                os.replace(tmp, path)
        self.tmps = []

    def __exit__(self, kind, error, tb) -> bool:
        for f in (self._rows, self._rejects):
            if f is not None and not f.closed:
                f.close()
        if self._parquet is not None and self.tmps:
            try:
                self._parquet.close()
            except Exception:
                pass
        for tmp in self.tmps:
            if os.path.exists(tmp):
                os.remove(tmp)
        if error is not None and isinstance(error, Exception) and not isinstance(error, PrepareError):
            # OSError, or pyarrow's own errors for a value it cannot store
            raise PrepareError(f"cannot write {self._path!r}: {error}; nothing was written") from None
        return False  # PrepareError (NothingWritten), KeyboardInterrupt, SystemExit: as they are


@contextlib.contextmanager
def _deferred_interrupts():
    """Ctrl-C (SIGINT) and SIGTERM held until the block ends, where the main thread can hold them (POSIX)."""
    held = {signal.SIGINT, signal.SIGTERM}
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def write_json(path: str, obj: dict) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=2, default=str)
        f.write("\n")


def _write_line(f, obj: dict) -> None:
    line = json.dumps(obj, ensure_ascii=False, default=str)
    if not valid_text(line):  # a reject's text that is not valid Unicode: keep it as \u escapes
        line = json.dumps(obj, default=str)
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
