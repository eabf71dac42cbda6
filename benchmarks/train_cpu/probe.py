"""Base-model accuracy per prompt wording: which wording does SmolLM2-135M answer verifiably often enough?

For each wording in make_data.WORDINGS: build the held-out split with that wording (same questions, same seed),
sample N prompts at temperature 1.0 with `openrlhf-rlev generate --model smollm2`, score them with
`openrlhf-rlev eval`, and print a table. Small on purpose: the CPU is shared.

    python benchmarks/train_cpu/probe.py --n 30 --max-new-tokens 48 --out /tmp/rlev_probe
"""

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict

from openrlhf_rlev.reward.core import score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_data  # noqa: E402


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "openrlhf_rlev.cli.main", *args]


def probe_wording(wording: str, args) -> dict:
    folder = os.path.join(args.out, wording)
    make_data.build(folder, args.seed, 1, args.exams, wording, tuple(args.tiers.split(",")))
    data = os.path.join(folder, "heldout.jsonl")
    preds = os.path.join(folder, "preds.jsonl")
    if os.path.exists(preds):
        os.remove(preds)
    gen = ["generate", "--model", args.model, "--data", data, "-o", preds, "--limit", str(args.n), "--quiet"]
    gen += ["--temperature", str(args.temperature), "--max-new-tokens", str(args.max_new_tokens)]
    gen += ["--seed", str(args.seed), "--threads", str(args.threads)]
    t0 = time.time()
    subprocess.run(cli(*gen), check=True)
    seconds = time.time() - t0
    out_json = os.path.join(folder, "preds.eval.json")
    subprocess.run(cli("eval", preds, "--data", data, "-o", out_json, "--no-plots", "--quiet"), check=True)
    with open(out_json, encoding="utf-8") as f:
        m = json.load(f)
    with open(preds, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    with open(os.path.join(folder, "raw_heldout.jsonl"), encoding="utf-8") as f:
        tiers = [json.loads(line)["tier"] for line in f]
    by_tier = defaultdict(list)
    for r in rows:
        by_tier[tiers[r["index"]]].append(score(r["response"], r["label"]).correct)
    return {
        "wording": wording,
        "template": make_data.WORDINGS[wording],
        "n": m["n"],
        "acc": m["acc"],
        "h_acc": m["h_acc"],
        "mean_length": m["mean_length"],
        "acc_by_tier": {t: f"{sum(c)}/{len(c)}" for t, c in sorted(by_tier.items())},
        "truncated": sum(r.get("finish_reason") == "length" for r in rows) / max(1, len(rows)),
        "seconds": seconds,
        "examples": [r["response"] for r in rows[:3]],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="/tmp/rlev_probe")
    p.add_argument("--model", default="smollm2")
    p.add_argument("--n", type=int, default=30, help="prompts per wording")
    p.add_argument("--exams", type=int, default=2, help="held-out exams to build (n must fit)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--max-new-tokens", type=int, default=48)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--wordings", default=",".join(make_data.WORDINGS))
    p.add_argument("--tiers", default=",".join(make_data.TIERS), help="as make_data.py --tiers")
    args = p.parse_args(argv)
    results = [probe_wording(w, args) for w in args.wordings.split(",")]
    with open(os.path.join(args.out, "probe.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2)
    print(f"\nbase model {args.model}, temperature {args.temperature}, max_new_tokens {args.max_new_tokens}\n")
    print("| wording | n | Acc % | H-Acc % | mean length (tokens) | hit max tokens % | seconds | correct by tier |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['wording']} | {r['n']} | {100 * r['acc']:.1f} | {100 * r['h_acc']:.1f} | {r['mean_length']:.1f} | "
            f"{100 * r['truncated']:.0f} | {r['seconds']:.0f} | {r['acc_by_tier']} |"
        )
    for r in results:
        print(f"\n{r['wording']}: {r['template']}")
        for ex in r["examples"]:
            print("   ", json.dumps(ex)[:200])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
