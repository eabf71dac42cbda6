"""Does the reward credit the answer a response gives? The plugin against math-verify and GAOKAO-Bench's official
extraction, side by side in one run.

    python benchmarks/bench_answers.py [--repeat 5] [--out benchmarks/out]

1. The adversarial corpus (answers_corpus.py): per category, how often each scorer credits a response whose stated
   answer is not the gold (false positive) and misses one whose stated answer is the gold (false negative).
   Scorers: the plugin (`core.score`, lenient and strict answer format), math-verify (`parse(gold)`,
   `parse(response)`, `verify`, defaults) and GAOKAO-Bench's official choice extraction (choice cases only; it has
   no rule for math answers).
2. Speed: the plugin's and math-verify's time per call over the same corpus, in this run (ratio, not rates).
3. GAOKAO-Bench's bundled GPT-4 (0314) objective outputs (benchmarks/data/gaokao_gpt4_0314_obj.jsonl.gz, from
   the GAOKAO-Bench repository's Results/, Apache-2.0): H-Acc by the official scorer (its stored extraction, and
   our formulation of its rule, which must reproduce it) against the plugin's per-entry credit, every item where
   they differ written to <out>/gaokao_gpt4_differences.jsonl.

GAOKAO-Bench's rule, in our words (Bench/bench_function.py, `extract_choice_answer`, read, not copied): one
answer - the capital letter A-D nearest the end of the output; a multi-select answer - every A-D letter after
the first "【答案】" (whitespace removed), or in the last 10 characters when there is none; several questions -
the letter after each "【答案】" when there are exactly as many as questions, else the first capital letters of
the output, one per question. A question scores its points per entry equal to the standard answer's entry, and
nothing when the counts differ.
"""

import argparse
import collections
import gzip
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import answers_corpus  # noqa: E402

from openrlhf_rlev.prepare import gaokao  # noqa: E402
from openrlhf_rlev.reward.core import score  # noqa: E402
from openrlhf_rlev.reward.settings import Settings  # noqa: E402
from openrlhf_rlev.verifiers import choice, pool  # noqa: E402

_HERE = os.path.dirname(os.path.abspath(__file__))
GPT4 = os.path.join(_HERE, "data", "gaokao_gpt4_0314_obj.jsonl.gz")
MULTI_SELECT_FILES = ("Physics_MCQs",)  # the official prompt's "multi_choice" type
FIVE_OF_SEVEN = ("English_Cloze_Test",)
# "multi_question_choice" files: read per "【答案】" even when a question has one entry
SEVERAL_FILES = ("Chinese_Modern_Lit", "English_Fill_in_Blanks", "Geography_MCQs", "English_Reading_Comp")
SEVERAL_FILES += ("Chinese_Lang_and_Usage_MCQs",)


# ---- GAOKAO-Bench's official extraction, our formulation ----


def official_extract(output: str, n: int, kind: str) -> list[str]:
    if kind == "single":
        for ch in reversed(output):
            if ch in "ABCD":
                return [ch]
        return []
    if kind == "multi_select":
        text = re.sub(r"\s+", "", output)
        at = text.find("【答案】")
        region = text[at:] if at > 0 else text[-10:]
        letters = "".join(ch for ch in region if ch in "ABCD")
        return [letters] if letters else []
    if kind == "five_of_seven":
        return [ch for ch in output if ch in "ABCDEFG"][:5]
    marked = re.findall(r"【答案】\s*[:：]*\s*([A-Z])", output)
    if len(marked) == n:
        return marked
    return re.findall(r"[A-Z]", output)[:n]


def official_kind(gold: tuple, keyword: str = "") -> str:
    if any(k in keyword for k in FIVE_OF_SEVEN):
        return "five_of_seven"
    if len(gold) > 1 or any(k in keyword for k in SEVERAL_FILES):
        return "several"
    if len(gold[0]) > 1 or any(k in keyword for k in MULTI_SELECT_FILES):
        return "multi_select"
    return "single"


def official_credit(got: list, gold) -> float:
    """Per-entry share of the points, nothing when the counts differ (the official scorer)."""
    if len(got) != len(gold):
        return 0.0
    return sum(a == b for a, b in zip(got, gold)) / len(gold)


# ---- math-verify ----


def math_verify(case) -> bool:
    from math_verify import parse, verify

    gold = ", ".join(case.gold)
    try:
        return bool(verify(parse(gold if "$" in gold else f"${gold}$"), parse(case.response)))
    except Exception:
        return False


# ---- 1 and 2: the corpus ----


