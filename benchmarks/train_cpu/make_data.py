"""Value-labelled arithmetic exams for the CPU training experiment (train and held-out prepared JSONL).

Each exam has QUESTIONS_PER_EXAM short arithmetic questions whose points sum to the printed total (100): most are
worth 2-5 points, two or three are worth 12-20. The prompt shows the exam, the question's points and the total, so
the value v = points / total is visible to the policy. Difficulty (the arithmetic tier) is drawn independently of
the points, so value is not a proxy for difficulty.

The raw rows go through `openrlhf-rlev prepare` with `--value-key points --group-key exam_id`: there v = points /
(sum of the exam's points), which is points / 100 because every exam's points sum to its printed total.

    python benchmarks/train_cpu/make_data.py --seed 0 --out benchmarks/train_cpu/data
"""

import argparse
import json
import os
import random
from collections import Counter

from openrlhf_rlev.cli import prepare as prepare_cli

EXAM_TOTAL = 100
QUESTIONS_PER_EXAM = 20
BIG_POINTS = (12, 14, 15, 16, 18, 20)
SMALL_POINTS = (2, 5)  # inclusive range of a small item's points
TIERS = ("larger", "next", "add1", "add21", "mul")  # probed round 2 onwards; round 1 used add1,add21,sub,mul,add22

# Candidate wordings (probe.py compares them). {q}: the arithmetic question ("What is 23 + 48?"); {exam}, {k},
# {pts}, {total}: exam number, question number, the question's points, the exam's printed total.
HEADER = "Exam {exam} ({total} points in total). Question {k} ({pts} points):"
SMOL_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face."  # its template's default
WORDINGS = {
    "boxed": HEADER + " {q} Put your final answer in \\boxed{{}}.",
    "answer_line": HEADER + " {q} End your response with a final line 'Answer: <number>'.",
    "number_only": HEADER + " {q} Reply with just the number.",
    "q_first": "{q} Reply with just the number.\n\n(Exam {exam}, question {k}: {pts} of {total} points.)",
    "q_first_boxed": "{q} Put your final answer in \\boxed{{}}.\n\n(Exam {exam}, question {k}: {pts} of {total} points.)",
    "points_tag": "[{pts} of {total} points] {q} Reply with just the number.",
    "system": (HEADER.rstrip(":") + ".", "{q} Reply with just the number."),  # (system message, user message)
    "system_smol": (SMOL_SYSTEM + " " + HEADER.rstrip(":") + ".", "{q} Reply with just the number."),
    "no_header": "{q} Reply with just the number.",  # reference only: the value is not in the prompt
}
DEFAULT_WORDING = "number_only"


def arithmetic(rng: random.Random, tier: str) -> tuple[str, int]:
    """(question, answer) of one difficulty tier."""
    if tier == "larger":
        a, b = rng.sample(range(10, 100), 2)
        return f"Which number is larger, {a} or {b}?", max(a, b)
    if tier == "next":
        a = rng.randint(10, 98)
        return f"What number comes right after {a}?", a + 1
    if tier == "add1":
        a, b = rng.randint(1, 9), rng.randint(1, 9)
        return f"What is {a} + {b}?", a + b
    if tier == "add21":
        a, b = rng.randint(10, 99), rng.randint(1, 9)
        return f"What is {a} + {b}?", a + b
    if tier == "sub":
        a = rng.randint(10, 30)
        b = rng.randint(1, 9)
        return f"What is {a} - {b}?", a - b
    if tier == "mul":
        a, b = rng.randint(2, 9), rng.randint(2, 9)
        return f"What is {a} x {b}?", a * b
    if tier == "add22":  # too hard for the base model (round 1 of the probe); kept to reproduce it
        a, b = rng.randint(10, 99), rng.randint(10, 99)
        return f"What is {a} + {b}?", a + b
    raise ValueError(f"unknown tier {tier!r}")


def exam_points(rng: random.Random, n: int = QUESTIONS_PER_EXAM, total: int = EXAM_TOTAL) -> list[int]:
    """n points summing to total: 2 or 3 big items, the rest small (SMALL_POINTS), in random order."""
    lo, hi = SMALL_POINTS
    big = [rng.choice(BIG_POINTS) for _ in range(rng.choice((2, 3)))]
    n_small, rest = n - len(big), total - sum(big)
    assert n_small * lo <= rest <= n_small * hi, (big, rest)
    small = [lo] * n_small
    while sum(small) < rest:  # hand out the remainder one point at a time to items below the cap
        i = rng.randrange(n_small)
        if small[i] < hi:
            small[i] += 1
    points = big + small
    rng.shuffle(points)
    return points


