"""Verification at RL speed: the plugin against math-verify and OpenRLHF's grade_answer, in one run.

    python benchmarks/bench_verify.py [--n 5000] [--seed 0] [--quick] [--threads 16] [--out DIR]

Every verifier sees the same corpus (benchmarks/corpus.py) and is timed the same way, per call with
time.perf_counter, one call at a time unless stated:
  math-verify   parse(gold) + parse(response) + verify(), defaults (signal timeouts on), main thread
  grade_answer  openrlhf.utils.grade_answer(extract_boxed_answer(response), gold), main thread
  plugin        openrlhf_rlev.reward.core.score(response, label), main thread
  plugin x16    openrlhf_rlev.integrations.openrlhf.reward_func.reward_func([query], [prompt], [label]) from a 16-thread
                ThreadPoolExecutor, the way OpenRLHF's asyncio.to_thread calls it; latency is the
                call's own wall time (GIL waits included), throughput is n / wall time of the batch.
Verdicts are compared with math-verify's (agreement) and with the truth the corpus was built with.
Disagreements are written to <out>/disagreements.jsonl with who was right.
"""

import argparse
import collections
import concurrent.futures
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import corpus as corpus_mod  # noqa: E402
from tqdm import tqdm  # noqa: E402

from openrlhf_rlev.reward.settings import Settings  # noqa: E402

PROMPT = "<|im_start|>user\nSolve the problem and give the final answer.<|im_end|>\n<|im_start|>assistant\n"


def mv_gold(pair) -> str:
    text = pair.gold_text
    return text if "$" in text else f"${text}$"


def run_math_verify(pairs):
    from math_verify import parse, verify

    verdicts, lat = [], []
    for p in tqdm(pairs, desc="math-verify", mininterval=2):
        t0 = time.perf_counter()
        try:
            ok = bool(verify(parse(mv_gold(p)), parse(p.response)))
        except Exception:
            ok = False
        lat.append(time.perf_counter() - t0)
        verdicts.append(ok)
    return verdicts, lat, sum(lat)


def run_grade_answer(pairs):
    from openrlhf.utils import extract_boxed_answer, grade_answer

    verdicts, lat = [], []
    for p in tqdm(pairs, desc="grade_answer", mininterval=2):
        t0 = time.perf_counter()
        try:
            ok = bool(grade_answer(extract_boxed_answer(p.response), p.gold_text))
        except Exception:
            ok = False
        lat.append(time.perf_counter() - t0)
        verdicts.append(ok)
    return verdicts, lat, sum(lat)


def run_plugin(pairs, settings):
    from openrlhf_rlev.reward.core import score

    verdicts, lat, reasons = [], [], collections.Counter()
    for p in tqdm(pairs, desc="plugin", mininterval=2):
        t0 = time.perf_counter()
        v = score(p.response, p.label, settings)
        lat.append(time.perf_counter() - t0)
        verdicts.append(v.correct)
        reasons[v.reason] += 1
    return verdicts, lat, sum(lat), reasons


def run_plugin_threads(pairs, threads):
    from openrlhf_rlev.integrations.openrlhf.reward_func import reward_func

    def one(p):
        t0 = time.perf_counter()
        out = reward_func([PROMPT + p.response + "<|im_end|>"], [PROMPT], [p.label])
        took = time.perf_counter() - t0
        timed_out = out["extra_logs"].get("rlev/fail_verifier_timeout", 0) > 0
        return out["scores"] > 0, took, timed_out

    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as ex:
        results = list(tqdm(ex.map(one, pairs), total=len(pairs), desc=f"plugin x{threads}", mininterval=2))
    wall = time.perf_counter() - t0
    return [r[0] for r in results], [r[1] for r in results], wall, sum(r[2] for r in results)