def run_corpus(cases, repeat: int):
    lenient, strict = Settings(), Settings(answer_format="strict")
    scorers = {
        "plugin (lenient)": lambda c: score(c.response, {"answer": list(c.gold)}, lenient).correct,
        "plugin (strict)": lambda c: score(c.response, {"answer": list(c.gold)}, strict).correct,
        "math-verify": math_verify,
        "GAOKAO-Bench official": lambda c: (
            official_credit(official_extract(c.response, len(c.gold), official_kind(c.gold)), c.gold) == 1.0
            if c.kind == "choice"
            else None
        ),
    }
    verdicts = {name: [f(c) for c in cases] for name, f in scorers.items()}
    # speed: the same cases, one call at a time, plugin and math-verify interleaved per round; wall time, and this
    # thread's CPU time (what a loaded machine distorts least: both scorers run in this thread, and no corpus case
    # reaches the plugin's worker pool, whose time this clock would not see - `pool_calls` says so)
    times, cpu = collections.defaultdict(float), collections.defaultdict(float)
    pool_calls = _pool_calls()
    for _ in range(repeat):
        for name in ("plugin (lenient)", "math-verify"):
            t0, c0 = time.perf_counter(), time.thread_time()
            for c in cases:
                scorers[name](c)
            times[name] += time.perf_counter() - t0
            cpu[name] += time.thread_time() - c0
    return verdicts, times, cpu, _pool_calls() - pool_calls


def _pool_calls() -> int:
    """Tasks the plugin's verifier workers have run in this process so far."""
    return pool.tasks_done()


def rates(cases, verdicts):
    """{scorer: {category: (n, fp, fn)}} where fp: credited without stating the gold; fn: stated, not credited."""
    out = {}
    for name, vs in verdicts.items():
        table = collections.defaultdict(lambda: [0, 0, 0])
        for c, v in zip(cases, vs):
            if v is None:
                continue
            for key in (c.category, "all gaming" if c.gaming else "all honest", "all"):
                row = table[key]
                row[0] += 1
                row[1] += bool(v) and not c.states_gold
                row[2] += (not v) and c.states_gold
        out[name] = {k: tuple(v) for k, v in table.items()}
    return out


