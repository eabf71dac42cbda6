"""`prepare` against inputs as people have them: spreadsheets saved with a byte-order mark or as UTF-16, two
inputs with the same file name, Ctrl-C part-way, and a large input (peak memory). Real files, real subprocesses
for the interruption (a real SIGINT); nothing is stubbed.
"""

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from openrlhf_rlev.prepare import PrepareError, PrepareOptions, prepare

HEADER = ["query", "label", "score", "total"]
ROWS = [["What is 1+1?", "2", "3", "100"], ["Naïve café: 2+2?", "4", "5", "100"]]


def run(tmp_path, inputs, **kw):
    out = str(tmp_path / "out.jsonl")
    summary = prepare(PrepareOptions(inputs=[str(p) for p in inputs], output=out, progress=False, **kw))
    with open(out, encoding="utf-8") as f:
        return [json.loads(line) for line in f], summary


def csv_text(rows=ROWS) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerows([HEADER, *rows])
    return buf.getvalue()


# --- encodings ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le-bom", "utf-16-be-bom"])
def test_csv_with_a_byte_order_mark_is_read(tmp_path, encoding):
    """Excel's "CSV UTF-8" starts with a BOM, its "Unicode text" is UTF-16: every row is read, text intact."""
    path = tmp_path / "sheet.csv"
    text = csv_text()
    if encoding == "utf-16-le-bom":
        data = b"\xff\xfe" + text.encode("utf-16-le")
    elif encoding == "utf-16-be-bom":
        data = b"\xfe\xff" + text.encode("utf-16-be")
    else:
        data = text.encode(encoding)
    path.write_bytes(data)
    rows, summary = run(tmp_path, [path])
    assert summary["counts"]["rejected"] == 0 and summary["counts"]["written"] == 2
    assert "Naïve café" in rows[1]["prompt"][0]["content"]
    assert [r["label"]["value"] for r in rows] == [0.03, 0.05]


def test_jsonl_and_json_with_a_utf8_byte_order_mark_are_read(tmp_path):
    row = {"query": "What is 1+1?", "label": "2", "score": 1, "total": 10}
    (tmp_path / "a.jsonl").write_bytes(b"\xef\xbb\xbf" + (json.dumps(row) + "\n").encode() * 2)
    (tmp_path / "b.json").write_bytes(b"\xef\xbb\xbf" + json.dumps([row]).encode())
    rows, summary = run(tmp_path, [tmp_path / "a.jsonl", tmp_path / "b.json"])
    assert summary["counts"] == {**summary["counts"], "read": 3, "written": 3, "rejected": 0}


@pytest.mark.parametrize(
    "data, named",
    [
        (csv_text().encode("utf-16-le"), "UTF-16 without a byte-order mark"),
        (csv_text().encode("utf-32"), "UTF-32"),
    ],
)
def test_unreadable_encodings_are_refused_naming_the_encoding(tmp_path, data, named):
    path = tmp_path / "sheet.csv"
    path.write_bytes(data)
    with pytest.raises(PrepareError, match=named) as e:
        run(tmp_path, [path])
    assert "save it as UTF-8" in str(e.value)


# --- ids -----------------------------------------------------------------------------------------------------------


def test_inputs_with_the_same_file_name_get_distinct_ids(tmp_path):
    for d in ("math", "physics"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "train.csv").write_text(csv_text(), encoding="utf-8")
    rows, _ = run(tmp_path, [tmp_path / "math" / "train.csv", tmp_path / "physics" / "train.csv"])
    ids = [r["id"] for r in rows]
    assert len(set(ids)) == 4
    assert ids == ["math/train.csv:1", "math/train.csv:2", "physics/train.csv:1", "physics/train.csv:2"]
    # a lone file keeps its plain name (ids of existing datasets do not change)
    rows, _ = run(tmp_path, [tmp_path / "math" / "train.csv"])
    assert [r["id"] for r in rows] == ["train.csv:1", "train.csv:2"]


# --- Ctrl-C ------------------------------------------------------------------------------------------------------


def big_input(path, n: int, text_chars: int = 200) -> str:
    pad = "x" * text_chars
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps({"query": f"Q{i} {pad}", "label": str(i), "score": 1 + i % 7, "total": 100}) + "\n")
    return str(path)


def prepare_command(*args) -> list[str]:
    return [sys.executable, "-m", "openrlhf_rlev.cli.main", "prepare", *args]


@pytest.mark.slow
@pytest.mark.parametrize("when", ["reading", "writing"])
def test_ctrl_c_leaves_no_temporary_file_no_traceback_and_the_old_set(tmp_path, when):
    src = big_input(tmp_path / "in.jsonl", 150_000)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "data.jsonl"
    out.write_text("previous run\n")
    proc = subprocess.Popen(
        prepare_command(src, "-o", str(out), "--quiet"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if when == "writing" and any(".tmp-" in p.name for p in out_dir.iterdir()):
            break
        if when == "reading" and time.monotonic() > deadline - 118:  # 2 s in: still reading 150k rows
            break
        time.sleep(0.005)
    if proc.poll() is not None:
        pytest.skip("prepare finished before it could be interrupted")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "interrupted; nothing written" in err
    assert sorted(p.name for p in out_dir.iterdir()) == ["data.jsonl"], "a temporary file was left behind"
    assert out.read_text() == "previous run\n"


# --- memory ------------------------------------------------------------------------------------------------------

PEAK_RSS = (
    "import resource, sys\n"
    "from openrlhf_rlev.cli.prepare import main\n"
    "code = main(sys.argv[1:])\n"
    "print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def peak_rss_mb(*args) -> float:
    proc = subprocess.run([sys.executable, "-c", PEAK_RSS, *args], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return int(proc.stderr.rsplit("PEAK_RSS_KB", 1)[1].split()[0]) / 1024


@pytest.mark.slow
@pytest.mark.parametrize("output", ["out.jsonl", "out.parquet"])
def test_peak_memory_does_not_grow_with_the_input(tmp_path, output):
    """20k and 80k rows (~21 and ~85 MB): the larger input costs no more memory than the smaller. The old
    in-memory pipeline held ~4.5x its input (200 MB -> 893 MB); here the difference would be ~290 MB."""
    small = big_input(tmp_path / "small.jsonl", 20_000, text_chars=1000)
    large = big_input(tmp_path / "large.jsonl", 80_000, text_chars=1000)
    out = str(tmp_path / output)
    rss_small = peak_rss_mb(small, "-o", out, "--quiet")
    rss_large = peak_rss_mb(large, "-o", out, "--quiet")
    assert rss_large - rss_small < 40, f"peak RSS {rss_small:.0f} MB -> {rss_large:.0f} MB for 4x the input"
