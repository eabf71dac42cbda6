"""Peak memory of `openrlhf-rlev prepare` against the size of its input (issue 16, point 5).

Writes RLEV-release JSONL inputs of the sizes asked for (rows of ~1 KB), runs `prepare` on each in a fresh
subprocess that reports its own peak RSS (getrusage), and prints the peak against the input size and against a
baseline measured in the same run: a process that only imports the prepare CLI. A streaming prepare shows the
same peak whatever the input's size.

    python benchmarks/bench_prepare_memory.py --mb 50 200 [--output out.jsonl|out.parquet] [--keep DIR]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

DRIVER = (
    "import resource, sys\n"
    "from openrlhf_rlev.cli.prepare import main\n"
    "code = main(sys.argv[1:]) if len(sys.argv) > 1 else 0\n"
    "print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def write_input(path: str, megabytes: int) -> int:
    pad = "x" * 900
    rows = 0
    with open(path, "w", encoding="utf-8") as f:
        while f.tell() < megabytes * 2**20:
            f.write(json.dumps({"query": f"Q{rows} {pad}", "label": str(rows), "score": 1 + rows % 7, "total": 100}))
            f.write("\n")
            rows += 1
    return rows


def peak_rss_mb(*args: str) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of one prepare run in a fresh process."""
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", DRIVER, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"prepare failed:\n{proc.stderr[-3000:]}")
    return int(proc.stderr.rsplit("PEAK_RSS_KB", 1)[1].split()[0]) / 1024, time.monotonic() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, nargs="+", default=[50, 200], help="input sizes in MB")
    parser.add_argument("--output", default="out.jsonl", help="output file name (.jsonl or .parquet)")
    parser.add_argument("--keep", help="directory for the inputs and outputs (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or tmp
        os.makedirs(work, exist_ok=True)
        base, _ = peak_rss_mb()
        print(f"baseline (python + the prepare CLI imported): {base:.0f} MB peak RSS")
        print("| input MB | rows | peak RSS MB | x baseline | x input | seconds |")
        print("|---|---|---|---|---|---|")
        for mb in args.mb:
            src = os.path.join(work, f"in-{mb}mb.jsonl")
            rows = write_input(src, mb)
            rss, secs = peak_rss_mb(src, "-o", os.path.join(work, args.output), "--quiet")
            print(f"| {mb} | {rows} | {rss:.0f} | {rss / base:.2f} | {rss / mb:.2f} | {secs:.1f} |", flush=True)


if __name__ == "__main__":
    main()