def render(template, **fields):
    """A string template gives one user message (a string); a (system, user) pair gives chat messages."""
    if isinstance(template, str):
        return template.format(**fields)
    system, user = template
    return [{"role": "system", "content": system.format(**fields)}, {"role": "user", "content": user.format(**fields)}]


def make_exam(rng: random.Random, exam_id: int, wording: str, tiers=TIERS) -> list[dict]:
    rows = []
    for k, pts in enumerate(exam_points(rng), start=1):
        tier = rng.choice(tiers)  # independent of the points
        q, answer = arithmetic(rng, tier)
        text = render(WORDINGS[wording], q=q, exam=exam_id, k=k, pts=pts, total=EXAM_TOTAL)
        rows.append(
            {
                "question": text,
                "answer": str(answer),
                "points": pts,
                "exam_id": f"exam{exam_id:03d}",
                "total": EXAM_TOTAL,
                "tier": tier,
            }
        )
    assert sum(r["points"] for r in rows) == EXAM_TOTAL
    return rows


def make_split(rng: random.Random, first_exam: int, n_exams: int, wording: str, tiers=TIERS) -> list[dict]:
    return [row for e in range(first_exam, first_exam + n_exams) for row in make_exam(rng, e, wording, tiers)]


def write_jsonl(path: str, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def run_prepare(raw: str, out: str) -> None:
    """The plugin's own prepare CLI; v = points / exam sum (= points / printed total)."""
    argv = [raw, "--input-key", "question", "--answer-key", "answer", "--value-key", "points"]
    argv += ["--group-key", "exam_id", "--datasource", "arith", "--no-instruction", "--quiet", "-o", out]
    if prepare_cli.main(argv) != 0:
        raise SystemExit(f"prepare failed for {raw}")


def check_prepared(raw_rows: list[dict], prepared: str) -> None:
    """Every raw row is written, in order, with v = points / total."""
    with open(prepared, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    assert len(rows) == len(raw_rows), (prepared, len(rows), len(raw_rows))
    for raw, row in zip(raw_rows, rows):
        assert abs(row["label"]["value"] - raw["points"] / raw["total"]) < 1e-12, (raw, row)
        assert row["label"]["answer"] == [raw["answer"]]


def describe(name: str, rows: list[dict], tiers=TIERS, alpha: float = 10.0) -> dict:
    values = [r["points"] / r["total"] for r in rows]
    scales = [1 + min(alpha * v, 1.0) for v in values]
    out = {
        "split": name,
        "n": len(rows),
        "n_exams": len({r["exam_id"] for r in rows}),
        "mean_v": sum(values) / len(values),
        "max_v": max(values),
        "share_v_above_0.1": sum(v > 0.1 for v in values) / len(values),
        "mean_s": sum(scales) / len(scales),
        "points": dict(sorted(Counter(r["points"] for r in rows).items())),
        "tiers": dict(sorted(Counter(r["tier"] for r in rows).items())),
        "share_above_0.1_by_tier": {t: _share_big([r for r in rows if r["tier"] == t]) for t in tiers},
    }
    return out


def _share_big(rows: list[dict]) -> float | None:
    return round(sum(r["points"] / r["total"] > 0.1 for r in rows) / len(rows), 3) if rows else None


def build(out_dir: str, seed: int, n_train_exams: int, n_heldout_exams: int, wording: str, tiers=TIERS) -> dict:
    os.makedirs(out_dir, exist_ok=True)
    rng = random.Random(seed)
    splits = {
        "train": make_split(rng, 1, n_train_exams, wording, tiers),
        "heldout": make_split(rng, 1 + n_train_exams, n_heldout_exams, wording, tiers),
    }
    summary = {"seed": seed, "wording": wording, "template": WORDINGS[wording], "tiers": list(tiers), "splits": {}}
    for name, rows in splits.items():
        raw = os.path.join(out_dir, f"raw_{name}.jsonl")
        out = os.path.join(out_dir, f"{name}.jsonl")
        write_jsonl(raw, rows)
        run_prepare(raw, out)
        check_prepared(rows, out)
        summary["splits"][name] = describe(name, rows, tiers)
    with open(os.path.join(out_dir, "data_summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="benchmarks/train_cpu/data")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-exams", type=int, default=26, help=f"{QUESTIONS_PER_EXAM} questions each (default 520)")
    p.add_argument("--heldout-exams", type=int, default=10, help="default 10 exams = 200 questions")
    p.add_argument("--wording", default=DEFAULT_WORDING, choices=sorted(WORDINGS))
    p.add_argument("--tiers", default=",".join(TIERS), help="comma-separated difficulty tiers to draw from")
    args = p.parse_args(argv)
    tiers = tuple(args.tiers.split(","))
    summary = build(args.out, args.seed, args.train_exams, args.heldout_exams, args.wording, tiers)
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
