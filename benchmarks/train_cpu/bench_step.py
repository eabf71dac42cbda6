"""One RLEV training step on CPU: this plugin's OpenRLHF backend against TRL's GRPOTrainer, side by side in one run.

Same model (SmolLM2-135M-Instruct through the project's `smollm2` loader, float32 weights), same prompts (the first
--prompts rows of benchmarks/train_cpu/data/train.jsonl), samples per prompt, token budget, temperature, batch
(one optimizer step of prompts x samples, micro-batch --micro), no KL/reference model, and the same cores. Arms:

- `openrlhf`: `openrlhf-rlev train --rlev.cpu` (OpenRLHF's own loop; the engine batches the prompts of a call);
- `openrlhf-per-prompt`: the same with RLEV_CPU_BATCH=0 (one prompt per engine call, as before batching);
- `trl`: TRL's GRPOTrainer with the plugin's `rlev_reward`, its own transformers generation;
- `sampler`: generation alone, outside any trainer: this branch's batched sampler against the sampler of a given
  git revision (default main), one prompt group at a time, on the same prompts, seeds and budget.
- `update`: where the update phase's work goes, in CPU seconds of one thread (robust to a shared machine's load,
  unlike wall time): one micro-batch's forward + backward through OpenRLHF's own `Actor.forward` (LM head and
  log-softmax over every position, prompt included) against the same model called as TRL calls it (`logits_to_keep`:
  the LM head over the completion positions only), with and without gradient checkpointing (TRL's default), and one
  AdamW step over the model's weights with torch's default CPU AdamW against the fused one.

Each arm runs in its own process (one after another, never two at once). The OpenRLHF arms report OpenRLHF's own
step timings (timing/generation incl. the reward, make_experience, ppo_train, broadcast); the TRL arm is timed
around GRPOTrainer's methods (generation = `_generate`; experience = the rest of `_generate_and_score_completions`:
rewards and advantages; update = the rest of the step: forward, backward, optimizer; sync = 0, the policy samples
itself). Ratios are against TRL measured in the same run.

What each arm configures, so that both do the same work on the same threads:

- every process: `OMP_WAIT_POLICY=PASSIVE` (see OPENMP_ENV; OpenRLHF's Ray workers inherit it), the driver's
  niceness (run the script under `nice`; the result records it), fp32 weights;
- `openrlhf`: the backend's own thread split (`cpu/device.py`: each phase's processes share the cores, so the one
  engine generates and the one actor trains on both), no gradient checkpointing, fused AdamW;
- `trl`: `torch.set_num_threads(cores)` in its one process (the result records the threads seen inside `_generate`
  and the step), TRL's defaults otherwise: gradient checkpointing on (TRL's default, a recomputed forward), the 16
  samples of a step generated as one batch with a KV cache (the result counts the no-grad forwards and tokens fed),
  transformers' default optimizer `adamw_torch_fused`; the TRL result also carries each phase's process CPU
  seconds, so that wall time inflated by waiting shows as wall >> CPU / threads;
- `update`, `sampler`: as described above (the `update` arm on one thread by design).

    python benchmarks/train_cpu/bench_step.py --out benchmarks/train_cpu/bench_step.json
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Every arm's process (and OpenRLHF's Ray workers, which inherit it) gets this OpenMP environment. libgomp's default
# is to spin-wait at every barrier (GOMP_SPINCOUNT 300,000): on a machine whose 2 cores are shared with other jobs,
# one of a process's 2 threads is often descheduled, and its partner burns its time slice spinning. Measured on
# 2026-12-07 (load ~8, one forward + backward of 8 x 96 tokens, 2 threads): wall 59 s / CPU 24 s by default against
# 19 s / 9.4 s with PASSIVE (1 thread: 26 s / 8.9 s; out/openmp_probe_2026-12-07/). That spinning, not TRL's work,
# made TRL's arm ~10x slower than its 2026-12-02 run; with PASSIVE both arms wait the same way. (Not measured: its
# cost on an idle machine.)
OPENMP_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}
DATA = ROOT / "benchmarks" / "train_cpu" / "data" / "train.jsonl"
PARTS = ("generation", "experience", "update", "sync")
OPENRLHF_TIMING = {"generation": "generation", "experience": "make_experience", "update": "ppo_train"}
OPENRLHF_TIMING["sync"] = "broadcast"


def options(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--samples", type=int, default=4, help="samples per prompt")
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--micro", type=int, default=8, help="micro-batch (samples per forward/backward)")
    parser.add_argument("--temperature", type=float, default=0.6)
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--arms", default="openrlhf,trl,sampler,openrlhf-per-prompt")
    parser.add_argument("--repeats", type=int, default=2, help="sampler arm: runs of each sampler (best is kept)")
    parser.add_argument("--baseline-rev", default="main", help="git revision whose sampler is 'today's' generation")
    parser.add_argument("--out", type=Path, help="write every measurement here as JSON")
    parser.add_argument("--cpu-dtype", default="fp32", choices=("fp32", "bf16"), help="--rlev.cpu_dtype")
    parser.add_argument("--trl-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sampler-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--update-worker", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def model_folder() -> str:
    from openrlhf_rlev.integrations.openrlhf.cpu.launch import resolve_model

    return resolve_model("smollm2")


def rows(n: int) -> list[dict]:
    with open(DATA) as f:
        return [json.loads(line) for _, line in zip(range(n), f)]


# ── OpenRLHF, through the plugin's launcher ──


def run_openrlhf(opts, workdir: Path, batched: bool, cpu_dtype: str | None = None) -> dict:
    cpu_dtype = cpu_dtype or opts.cpu_dtype
    out = workdir / (("openrlhf" if batched else "openrlhf-per-prompt") + f"-{cpu_dtype}")
    launcher = Path(sys.executable).with_name("openrlhf-rlev")
    batch = opts.prompts * opts.samples
    argv = [
        str(launcher), "train", "--rlev.cpu", "--reward_func", "rlev", "--actor.model_name_or_path", "smollm2",
        "--data.prompt_dataset", str(DATA), "--data.input_key", "prompt", "--data.label_key", "label",
        "--data.apply_chat_template", "--data.max_samples", str(opts.prompts),
        "--algo.advantage.estimator", "rloo", "--rollout.n_samples_per_prompt", str(opts.samples),
        "--rollout.batch_size", str(opts.prompts), "--train.batch_size", str(batch),
        "--train.micro_batch_size", str(opts.micro), "--rollout.micro_batch_size", str(opts.micro),
        "--rollout.max_new_tokens", str(opts.max_new_tokens), "--data.max_len", "256",
        "--rollout.temperature", str(opts.temperature), "--actor.adam.lr", str(opts.lr),
        "--actor.lr_warmup_ratio", "0", "--actor.lr_scheduler", "constant", "--algo.kl.init_coef", "0",
        "--train.seed", str(opts.seed), "--ckpt.output_dir", str(out / "model"),
        "--rlev.log_jsonl", str(out / "log.jsonl"), "--rlev.cpu_dtype", cpu_dtype,
    ]  # fmt: skip
    env = {**os.environ, **OPENMP_ENV, "RLEV_CPU_BATCH": "1" if batched else "0", "HF_HUB_OFFLINE": "1"}
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=workdir)
    wall = time.perf_counter() - started
    (out).mkdir(parents=True, exist_ok=True)
    (out / "output.txt").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"openrlhf arm failed ({done.returncode}); see {out / 'output.txt'}:\n{done.stderr[-3000:]}")
    steps = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    step = [s for s in steps if s.get("kind") == "train"][0]
    parts = {part: float(step.get(f"timing/{key}", 0.0)) for part, key in OPENRLHF_TIMING.items()}
    return {
        "step": sum(parts.values()),
        **parts,
        "wall_with_startup": wall,
        "engine_calls": [
            line.split("RLEV CPU engine: ", 1)[1]
            for line in (done.stdout + done.stderr).splitlines()
            if "RLEV CPU engine: " in line
        ],
        "acc": step.get("rlev/correct"),
        "response_length": step.get("rollout/response_length_mean"),
    }


# ── TRL's GRPOTrainer, timed around its own methods ──


def trl_worker(opts) -> dict:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from openrlhf_rlev.integrations.trl import rlev_reward

    torch.set_num_threads(cores())
    folder = model_folder()
    data = Dataset.from_list([{"prompt": r["prompt"], "label": r["label"]} for r in rows(opts.prompts)])
    batch = opts.prompts * opts.samples
    args = GRPOConfig(
        output_dir=tempfile.mkdtemp(prefix="bench-trl-"), per_device_train_batch_size=opts.micro,
        gradient_accumulation_steps=batch // opts.micro, num_generations=opts.samples,
        max_completion_length=opts.max_new_tokens, temperature=opts.temperature, learning_rate=opts.lr,
        lr_scheduler_type="constant", warmup_steps=0, beta=0.0, max_steps=1, use_cpu=True, bf16=False,
        report_to="none", logging_steps=1, save_strategy="no", seed=opts.seed, disable_tqdm=True,
        shuffle_dataset=False,
    )  # fmt: skip
    trainer = GRPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32),
        processing_class=AutoTokenizer.from_pretrained(folder),
        reward_funcs=[rlev_reward],
        args=args,
        train_dataset=data,
    )
    spent = {"generate": 0.0, "score": 0.0, "step": 0.0}
    cpu = {"generate": 0.0, "score": 0.0, "step": 0.0}  # CPU seconds of the whole process (all its threads)
    seen = {}

    def timed(name, method):
        def wrapper(*a, **k):
            seen[f"threads_in_{name}"] = torch.get_num_threads()
            seen[f"training_mode_in_{name}"] = trainer.model.training
            started, started_cpu = time.perf_counter(), time.process_time()
            try:
                return method(*a, **k)
            finally:
                spent[name] += time.perf_counter() - started
                cpu[name] += time.process_time() - started_cpu

        return wrapper

    fed = {
        "calls": 0,
        "tokens": 0,
    }  # what the model is fed while generating: with a KV cache, one token per row per call

    def count(module, a, k):
        ids = k.get("input_ids", a[0] if a else None)
        if ids is not None and not torch.is_grad_enabled():
            fed["calls"], fed["tokens"] = fed["calls"] + 1, fed["tokens"] + ids.numel()

    trainer.model.register_forward_pre_hook(count, with_kwargs=True)
    trainer._generate = timed("generate", trainer._generate)
    trainer._generate_and_score_completions = timed("score", trainer._generate_and_score_completions)

    class StepClock(TrainerCallback):
        def on_step_begin(self, *a, **k):
            spent["begin"], cpu["begin"] = time.perf_counter(), time.process_time()

        def on_step_end(self, *a, **k):
            spent["step"] += time.perf_counter() - spent["begin"]
            cpu["step"] += time.process_time() - cpu["begin"]
            seen["threads_at_step_end"] = torch.get_num_threads()

    trainer.add_callback(StepClock())
    trainer.train()
    rewards = [h for h in trainer.state.log_history if "rewards/rlev_reward/mean" in h or "reward" in h]
    return {
        "step": spent["step"],
        "generation": spent["generate"],
        "experience": spent["score"] - spent["generate"],
        "update": spent["step"] - spent["score"],
        "sync": 0.0,
        "reward": rewards[0].get("reward") if rewards else None,
        "response_length": rewards[0].get("completions/mean_length") if rewards else None,
        "cpu_seconds": {
            "step": cpu["step"],
            "generation": cpu["generate"],
            "experience": cpu["score"] - cpu["generate"],
            "update": cpu["step"] - cpu["score"],
        },
        "configured": {
            **seen,
            "no_grad_forwards": fed,
            "niceness": os.nice(0),
            "interop_threads": torch.get_num_interop_threads(),
            "gradient_checkpointing": args.gradient_checkpointing,
            "generation_batch_size": args.generation_batch_size,
            "dtype": str(next(trainer.model.parameters()).dtype),
            "env": {k: v for k, v in os.environ.items() if k.split("_")[0] in ("OMP", "MKL", "KMP", "RLEV")},
        },
    }


# ── generation alone: this branch's sampler against a git revision's ──


def sampler_worker(opts) -> dict:
    import importlib.util

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from openrlhf_rlev.integrations.openrlhf.cpu import engine, sampling

    torch.set_num_threads(cores())
    folder = model_folder()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    stops = engine.stop_token_ids(model, tokenizer)
    prompts = [
        tokenizer.apply_chat_template(r["prompt"], add_generation_prompt=True, tokenize=True, return_dict=False)
        for r in rows(opts.prompts)
    ]
    prompts = [list(p["input_ids"]) if isinstance(p, dict) else list(p) for p in prompts]
    seeds = [[1000 * i + j for j in range(opts.samples)] for i in range(len(prompts))]
    source = subprocess.run(
        ["git", "show", f"{opts.baseline_rev}:openrlhf_rlev/integrations/openrlhf/cpu/sampling.py"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout  # fmt: skip
    path = Path(tempfile.mkdtemp(prefix="bench-sampler-")) / "baseline_sampling.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("baseline_sampling", path)
    baseline = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(baseline)

    def today():
        out = []
        for prompt, row_seeds in zip(prompts, seeds):
            out += baseline.sample(
                model, prompt, row_seeds, max_tokens=opts.max_new_tokens, eos_ids=stops,
                temperature=opts.temperature, min_tokens=1,
            )  # fmt: skip
        return out

    def batched():
        return sampling.sample(
            model, [p for p in prompts for _ in range(opts.samples)], [s for row in seeds for s in row],
            max_tokens=opts.max_new_tokens, stop_ids=stops, temperature=opts.temperature, min_tokens=1,
        )  # fmt: skip

    timings = {"today": [], "batched": []}
    for _ in range(opts.repeats):  # alternated, so that a change in the machine's load hits both
        for name, run in (("today", today), ("batched", batched)):
            started = time.perf_counter()
            completions = run()
            timings[name].append(time.perf_counter() - started)
            timings[f"{name}_tokens"] = sum(len(c.token_ids) for c in completions)
    return timings


# ── the update phase's work: OpenRLHF's forward against TRL's formulation, AdamW default against fused ──


def update_worker(opts) -> dict:
    import torch
    from transformers import AutoTokenizer

    from openrlhf_rlev.integrations.openrlhf.cpu import shims

    shims.install()  # OpenRLHF's models package imports flash_attn
    from openrlhf.models.actor import Actor

    torch.set_num_threads(1)
    torch.manual_seed(opts.seed)
    folder = model_folder()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    prompts = [
        tokenizer.apply_chat_template(r["prompt"], add_generation_prompt=True, tokenize=True, return_dict=False)
        for r in rows(opts.prompts)
    ]
    prompts = [list(p["input_ids"]) if isinstance(p, dict) else list(p) for p in prompts]
    # One micro-batch laid out as OpenRLHF's experience is: prompts left-padded, responses right-padded.
    width, budget = max(len(p) for p in prompts), opts.max_new_tokens
    sequences = torch.full((opts.micro, width + budget), tokenizer.pad_token_id)
    attention = torch.zeros_like(sequences)
    for i in range(opts.micro):
        prompt, n = prompts[i % len(prompts)], int(torch.randint(budget // 4, budget + 1, (1,)))
        sequences[i, width - len(prompt) : width] = torch.tensor(prompt)
        sequences[i, width : width + n] = torch.randint(100, tokenizer.vocab_size, (n,))
        attention[i, width - len(prompt) : width + n] = 1
    actions = attention[:, 1:].bool().clone()
    actions[:, : width - 1] = False
    advantages = torch.randn(opts.micro, 1)
    actor = Actor(folder, attn_implementation="sdpa", param_dtype="bf16").float().train()  # as the backend loads it
    model = actor.model

    def openrlhf():
        log_probs = actor(sequences, actions, attention_mask=attention)  # OpenRLHF's own Actor.forward
        return (log_probs * advantages * actions).sum() / actions.sum()

    def trl_formulation():
        positions = (attention.cumsum(-1) - 1).clamp(min=0)
        logits = model(sequences, attention_mask=attention, position_ids=positions, logits_to_keep=budget + 1).logits
        log_probs = torch.log_softmax(logits[:, :-1], -1).gather(-1, sequences[:, -budget:, None]).squeeze(-1)
        return (log_probs * advantages * actions[:, -budget:]).sum() / actions.sum()

    def cpu_seconds(loss_fn, checkpointing=False):
        if checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        started = time.process_time()
        loss_fn().backward()
        spent = time.process_time() - started
        model.zero_grad(set_to_none=True)
        if checkpointing:
            model.gradient_checkpointing_disable()
        return spent

    kinds = {
        "openrlhf_actor_forward": lambda: cpu_seconds(openrlhf),
        "trl_logits_to_keep": lambda: cpu_seconds(trl_formulation),
        "trl_logits_to_keep_checkpointing": lambda: cpu_seconds(trl_formulation, checkpointing=True),
    }
    result = {name: [] for name in kinds}
    result["sequence_shape"] = list(sequences.shape)
    for _ in range(opts.repeats):  # alternated, so that a change in the machine's load hits every kind
        for name, run in kinds.items():
            result[name].append(run())
    weights = [p for p in model.parameters()]
    grads = [torch.randn_like(p) * 1e-3 for p in weights]
    for fused in (False, True):
        name = "adamw_fused" if fused else "adamw_default"
        result[name] = []
        copies = [p.detach().clone().requires_grad_(True) for p in weights]
        optimizer = torch.optim.AdamW(copies, lr=opts.lr, betas=(0.9, 0.95), eps=1e-8, fused=fused)
        for _ in range(opts.repeats + 1):  # the first step allocates the state
            for p, g in zip(copies, grads):
                p.grad = g.clone()
            started = time.process_time()
            optimizer.step()
            result[name].append(time.process_time() - started)
        result[name] = result[name][1:]
        del copies, optimizer
    return result


# ── the driver ──


def in_process(flag: str, opts) -> dict:
    """Run one worker in a fresh Python process (its own threads and memory) and read its JSON result."""
    argv = [sys.executable, __file__, flag, *sys.argv[1:]]
    env = {**os.environ, **OPENMP_ENV, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{flag} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    opts = options(argv)
    if opts.trl_worker:
        print(json.dumps(trl_worker(opts)))
        return 0
    if opts.sampler_worker:
        print(json.dumps(sampler_worker(opts)))
        return 0
    if opts.update_worker:
        print(json.dumps(update_worker(opts)))
        return 0
    if (opts.prompts * opts.samples) % opts.micro:
        raise SystemExit("--micro must divide --prompts x --samples (one optimizer step)")
    arms = [a.strip() for a in opts.arms.split(",") if a.strip()]
    model_folder()  # convert the GGUF once, before any arm is timed
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    results: dict = {"settings": {k: v for k, v in vars(opts).items() if not k.endswith("worker") and k != "out"}}
    results["settings"]["out"] = str(opts.out) if opts.out else None
    results["machine"] = {"cores": cores(), "load_before": os.getloadavg(), "started": started, "niceness": os.nice(0)}
    results["machine"]["openmp_env"] = OPENMP_ENV
    with tempfile.TemporaryDirectory(prefix="bench-step-") as tmp:
        for arm in arms:
            print(f"running {arm} ...", file=sys.stderr, flush=True)
            if arm == "sampler":
                results[arm] = in_process("--sampler-worker", opts)
            elif arm == "update":
                results[arm] = in_process("--update-worker", opts)
            elif arm == "trl":
                results[arm] = in_process("--trl-worker", opts)
            elif arm in ("openrlhf", "openrlhf-per-prompt"):
                results[arm] = run_openrlhf(opts, Path(tmp), batched=arm == "openrlhf")
            else:
                raise SystemExit(f"unknown arm {arm!r}")
            if opts.out:  # after every arm: a run cut short keeps what it measured
                opts.out.parent.mkdir(parents=True, exist_ok=True)
                opts.out.write_text(json.dumps(results, indent=2) + "\n")
            print(f"{arm}: {json.dumps(results[arm])}", file=sys.stderr, flush=True)
    results["machine"]["load_after"] = os.getloadavg()
    print(report(results))
    if opts.out:
        opts.out.parent.mkdir(parents=True, exist_ok=True)
        opts.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


def report(results: dict) -> str:
    s = results["settings"]
    lines = [
        f"one RLEV step: {s['prompts']} prompts x {s['samples']} samples, <= {s['max_new_tokens']} new tokens, "
        f"micro-batch {s['micro']}, {results['machine']['cores']} cores, load {results['machine']['load_before']}",
        "",
        f"| arm | step s | {' | '.join(f'{p} s' for p in PARTS)} | step / TRL | generation / TRL |",
        "|---|---|" + "---|" * len(PARTS) + "---|---|",
    ]
    trl = results.get("trl")
    for arm in ("openrlhf", "openrlhf-per-prompt", "trl"):
        r = results.get(arm)
        if not r:
            continue
        ratio = f"{r['step'] / trl['step']:.2f}" if trl else "-"
        gen_ratio = f"{r['generation'] / trl['generation']:.2f}" if trl else "-"
        parts = " | ".join(f"{r[p]:.1f}" for p in PARTS)
        lines.append(f"| {arm} | {r['step']:.1f} | {parts} | {ratio} | {gen_ratio} |")
    if results.get("openrlhf") and results.get("openrlhf-per-prompt"):
        a, b = results["openrlhf"], results["openrlhf-per-prompt"]
        lines.append(f"\nbatched engine: generation {b['generation'] / a['generation']:.2f}x faster, step "
                     f"{b['step'] / a['step']:.2f}x faster than per-prompt (same run)")  # fmt: skip
    g = results.get("sampler")
    if g:
        today, now = min(g["today"]), min(g["batched"])
        lines.append(
            f"sampler alone: {s['baseline_rev']}'s {today:.1f} s ({g['today_tokens']} tokens) vs batched {now:.1f} s "
            f"({g['batched_tokens']} tokens): {today / now:.2f}x (best of {len(g['today'])} run(s) each)"
        )
    u = results.get("update")
    if u:
        best = {k: min(v) for k, v in u.items() if k != "sequence_shape"}
        base = best["trl_logits_to_keep_checkpointing"]
        lines.append(f"update work, CPU s of 1 thread (best of {s['repeats']}), micro-batch {u['sequence_shape']}:")
        for name, value in best.items():
            ratio = f" ({value / base:.2f}x TRL's formulation with checkpointing)" if "adamw" not in name else ""
            lines.append(f"  {name}: {value:.2f}{ratio}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
