"""Stage B data: two arithmetic skills of SmolLM2-135M-Instruct, value tied to the skill, points not in the prompt.

Each "exam" has 10 questions, 5 of the hard skill worth HARD_POINTS each and 5 of the easy skill worth
EASY_POINTS each (5 * 18 + 5 * 2 = 100 points), so v = 0.18 (s = 2 at alpha 10) for the hard skill and v = 0.02
(s = 1.2) for the easy one, as on a real exam where the hard item is worth more. The prompt is the bare question
("What is 7 x 8? Reply with just the number."): the policy can only tell value from content.

    python benchmarks/train_cpu/stage_b/make_data.py --hard mul --easy add1          # train / heldout / chunks
    python benchmarks/train_cpu/stage_b/make_data.py --pilot add1,next,mul,add21,sub  # pilot.jsonl, skills interleaved

Labels are written directly, `{"answer": [str], "value": v, "verifier": "math"}`, the schema of
openrlhf_rlev/reward/labels.py. Deterministic for a given --seed.
"""

import argparse
import json
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from make_data import arithmetic  # noqa: E402  (the old experiment's skill generators)

HARD_POINTS, EASY_POINTS, PER_SKILL = 18, 2, 5  # per exam: 5 * 18 + 5 * 2 = 100
TEMPLATE = "{q} Reply with just the number."


def row(rng: random.Random, skill: str, points: int, exam: int, index: int) -> dict:
    q, answer = arithmetic(rng, skill)
    v = points / 100
    return {
        "index": index,
        "prompt": TEMPLATE.format(q=q),
        "label": {"answer": [str(answer)], "value": v, "verifier": "math"},
        "skill": skill,
        "points": points,
        "exam_id": f"exam{exam:04d}",
    }


def exams(rng: random.Random, hard: str, easy: str, first: int, n: int, start_index: int = 0) -> list[dict]:
    rows = []
    for e in range(first, first + n):
        items = [(hard, HARD_POINTS)] * PER_SKILL + [(easy, EASY_POINTS)] * PER_SKILL
        rng.shuffle(items)
        for skill, pts in items:
            rows.append(row(rng, skill, pts, e, start_index + len(rows)))
    return rows


def write_jsonl(path: str, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="benchmarks/train_cpu/stage_b/data")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--hard", default="mul")
    p.add_argument("--easy", default="add1")
    p.add_argument("--train-exams", type=int, default=100, help="10 prompts each (default 1000 prompts)")
    p.add_argument("--heldout-exams", type=int, default=40, help="10 prompts each (default 400 prompts)")
    p.add_argument("--pilot", help="comma-separated skills: write pilot.jsonl (--pilot-n prompts each, interleaved)")
    p.add_argument("--pilot-n", type=int, default=20)
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    rng = random.Random(args.seed)
    if args.pilot:
        # one file, skills interleaved: a pilot stopped early still covers every skill evenly
        skills = args.pilot.split(",")
        rows = [row(rng, skills[i % len(skills)], HARD_POINTS, 0, i) for i in range(args.pilot_n * len(skills))]
        write_jsonl(os.path.join(args.out, "pilot.jsonl"), rows)
        return 0
    train = exams(rng, args.hard, args.easy, 1, args.train_exams)
    heldout = exams(rng, args.hard, args.easy, 1 + args.train_exams, args.heldout_exams)
    write_jsonl(os.path.join(args.out, "train.jsonl"), train)
    write_jsonl(os.path.join(args.out, "heldout.jsonl"), heldout)
    summary = {"seed": args.seed, "hard": args.hard, "easy": args.easy, "train": len(train), "heldout": len(heldout)}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
