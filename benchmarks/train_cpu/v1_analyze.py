"""The FIRST (superseded, 2026-11-29) CPU experiment's analysis, kept so RESULTS.md's superseded section reproduces.

Plots and tables for that experiment: per-step training curves and held-out metrics with bootstrap CIs.

Reads RUNS/<arm>-seed<k>/log.jsonl (one JSON object per line, written by the trainer each step) and
RUNS/<arm>-seed<k>/heldout_preds.jsonl (from `openrlhf-rlev generate`, scored here with the plugin's own
`evaluate`), plus RUNS/base/heldout_preds.jsonl for the untrained model. Writes PNGs and results.md to --out and
prints the tables.

Held-out uncertainty: bootstrap over prompts (seeded). Each resample draws the held-out prompts with replacement and
recomputes Acc, H-Acc, mean length and value density; paired differences (e.g. rlev - none) use the same resampled
prompts for both arms. With several seeds, an arm's per-prompt accuracy and length are first averaged over its
seeds, so the CI covers prompt sampling, not seed-to-seed variation (the per-run rows show that).

    python benchmarks/train_cpu/v1_analyze.py [--runs benchmarks/train_cpu/runs] [--out benchmarks/train_cpu/analysis]
    python benchmarks/train_cpu/v1_analyze.py --selftest      # synthetic runs in a temporary folder
"""

import argparse
import glob
import json
import math
import os
import random
import re
import tempfile
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from openrlhf_rlev.evaluation import metrics  # noqa: E402
from openrlhf_rlev.evaluation.evaluate import evaluate  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
RUN_DIR = re.compile(r"^(?P<arm>.+)-seed(?P<seed>\d+)$")
ARM_ORDER = ("base", "none", "uniform", "rlev")
ARM_COLORS = {"base": "0.55", "none": "C0", "uniform": "C1", "rlev": "C3"}
PAIRS = (("rlev", "none"), ("rlev", "uniform"), ("uniform", "none"))
BOOT_METRICS = ("acc", "h_acc", "mean_length", "value_density")
STEP_METRICS = (
    ("acc", "Acc (batch)"),
    ("h_acc", "H-Acc (batch)"),
    ("length", "mean response length (tokens)"),
    ("density", "value density (H-Acc % / token)"),
)
# A key may be logged bare or under OpenRLHF's "train/" prefix; the first present name wins.
KEYS = {
    "correct": ("rlev/correct", "train/rlev/correct"),
    "value": ("rlev/value", "train/rlev/value"),
    "value_x_correct": ("rlev/value_x_correct", "train/rlev/value_x_correct"),
    "scale": ("rlev/scale", "train/rlev/scale"),
    "length": (
        "rollout/response_length_mean",
        "train/rollout/response_length_mean",
        "response_length",
        "train/response_length",
    ),
    "step_time": ("timing/step_total", "train/timing/step_total"),
    "reward": ("rollout/reward_mean", "train/rollout/reward_mean", "reward", "train/reward"),
}


# ---- reading ----


def number(row: dict, name: str) -> float | None:
    for key in KEYS[name]:
        x = row.get(key)
        if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x):
            return float(x)
    return None


def read_log(path: str) -> tuple[list[dict], list[dict]]:
    """(train rows sorted by step, eval rows); bad lines are skipped and counted on stdout."""
    train, evals, bad = [], [], 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                bad += 1
                continue
            if not isinstance(row, dict):
                bad += 1
            elif row.get("kind", "train") == "eval":
                evals.append(row)
            elif row.get("kind", "train") == "train":
                train.append(row)
    if bad:
        print(f"{path}: skipped {bad} unreadable lines")
    return sorted(train, key=lambda r: r.get("global_step", 0)), evals