def corpus_markdown(cases, verdicts) -> str:
    r = rates(cases, verdicts)
    names = list(verdicts)
    cats = list(dict.fromkeys(c.category for c in cases)) + ["all gaming", "all honest", "all"]
    n_cat = collections.Counter(c.category for c in cases)
    head = "| category | n | " + " | ".join(f"{n} FP / FN" for n in names) + " |"
    lines = [head, "|" + "---|" * (len(names) + 2)]
    for cat in cats:
        cells = []
        for name in names:
            n, fp, fn = r[name].get(cat, (0, 0, 0))
            cells.append("–" if n == 0 else f"{fp} / {fn}")
        total = n_cat.get(cat) or r[names[0]].get(cat, (0,))[0]
        lines.append(f"| {cat} | {total} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---- 3: GPT-4 on GAOKAO-Bench ----


def gpt4_rows():
    with gzip.open(GPT4, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def gpt4_compare(rows):
    official_sum = plugin_sum = ours_sum = reward_sum = total_v = 0.0
    differences, extraction_mismatch = [], 0
    for r in rows:
        gold = tuple(r["standard_answer"])
        kw = gaokao.keyword(r["keyword"])
        total = gaokao.printed_total(gaokao.subject(kw), r["category"], r["year"])
        v = r["score"] * len(gold) / total
        stored = list(r["model_answer"])
        ours = official_extract(r["model_output"], len(gold), official_kind(gold, kw))
        extraction_mismatch += ours != stored
        official = official_credit(stored, gold)
        parts = choice.choice_parts(r["model_output"], gold)
        verdict = score(r["model_output"], {"answer": list(gold)}, Settings())
        plugin = 0.0 if verdict.reason else sum(parts) / len(gold)
        total_v += v
        official_sum += v * official
        ours_sum += v * official_credit(ours, gold)
        plugin_sum += v * plugin
        reward_sum += v * verdict.correct
        if abs(plugin - official) > 1e-9:
            got = choice.extract_choices(r["model_output"], len(gold), choice.one_letter_each(gold))
            differences.append(
                {
                    "keyword": r["keyword"],
                    "index": r["index"],
                    "value": round(v, 4),
                    "standard": list(gold),
                    "official": stored,
                    "plugin": ["".join(sorted(g)) for g in got],
                    "official_credit": official,
                    "plugin_credit": plugin,
                    "reason": verdict.reason,
                    "output_tail": r["model_output"][-300:],
                }
            )
    return {
        "n": len(rows),
        "h_acc_official": official_sum / total_v,
        "h_acc_official_our_formulation": ours_sum / total_v,
        "h_acc_plugin_per_entry": plugin_sum / total_v,
        "h_acc_plugin_reward": reward_sum / total_v,
        "extraction_mismatches": extraction_mismatch,
    }, differences


def speed_only(which: str, rounds: int) -> int:
    """Warm-up (one verdict of each scorer per case, as the full run's verdict pass), then `rounds` rounds of one
    scorer. The instructions of a round are the difference between two counts with different `rounds`."""
    cases = answers_corpus.cases()
    lenient = Settings()
    plugin = lambda c: score(c.response, {"answer": list(c.gold)}, lenient).correct  # noqa: E731
    for c in cases:
        plugin(c)
        math_verify(c)
    run = plugin if which == "plugin" else math_verify
    for _ in range(rounds):
        for c in cases:
            run(c)
    print(f"{which}: {rounds} rounds of {len(cases)} cases; verifier-pool tasks: {pool.tasks_done()}")
    pool.shutdown()
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5, help="rounds of the speed measurement")
    ap.add_argument("--out", default=os.path.join(_HERE, "out"))
    ap.add_argument(
        "--speed-only",
        choices=("plugin", "math-verify"),
        help="only warm both scorers up on the corpus, then run --repeat rounds of this one and exit: for counting "
        "instructions under valgrind --tool=callgrind, which no machine load changes (RESULTS.md)",
    )
    args = ap.parse_args(argv)
    if args.speed_only:
        return speed_only(args.speed_only, args.repeat)
    os.makedirs(args.out, exist_ok=True)
    print(f"date: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; cores: {os.cpu_count()}")
    cases = answers_corpus.cases()
    print(f"corpus: {len(cases)} cases ({collections.Counter(c.source == 'hand' for c in cases)[True]} by hand)")
    verdicts, times, cpu, pool_calls = run_corpus(cases, args.repeat)
    print("\n## Credited non-answers (FP) and missed stated answers (FN), per category\n")
    print(corpus_markdown(cases, verdicts))
    per_call = {k: v / (args.repeat * len(cases)) for k, v in times.items()}
    ratio = per_call["math-verify"] / per_call["plugin (lenient)"]
    cpu_per_call = {k: v / (args.repeat * len(cases)) for k, v in cpu.items()}
    cpu_ratio = cpu_per_call["math-verify"] / cpu_per_call["plugin (lenient)"]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"\n## Speed (same cases, same run; load average {load:.1f})\n\nwall: plugin "
        f"{1e3 * per_call['plugin (lenient)']:.3f} ms/call, math-verify {1e3 * per_call['math-verify']:.3f} ms/call: "
        f"plugin {ratio:.1f}x math-verify\nCPU (this thread): plugin {1e3 * cpu_per_call['plugin (lenient)']:.3f} "
        f"ms/call, math-verify {1e3 * cpu_per_call['math-verify']:.3f} ms/call: plugin {cpu_ratio:.1f}x math-verify"
        f"\nverifier-pool tasks during the timed rounds: {pool_calls}"
    )
    summary, differences = gpt4_compare(gpt4_rows())
    print("\n## GAOKAO-Bench GPT-4 (0314) objective outputs: H-Acc\n")
    for k, v in summary.items():
        print(f"- {k}: {100 * v:.2f}" if isinstance(v, float) else f"- {k}: {v}")
    print(f"- items where the plugin's per-entry credit differs from the official: {len(differences)}")
    with open(os.path.join(args.out, "gaokao_gpt4_differences.jsonl"), "w", encoding="utf-8") as f:
        for d in differences:
            f.write(json.dumps(d, ensure_ascii=False) + "\n")
    with open(os.path.join(args.out, "answers_results.json"), "w", encoding="utf-8") as f:
        json.dump(
            {
                "rates": {k: {c: list(x) for c, x in v.items()} for k, v in rates(cases, verdicts).items()},
                "ms_per_call": {k: 1e3 * v for k, v in per_call.items()},
                "speed_ratio": ratio,
                "cpu_ms_per_call": {k: 1e3 * v for k, v in cpu_per_call.items()},
                "cpu_speed_ratio": cpu_ratio,
                "load_average_1min": load,
                "pool_tasks_timed": pool_calls,
                "gaokao_gpt4": summary,
            },
            f,
            indent=2,
        )
    with open(os.path.join(args.out, "answers_verdicts.jsonl"), "w", encoding="utf-8") as f:
        for i, c in enumerate(cases):
            row = {"category": c.category, "source": c.source, "response": c.response, "gold": c.gold}
            row.update(stated=c.stated, **{k: v[i] for k, v in verdicts.items()})
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    pool.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