def pct(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def summarize(name, verdicts, lat, wall, pairs, reference):
    n = len(pairs)
    return {
        "name": name,
        "rewards_per_s": n / wall,
        "p50_ms": 1000 * statistics.median(lat),
        "p99_ms": 1000 * pct(lat, 0.99),
        "max_ms": 1000 * max(lat),
        "accuracy_vs_truth": sum(v == p.expected for v, p in zip(verdicts, pairs)) / n,
        "agreement_with_math_verify": sum(v == r for v, r in zip(verdicts, reference)) / n,
        # the same, counted only where math-verify's verdict is right by construction
        "agreement_where_math_verify_right": _agree_where_right(verdicts, reference, pairs),
    }


def _agree_where_right(verdicts, reference, pairs) -> float:
    right = [(v, r) for v, r, p in zip(verdicts, reference, pairs) if r == p.expected]
    return sum(v == r for v, r in right) / max(1, len(right))


def machine_info() -> dict:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "machine": os.uname().machine,
        "cpu": model,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def print_table(rows, base):
    print(
        f"\n{'verifier':<14}{'rewards/s':>11}{'x mv':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>10}{'truth':>8}{'agree mv':>10}"
        f"{'agree mv|mv right':>19}"
    )
    for r in rows:
        print(
            f"{r['name']:<14}{r['rewards_per_s']:>11.1f}{r['rewards_per_s'] / base['rewards_per_s']:>8.1f}"
            f"{r['p50_ms']:>9.2f}{r['p99_ms']:>9.1f}{r['max_ms']:>10.1f}{100 * r['accuracy_vs_truth']:>7.2f}%"
            f"{100 * r['agreement_with_math_verify']:>9.2f}%{100 * r['agreement_where_math_verify_right']:>18.2f}%"
        )


def by_kind(pairs, plugin, mv, grade):
    table = collections.defaultdict(lambda: collections.Counter())
    for p, a, b, g in zip(pairs, plugin, mv, grade):
        k = p.kind.split(":")[0]
        c = table[k]
        c["n"] += 1
        c["agree"] += a == b
        c["plugin_truth"] += a == p.expected
        c["mv_truth"] += b == p.expected
        c["grade_truth"] += g == p.expected
    print(f"\n{'kind':<20}{'n':>6}{'share':>8}{'agree mv':>10}{'plugin ok':>11}{'mv ok':>8}{'grade ok':>10}")
    total = len(pairs)
    for k, c in sorted(table.items()):
        n = c["n"]
        print(
            f"{k:<20}{n:>6}{100 * n / total:>7.1f}%{100 * c['agree'] / n:>9.1f}%{100 * c['plugin_truth'] / n:>10.1f}%"
            f"{100 * c['mv_truth'] / n:>7.1f}%{100 * c['grade_truth'] / n:>9.1f}%"
        )
    return {k: dict(c) for k, c in table.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=5000, help="corpus size (default 5000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="600 pairs, for a smoke run")
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--gaokao", default=None, help="GAOKAO-Bench folder (default: bundled data, then /work/shared)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "out"))
    args = ap.parse_args(argv)
    n = 600 if args.quick else args.n

    from openrlhf_rlev.verifiers import pool

    settings = Settings.from_env()
    pairs = corpus_mod.build(n, args.seed, args.gaokao)
    info = machine_info()
    print(f"{info['date']}  nproc={info['nproc']}  {info['machine']}  {info['cpu']}")
    print(f"corpus: {len(pairs)} pairs, seed {args.seed}, from {corpus_mod.gaokao_root(args.gaokao)}")
    print(f"settings: timeout={settings.timeout}s verify_workers={settings.verify_workers}")
    mix = collections.Counter(p.kind.split(":")[0] for p in pairs)
    print("mix: " + ", ".join(f"{k} {v} ({100 * v / len(pairs):.1f}%)" for k, v in sorted(mix.items())))
    print(f"expected correct: {sum(p.expected for p in pairs)} / {len(pairs)}")

    t0 = time.perf_counter()
    ready = pool.get_pool(settings.verify_workers).wait_ready()
    print(f"worker pool start-up (once per process, not timed below): {time.perf_counter() - t0:.2f} s, ready={ready}")

    mv, mv_lat, mv_wall = run_math_verify(pairs)
    ga, ga_lat, ga_wall = run_grade_answer(pairs)
    calls_before = pool.get_pool(settings.verify_workers).calls
    pl, pl_lat, pl_wall, reasons = run_plugin(pairs, settings)
    pool_calls = pool.get_pool(settings.verify_workers).calls - calls_before
    th, th_lat, th_wall, th_timeouts = run_plugin_threads(pairs, args.threads)
    p = pool.get_pool(settings.verify_workers)
    p.wait_ready()  # replacements of workers killed at the end may still be starting
    rss = sum(w.rss() for w in list(p._all)) / 2**20

    rows = [
        summarize("math-verify", mv, mv_lat, mv_wall, pairs, mv),
        summarize("grade_answer", ga, ga_lat, ga_wall, pairs, mv),
        summarize("plugin", pl, pl_lat, pl_wall, pairs, mv),
        summarize(f"plugin x{args.threads}", th, th_lat, th_wall, pairs, mv),
    ]
    print_table(rows, rows[0])
    clean = [i for i, q in enumerate(pairs) if not q.kind.startswith("adversarial")]
    sub = [pairs[i] for i in clean]
    rows_clean = [
        summarize(
            r["name"],
            [v[i] for i in clean],
            [lt[i] for i in clean],
            sum(lt[i] for i in clean),
            sub,
            [mv[i] for i in clean],
        )
        for r, v, lt in ((rows[0], mv, mv_lat), (rows[1], ga, ga_lat), (rows[2], pl, pl_lat))
    ]
    print(f"\nwithout the {len(pairs) - len(clean)} adversarial pairs (single-thread verifiers, summed call time):")
    print_table(rows_clean, rows_clean[0])
    kinds = by_kind(pairs, pl, mv, ga)
    print(f"\nplugin reasons: {dict(reasons)}")
    print(f"plugin (single thread) sent {pool_calls} of {len(pairs)} pairs to math-verify in the worker pool")
    print(
        f"pool: {p.size} workers, {p.killed} killed at a deadline or crash, {p.recycled} recycled, {p.bursts} extra started behind hangs, worker RSS now {rss:.0f} MiB"
    )
    print(f"plugin x{args.threads} reasons: verifier_timeout {th_timeouts}")
    mismatches = [q.kind for q, a, b in zip(pairs, pl, th) if a != b]
    print(f"plugin single vs plugin x{args.threads} verdict mismatches: {len(mismatches)} {mismatches}")
    bound = settings.timeout + 0.5
    for r in rows[2:]:
        verdict = "yes" if r["max_ms"] <= 1000 * bound else "NO"
        print(
            f"{r['name']}: every call within timeout + 0.5 s ({bound:.1f} s)? {verdict} (max {r['max_ms'] / 1000:.2f} s)"
        )

    os.makedirs(args.out, exist_ok=True)
    dis = []
    for q, a, b in zip(pairs, pl, mv):
        if a != b:
            right = "plugin" if a == q.expected else "math-verify"
            dis.append(
                {
                    "kind": q.kind,
                    "gold": q.answers,
                    "expected": q.expected,
                    "plugin": a,
                    "math_verify": b,
                    "right": right,
                    "response_tail": q.response[-160:],
                }
            )
    with open(os.path.join(args.out, "disagreements.jsonl"), "w", encoding="utf-8") as f:
        for d in dis:
            f.write(json.dumps(d, ensure_ascii=False) + "\n")
    who = collections.Counter(d["right"] for d in dis)
    cats = collections.Counter((d["kind"].split(":")[0], d["right"]) for d in dis)
    print(f"\ndisagreements with math-verify: {len(dis)}; right by construction: {dict(who)}")
    for (k, r), c in sorted(cats.items()):
        print(f"  {k:<20} {r:<12} {c}")
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(
            {
                "machine": info,
                "argv": sys.argv,
                "n": len(pairs),
                "mix": mix,
                "rows": rows,
                "rows_without_adversarial": rows_clean,
                "kinds": kinds,
                "reasons": {str(k): v for k, v in reasons.items()},
            },
            f,
            indent=1,
        )
    pool.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