def step_series(train_rows: list[dict]) -> dict[str, np.ndarray]:
    """Per-step arrays (NaN where a key is missing): step, acc, h_acc, length, density, scale, step_time."""
    cols = defaultdict(list)
    for i, row in enumerate(train_rows):
        acc, value, vxc = number(row, "correct"), number(row, "value"), number(row, "value_x_correct")
        length = number(row, "length")
        h_acc = vxc / value if vxc is not None and value else None
        density = 100 * h_acc / length if h_acc is not None and length else None
        step = row.get("global_step", i + 1)
        for name, x in (("step", step), ("acc", acc), ("h_acc", h_acc), ("length", length), ("density", density)):
            cols[name].append(np.nan if x is None else float(x))
        for name in ("scale", "step_time", "reward"):
            x = number(row, name)
            cols[name].append(np.nan if x is None else x)
    return {k: np.asarray(v, dtype=float) for k, v in cols.items()}


def find_runs(runs_dir: str) -> dict[str, dict[int, str]]:
    """arm -> seed -> folder, for folders named <arm>-seed<k>; 'base' (seed 0) when RUNS/base exists."""
    out: dict[str, dict[int, str]] = defaultdict(dict)
    for folder in sorted(glob.glob(os.path.join(runs_dir, "*"))):
        m = RUN_DIR.match(os.path.basename(folder))
        if m and os.path.isdir(folder):
            out[m["arm"]][int(m["seed"])] = folder
    if os.path.isdir(os.path.join(runs_dir, "base")):
        out["base"][0] = os.path.join(runs_dir, "base")
    return dict(out)


def arm_color(arm: str, i: int) -> str:
    return ARM_COLORS.get(arm, f"C{4 + i}")


def arm_sort_key(arm: str):
    return (ARM_ORDER.index(arm) if arm in ARM_ORDER else len(ARM_ORDER), arm)


# ---- per-step summaries and plots ----


