"""The pre-registered analysis (PREREG.md, "Analysis"): every number of RESULTS.md, from the committed raw files.

Reads, per run, `heldout_preds.jsonl` (re-scored here with the plugin's own `evaluate` at run.sh's
EXPERIMENT_CODE, the code the runs trained with, whatever openrlhf_rlev/ in this checkout is; against the committed
held-out data) and `log.jsonl` (per training step; Stage B: one per chunk, concatenated). Runs:

    runs/stage_a/<variant>/<arm>-seed<k>/   runs/stage_a/<variant>/base/
    runs/stage_b/<arm>-seed<k>/              runs/stage_b/base/

Per run: Acc, H-Acc, mean length (generated tokens), value density, Acc on high-/low-value prompts (v > 0.1 /
v <= 0.1), and the stop rate after the answer (Stage A: share of sampled responses whose first line is the answer
line and that end there; by value group). Per arm pair, per seed, the paired difference (arm - reference, same
seed, same held-out prompts); mean over seeds with a 95% t interval over seeds (n - 1 degrees of freedom). The
hypotheses' contrasts and the decision rule are PREREG.md's; this file implements them, it does not choose them.

    python benchmarks/train_cpu/analyze.py                 # -> analysis/prereg/{results.json,results.md,*.png}
    python benchmarks/train_cpu/analyze.py --selftest      # synthetic runs with known effects, in a temp folder
"""

import argparse
import difflib
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import experiment_code  # noqa: E402  (beside this file)
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

EXPERIMENT_CODE_DIR = experiment_code.put_first()  # score with the runs' own reward, not this checkout's
from openrlhf_rlev.evaluation import metrics  # noqa: E402
from openrlhf_rlev.evaluation.evaluate import evaluate  # noqa: E402
from openrlhf_rlev.reward.settings import Settings  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
RUN_DIR = re.compile(r"^(?P<arm>[a-z]+)-seed(?P<seed>\d+)$")
# PREREG.md's counted runs: only these (arm, seed) folders with DONE enter the analysis; anything else under
# runs/stage_*/ (a pilot seed, an unfinished run whose held-out file is still being written) is listed, not counted
REGISTERED = {
    "a": (("none", "rlev", "random", "uniform"), tuple(range(5))),
    "b": (("none", "rlev", "random"), tuple(range(3))),
}
HELDOUT_SAMPLES = {"a": 4, "b": 1}  # samples per held-out prompt (Stage A sampled x4, Stage B greedy)
# H3's quantity (PREREG.md, Metrics): Stage A's stop rate after the answer line, low - high value; Stage B's greedy
# answers have no single answer line: mean length, high - low value
GAP = {"a": "stop_gap", "b": "len_gap"}
HIGH_V = 0.1  # v > 0.1: the 18-point items (v = 0.18); the rest are 2-point items (v = 0.02)
ARM_COLORS = {"base": "0.5", "none": "C0", "uniform": "C1", "random": "C2", "rlev": "C3"}
# 97.5% quantiles of Student's t, df = 1..30 (a 95% two-sided interval over seeds)
T975 = (
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
)
# Amendment 2 (descriptive, not a registered test): the stop rate after the first answer line, by value group and by
# whether that first answer is right (in Stage A, stopping keeps a right answer and a re-check may fix a wrong one)
STOP_SPLIT = ("stop_high_right", "stop_high_wrong", "stop_low_right", "stop_low_wrong")
METRICS = (
    "acc",
    "h_acc",
    "length",
    "density",
    "acc_high",
    "acc_low",
    "stop_high",
    "stop_low",
    "stop_gap",
    "len_high",
    "len_low",
    "len_gap",
    *STOP_SPLIT,
)


# ---- one run ----


def first_answer(response: str) -> str | None:
    """The text after `Answer:` on the response's first non-empty line (Stage A's answer line), else None."""
    lines = [line for line in response.strip().splitlines() if line.strip()]
    if not lines or not lines[0].strip().startswith("Answer:"):
        return None
    return lines[0].strip()[len("Answer:") :].strip()


def stopped_after_answer(response: str) -> bool | None:
    """Stage A's transcripts: True if the response is just its answer line, False if text follows it, None if the
    first line is not an answer line (not counted)."""
    if first_answer(response) is None:
        return None
    return sum(1 for line in response.strip().splitlines() if line.strip()) == 1


