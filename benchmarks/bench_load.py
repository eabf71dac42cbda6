"""The reward under load: OpenRLHF's calling pattern, and the HTTP reward server under concurrent loopback clients.

    python benchmarks/bench_load.py [--n 256] [--threads 128] [--clients 32] [--hang-every 16] [--timeout 5]
                                    [--workers 2] [--out benchmarks/out] [--quick]

Samples: `--n` distinct correct answers (half need math-verify in a worker, half settle on the fast path), and for
the storm arms one hanging sample (sympy never finishes it; wrong by construction) inserted every `--hang-every`.
Arms, all in this one run:
  baseline        math-verify parse + verify called directly on the correct samples, main thread (the reference
                  throughput every ratio is against)
  reward_func     OpenRLHF's pattern: `reward_func([query], [prompt], [label])` once per sample from a
                  `--threads` ThreadPoolExecutor, as its engines call it through asyncio.to_thread
  server          `openrlhf-rlev serve` on 127.0.0.1, `--clients` client threads each posting one sample per request
                  over a kept-alive connection (loopback only; every request loop is bounded by --n)
each with and without the storm. Per arm: the share of correct answers rewarded (must be 100%: a correct answer
lost to load is a wrong training signal), why any was not, p50/p99/max latency per call (queueing included),
throughput, and throughput as a multiple of the baseline. Exits 1 if any correct answer scored 0.
Results: printed as a Markdown table and written to <out>/load.json.
"""

import argparse
import concurrent.futures
import http.client
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter

from openrlhf_rlev.reward.logs import FAIL_KEYS

PROMPT = "<|im_start|>user\nSolve the problem and give the final answer.<|im_end|>\n<|im_start|>assistant\n"
HANG = "Let me compute.\n\\boxed{5^{5^{5^{5^5}}}+x}"


