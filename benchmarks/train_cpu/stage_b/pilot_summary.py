"""Accuracy per skill of a Stage B pilot's predictions, scored with the plugin's own evaluate path.

    python benchmarks/train_cpu/stage_b/pilot_summary.py PREDS.jsonl PILOT.jsonl

Per skill: prompts and samples scored so far, sampled accuracy (all samples) with a 95% interval from a bootstrap
over prompts (seed 0), mean generated tokens, and the share of responses that are just the number.
"""

import json
import random
import re
import sys
from collections import defaultdict

from openrlhf_rlev.evaluation.evaluate import score_response
from openrlhf_rlev.reward.settings import Settings


def main(argv=None) -> int:
    preds, data = (argv or sys.argv[1:])[:2]
    with open(data, encoding="utf-8") as f:
        rows = {r["index"]: r for r in map(json.loads, f)}
    settings = Settings.from_env()
    per_prompt = defaultdict(list)  # (skill, index) -> [(correct, n_tokens, bare)]
    with open(preds, encoding="utf-8") as f:
        for line in f:
            p = json.loads(line)
            row = rows[p["index"]]
            credit = score_response(p["response"], row["label"], settings)[0]
            bare = bool(re.fullmatch(r"\s*-?\d+\s*\.?\s*", p["response"]))
            per_prompt[(row["skill"], p["index"])].append((credit, p.get("n_tokens"), bare))
    by_skill = defaultdict(list)
    for (skill, _), samples in per_prompt.items():
        by_skill[skill].append(samples)
    rng = random.Random(0)
    print("| skill | prompts | samples | sampled Acc % [95% bootstrap over prompts] | mean tokens | bare number % |")
    print("|---|---|---|---|---|---|")
    for skill, prompts in by_skill.items():
        accs = [sum(c for c, _, _ in s) / len(s) for s in prompts]
        boot = sorted(sum(rng.choice(accs) for _ in accs) / len(accs) for _ in range(2000))
        flat = [x for s in prompts for x in s]
        toks = [t for _, t, _ in flat if t is not None]
        print(
            f"| {skill} | {len(prompts)} | {len(flat)} | {100 * sum(accs) / len(accs):.1f} "
            f"[{100 * boot[49]:.1f}, {100 * boot[1949]:.1f}] | {sum(toks) / max(len(toks), 1):.1f} "
            f"| {100 * sum(b for _, _, b in flat) / len(flat):.0f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