def moving_average(x: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over the last `window` finite points (NaNs ignored)."""
    out = np.full_like(x, np.nan)
    for i in range(len(x)):
        chunk = x[max(0, i - window + 1) : i + 1]
        chunk = chunk[np.isfinite(chunk)]
        if chunk.size:
            out[i] = chunk.mean()
    return out


def nanmean(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else float("nan")


def mean_over_seeds(series: list[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, mean over seeds at each step) on the union of logged steps."""
    steps = sorted({int(s) for ser in series for s in ser["step"] if np.isfinite(s)})
    table = np.full((len(series), len(steps)), np.nan)
    index = {s: j for j, s in enumerate(steps)}
    for i, ser in enumerate(series):
        for s, x in zip(ser["step"], ser[key]):
            if np.isfinite(s):
                table[i, index[int(s)]] = x
    with np.errstate(all="ignore"):
        counts = np.isfinite(table).sum(0)
        mean = np.where(counts > 0, np.nansum(table, 0) / np.maximum(counts, 1), np.nan)
    return np.asarray(steps, dtype=float), mean


def plot_steps(by_arm: dict[str, list[dict]], window: int, path: str) -> str:
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    for ax, (key, title) in zip(axes.flat, STEP_METRICS):
        for j, arm in enumerate(sorted(by_arm, key=arm_sort_key)):
            color = arm_color(arm, j)
            for ser in by_arm[arm]:  # each seed, faint
                ax.plot(ser["step"], ser[key], color=color, alpha=0.2, lw=0.8)
            steps, mean = mean_over_seeds(by_arm[arm], key)
            label = f"{arm} ({len(by_arm[arm])} seed{'s' if len(by_arm[arm]) > 1 else ''}, MA {window})"
            ax.plot(steps, moving_average(mean, window), color=color, lw=2, label=label)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=8)
    fig.suptitle("Training curves (faint: each seed, raw; bold: mean over seeds, trailing moving average)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def step_table(by_arm: dict[str, list[dict]], window: int) -> str:
    lines = [
        f"| arm | seeds | steps | Acc first {window} | Acc last {window} | H-Acc first {window} | "
        f"H-Acc last {window} | length last {window} | density last {window} | mean s(x) | sec/step |",
        "|" + "---|" * 11,
    ]
    for arm in sorted(by_arm, key=arm_sort_key):
        ser = by_arm[arm]
        first = {k: nanmean(np.concatenate([s[k][:window] for s in ser])) for k in ("acc", "h_acc")}
        last = {
            k: nanmean(np.concatenate([s[k][-window:] for s in ser])) for k in ("acc", "h_acc", "length", "density")
        }
        steps = "/".join(str(len(s["step"])) for s in ser)
        scale = nanmean(np.concatenate([s["scale"] for s in ser]))
        step_time = nanmean(np.concatenate([s["step_time"] for s in ser]))
        lines.append(
            f"| {arm} | {len(ser)} | {steps} | {pct(first['acc'])} | {pct(last['acc'])} | {pct(first['h_acc'])} | "
            f"{pct(last['h_acc'])} | {num(last['length'])} | {num(last['density'], 3)} | {num(scale, 3)} | "
            f"{num(step_time)} |"
        )
    note = (
        f"Batch metrics from the training logs (samples at the rollout temperature), pooled over seeds; first/last "
        f"{window} = mean over the first/last {window} logged steps. H-Acc = rlev/value_x_correct / rlev/value."
    )
    return "\n".join(lines) + "\n\n" + note


# ---- held-out: scoring and bootstrap ----


def heldout_prompts(preds: str, data: str) -> dict[str, metrics.PromptResult]:
    """key -> PromptResult, scored by the plugin's own evaluate (length: the rows' generated n_tokens)."""
    result = evaluate(preds, data=data, progress=False)
    if result.rejects:
        print(f"{preds}: {len(result.rejects)} rows rejected by evaluate")
    return {p.key: p for p in result.prompts}


def cross_check(prompts: dict[str, metrics.PromptResult], eval_json: str) -> None:
    """Acc and H-Acc here must equal `openrlhf-rlev eval`'s JSON (its length may differ: --tokenizer re-tokenizes
    the text, without the EOS token that the generated n_tokens count)."""
    if not os.path.isfile(eval_json):
        return
    with open(eval_json, encoding="utf-8") as f:
        m = json.load(f)
    ours = metrics.summarize(list(prompts.values()))
    for key in ("n", "acc", "h_acc"):
        if m.get(key) is None or ours[key] is None or abs(m[key] - ours[key]) > 1e-9:
            print(f"WARNING {eval_json}: {key} = {m.get(key)} there, {ours[key]} here")


def pooled(per_seed: list[dict[str, metrics.PromptResult]]) -> dict[str, metrics.PromptResult]:
    """Per prompt, accuracy and length averaged over the seeds that have it."""
    keys = set().union(*per_seed)
    out = {}
    for k in keys:
        rs = [d[k] for d in per_seed if k in d]
        out[k] = metrics.PromptResult(
            k, rs[0].value, sum(r.acc for r in rs) / len(rs), sum(r.length for r in rs) / len(rs), len(rs)
        )
    return out


def arrays(prompts: dict[str, metrics.PromptResult], keys: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    v = np.array([prompts[k].value for k in keys])
    a = np.array([prompts[k].acc for k in keys])
    n = np.array([prompts[k].length for k in keys])
    return v, a, n


def stats(v: np.ndarray, a: np.ndarray, n: np.ndarray) -> dict[str, np.ndarray]:
    """Metrics along the last axis (works for one sample or a stack of bootstrap resamples)."""
    acc = a.mean(-1)
    h_acc = (v * a).sum(-1) / v.sum(-1)
    mean_length = n.mean(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        density = np.where(mean_length > 0, 100 * h_acc / mean_length, np.nan)
    return {"acc": acc, "h_acc": h_acc, "mean_length": mean_length, "value_density": density}


def bootstrap_indices(n: int, n_boot: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def ci(samples: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    lo, hi = np.nanpercentile(samples, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return float(lo), float(hi)


def bootstrap_arm(prompts: dict, keys: list[str], idx: np.ndarray) -> dict:
    v, a, n = arrays(prompts, keys)
    point = stats(v, a, n)
    boot = stats(v[idx], a[idx], n[idx])
    summary = metrics.summarize([prompts[k] for k in keys])
    out = {m: {"point": float(point[m]), "ci": ci(boot[m]), "boot": boot[m]} for m in BOOT_METRICS}
    out["acc_top20"], out["acc_bottom20"] = summary["acc_top20"], summary["acc_bottom20"]
    out["n"] = len(keys)
    return out


def paired(res_a: dict, res_b: dict) -> dict:
    """a - b per metric on the same resampled prompts."""
    out = {}
    for m in BOOT_METRICS:
        diff = res_a[m]["boot"] - res_b[m]["boot"]
        out[m] = {"point": res_a[m]["point"] - res_b[m]["point"], "ci": ci(diff), "p_le_0": float(np.mean(diff <= 0))}
    return out


def heldout_analysis(runs: dict, data: str, n_boot: int, seed: int) -> dict:
    """Per run and per arm (seeds pooled): point estimates, bootstrap CIs, and the paired differences."""
    per_run, per_arm = {}, {}
    for arm in sorted(runs, key=arm_sort_key):
        seeds = []
        for s, folder in sorted(runs[arm].items()):
            preds = os.path.join(folder, "heldout_preds.jsonl")
            if os.path.isfile(preds):
                seeds.append((s, heldout_prompts(preds, data)))
                cross_check(seeds[-1][1], os.path.join(folder, "heldout_eval.json"))
        if seeds:
            per_run[arm] = seeds
            per_arm[arm] = pooled([p for _, p in seeds])
    if not per_arm:
        return {}
    keys = sorted(set.intersection(*(set(p) for p in per_arm.values())))
    idx = bootstrap_indices(len(keys), n_boot, seed)
    arms = {arm: bootstrap_arm(p, keys, idx) for arm, p in per_arm.items()}
    runs_out = {
        f"{arm}-seed{s}": bootstrap_arm(p, keys, idx)
        for arm, seeds in per_run.items()
        for s, p in seeds
        if arm != "base"
    }
    pairs = {f"{a} - {b}": paired(arms[a], arms[b]) for a, b in PAIRS if a in arms and b in arms}
    if "base" in arms:
        pairs.update({f"{a} - base": paired(arms[a], arms["base"]) for a in arms if a != "base"})
    return {"n_prompts": len(keys), "n_boot": n_boot, "seed": seed, "arms": arms, "runs": runs_out, "pairs": pairs}


def heldout_table(h: dict) -> str:
    head = "| arm | n | Acc % | H-Acc % | mean length (tokens) | value density | Acc top-20% | Acc bottom-20% |"
    lines = [head, "|" + "---|" * 8]
    rows = [(arm, r) for arm, r in sorted(h["arms"].items(), key=lambda x: arm_sort_key(x[0]))]
    if len(h["runs"]) > len([a for a in h["arms"] if a != "base"]):
        rows += sorted(h["runs"].items())
    for name, r in rows:
        lines.append(
            f"| {name} | {r['n']} | {pct_ci(r['acc'])} | {pct_ci(r['h_acc'])} | {num_ci(r['mean_length'])} | "
            f"{num_ci(r['value_density'], 3)} | {pct(r['acc_top20'])} | {pct(r['acc_bottom20'])} |"
        )
    lines += ["", "| difference | Acc pp | H-Acc pp | mean length | value density |", "|---|---|---|---|---|"]
    for name, d in h["pairs"].items():
        lines.append(
            f"| {name} | {pct_ci(d['acc'])} | {pct_ci(d['h_acc'])} | {num_ci(d['mean_length'])} | "
            f"{num_ci(d['value_density'], 3)} |"
        )
    note = (
        f"Greedy decoding on {h['n_prompts']} held-out prompts; [95% CI] from {h['n_boot']} bootstrap resamples of "
        f"the prompts (seed {h['seed']}), differences paired on the same resamples. Arms with several seeds: "
        "per-prompt results averaged over seeds first (rows <arm>-seed<k> show each run)."
    )
    return "\n".join(lines) + "\n\n" + note


def plot_heldout(h: dict, path: str) -> str:
    arms = sorted(h["arms"], key=arm_sort_key)
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.8))
    titles = {"acc": "Acc", "h_acc": "H-Acc", "mean_length": "mean length (tokens)", "value_density": "value density"}
    for ax, m in zip(axes, BOOT_METRICS):
        points = [h["arms"][a][m]["point"] for a in arms]
        lo = [p - h["arms"][a][m]["ci"][0] for a, p in zip(arms, points)]
        hi = [h["arms"][a][m]["ci"][1] - p for a, p in zip(arms, points)]
        ax.bar(arms, points, yerr=[lo, hi], capsize=4, color=[arm_color(a, i) for i, a in enumerate(arms)])
        ax.set_title(titles[m])
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(f"Held-out ({h['n_prompts']} prompts, greedy), 95% bootstrap CI over prompts")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# ---- formatting ----


def pct(x) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{100 * x:.1f}"


def num(x, digits: int = 1) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def pct_ci(r: dict) -> str:
    return f"{pct(r['point'])} [{pct(r['ci'][0])}, {pct(r['ci'][1])}]"


def num_ci(r: dict, digits: int = 1) -> str:
    return f"{num(r['point'], digits)} [{num(r['ci'][0], digits)}, {num(r['ci'][1], digits)}]"


def eval_lines_table(evals: dict[str, list[dict]]) -> str:
    """The last in-training eval of each run (numeric keys only), when the trainer logged any."""
    lines = []
    for run, rows in sorted(evals.items()):
        if rows:
            last = rows[-1]
            items = {k: v for k, v in last.items() if isinstance(v, (int, float)) and k not in ("time",)}
            lines.append(f"- {run} (step {last.get('global_step')}): " + json.dumps(items, sort_keys=True))
    return "\n".join(lines)


# ---- main ----


def analyze(runs_dir: str, data: str, out: str, window: int, n_boot: int, seed: int) -> str:
    os.makedirs(out, exist_ok=True)
    runs = find_runs(runs_dir)
    by_arm, evals = defaultdict(list), {}
    for arm, seeds in runs.items():
        for s, folder in sorted(seeds.items()):
            log = os.path.join(folder, "log.jsonl")
            if os.path.isfile(log):
                train, ev = read_log(log)
                if train:
                    by_arm[arm].append(step_series(train))
                evals[f"{arm}-seed{s}"] = ev
    parts = [f"# CPU training experiment: analysis\n\nruns: `{runs_dir}`, held-out data: `{data}`\n"]
    if by_arm:
        plot = plot_steps(by_arm, window, os.path.join(out, "train_curves.png"))
        parts += [
            "## Training (per step)\n",
            step_table(by_arm, window),
            f"\n![training curves]({os.path.basename(plot)})\n",
        ]
    else:
        parts.append("No training logs found.\n")
    ev = eval_lines_table(evals)
    if ev:
        parts += ["## In-training eval lines (last per run)\n", ev, ""]
    h = heldout_analysis(runs, data, n_boot, seed) if os.path.isfile(data) else {}
    if h:
        plot = plot_heldout(h, os.path.join(out, "heldout.png"))
        parts += ["## Held-out (after training)\n", heldout_table(h), f"\n![held-out]({os.path.basename(plot)})\n"]
        with open(os.path.join(out, "heldout_bootstrap.json"), "w", encoding="utf-8") as f:
            json.dump(strip_boot(h), f, indent=2)
    else:
        parts.append("No held-out predictions found.\n")
    text = "\n".join(parts)
    with open(os.path.join(out, "results.md"), "w", encoding="utf-8") as f:
        f.write(text)
    return text


def strip_boot(obj):
    """JSON copy without the bootstrap sample arrays."""
    if isinstance(obj, dict):
        return {k: strip_boot(v) for k, v in obj.items() if k != "boot"}
    return obj


# ---- self-test on synthetic runs ----


def write_synthetic(root: str, seed: int = 0, n_steps: int = 30, n_prompts: int = 120) -> tuple[str, str]:
    """Prepared-schema held-out data and runs where rlev learns high-value prompts faster than none."""
    rng = random.Random(seed)
    runs, data = os.path.join(root, "runs"), os.path.join(root, "heldout.jsonl")
    values = [rng.choice([0.02, 0.03, 0.04, 0.05, 0.15, 0.2]) for _ in range(n_prompts)]
    with open(data, "w", encoding="utf-8") as f:
        for i, v in enumerate(values):
            label = {"answer": [str(i + 10)], "value": v, "verifier": "math"}
            f.write(
                json.dumps({"prompt": [{"role": "user", "content": f"q{i}"}], "label": label, "id": f"s:{i}"}) + "\n"
            )
    skill = {"base": (0.3, 0.3), "none": (0.5, 0.5), "uniform": (0.5, 0.52), "rlev": (0.48, 0.75)}  # (low v, high v)
    for arm, (p_low, p_high) in skill.items():
        for s in [0] if arm == "base" else [0, 1]:
            folder = os.path.join(runs, "base" if arm == "base" else f"{arm}-seed{s}")
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, "heldout_preds.jsonl"), "w", encoding="utf-8") as f:
                for i, v in enumerate(values):
                    right = rng.random() < (p_high if v > 0.1 else p_low)
                    response = f"The answer is {i + 10 if right else i + 11}."
                    f.write(
                        json.dumps({"index": i, "id": f"s:{i}", "sample": 0, "response": response, "n_tokens": 6})
                        + "\n"
                    )
            if arm == "base":
                continue
            with open(os.path.join(folder, "log.jsonl"), "w", encoding="utf-8") as f:
                for step in range(1, n_steps + 1):
                    t = step / n_steps
                    v = 0.05
                    c = 0.3 + (p_low - 0.3) * t + rng.gauss(0, 0.05)
                    vxc = v * (0.3 + ((p_low + p_high) / 2 - 0.3) * t)
                    row = {"kind": "train", "global_step": step, "policy_loss": rng.gauss(0, 1), "rlev/correct": c}
                    row.update({"rlev/value": v, "rlev/value_x_correct": vxc, "unknown/key": "x"})
                    if step % 7:  # some steps lack these keys
                        row.update({"rollout/response_length_mean": 30 - 10 * t, "timing/step_total": 60.0})
                    row["rlev/scale"] = {"none": 1.0, "uniform": 1.42, "rlev": 1.42}[arm]
                    f.write(json.dumps(row) + "\n")
                    if step % 10 == 0:
                        f.write(json.dumps({"kind": "eval", "global_step": step, "eval_arith/acc_pass1": c}) + "\n")
                f.write("{not json\n")
    return runs, data


def selftest() -> int:
    with tempfile.TemporaryDirectory() as root:
        runs, data = write_synthetic(root)
        out = os.path.join(root, "analysis")
        text = analyze(runs, data, out, window=5, n_boot=500, seed=0)
        print(text)
        for name in ("train_curves.png", "heldout.png", "results.md", "heldout_bootstrap.json"):
            assert os.path.getsize(os.path.join(out, name)) > 0, name
        with open(os.path.join(out, "heldout_bootstrap.json"), encoding="utf-8") as f:
            h = json.load(f)
        for arm, r in h["arms"].items():
            for m in BOOT_METRICS:
                lo, hi = r[m]["ci"]
                assert lo <= r[m]["point"] <= hi, (arm, m, r[m])
        d = h["pairs"]["rlev - none"]["h_acc"]
        assert d["point"] > 0 and d["ci"][0] > 0, d  # rlev's synthetic high-value skill must show up
        assert set(h["arms"]) == {"base", "none", "uniform", "rlev"}, h["arms"].keys()
    print("\nselftest ok")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", default=os.path.join(HERE, "runs"))
    p.add_argument("--data", default=os.path.join(HERE, "data", "heldout.jsonl"))
    p.add_argument("--out", default=os.path.join(HERE, "analysis"))
    p.add_argument("--window", type=int, default=5, help="moving-average window (steps)")
    p.add_argument("--boot", type=int, default=2000, help="bootstrap resamples")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument("--selftest", action="store_true", help="run on synthetic logs in a temporary folder")
    args = p.parse_args(argv)
    if args.selftest:
        return selftest()
    print(analyze(args.runs, args.data, args.out, args.window, args.boot, args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
