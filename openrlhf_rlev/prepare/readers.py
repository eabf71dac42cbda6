"""Input files -> items and rejects, one reader per schema: GAOKAO-Bench JSON, the RLEV release, generic rows.

The RLEV release schema is the generic reader with fixed keys (query, label, score, total). Rows are numbered
from 1 within each file (a JSONL line, a JSON list element, a CSV data row, a Parquet row), which is what the
rejects file reports.
"""

import csv
import json
import os
from dataclasses import dataclass
from typing import Iterator

from tqdm import tqdm

from openrlhf_rlev.prepare import gaokao
from openrlhf_rlev.prepare import records as R
from openrlhf_rlev.prepare.records import Item, PrepareError, Reject, valid_text
from openrlhf_rlev.prepare.values import NumberError, parse_points, parse_total
from openrlhf_rlev.verifiers import default_kind

EXTENSIONS = (".jsonl", ".json", ".csv", ".parquet")
FORMATS = ("auto", "gaokao", "rlev", "generic")
LARGE_INPUT_BYTES = 8 << 20  # show a progress bar above this


@dataclass(frozen=True)
class Keys:
    input: str
    answer: str
    value: str | None = None
    total: str | None = None
    group: str | None = None
    difficulty: str | None = None


RLEV_KEYS = Keys(input="query", answer="label", value="score", total="total")


@dataclass(frozen=True)
class ReadOptions:
    fmt: str = "auto"
    keys: Keys | None = None  # the generic reader's columns (None: auto-detect GAOKAO or RLEV)
    fixed_total: float | None = None  # --total
    datasource: str | None = None  # --datasource: one name for every non-GAOKAO row
    verifier: str = "auto"
    subjects: tuple[str, ...] | None = None  # GAOKAO subjects to keep
    difficulty_key: str | None = None  # with the RLEV reader too
    paper_total: str = "printed"  # GAOKAO-Bench: each paper's printed total, or "bench": its points in the bench
    progress: bool = True


@dataclass
class ReadResult:
    items: list
    rejects: list
    read: int = 0  # rows seen, good or bad
    files: list = None
    files_skipped: list = None  # GAOKAO files of subjects not asked for