def _mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def coverage_problems(preds: str, data: str, n_samples: int | None) -> list[str]:
    """Why a predictions file is not a complete held-out evaluation: a held-out prompt missing or with another
    number of samples than registered, a row that is not a held-out row, or a row whose prompt or label differs from
    the committed held-out data (evaluate scores a row by its own label, so a stale label would be used silently)."""
    rows = {}
    with open(data, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                rows[r["index"]] = r
    counts, bad, differ = defaultdict(int), [], []
    with open(preds, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            p = json.loads(line)
            d = rows.get(p.get("index"))
            if d is None:
                bad.append(f"index {p.get('index')} is not a held-out row")
                continue
            counts[p["index"]] += 1
            if "prompt" in p and p["prompt"] != d["prompt"] or "label" in p and p["label"] != d["label"]:
                differ.append(p["index"])
    if differ:
        bad.append(
            f"{len(differ)} rows (first: index {differ[0]}) differ in prompt or label from {os.path.basename(data)}"
        )
    missing = [i for i in rows if counts[i] == 0]
    if missing:
        bad.append(f"{len(missing)} of {len(rows)} held-out prompts have no prediction")
    if n_samples is not None:
        off = [i for i in rows if counts[i] and counts[i] != n_samples]
        if off:
            bad.append(f"{len(off)} prompts do not have {n_samples} samples")
    return bad[:5]


def run_metrics(preds: str, data: str) -> dict:
    """Held-out metrics of one run, re-scored with the plugin's evaluate (percentages, tokens)."""
    result = evaluate(preds, data=data, progress=False)
    prompts = result.prompts
    high = [p for p in prompts if p.value > HIGH_V]
    low = [p for p in prompts if p.value <= HIGH_V]
    values, golds = {}, {}
    with open(data, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            values[row["index"]] = row["label"]["value"]
            golds[row["index"]] = [str(a).strip() for a in row["label"]["answer"]]
    stops = defaultdict(list)
    with open(preds, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            s = stopped_after_answer(row["response"])
            if s is not None:
                group = "high" if values[row["index"]] > HIGH_V else "low"
                stops[group].append(float(s))
                # Amendment 2, descriptive only: split by whether the first answer line is right
                right = first_answer(row["response"]) in golds[row["index"]]
                stops[f"{group}_{'right' if right else 'wrong'}"].append(float(s))
    acc, h_acc, length = metrics.accuracy(prompts), metrics.h_accuracy(prompts), metrics.mean_length(prompts)
    out = {
        "n_prompts": len(prompts),
        "n_rejected": len(result.rejects),
        "acc": 100 * acc,
        "h_acc": 100 * h_acc,
        "length": length,
        "density": metrics.value_density(h_acc, length),  # H-Acc in % per token (the function takes a fraction)
        "acc_high": 100 * metrics.accuracy(high) if high else None,
        "acc_low": 100 * metrics.accuracy(low) if low else None,
        "len_high": _mean(p.length for p in high),
        "len_low": _mean(p.length for p in low),
        "stop_high": 100 * _mean(stops["high"]) if stops["high"] else None,
        "stop_low": 100 * _mean(stops["low"]) if stops["low"] else None,
    }
    for key in STOP_SPLIT:
        out[key] = 100 * _mean(stops[key[len("stop_") :]]) if stops[key[len("stop_") :]] else None
    # H3's per-run quantities: low-value prompts stop sooner than high-value ones by this much
    out["stop_gap"] = None if None in (out["stop_low"], out["stop_high"]) else out["stop_low"] - out["stop_high"]
    out["len_gap"] = None if None in (out["len_high"], out["len_low"]) else out["len_high"] - out["len_low"]
    return out


def cross_check(m: dict, eval_json: str) -> list[str]:
    """Warnings where `openrlhf-rlev eval`'s file (written at run time) disagrees with the re-scoring. They name the
    file by its run folder (`none-seed0/heldout_eval.json`), so that the report does not depend on where it runs."""
    name = os.path.join(os.path.basename(os.path.dirname(eval_json)), os.path.basename(eval_json))
    if not os.path.isfile(eval_json):
        return [f"{name}: missing"]
    with open(eval_json, encoding="utf-8") as f:
        e = json.load(f)
    e = e.get("metrics", e)
    warnings = []
    for key, ours in (("acc", m["acc"]), ("h_acc", m["h_acc"])):
        theirs = e.get(key)
        if isinstance(theirs, (int, float)) and abs(100 * theirs - ours) > 1e-6 and abs(theirs - ours) > 1e-6:
            warnings.append(f"{name}: {key} {theirs} at run time, {ours:.3f} re-scored (scoring changed?)")
    return warnings


def termination_curves(folder: str) -> dict | None:
    """The `termination` command's P(EOS) curves of one run (PREREG.md, Metrics: reported as a figure, not tested):
    per response position t, the mean P(next token is EOS) over the top-k (`high`) and bottom-k (`low`) prompts by
    value, with how many responses are still running at t. None if the run has no termination.json."""
    path = os.path.join(folder, "termination.json")
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        t = json.load(f)
    return {
        group: {"p_eos": t[key]["p_eos"], "n": t[key]["n"], "v": [t[key]["value_min"], t[key]["value_max"]]}
        for group, key in (("high", "top"), ("low", "bottom"))
    }


def train_steps(folder: str) -> list[dict]:
    """Per training step: batch Acc, H-Acc (with the values the run trained on), response length, reward.
    Stage B's chunks are concatenated in order with their steps offset."""
    logs = [os.path.join(folder, "log.jsonl")]
    chunks = sorted(
        (d for d in os.listdir(folder) if re.fullmatch(r"chunk\d+", d)), key=lambda d: int(d[len("chunk") :])
    )
    if chunks:
        logs = [os.path.join(folder, c, "log.jsonl") for c in chunks]
    steps = []
    for path in logs:
        if not os.path.isfile(path):
            break
        with open(path, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
        for r in rows:
            if r.get("kind", "train") != "train":
                continue
            value = r.get("rlev/value") or 0.0
            steps.append(
                {
                    "step": len(steps) + 1,
                    "acc": 100 * r.get("rlev/correct", float("nan")),
                    "h_acc": 100 * r["rlev/value_x_correct"] / value if value else float("nan"),
                    "length": r.get("response_length", float("nan")),
                    "reward": r.get("reward", float("nan")),
                }
            )
    return steps


# ---- many runs ----


def find_runs(stage_dir: str, stage: str | None = None, skipped: list | None = None) -> dict:
    """{arm: {seed: folder}}, base as arm 'base' seed 0: finished runs (run.sh's DONE) with held-out predictions,
    and, given the stage, only PREREG.md's arms and seeds. A folder left out is appended to `skipped` with why:
    run.sh writes heldout_preds.jsonl row by row, so without DONE the file may be a part of the held-out set."""
    out = defaultdict(dict)
    skipped = [] if skipped is None else skipped
    if not os.path.isdir(stage_dir):
        return {}
    arms, seeds = REGISTERED.get(stage, (None, None))
    for name in sorted(os.listdir(stage_dir)):
        folder = os.path.join(stage_dir, name)
        if not os.path.isdir(folder):
            continue
        m = RUN_DIR.match(name)
        if name != "base" and not m:
            continue
        if not os.path.isfile(os.path.join(folder, "heldout_preds.jsonl")):
            skipped.append(f"{name}: no held-out predictions (not finished)")
            continue
        if not os.path.isfile(os.path.join(folder, "DONE")):
            skipped.append(f"{name}: no DONE (unfinished: its held-out file may be partial)")
            continue
        if name == "base":
            out["base"][0] = folder
        elif arms is not None and (m["arm"] not in arms or int(m["seed"]) not in seeds):
            skipped.append(f"{name}: not a pre-registered arm/seed (PREREG.md: arms {arms}, seeds {seeds})")
        else:
            out[m["arm"]][int(m["seed"])] = folder
    return dict(out)


def t_interval(xs: list[float]) -> dict:
    n = len(xs)
    mean = sum(xs) / n
    if n < 2:
        return {"n": n, "mean": mean, "lo": None, "hi": None, "per_seed": xs}
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    half = T975[min(n - 1, len(T975)) - 1] * sd / math.sqrt(n)
    return {"n": n, "mean": mean, "lo": mean - half, "hi": mean + half, "per_seed": xs}


def paired(per_run: dict, arm: str, ref: str, key) -> dict | None:
    """Per seed present in both arms: key(arm run) - key(ref run); key is a metric name or a function of a run."""
    get = key if callable(key) else (lambda m: m[key])
    both_arms = sorted(set(per_run.get(arm, {})) & set(per_run.get(ref, {})))
    diffs, used, dropped = [], [], []
    for s in both_arms:
        a, b = get(per_run[arm][s]), get(per_run[ref][s])
        if a is not None and b is not None:
            diffs.append(a - b)
            used.append(s)
        else:
            dropped.append(s)  # the metric is undefined in one arm of this seed: reported, never silently lost
    return {**t_interval(diffs), "seeds": used, "dropped_seeds": dropped} if diffs else None


def excludes_zero_above(ci: dict | None) -> bool | None:
    """True/False by the rule; None (not tested) without at least two seeds of both arms."""
    if not ci or ci["lo"] is None or math.isnan(ci["lo"]):
        return None
    return ci["lo"] > 0


def hypotheses(per_run: dict, stage: str) -> dict:
    """PREREG.md's contrasts and decision rule (H1-H3) on one set of runs (a Stage A variant or Stage B)."""
    h = {}
    d_h = paired(per_run, "rlev", "none", "h_acc")
    d_a = paired(per_run, "rlev", "none", "acc")
    contrast = paired(per_run, "rlev", "none", lambda m: m["h_acc"] - m["acc"])
    h["H1"] = {
        "rlev-none H-Acc": d_h,
        "rlev-none Acc": d_a,
        "rlev-none (H-Acc - Acc)": contrast,
        "rule": "the 95% t interval over seeds of (dH-Acc - dAcc), rlev - none, lies above 0",
        "parts": [("(dH-Acc - dAcc) interval above 0", excludes_zero_above(contrast))],
    }
    r_vs_rand = paired(per_run, "rlev", "random", "h_acc")
    rand_vs_u = paired(per_run, "random", "uniform", "h_acc")
    h["H2"] = {
        "rlev-random H-Acc": r_vs_rand,
        "random-uniform H-Acc": rand_vs_u,
        "parts": [("rlev - random above 0", excludes_zero_above(r_vs_rand))]
        + (
            []
            if stage == "b"
            else [
                (
                    "random - uniform not entirely below 0",
                    None if not rand_vs_u or rand_vs_u["hi"] is None else not rand_vs_u["hi"] < 0,
                )
            ]
        ),
        "rule": "rlev - random H-Acc interval above 0, and random - uniform interval not entirely below 0"
        + (" (Stage B has no uniform arm: the second part is not tested)" if stage == "b" else ""),
    }
    gap = GAP[stage]
    gap_diff = paired(per_run, "rlev", "none", gap)
    gaps = [m[gap] for _, m in sorted(per_run.get("rlev", {}).items()) if m[gap] is not None]
    gap_rlev = t_interval(gaps) if gaps else None
    h["H3"] = {
        "quantity": gap,
        f"rlev {gap}": gap_rlev,
        f"rlev-none {gap}": gap_diff,
        "rule": f"rlev's {gap} interval above 0 and rlev - none {gap} interval above 0",
        "parts": [
            (f"rlev's {gap} above 0", excludes_zero_above(gap_rlev)),
            (f"rlev - none {gap} above 0", excludes_zero_above(gap_diff)),
        ],
    }
    for rule in h.values():  # supported when every part of the rule is met; not tested when a part is not
        oks = [ok for _, ok in rule["parts"]]
        rule["supported"] = None if None in oks else all(oks)
    return h


def analyze_stage(stage_dir: str, data: str, stage: str) -> dict:
    skipped = []
    runs = find_runs(stage_dir, stage, skipped)
    per_run, warnings, curves, termination = defaultdict(dict), [], defaultdict(dict), defaultdict(dict)
    env = sorted(Settings.from_env().to_env())  # scoring settings this environment changes from the defaults
    if env:
        warnings.append(f"scoring settings from the environment ({', '.join(env)}): not the run-time defaults?")
    for arm, seeds in runs.items():
        for s, folder in seeds.items():
            preds = os.path.join(folder, "heldout_preds.jsonl")
            problems = coverage_problems(preds, data, HELDOUT_SAMPLES.get(stage))
            if problems:
                skipped.append(
                    f"{os.path.basename(folder)}: not counted, incomplete held-out file: {'; '.join(problems)}"
                )
                continue
            m = run_metrics(preds, data)
            warnings += cross_check(m, os.path.join(folder, "heldout_eval.json"))
            per_run[arm][s] = m
            term = termination_curves(folder)
            if term is None:
                warnings.append(f"{os.path.basename(folder)}: no termination.json (no P(EOS) curves)")
            else:
                termination[arm][s] = term
            if arm != "base":
                curves[arm][s] = train_steps(folder)
    arms = {
        arm: {
            k: t_interval([m[k] for m in seeds.values() if m[k] is not None])
            for k in METRICS
            if any(m[k] is not None for m in seeds.values())
        }
        for arm, seeds in per_run.items()
    }
    arms_reg, seeds_reg = REGISTERED[stage]
    missing = [f"{a}-seed{s}" for a in arms_reg for s in seeds_reg if s not in per_run.get(a, {})]
    return {
        "stage": stage,
        "gap": GAP[stage],  # H3's quantity
        "complete": not missing,  # every pre-registered run counted: only then is a decision final
        "missing": missing,
        "skipped": skipped,
        "stage_dir": os.path.relpath(stage_dir, HERE),
        "data": os.path.relpath(data, HERE),
        "per_run": {arm: dict(sorted(seeds.items())) for arm, seeds in per_run.items()},
        "arms": arms,
        "hypotheses": hypotheses(per_run, stage) if "rlev" in per_run and "none" in per_run else None,
        "curves": {arm: dict(sorted(seeds.items())) for arm, seeds in curves.items()},
        "termination": {arm: dict(sorted(seeds.items())) for arm, seeds in termination.items()},
        "warnings": warnings,
    }


# ---- outputs ----


def fmt(x, digits=1):
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def fmt_ci(ci: dict | None, digits=1) -> str:
    if not ci:
        return "-"
    if ci["lo"] is None:
        return f"{fmt(ci['mean'], digits)} (n={ci['n']})"
    return f"{fmt(ci['mean'], digits)} [{fmt(ci['lo'], digits)}, {fmt(ci['hi'], digits)}] (n={ci['n']})"


ARM_ORDER = ("base", "none", "uniform", "random", "rlev")
VERDICT = {True: "yes", False: "no", None: "not tested (needs 2+ seeds of every arm it compares)"}
PART = {True: "met", False: "not met", None: "not tested"}


def markdown(name: str, r: dict) -> str:
    heading = f"### {name}"
    if not r.get("complete", True):
        heading += f" (provisional: {len(r['missing'])} registered runs missing)"
    lines = [
        heading,
        "",
        "Per arm on the evaluation set (fresh samples of the training questions, not unseen questions: PREREG.md, "
        "Amendment 2, item 1): mean over seeds [95% t interval over seeds] (n = seeds; base is the model before "
        "training, one run). The arms share their random numbers by seed (item 2): compare arms through the paired "
        "contrasts below, not through these intervals. acc, h_acc, acc_high, acc_low and stop rates in %; length in "
        "tokens; density = h_acc / length.",
        "",
    ]
    cols = ("acc", "h_acc", "length", "density", "acc_high", "acc_low", "stop_low", "stop_high")
    lines += ["| arm | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for arm in sorted(r["arms"], key=lambda a: ARM_ORDER.index(a) if a in ARM_ORDER else 99):
        digits = {"density": 3}
        lines.append(f"| {arm} | " + " | ".join(fmt_ci(r["arms"][arm].get(c), digits.get(c, 1)) for c in cols) + " |")
    split = [c for c in STOP_SPLIT if any(r["arms"][a].get(c) for a in r["arms"])]
    if split:
        lines += [
            "",
            "Descriptive (Amendment 2, not a registered test): stop rate % after the first answer line, by "
            "value group and whether that answer is right:",
            "",
        ]
        lines += ["| arm | " + " | ".join(split) + " |", "|---" * (len(split) + 1) + "|"]
        for arm in sorted(r["arms"], key=lambda a: ARM_ORDER.index(a) if a in ARM_ORDER else 99):
            lines.append(f"| {arm} | " + " | ".join(fmt_ci(r["arms"][arm].get(c)) for c in split) + " |")
    h = r["hypotheses"]
    if h:
        lines += ["", "Pre-registered contrasts (per-seed paired differences, mean [95% t interval]):", ""]
        lines += ["| hypothesis | contrast | value | supported (rule) |", "|---|---|---|---|"]
        for key in ("H1", "H2", "H3"):
            for cname, ci in h[key].items():
                if isinstance(ci, dict) and "mean" in ci:
                    lines.append(f"| {key} | {cname} | {fmt_ci(ci, 2)} | |")
            verdict = VERDICT[h[key]["supported"]]
            if not r.get("complete", True) and h[key]["supported"] is not None:
                verdict = f"provisional {verdict}: {len(r['missing'])} pre-registered runs missing"
            here = "; ".join(f"{part}: {PART[ok]}" for part, ok in h[key]["parts"])
            lines.append(f"| {key} | **decision** | | **{verdict}**. Rule: {h[key]['rule']}. Here: {here} |")
    if r.get("missing"):
        lines += ["", f"Pre-registered runs not (yet) counted ({len(r['missing'])}): {', '.join(r['missing'])}"]
    if r.get("skipped"):
        lines += ["", "Folders not counted:", ""] + [f"- {w}" for w in r["skipped"]]
    if r["warnings"]:
        lines += ["", "Warnings:", ""] + [f"- {w}" for w in r["warnings"]]
    return "\n".join(lines) + "\n"


# The paper's numbers this experiment is set beside (arXiv 2510.20187: the 32B headline and the 7B RLOO ablation).
# Scale differs by orders of magnitude (a 7M-parameter model and SmolLM2-135M here), so the table compares
# directions and whether the paper's effect size lies inside this experiment's interval, not the sizes themselves.
PAPER_H_ACC_GAIN = 2.8  # RLEV - accuracy-only H-Acc, points (32B)
PAPER_LENGTH = (246.9, 98.6)  # mean response length, accuracy-only -> RLEV, tokens (32B)
PAPER_LENGTH_PCT = 100 * (PAPER_LENGTH[1] / PAPER_LENGTH[0] - 1)  # -60.1%
PAPER_ABLATION = {"uniform": 55.1, "random": 57.4, "rlev": 58.9}  # H-Acc, 7B RLOO


def direction(ci: dict | None, sign: int = 1) -> str:
    """Where a paired interval lies against the paper's predicted sign: agrees, opposite, or includes 0."""
    if not ci or ci["lo"] is None:
        return "not tested"
    lo, hi = (ci["lo"], ci["hi"]) if sign > 0 else (-ci["hi"], -ci["lo"])
    return "agrees" if lo > 0 else "opposite" if hi < 0 else "includes 0"


STOPPING_ROW = "value-dependent stopping, RLEV - accuracy-only (H3's second part: Stage A stop_gap, Stage B len_gap)"


def paper_rows(r: dict) -> dict:
    """This experiment's cell of each row of the paper table, for one set of runs (a Stage A variant or Stage B)."""
    pr = r["per_run"]

    def cell(ci, sign=1, paper=None):
        text = f"{fmt_ci(ci)}: {direction(ci, sign)}"
        if paper is not None and ci and ci["lo"] is not None:
            where = "below" if paper < ci["lo"] else "above" if paper > ci["hi"] else "inside"
            text += f"; paper's value {where} the interval"
        return text

    seeds = sorted(set(pr.get("rlev", {})) & set(pr.get("none", {})))
    no_uniform = "-: no uniform arm" if r["stage"] == "b" else None
    # relative length change per seed, as the paper's 246.9 -> 98.6 is best compared (the lengths' scales differ)
    length = (
        t_interval([100 * (pr["rlev"][s]["length"] / pr["none"][s]["length"] - 1) for s in seeds]) if seeds else None
    )
    gap = r["gap"]
    return {
        "H-Acc, RLEV - accuracy-only (points)": cell(paired(pr, "rlev", "none", "h_acc"), paper=PAPER_H_ACC_GAIN),
        "(H-Acc - Acc), RLEV - accuracy-only (H1)": cell(paired(pr, "rlev", "none", lambda m: m["h_acc"] - m["acc"])),
        "length, RLEV vs accuracy-only (%)": cell(length, sign=-1, paper=PAPER_LENGTH_PCT),
        "H-Acc, RLEV - random values (points)": cell(
            paired(pr, "rlev", "random", "h_acc"), paper=PAPER_ABLATION["rlev"] - PAPER_ABLATION["random"]
        ),
        "H-Acc, random values - uniform (points)": no_uniform
        or cell(paired(pr, "random", "uniform", "h_acc"), paper=PAPER_ABLATION["random"] - PAPER_ABLATION["uniform"]),
        STOPPING_ROW: f"{gap} " + cell(paired(pr, "rlev", "none", gap)),
    }


def paper_table(results: dict) -> str:
    """The results beside the paper's (PREREG.md, "Analysis"): per claim, the paper's number and, per set of runs,
    the per-seed paired difference [95% t interval] and where it lies against the paper's direction."""
    paper = {
        "H-Acc, RLEV - accuracy-only (points)": f"+{PAPER_H_ACC_GAIN} (32B)",
        "(H-Acc - Acc), RLEV - accuracy-only (H1)": "> 0 (the paper's claim)",
        "length, RLEV vs accuracy-only (%)": f"{PAPER_LENGTH_PCT:+.1f} "
        f"({PAPER_LENGTH[0]} -> {PAPER_LENGTH[1]} tokens, 32B)",
        "H-Acc, RLEV - random values (points)": f"+{PAPER_ABLATION['rlev'] - PAPER_ABLATION['random']:.1f} "
        f"({PAPER_ABLATION['rlev']} vs {PAPER_ABLATION['random']}, 7B RLOO)",
        "H-Acc, random values - uniform (points)": f"+{PAPER_ABLATION['random'] - PAPER_ABLATION['uniform']:.1f} "
        f"({PAPER_ABLATION['random']} vs {PAPER_ABLATION['uniform']}, 7B RLOO)",
        STOPPING_ROW: "> 0: low-value prompts stop sooner (Eq. 13)",
    }
    names = [name for name, r in results.items() if r.get("complete", True)]
    pending = [
        f"{name} ({len(r['missing'])} registered runs missing)" for name, r in results.items() if name not in names
    ]
    cols = {name: paper_rows(results[name]) for name in names}
    rows = list(paper)
    lines = [
        "### Beside the paper",
        "",
        "Descriptive, not a test: the decisions are the pre-registered contrasts in each set's table below. Per set "
        "of runs: the per-seed paired difference, mean [95% t interval over seeds] (n = seeds), and where the "
        "interval lies against the paper's direction (agrees: excludes 0 on the paper's side; opposite: excludes 0 "
        "on the other side; includes 0: no direction shown); where the paper gives a size, whether it lies inside, "
        "below or above the interval. The paper's models are 7B-32B, these are 7M (Stage A) and 135M (Stage B). "
        "By PREREG.md, a result that includes 0 is a null result, read as evidence against the paper only where "
        "the paper's size lies outside its interval. By Amendment 2, `uniform` is expected to equal `none` here "
        "(Adam, clip not binding), so the paper's random - uniform gap is not expected by design (item 3), and an "
        "'opposite' on Stage A's stopping is not evidence against the paper's Eq. 13 (item 4).",
        "",
        "| claim | paper | " + " | ".join(names) + " |",
        "|---" * (len(names) + 2) + "|",
    ]
    for row in rows:
        lines.append(f"| {row} | {paper[row]} | " + " | ".join(cols[n].get(row, "-") for n in names) + " |")
    if not names:
        lines = lines[:-2] + ["No set of runs is complete yet."]
    if pending:
        lines += ["", f"Not in this table until every registered run is in: {', '.join(pending)}."]
    return "\n".join(lines) + "\n"


ARM_STYLE = {"uniform": "--"}  # uniform is expected to equal none (Amendment 2, item 3): dashed, so none shows
LABELS = {
    "acc": "Acc %",
    "h_acc": "H-Acc %",
    "stop_gap": "stop_gap: stop rate low - high value (points)",
    "len_gap": "len_gap: length high - low value (tokens)",
}


def plot_curves(r: dict, path: str, title: str) -> str | None:
    """Batch Acc and response length per step: one thin line per seed, the mean over seeds thick."""
    if not any(r["curves"].values()):
        return None
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for arm, seeds in r["curves"].items():
        color, style = ARM_COLORS.get(arm, "k"), ARM_STYLE.get(arm, "-")
        for ax, key in zip(axes, ("acc", "length")):
            for steps in seeds.values():
                ax.plot([s["step"] for s in steps], [s[key] for s in steps], color=color, lw=0.6, alpha=0.45)
            n = min((len(s) for s in seeds.values()), default=0)
            if n:
                mean = [sum(steps[i][key] for steps in seeds.values()) / len(seeds) for i in range(n)]
                ax.plot(range(1, n + 1), mean, style, color=color, lw=2.2, label=f"{arm} (mean of {len(seeds)})")
    axes[0].set(xlabel="step", ylabel="batch Acc % (sampled rollouts)")
    axes[1].set(xlabel="step", ylabel="mean response length (tokens)")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{title}: training batches (thin: one seed; thick: mean over seeds)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_heldout(r: dict, path: str, title: str) -> str | None:
    """Evaluation-set Acc, H-Acc and H3's gap per arm: one dot per seed, the mean with its 95% t interval."""
    if not r["per_run"]:
        return None
    arms = sorted(r["per_run"], key=lambda a: ARM_ORDER.index(a) if a in ARM_ORDER else 99)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, key in zip(axes, ("acc", "h_acc", r["gap"])):
        for i, arm in enumerate(arms):
            vals = [m[key] for m in r["per_run"][arm].values() if m[key] is not None]
            ax.scatter(
                [i + random.Random(j).uniform(-0.08, 0.08) for j in range(len(vals))],
                vals,
                color=ARM_COLORS.get(arm, "k"),
                s=14,
                alpha=0.6,
            )
            ci = r["arms"][arm].get(key)
            if ci:
                lo = ci["mean"] - ci["lo"] if ci["lo"] is not None else 0
                ax.errorbar([i], [ci["mean"]], yerr=[[lo], [lo]], fmt="_", color="k", ms=18, capsize=4)
        ax.set_xticks(range(len(arms)), arms)
        ax.set_ylabel(LABELS[key], fontsize=9)
    fig.suptitle(
        f"{title}: per arm (dots: seeds; bar: mean and 95% t interval over seeds; arms are compared by the paired "
        "figure, not by these intervals)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


CONTRASTS = (("rlev", "none"), ("random", "none"), ("uniform", "none"), ("rlev", "random"), ("random", "uniform"))


def plot_paired(r: dict, path: str, title: str) -> str | None:
    """Per-seed paired differences (same seed, same evaluation prompts): each arm minus `none`, and H2's rlev - random
    and random - uniform; one dot per seed, the mean with its 95% t interval over seeds. The arms share their random
    numbers by seed (PREREG.md, Amendment 2), so these differences, not the arms' own spreads, are what the
    hypotheses test."""
    pairs = [(a, b) for a, b in CONTRASTS if a in r["per_run"] and b in r["per_run"]]
    if not pairs:
        return None
    gap = r["gap"]
    keys = (("acc", "Acc"), ("h_acc", "H-Acc"), (lambda m: m["h_acc"] - m["acc"], "H-Acc - Acc"), (gap, gap))
    fig, axes = plt.subplots(1, len(keys), figsize=(4.6 * len(keys), 4.2))
    for ax, (key, label) in zip(axes, keys):
        for i, (a, b) in enumerate(pairs):
            d = paired(r["per_run"], a, b, key)
            if not d:
                continue
            jitter = [i + random.Random(j).uniform(-0.1, 0.1) for j in range(len(d["per_seed"]))]
            ax.scatter(jitter, d["per_seed"], color=ARM_COLORS.get(a, "k"), s=16, alpha=0.7)
            half = d["mean"] - d["lo"] if d["lo"] is not None else 0
            ax.errorbar([i], [d["mean"]], yerr=[[half], [half]], fmt="_", color="k", ms=18, capsize=4)
        ax.axhline(0, color="0.6", lw=0.8)
        ax.set_xticks(range(len(pairs)), [f"{a}\n- {b}" for a, b in pairs], fontsize=8)
        ax.set_title(label, fontsize=10)
        ax.set_ylabel("paired difference (points)" if key != "len_gap" else "paired difference (tokens)", fontsize=9)
    fig.suptitle(f"{title}: per-seed paired differences (dots: seeds; bar: mean and 95% t interval)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


TERM_MIN_N = 20  # a position enters a curve only while at least this many responses of the group are still running


def mean_curve(curves: list[dict]) -> list[float]:
    """Mean over seeds of P(EOS) at each position t, up to the first t where some seed has fewer than TERM_MIN_N
    running responses (beyond it the curves average a handful of long responses)."""
    out = []
    for t in range(min((len(c["p_eos"]) for c in curves), default=0)):
        if any(c["n"][t] < TERM_MIN_N for c in curves):
            break
        out.append(sum(c["p_eos"][t] for c in curves) / len(curves))
    return out


def gap_curve(term: dict) -> list[float]:
    """One run's P(EOS | low value) - P(EOS | high value) at each position both groups have enough responses."""
    low, high = mean_curve([term["low"]]), mean_curve([term["high"]])
    return [a - b for a, b in zip(low, high)]


def plot_termination(r: dict, path: str, title: str) -> str | None:
    """The `termination` command's P(EOS) by response position (PREREG.md, Metrics: a figure, not a test): on
    high-value prompts, on low-value prompts, and their difference (low - high: above 0 where low-value prompts are
    likelier to stop), every arm in its colour, one thin line per seed, the mean over seeds thick."""
    arms = [a for a in ARM_ORDER if r.get("termination", {}).get(a)]
    if not arms:
        return None
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    some = next(iter(r["termination"][arms[0]].values()))

    def v_range(group):
        lo, hi = some[group]["v"]
        return f"v {lo:g}" if lo == hi else f"v {lo:g}-{hi:g}"

    panels = (
        ("high", f"P(EOS), high-value prompts (top 20% by value: {v_range('high')})"),
        ("low", f"P(EOS), low-value prompts (bottom 20%: {v_range('low')})"),
        (None, "P(EOS) low - high value (above 0: low value stops more)"),
    )
    for ax, (group, label) in zip(axes, panels):
        for arm in arms:
            seeds = r["termination"][arm]
            color = ARM_COLORS.get(arm, "k")
            per_seed = [mean_curve([t[group]]) if group else gap_curve(t) for t in seeds.values()]
            for ys in per_seed:
                ax.plot(range(len(ys)), ys, color=color, lw=0.7, alpha=0.35)
            n = min(len(ys) for ys in per_seed)
            mean = [sum(ys[t] for ys in per_seed) / len(per_seed) for t in range(n)]
            ax.plot(range(n), mean, ARM_STYLE.get(arm, "-"), color=color, lw=2, label=f"{arm} (mean of {len(seeds)})")
        if group is None:
            ax.axhline(0, color="0.6", lw=0.8)
        ax.set_xlabel("response position t (tokens)")
        ax.set_title(label, fontsize=9)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].set_ylabel("P(next token is EOS)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center right", fontsize=8)
    fig.suptitle(f"{title}: the termination command's P(EOS) by position (thin: one seed; thick: mean)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.88, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def analyze(runs_dir: str, out_dir: str, data_root: str | None = None, echo: bool = True) -> dict:
    """Every set of runs found: metrics, contrasts and plots; writes results.json, results.md and the plots."""
    data_root = data_root or HERE
    os.makedirs(out_dir, exist_ok=True)
    results = {}
    sets = [
        (
            f"stage_a/{v}",
            os.path.join(runs_dir, "stage_a", v),
            os.path.join(data_root, "stage_a", "data", f"{v}_heldout.jsonl"),
            "a",
        )
        for v in ("content", "shown")
    ]
    sets.append(
        (
            "stage_b",
            os.path.join(runs_dir, "stage_b"),
            os.path.join(data_root, "stage_b", "data", "heldout.jsonl"),
            "b",
        )
    )
    for name, stage_dir, data, stage in sets:
        if not find_runs(stage_dir, stage):
            continue
        r = analyze_stage(stage_dir, data, stage)
        stem = name.replace("/", "_")
        title = name if r["complete"] else f"{name} (PROVISIONAL: {len(r['missing'])} registered runs missing)"
        plots = (
            plot_curves(r, os.path.join(out_dir, f"{stem}_train.png"), title),
            plot_heldout(r, os.path.join(out_dir, f"{stem}_heldout.png"), title),
            plot_paired(r, os.path.join(out_dir, f"{stem}_paired.png"), title),
            plot_termination(r, os.path.join(out_dir, f"{stem}_termination.png"), title),
        )
        r["plots"] = [os.path.basename(p) for p in plots if p]  # file names in out_dir
        results[name] = r
    with open(os.path.join(out_dir, "results.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1, default=float)
    md = report(results)
    with open(os.path.join(out_dir, "results.md"), "w", encoding="utf-8") as f:
        f.write(md)
    if echo:
        print(md)
    return results


def report(results: dict, images: str = "") -> str:
    """The analysis as markdown: the table beside the paper, then per set of runs its tables and plots (image links
    prefixed with `images`, the plots' folder as seen from where the markdown lives)."""
    md = ["# Pre-registered CPU experiment: analysis (generated by analyze.py; do not edit)", ""]
    if results:
        md.append(paper_table(results))
    for name, r in results.items():
        md.append(markdown(name, r))
        md += [f"![{p}]({os.path.join(images, p)})" for p in r["plots"]] + [""]
    return "\n".join(md)


# RESULTS.md holds the report between these lines, written by `--results-md` and checked by `--check`, so that every
# number it shows is what analyze.py computes from the committed raw files
BEGIN = "<!-- analyze.py: begin (generated from the committed runs by `analyze.py --results-md`; do not edit) -->"
END = "<!-- analyze.py: end -->"


def results_block(results: dict, results_md: str, out_dir: str) -> str:
    """The generated block for `results_md`: the report without its title (its sections are `###`, for a `##`
    heading above the block), images relative to that file."""
    body = report(results, os.path.relpath(out_dir, os.path.dirname(os.path.abspath(results_md))))
    return f"{BEGIN}\n{body.split(chr(10), 2)[2].strip()}\n{END}"


# an interval as the report prints it: "1.07 [0.36, 1.78]"
INTERVAL = re.compile(r"-?\d+\.\d+ \[-?\d+\.\d+, -?\d+\.\d+\]")


def unsupported_quotes(reading: str, block: str) -> list[str]:
    """Intervals quoted in the hand-written reading above the report that the report does not contain, each as a
    whole number: a quote that drops a minus sign ("0.52 [...]" for "-0.52 [...]") is not found inside another, and
    a quote written with typographic minus signs is checked as with ASCII ones."""
    quotes = INTERVAL.findall(reading.replace("\u2212", "-"))
    return [q for q in quotes if not re.search(r"(?<![\d.-])" + re.escape(q), block)]


def uncommitted(runs_dir: str) -> list[str] | None:
    """What under runs_dir differs from the last commit (untracked or changed; git's ignored weights excepted), so
    that a report is made from committed raw files only; None where runs_dir is not in a git checkout."""
    try:
        done = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=all", "--", "."],
            cwd=runs_dir,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.splitlines() if done.returncode == 0 else None


def split_results_md(path: str) -> tuple[str, str, str]:
    """(before, block, after) of a results file; exits with what is wrong when the markers are not there once each."""
    text = open(path, encoding="utf-8").read()
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise SystemExit(f"{path}: needs the lines\n{BEGIN}\n{END}\nonce each, in this order, where the report goes")
    before, rest = text.split(BEGIN)
    block, after = rest.split(END)
    return before, BEGIN + block + END, after


# ---- self-test: synthetic runs with known effects ----


def _write(path, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


def _synthetic_run(folder, data, arm, done=True, rows_limit=None, relabel=False):
    """rlev answers every high-value prompt right and stops after low-value answers; other arms answer half."""
    rows, log = [], []
    for d in data[:rows_limit]:
        high = d["label"]["value"] > HIGH_V
        right = (high or d["index"] % 4 == 0) if arm == "rlev" else d["index"] % 4 < 2
        stop = (not high) if arm == "rlev" else d["index"] % 3 == 0
        text = f"Answer: {d['index'] if right else -1}" + ("" if stop else "\nI hope this helps.")
        label = {**d["label"], "value": 0.5} if relabel else d["label"]
        for sample in range(HELDOUT_SAMPLES["a"]):
            rows.append(
                {
                    "index": d["index"],
                    "sample": sample,
                    "response": text,
                    "label": label,
                    "n_tokens": 5 if stop else 11,
                }
            )
    _write(os.path.join(folder, "heldout_preds.jsonl"), rows)
    for step in range(1, 4):
        log.append(
            {
                "kind": "train",
                "global_step": step,
                "rlev/correct": 0.4 + 0.05 * step,
                "rlev/value": 0.1,
                "rlev/value_x_correct": 0.05,
                "response_length": 8.0,
                "reward": 1.0,
            }
        )
    _write(os.path.join(folder, "log.jsonl"), log)
    # the termination command's curves: rlev's low-value prompts end at t = 2 with P(EOS) 0.6; every other curve
    # has 0.2 there; 40 responses run to t = 4, 10 beyond (so the figure's curves stop after t = 4)
    group = {"n": [40] * 5 + [10] * 3, "n_responses": 40}
    term = {
        key: {**group, "value_min": v, "value_max": v, "p_eos": [0.01, 0.01, peak] + [0.05] * 5}
        for key, v, peak in (("top", 0.18, 0.2), ("bottom", 0.02, 0.6 if arm == "rlev" else 0.2))
    }
    with open(os.path.join(folder, "termination.json"), "w", encoding="utf-8") as f:
        json.dump(term, f)
    if done:
        open(os.path.join(folder, "DONE"), "w").close()


def _selftest_stage_b(tmp: str, data: list[dict]) -> None:
    """Stage B: one greedy sample per prompt, chunked training logs, len_gap = length(high v) - length(low v).
    rlev answers everything right, high-value prompts at 12 tokens, low-value ones at 4; none and random miss the
    high-value prompts, at 8 tokens: rlev's len_gap is +8 and H2 (rlev - random H-Acc) holds with no uniform arm."""
    _write(os.path.join(tmp, "stage_b", "data", "heldout.jsonl"), data)
    for arm in ("none", "rlev", "random"):
        for seed in range(3):
            folder = os.path.join(tmp, "runs", "stage_b", f"{arm}-seed{seed}")
            rows = []
            for d in data:
                high = d["label"]["value"] > HIGH_V
                right = arm == "rlev" or not high
                n = (12 if high else 4) if arm == "rlev" else 8
                rows.append(
                    {"index": d["index"], "sample": 0, "response": f"{d['index'] if right else -1}", "n_tokens": n}
                )
            _write(os.path.join(folder, "heldout_preds.jsonl"), rows)
            for k in range(2):
                step = {"kind": "train", "rlev/correct": 0.5, "rlev/value": 0.1, "rlev/value_x_correct": 0.05}
                _write(os.path.join(folder, f"chunk{k}", "log.jsonl"), [{**step, "global_step": i} for i in (1, 2, 3)])
            open(os.path.join(folder, "DONE"), "w").close()
    res = analyze(os.path.join(tmp, "runs"), os.path.join(tmp, "out"))["stage_b"]
    rlev = res["per_run"]["rlev"][0]
    assert abs(rlev["len_gap"] - 8.0) < 1e-9 and abs(res["per_run"]["none"][1]["len_gap"]) < 1e-9, rlev
    h = res["hypotheses"]
    assert h["H3"]["quantity"] == "len_gap" and h["H3"]["rlev-none len_gap"]["per_seed"] == [8.0] * 3, h["H3"]
    assert h["H2"]["supported"] is True and h["H2"]["random-uniform H-Acc"] is None, h["H2"]
    assert res["complete"] and not res["missing"], res["missing"]
    assert [s["step"] for s in res["curves"]["rlev"][0]] == [1, 2, 3, 4, 5, 6], res["curves"]["rlev"][0]
    row = paper_rows(res)
    assert row[STOPPING_ROW] == "len_gap 8.0 [8.0, 8.0] (n=3): agrees" and res["gap"] == "len_gap", row
    assert row["H-Acc, random values - uniform (points)"] == "-: no uniform arm", row
    # these synthetic runs have no termination.json: said, and no P(EOS) figure
    assert "none-seed0: no termination.json (no P(EOS) curves)" in res["warnings"], res["warnings"]
    assert len(res["plots"]) == 3 and not any("termination" in p for p in res["plots"]), res["plots"]


def _selftest_results_md(tmp: str) -> None:
    """`--results-md` writes the report between the markers and keeps the rest; `--check` passes on it, fails once a
    number in it is edited, and a file without the markers is refused with what it needs."""
    results_md = os.path.join(tmp, "RESULTS.md")
    with open(results_md, "w", encoding="utf-8") as f:
        f.write(f"# Results\n\nWritten by hand.\n\n{BEGIN}\nold\n{END}\n\nAfter.\n")
    args = ["--runs", os.path.join(tmp, "runs"), "--out", os.path.join(tmp, "out"), "--data-root", tmp]
    assert main([*args, "--results-md", results_md]) == 0
    text = open(results_md, encoding="utf-8").read()
    assert text.startswith("# Results\n\nWritten by hand.\n\n" + BEGIN) and text.endswith(END + "\n\nAfter.\n"), text
    assert "\nold\n" not in text and "\n### Beside the paper" in text and "](out/stage_b_paired.png)" in text, text
    assert main([*args, "--check", results_md]) == 0
    # the same report from another working folder with relative paths: nothing in it depends on where it is made
    cwd = os.getcwd()
    try:
        os.chdir(tmp)
        assert main(["--runs", "runs", "--out", "out", "--data-root", ".", "--check", "RESULTS.md"]) == 0
    finally:
        os.chdir(cwd)
    with open(results_md, "w", encoding="utf-8") as f:
        f.write(text.replace("len_gap 8.0 [8.0, 8.0]", "len_gap 8.1 [8.0, 8.0]", 1))
    assert main([*args, "--check", results_md]) == 1
    # the reading above the report may quote its intervals, and only those
    for quote, rc in (("8.0 [8.0, 8.0]", 0), ("7.0 [8.0, 8.0]", 1)):
        with open(results_md, "w", encoding="utf-8") as f:
            f.write(text.replace("Written by hand.", f"RLEV gained {quote} points.", 1))
        assert main([*args, "--check", results_md]) == rc, quote
    block = "H2 | -0.52 [-12.82, 11.79] (n=3)"
    assert (
        unsupported_quotes("RLEV lost -0.52 [-12.82, 11.79]; as typeset \u22120.52 [\u221212.82, 11.79]", block) == []
    )
    assert unsupported_quotes("RLEV gained 0.52 [-12.82, 11.79]", block) == ["0.52 [-12.82, 11.79]"]
    assert unsupported_quotes("RLEV lost \u22120.52 [\u221212.82, 11.78]", block) == ["-0.52 [-12.82, 11.78]"]
    with open(results_md, "w", encoding="utf-8") as f:
        f.write("# Results\n")
    try:
        main([*args, "--check", results_md])
        raise AssertionError("a file without markers was accepted")
    except SystemExit as e:
        assert "needs the lines" in str(e), e
    # in a git checkout, runs that are not committed are refused (the report is of committed raw files only)
    git = ["git", "-c", "user.name=selftest", "-c", "user.email=selftest@localhost", "-C", tmp]
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "runs"]):
        subprocess.run(git + cmd, check=True, capture_output=True)
    assert uncommitted(os.path.join(tmp, "runs")) == []
    open(os.path.join(tmp, "runs", "stage_b", "none-seed0", "late.txt"), "w").close()
    assert main([*args, "--check", results_md]) == 2 and main([*args, "--results-md", results_md]) == 2


def selftest() -> int:
    """Synthetic Stage A runs with known effects (rlev answers every high-value prompt right and stops after
    low-value answers; none answers half of everything): the analysis must find H1 and H3 and the exact per-seed
    differences, and must count only finished, complete, pre-registered runs: beside seeds 0-2 of every arm the
    folder holds an unfinished rlev-seed3 (a partial held-out file, no DONE) next to a finished none-seed3, a pilot
    seed 100 of both arms, a finished random-seed2 whose held-out file lacks prompts, and a uniform-seed1 whose
    predictions carry another label than the held-out data. None of these may enter a contrast."""
    global HERE
    # the reward that scores the runs is EXPERIMENT_CODE's, byte for byte, from outside this checkout
    scorer = os.path.abspath(evaluate.__code__.co_filename)
    assert os.path.commonpath([scorer, EXPERIMENT_CODE_DIR]) == EXPERIMENT_CODE_DIR, scorer
    blob = subprocess.run(["git", "-C", HERE, "hash-object", scorer], capture_output=True, text=True).stdout.strip()
    pinned = f"{experiment_code.commit()}:openrlhf_rlev/evaluation/evaluate.py"
    assert (
        blob == subprocess.run(["git", "-C", HERE, "rev-parse", pinned], capture_output=True, text=True).stdout.strip()
    )
    # and it scores as that commit did: it credited "12/2" for 6, which the plugin refuses since add131b
    from openrlhf_rlev.reward.core import score

    assert score("\\boxed{12/2}", {"answer": "6", "value": 0.1}).correct, "the scoring is not EXPERIMENT_CODE's"
    # ... and so is the verifier pool's, whose workers start from the checkout's working directory (the analysis's)
    child = subprocess.run(
        [sys.executable, "-c", "import openrlhf_rlev; print(openrlhf_rlev.__file__)"],
        cwd=experiment_code.ROOT,
        env={**os.environ, "PYTHONPATH": EXPERIMENT_CODE_DIR},
        capture_output=True,
        text=True,
    )
    assert child.stdout.startswith(EXPERIMENT_CODE_DIR + os.sep), child
    tmp = tempfile.mkdtemp(prefix="rlev-analyze-")
    HERE = tmp
    data = [
        {"index": i, "prompt": f"q{i}", "label": {"answer": [str(i)], "value": 0.18 if i % 2 else 0.02}}
        for i in range(40)
    ]
    _write(os.path.join(tmp, "stage_a", "data", "content_heldout.jsonl"), data)
    runs = os.path.join(tmp, "runs", "stage_a", "content")
    for arm in ("none", "rlev", "random", "uniform"):
        for seed in range(3):
            _synthetic_run(
                os.path.join(runs, f"{arm}-seed{seed}"),
                data,
                arm,
                rows_limit=30 if (arm, seed) == ("random", 2) else None,
                relabel=(arm, seed) == ("uniform", 1),
            )
    _synthetic_run(os.path.join(runs, "none-seed3"), data, "none")
    _synthetic_run(os.path.join(runs, "rlev-seed3"), data, "rlev", done=False, rows_limit=10)  # eval in progress
    for arm in ("none", "rlev"):
        _synthetic_run(os.path.join(runs, f"{arm}-seed100"), data, "none")  # a pilot seed: not counted
    res = analyze(os.path.join(tmp, "runs"), os.path.join(tmp, "out"))["stage_a/content"]
    none, rlev = res["per_run"]["none"][0], res["per_run"]["rlev"][0]
    assert abs(none["acc"] - 50.0) < 1e-9 and abs(rlev["acc_high"] - 100.0) < 1e-9, (none, rlev)
    assert abs(rlev["stop_low"] - 100.0) < 1e-9 and abs(rlev["stop_high"]) < 1e-9, rlev
    # the descriptive split: rlev stops after every low-value answer, right or wrong, and never after a (always
    # right) high-value one; none's right low-value answers are i = 0, 4, ..., 36, of which 0, 12, 24, 36 stop
    assert (rlev["stop_low_right"], rlev["stop_low_wrong"], rlev["stop_high_right"]) == (100.0, 100.0, 0.0), rlev
    assert rlev["stop_high_wrong"] is None and abs(none["stop_low_right"] - 40.0) < 1e-9, (rlev, none)
    for m in (none, rlev):  # value density = H-Acc (%) / mean length, as the eval table reports it
        assert abs(m["density"] - m["h_acc"] / m["length"]) < 1e-9, m
    h = res["hypotheses"]
    assert h["H1"]["supported"] and h["H3"]["supported"], h
    assert h["H1"]["rlev-none H-Acc"]["per_seed"] == [rlev["h_acc"] - none["h_acc"]] * 3, h["H1"]
    assert h["H1"]["rlev-none H-Acc"]["seeds"] == [0, 1, 2], h["H1"]
    counted = {arm: sorted(seeds) for arm, seeds in res["per_run"].items()}
    assert counted == {"none": [0, 1, 2, 3], "rlev": [0, 1, 2], "random": [0, 1], "uniform": [0, 2]}, counted
    assert h["H2"]["rlev-random H-Acc"]["seeds"] == [0, 1] and h["H2"]["random-uniform H-Acc"]["seeds"] == [0]
    assert not res["complete"] and "rlev-seed3" in res["missing"] and "uniform-seed4" in res["missing"], res
    assert len(res["skipped"]) == 5, res["skipped"]  # rlev-seed3, 2 x seed100, random-seed2, uniform-seed1
    md = open(os.path.join(tmp, "out", "results.md"), encoding="utf-8").read()
    assert "**provisional yes: " in md and "rlev-seed3: no DONE" in md, md
    # beside the paper: rlev's H-Acc gain is the same at every seed (a zero-width interval above 0, not the paper's
    # +2.8); the length row's sign is the paper's (shorter is "agrees")
    row = paper_rows(res)
    assert (
        row["H-Acc, RLEV - accuracy-only (points)"]
        == "45.0 [45.0, 45.0] (n=3): agrees; paper's value below the interval"
    )
    # rlev's responses are shorter (8.0 vs 8.9 tokens): the paper's direction; its -60% is below this interval
    assert row["length, RLEV vs accuracy-only (%)"].startswith(
        "-10.1 [-10.1, -10.1] (n=3): agrees; paper's value below"
    )
    assert row["H-Acc, RLEV - random values (points)"].startswith("45.0 [45.0, 45.0] (n=2): agrees"), row
    assert row["H-Acc, random values - uniform (points)"] == "0.0 (n=1): not tested", row
    assert row[STOPPING_ROW] == "stop_gap 100.0 [100.0, 100.0] (n=3): agrees", row
    assert "### Beside the paper" in md and "| +2.8 (32B) |" in md, md
    assert "Not in this table until every registered run is in: stage_a/content (9 registered runs missing)." in md
    assert "### stage_a/content (provisional: 9 registered runs missing)" in md, md
    # the decision cell says which part of the rule held
    assert "Here: rlev's stop_gap above 0: met; rlev - none stop_gap above 0: met |" in md, md
    assert direction({"lo": -1.0, "hi": 2.0}) == "includes 0" and direction({"lo": 1.0, "hi": 3.0}, -1) == "opposite"
    assert direction({"lo": -3.0, "hi": -1.0}, -1) == "agrees" and direction({"lo": None, "hi": None}) == "not tested"
    # a seed whose metric is undefined in one arm is dropped from the contrast and said so
    p = paired({"rlev": {0: {"x": 2.0}, 1: {"x": None}}, "none": {0: {"x": 1.0}, 1: {"x": 0.0}}}, "rlev", "none", "x")
    assert p["seeds"] == [0] and p["dropped_seeds"] == [1] and p["per_seed"] == [1.0], p
    assert len(res["plots"]) == 4 and all(os.path.isfile(os.path.join(tmp, "out", p)) for p in res["plots"])
    # the P(EOS) figure's data: counted runs only, cut where fewer than TERM_MIN_N responses still run
    assert sorted(res["termination"]["rlev"]) == [0, 1, 2], res["termination"]["rlev"].keys()
    low = [res["termination"]["rlev"][s]["low"] for s in (0, 1, 2)]
    assert [round(x, 9) for x in mean_curve(low)] == [0.01, 0.01, 0.6, 0.05, 0.05], mean_curve(low)
    assert abs(mean_curve([low[0], res["termination"]["none"][0]["low"]])[2] - 0.4) < 1e-9
    _selftest_stage_b(tmp, data)
    _selftest_results_md(tmp)
    shutil.rmtree(tmp)
    print("selftest ok")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", default=os.path.join(HERE, "runs"))
    p.add_argument("--out", default=os.path.join(HERE, "analysis", "prereg"))
    p.add_argument("--data-root", default=HERE, help="folder with stage_a/data/ and stage_b/data/ (held-out sets)")
    report_to = p.add_mutually_exclusive_group()
    report_to.add_argument("--results-md", metavar="FILE", help="also write the report into FILE between its markers")
    report_to.add_argument(
        "--check",
        metavar="FILE",
        help="recompute everything in a temporary folder and exit 1 if FILE's report differs from it",
    )
    p.add_argument("--selftest", action="store_true")
    args = p.parse_args(argv)
    if args.selftest:
        return selftest()
    if args.check or args.results_md:
        dirty = uncommitted(args.runs)
        if dirty:
            print("\n".join(dirty[:20]) + ("\n..." if len(dirty) > 20 else ""))
            print(
                f"{args.runs}: {len(dirty)} files differ from the last commit (above); RESULTS.md's report is made "
                "from committed raw files only: commit or remove them first"
            )
            return 2
        if dirty is None:
            print(f"{args.runs} is not in a git checkout: the report is made from the files as they are")
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            results = analyze(args.runs, tmp, args.data_root, echo=False)
        block = results_block(results, args.check, args.out)
        reading, committed, _ = split_results_md(args.check)
        quotes = unsupported_quotes(reading, block)
        if quotes:
            print(f"{args.check}: intervals quoted above the report that it does not contain: {quotes}")
            return 1
        if committed != block:
            diff = difflib.unified_diff(
                committed.splitlines(), block.splitlines(), "committed", "recomputed", lineterm=""
            )
            print("\n".join(diff))
            print(f"{args.check}: its report differs from what the committed runs give (diff above)")
            return 1
        print(f"{args.check}: its report is what the committed runs give")
        return 0
    results = analyze(args.runs, args.out, args.data_root)
    if args.results_md:
        before, _, after = split_results_md(args.results_md)
        block = results_block(results, args.results_md, args.out)
        with open(args.results_md, "w", encoding="utf-8") as f:
            f.write(before + block + after)
        quotes = unsupported_quotes(before, block)
        if quotes:
            print(f"{args.results_md}: intervals quoted above the report that it does not contain: {quotes}")
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