def samples(n: int, hang_every: int) -> list[dict]:
    """Correct by construction: `\\binom{m}{1} x` for `mx` (math-verify in a worker: an expression gold; a numeric gold
    refuses an unevaluated expression before any worker call) and fractions as decimals (fast path)."""
    out = []
    for i in range(n):
        if i % 2:
            response, gold = f"So the answer is \\boxed{{\\binom{{{i + 1}}}{{1}} x}}", f"{i + 1}x"
        else:
            response, gold = f"Hence the answer is \\boxed{{\\frac{{{2 * i + 1}}}{{4}}}}", str((2 * i + 1) / 4)
        out.append({"response": response, "gold": gold, "correct": True})
    if hang_every:
        for j in range(len(out) // hang_every):
            out.insert(j * (hang_every + 1) + hang_every // 2, {"response": HANG, "gold": "x+1", "correct": False})
    return out


def label(sample: dict) -> dict:
    return {"answer": sample["gold"], "value": 0.05}


def reason_of(logs: dict) -> str:
    return next((reason for reason, key in FAIL_KEYS.items() if logs.get(key) == 1.0), "wrong")


def run_baseline(items: list[dict]) -> dict:
    from math_verify import parse, verify

    lat, outs = [], []
    t0 = time.perf_counter()
    for s in items:
        start = time.perf_counter()
        ok = bool(verify(parse(f"${s['gold']}$"), parse(s["response"])))
        lat.append(time.perf_counter() - start)
        outs.append({"rewards": 1.0 if ok else 0.0, "extra_logs": {}})
    return summarise("math-verify direct, main thread (baseline)", items, lat, outs, time.perf_counter() - t0)


def run_reward_func(items: list[dict], threads: int, name: str) -> dict:
    from openrlhf_rlev.integrations.openrlhf.reward_func import reward_func

    def one(s):
        start = time.perf_counter()
        out = reward_func([PROMPT + s["response"]], [PROMPT], [label(s)])
        return time.perf_counter() - start, out

    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        results = list(ex.map(one, items))
    wall = time.perf_counter() - t0
    return summarise(name, items, [r[0] for r in results], [r[1] for r in results], wall)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(timeout: float, workers: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    cmd = [sys.executable, "-m", "openrlhf_rlev.cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--rlev.timeout", str(timeout), "--rlev.verify_workers", str(workers), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = time.monotonic() + 120
    while time.monotonic() < end:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                time.sleep(5)  # let its verifier workers finish starting, as a long-running server's have
                return proc, port
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("the reward server did not come up within 120 s")


def run_server(items: list[dict], clients: int, port: int, name: str) -> dict:
    local = __import__("threading").local()

    def one(s):
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        body = json.dumps({"query": [PROMPT + s["response"]], "prompts": [PROMPT], "labels": [label(s)]})
        start = time.perf_counter()
        local.conn.request("POST", "/get_reward", body=body, headers={"Content-Type": "application/json"})
        reply = local.conn.getresponse()
        data = reply.read()
        elapsed = time.perf_counter() - start
        if reply.status != 200:
            return elapsed, {"rewards": 0.0, "extra_logs": {"http": reply.status}}
        out = json.loads(data)
        one_sample = {k: (v[0] if isinstance(v, list) else v) for k, v in out.items() if k != "extra_logs"}
        one_sample["extra_logs"] = {k: (v[0] if isinstance(v, list) else v) for k, v in out["extra_logs"].items()}
        return elapsed, one_sample

    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as ex:
        results = list(ex.map(one, items))
    wall = time.perf_counter() - t0
    return summarise(name, items, [r[0] for r in results], [r[1] for r in results], wall)


def summarise(name: str, items: list[dict], lat: list[float], outs: list, wall: float) -> dict:
    correct = [i for i, s in enumerate(items) if s["correct"]]
    lost = Counter()
    for i in correct:
        out = outs[i]
        if out is not None and not out["rewards"] > 0:
            lost[reason_of(out["extra_logs"])] += 1
    hangs = Counter(reason_of(outs[i]["extra_logs"]) for i, s in enumerate(items) if not s["correct"] and outs[i])
    ordered = sorted(lat)
    return {
        "arm": name,
        "samples": len(items),
        "correct_samples": len(correct),
        "hanging_samples": len(items) - len(correct),
        "correct_rewarded": len(correct) - sum(lost.values()),
        "correct_lost": dict(lost),
        "hang_reasons": dict(hangs),
        "p50_ms": 1000 * statistics.median(ordered),
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
        "max_ms": 1000 * ordered[-1],
        "wall_s": wall,
        "per_s": len(items) / wall,
    }


def table(rows: list[dict], base: float) -> str:
    lines = [
        "| arm | samples (hanging) | correct rewarded | lost (why) | p50 ms | p99 ms | max ms | samples/s | x baseline |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lost = ", ".join(f"{k} {v}" for k, v in r["correct_lost"].items()) or "0"
        lines.append(
            f"| {r['arm']} | {r['samples']} ({r['hanging_samples']}) | {r['correct_rewarded']}/{r['correct_samples']} "
            f"| {lost} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['max_ms']:.1f} | {r['per_s']:.1f} "
            f"| {r['per_s'] / base:.2f} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=256, help="correct samples per arm")
    ap.add_argument("--threads", type=int, default=128, help="reward_func threads (OpenRLHF's engine thread pool)")
    ap.add_argument("--clients", type=int, default=32, help="concurrent HTTP clients")
    ap.add_argument("--hang-every", type=int, default=16, help="storm arms: one hanging sample per this many")
    ap.add_argument("--timeout", type=float, default=5.0, help="RLEV_TIMEOUT (per verifier call)")
    ap.add_argument("--workers", type=int, default=2, help="RLEV_VERIFY_WORKERS")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "out"))
    ap.add_argument("--quick", action="store_true", help="--n 64 --threads 32 --clients 8: a smoke run")
    args = ap.parse_args(argv)
    if args.quick:
        args.n, args.threads, args.clients = 64, 32, 8
    os.environ["RLEV_TIMEOUT"] = str(args.timeout)
    os.environ["RLEV_VERIFY_WORKERS"] = str(args.workers)

    from openrlhf_rlev.verifiers import pool

    calm, storm = samples(args.n, 0), samples(args.n, args.hang_every)
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    load = os.getloadavg()[0]  # a shared machine: absolute rates move with its load, ratios less so
    print(
        f"{started}; {platform.machine()}, nproc {os.cpu_count()}, load {load:.1f}; {len(storm) - len(calm)} hanging"
    )
    rows = [run_baseline(calm)]
    assert pool.get_pool(args.workers).wait_ready(120)  # an engine prestarts its workers when it loads the file
    rows.append(run_reward_func(calm, args.threads, f"reward_func, {args.threads} threads"))
    rows.append(run_reward_func(storm, args.threads, f"reward_func, {args.threads} threads, storm"))
    pool.shutdown()
    proc, port = start_server(args.timeout, args.workers)
    try:
        rows.append(run_server(calm, args.clients, port, f"server, {args.clients} clients"))
        rows.append(run_server(storm, args.clients, port, f"server, {args.clients} clients, storm"))
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    base = rows[0]["per_s"]
    print(table(rows, base))
    os.makedirs(args.out, exist_ok=True)
    settings = {k: getattr(args, k) for k in ("n", "threads", "clients", "hang_every", "timeout", "workers")}
    with open(os.path.join(args.out, "load.json"), "w") as f:
        loads = {"start": load, "end": os.getloadavg()[0]}
        json.dump({"started": started, "load_average": loads, "settings": settings, "arms": rows}, f, indent=1)
    lost = sum(sum(r["correct_lost"].values()) for r in rows[1:])
    print(f"correct answers scored 0: {lost}")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