def same_file(a: str, b: str) -> bool:
    """The same file, also through symlinks and hard links (b need not exist)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def expand_inputs(paths: list[str], outputs: tuple[str, ...] = ()) -> list[str]:
    """Files named, plus the data files under directories named (sorted), leaving out this run's own `outputs`
    found in a directory; an output named as an input is an error (prepare never writes over its input)."""
    files = []
    for p in paths:
        if os.path.isdir(p):
            found = sorted(
                os.path.join(root, name)
                for root, _, names in os.walk(p)
                for name in names
                if name.lower().endswith(EXTENSIONS)
            )
            found = [f for f in found if not _own_output(f, outputs)]
            if not found:
                raise PrepareError(f"input directory {p!r} has no {'/'.join(EXTENSIONS)} files")
            files += found
        elif os.path.isfile(p):
            if not p.lower().endswith(EXTENSIONS):
                raise PrepareError(f"input {p!r}: unknown file type; expected one of {', '.join(EXTENSIONS)}")
            clash = next((o for o in outputs if same_file(p, o)), None)
            if clash is not None:
                raise PrepareError(
                    f"input {p!r} would be overwritten by the output {clash!r}: write the output elsewhere"
                )
            files.append(p)
        else:
            raise PrepareError(f"input {p!r} does not exist")
    return files


def _own_output(path: str, outputs: tuple[str, ...]) -> bool:
    """A file found in an input directory that is this run's output at that very path (a previous run's result):
    skipped. The same file reached another way (the output is a link to it) is an input the run would destroy."""
    for o in outputs:
        if same_file(path, o):
            if os.path.abspath(path) == os.path.abspath(o):
                return True
            raise PrepareError(f"input {path!r} would be overwritten by the output {o!r}: write the output elsewhere")
    return False


def file_names(files: list[str]) -> dict[str, str]:
    """The name each file goes by in ids: its base name, or, where inputs share one, the shortest tail of its
    path that tells it from the others with that base name ('a/data.jsonl', 'b/data.jsonl')."""
    parts = {f: os.path.normpath(os.path.abspath(f)).split(os.sep) for f in dict.fromkeys(files)}
    by_base: dict[str, list[str]] = {}
    for f, p in parts.items():
        by_base.setdefault(p[-1], []).append(f)
    names = {}
    for group in by_base.values():
        depth = 1
        while len({tuple(parts[f][-depth:]) for f in group}) < len(group):
            depth += 1
        names.update({f: "/".join(parts[f][-depth:]) for f in group})
    return names


def read_inputs(paths: list[str], opts: ReadOptions, outputs: tuple[str, ...] = ()) -> ReadResult:
    """Every item and reject of the inputs, in memory (for the steps that need them all: --sample, --eval, ...)."""
    result = ReadResult(items=[], rejects=[], files=[], files_skipped=[])
    for out in iter_inputs(paths, opts, outputs, result):
        (result.rejects if isinstance(out, Reject) else result.items).append(out)
    return result


def iter_inputs(paths: list[str], opts: ReadOptions, outputs: tuple[str, ...], result: ReadResult) -> Iterator:
    """Items and rejects one at a time, in file order; `result` gets the counts and file lists (not the rows)."""
    files = expand_inputs(paths, outputs)
    names = file_names(files)
    subjects = {s.casefold() for s in opts.subjects} if opts.subjects else None
    size = sum(os.path.getsize(f) for f in files)
    with tqdm(
        total=size,
        unit="B",
        unit_scale=True,
        desc="prepare: reading",
        disable=not opts.progress or size < LARGE_INPUT_BYTES,
    ) as bar:
        for path in files:
            obj = _load_json(path) if path.lower().endswith(".json") else None
            if subjects is not None and gaokao.is_gaokao(obj):
                if gaokao.subject(gaokao.keyword(path, obj)).casefold() not in subjects:
                    result.files_skipped.append(path)
                    bar.update(os.path.getsize(path))
                    continue
            result.files.append(path)
            try:
                name = names[path] if names[path] != os.path.basename(path) else None
                for out in _read_file(path, obj, opts, bar):
                    result.read += 1
                    if name is not None and isinstance(out, Item):
                        out.name = name
                    yield out
            except OSError as e:
                raise PrepareError(f"{path}: cannot read: {e}") from None
            del obj
    if subjects is not None and not result.files:
        raise PrepareError(
            f"--subjects {','.join(opts.subjects)}: no input file matches; known: {', '.join(gaokao.SUBJECTS)}"
        )


def _read_file(path: str, obj, opts: ReadOptions, bar) -> Iterator[Item | Reject]:
    if path.lower().endswith(".json"):
        bar.update(os.path.getsize(path))
        if gaokao.is_gaokao(obj):
            if opts.fmt not in ("auto", "gaokao"):
                raise PrepareError(f"{path}: a GAOKAO-Bench file, but --format {opts.fmt} was given")
            if opts.difficulty_key:
                raise PrepareError(f"{path}: GAOKAO-Bench values are exam points; --difficulty-key does not apply")
            yield from gaokao.read_file(path, obj, opts.fixed_total, opts.paper_total)
            return
        if opts.fmt == "gaokao":
            raise PrepareError(f"{path}: not a GAOKAO-Bench file (expected an object with an 'example' list)")
        rows = enumerate(obj if isinstance(obj, list) else [obj], start=1)  # a single object is one row
    else:
        if opts.fmt == "gaokao":
            raise PrepareError(f"{path}: GAOKAO-Bench files are .json")
        rows = _iter_rows(path, bar)
    for n, row in rows:
        yield row if isinstance(row, Reject) else item_from_row(path, n, row, _keys_for(row, opts), opts)


BOMS = (  # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
READABLE = ("utf-8", "utf-8-sig", "utf-16")


def text_encoding(path: str) -> str:
    """The file's encoding from its byte-order mark (Excel saves "CSV UTF-8" with one, "Unicode text" as UTF-16);
    UTF-8 without one. PrepareError, naming the encoding, for what prepare cannot read: UTF-32, or UTF-16
    without a mark (NUL bytes in every other position)."""
    with open(path, "rb") as f:
        head = f.read(4096)
    encoding = next((enc for bom, enc in BOMS if head.startswith(bom)), "utf-8")
    if encoding == "utf-8" and len(head) >= 4 and head.count(b"\x00") >= len(head) // 4:
        encoding = "UTF-16 without a byte-order mark"
    if encoding not in READABLE:
        shown = encoding.upper() if encoding == "utf-32" else encoding
        raise PrepareError(f"{path}: the file is {shown}; save it as UTF-8 (or UTF-16 with a byte-order mark)")
    return encoding


def _load_json(path: str):
    try:
        with open(path, encoding=text_encoding(path)) as f:
            return json.load(f)
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        raise PrepareError(f"{path}: not valid JSON: {e}") from None
    except OSError as e:
        raise PrepareError(f"{path}: cannot read: {e}") from None


def _iter_rows(path: str, bar) -> Iterator[tuple[int, dict | Reject]]:
    low = path.lower()
    if low.endswith(".jsonl"):
        yield from _jsonl_rows(path, bar)
    elif low.endswith(".csv"):
        yield from _csv_rows(path)
        bar.update(os.path.getsize(path))
    else:
        yield from _parquet_rows(path)
        bar.update(os.path.getsize(path))


def _jsonl_rows(path: str, bar):
    encoding = text_encoding(path)
    if encoding == "utf-16":
        yield from _jsonl_utf16_rows(path, bar)
        return
    with open(path, "rb") as f:
        for n, line in enumerate(f, start=1):
            bar.update(len(line))
            if n == 1 and encoding == "utf-8-sig":
                line = line[3:]
            if not line.strip():
                continue  # blank lines are not rows
            try:
                yield n, json.loads(line)
            except (ValueError, RecursionError) as e:  # bad UTF-8 is a ValueError too
                yield n, Reject(path, n, R.BAD_JSON, str(e), raw=line.decode("utf-8", "replace").rstrip("\r\n"))


def _jsonl_utf16_rows(path: str, bar):
    with open(path, encoding="utf-16", newline="") as f:
        try:
            for n, line in enumerate(f, start=1):
                bar.update(2 * len(line))
                if not line.strip():
                    continue
                try:
                    yield n, json.loads(line)
                except (ValueError, RecursionError) as e:
                    yield n, Reject(path, n, R.BAD_JSON, str(e), raw=line.rstrip("\r\n"))
        except UnicodeDecodeError as e:
            raise PrepareError(f"{path}: not valid UTF-16 (it starts with a UTF-16 byte-order mark): {e}") from None


def _csv_rows(path: str):
    """Data rows numbered from 1 after the header. A row with more or fewer fields than the header, one the
    parser cannot read, or one with bytes that are not UTF-8 is rejected on its own; the rest are read.
    UTF-8 with a byte-order mark and UTF-16 (with one) are read too (text_encoding)."""
    encoding = text_encoding(path)
    errors = "strict" if encoding == "utf-16" else "surrogateescape"
    try:
        yield from _csv_decoded_rows(path, encoding, errors)
    except UnicodeDecodeError as e:
        raise PrepareError(f"{path}: not valid {encoding.upper()}: {e}") from None


def _csv_decoded_rows(path: str, encoding: str, errors: str):
    with open(path, encoding=encoding, errors=errors, newline="") as f:
        reader = csv.reader(f)
        header = None
        n = 0
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                if header is None:
                    raise PrepareError(f"{path}: cannot read the CSV header: {e}") from None
                n += 1
                yield n, Reject(path, n, R.BAD_ROW, f"CSV line {reader.line_num}: {e}")
                continue
            if header is None:
                header = fields
                continue
            if not fields:
                continue  # a blank line is not a row
            n += 1
            row = dict(zip(header, fields))
            if len(fields) != len(header):
                why = f"{len(fields)} fields, the header has {len(header)}"
                yield n, Reject(path, n, R.BAD_ROW, f"CSV line {reader.line_num}: {why}", raw=_readable(fields))
            elif not valid_text(fields):
                yield n, Reject(path, n, R.BAD_TEXT, "bytes that are not UTF-8", raw=_readable(row))
            else:
                yield n, row


def _readable(x):
    """The row as a JSON file can hold it: unchanged, or, if it has text that is not valid Unicode, as its JSON
    text with \\u escapes."""
    return x if valid_text(x) else json.dumps(x, default=str)


def _parquet_rows(path: str):
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises its own error types for a damaged file
        raise PrepareError(f"{path}: not a readable Parquet file: {e}") from None
    n = 0
    for batch in pf.iter_batches(batch_size=4096):
        for row in batch.to_pylist():
            n += 1
            yield n, row


def _keys_for(row, opts: ReadOptions) -> Keys | None:
    """This row's columns: the generic keys if given, else the RLEV release's; None if the row fits neither."""
    if opts.keys is not None and opts.fmt in ("auto", "generic"):
        return opts.keys
    if opts.fmt == "rlev" or (isinstance(row, dict) and "query" in row):
        return Keys(
            input=RLEV_KEYS.input,
            answer=RLEV_KEYS.answer,
            value=None if opts.difficulty_key else RLEV_KEYS.value,
            total=None if opts.difficulty_key or opts.fixed_total else RLEV_KEYS.total,
            difficulty=opts.difficulty_key,
        )
    return None


UNKNOWN_SCHEMA_HINT = (
    "expected the RLEV release (query, label, score, total) or GAOKAO-Bench JSON; for other data give "
    "--input-key, --answer-key and --value-key (or --difficulty-key)"
)


def item_from_row(path: str, n: int, row, keys: Keys | None, opts: ReadOptions) -> Item | Reject:
    if not isinstance(row, dict):
        return Reject(path, n, R.NOT_AN_OBJECT, f"row is a {type(row).__name__}", raw=row)
    if keys is None:
        cols = ", ".join(sorted(map(str, row)))[:300]
        return Reject(
            path, n, R.UNKNOWN_SCHEMA, f"cannot tell the schema (columns: {cols}): {UNKNOWN_SCHEMA_HINT}", row
        )
    try:
        if not valid_text(row):
            raise _RowError(R.BAD_TEXT, "text that is not valid Unicode (a lone surrogate)")
        question = _question(row.get(keys.input), keys.input)
        answers = _answers(row.get(keys.answer), keys.answer)
        item = Item(
            source=path,
            row=n,
            question=question,
            answers=answers,
            datasource=_datasource(path, row, opts),
            verifier=opts.verifier if opts.verifier != "auto" else default_kind(tuple(answers)),
            raw=row,
        )
        if keys.difficulty:
            item.difficulty = _difficulty(row.get(keys.difficulty), keys.difficulty)
            return item
        item.points = parse_points(row.get(keys.value), f"value {keys.value!r}")
        if keys.total:
            item.total = parse_total(row.get(keys.total), f"total {keys.total!r}")
        elif opts.fixed_total is not None:
            item.total = opts.fixed_total
        elif keys.group:
            item.group = _group(row.get(keys.group), keys.group)
        return item
    except (NumberError, _RowError) as e:
        points, group = _known_points(row, keys) if keys.group else (None, None)
        return Reject(path, n, e.reason, str(e), _readable(row), points, group)


def _known_points(row: dict, keys: Keys) -> tuple[float | None, tuple | None]:
    """A rejected row's points and group, where readable: they still belong to the group's total."""
    try:
        group = _group(row.get(keys.group), keys.group)
    except _RowError:
        return None, None
    try:
        return parse_points(row.get(keys.value)), group
    except NumberError:
        return None, group


class _RowError(ValueError):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def _question(raw, key: str):
    if isinstance(raw, str) and raw.lstrip().startswith("[{"):
        try:
            raw = json.loads(raw)  # chat messages in a CSV cell
        except ValueError:
            pass
    if isinstance(raw, str):
        if not raw.strip():
            raise _RowError(R.MISSING_QUESTION, f"{key!r} is empty")
        return raw
    if raw is None:
        raise _RowError(R.MISSING_QUESTION, f"no {key!r}")
    if isinstance(raw, list) and raw:
        msgs = []
        for m in raw:
            if not (isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)):
                raise _RowError(
                    R.BAD_QUESTION, f"{key!r} messages must be {{'role': str, 'content': str}}, got {m!r:.120}"
                )
            msgs.append({"role": m["role"], "content": m["content"]})
        if not any(m["role"] == "user" and m["content"].strip() for m in msgs):
            raise _RowError(R.MISSING_QUESTION, f"{key!r} has no non-empty user message")
        return msgs
    raise _RowError(R.BAD_QUESTION, f"{key!r} must be a string or chat messages, got {type(raw).__name__}")


def _answers(raw, key: str) -> list[str]:
    if isinstance(raw, dict) and "answer" in raw:
        raw = raw["answer"]  # an RLEV-style label object
    if raw is None:
        raise _RowError(R.MISSING_ANSWER, f"no {key!r}")
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for a in items:
        if isinstance(a, bool) or not isinstance(a, (str, int, float)):
            raise _RowError(R.BAD_ANSWER, f"{key!r} entries must be strings or numbers, got {a!r:.80}")
        out.append(str(a).strip())
    if not out or not all(out):
        raise _RowError(R.MISSING_ANSWER, f"{key!r} is empty")
    return out


def _difficulty(raw, key: str) -> str:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise _RowError(R.MISSING_VALUE, f"no difficulty {key!r}")
    return str(raw)


def _group(raw, key: str) -> tuple:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise _RowError(R.MISSING_GROUP, f"no group {key!r}")
    return (raw if isinstance(raw, (str, int, float)) else json.dumps(raw, sort_keys=True),)


def _datasource(path: str, row: dict, opts: ReadOptions) -> str:
    if opts.datasource:
        return opts.datasource
    for key in ("datasource", "data_source"):
        if isinstance(row.get(key), str) and row[key].strip():
            return row[key].strip()
    return os.path.splitext(os.path.basename(path))[0]
