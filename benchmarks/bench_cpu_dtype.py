"""How fast is `--rlev.cpu_dtype bf16` (the GPU's numerics: bf16 forward/backward and bf16 sampling) against fp32?

    python benchmarks/bench_cpu_dtype.py [--layers 30] [--repeats 3]
    python benchmarks/bench_cpu_dtype.py --step [--prompts 4 --samples 4 --max-new-tokens 32 --micro 8] [--out F]

`--step` times one whole RLEV step of `openrlhf-rlev train --rlev.cpu` with `--rlev.cpu_dtype fp32` and with
`bf16`, one after the other in this run (benchmarks/train_cpu/bench_step.py's `openrlhf` arm: SmolLM2-135M-Instruct,
the first --prompts rows of benchmarks/train_cpu/data/train.jsonl, rloo, one optimizer step), and prints OpenRLHF's
own step timings for each and the bf16/fp32 ratios.

Without --step:
Times, in one run on the same cores, the two things a CPU step spends its time on, in float32 (what the CPU
backend does) and in bfloat16: a training forward+backward of a batch of 8 x 256 tokens, and 48 sampled tokens for
8 sequences with a KV cache (one token at a time, as the rollout engine samples). The model has SmolLM2-135M's
shape (30 layers, hidden 576, vocabulary 49152) with random weights: speed depends on shapes, not values, and
nothing is downloaded. Prints each time (median of --repeats) and the bf16/fp32 ratio (>1: bf16 is slower).
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM


def smollm2_shaped(layers: int) -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=49152,
        hidden_size=576,
        intermediate_size=1536,
        num_hidden_layers=layers,
        num_attention_heads=9,
        num_key_value_heads=3,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
    )
    return LlamaForCausalLM(config).eval()


def train_step(model, batch: torch.Tensor) -> None:
    model.zero_grad(set_to_none=True)
    logits = model(batch).logits
    torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1).float(), batch[:, 1:].flatten()).backward()


@torch.no_grad()
def sample(model, prompts: torch.Tensor, tokens: int) -> None:
    out = model(prompts, use_cache=True)
    cache, last = out.past_key_values, out.logits[:, -1]
    for _ in range(tokens):
        token = torch.multinomial(torch.softmax(last.float(), -1), 1)
        out = model(token, past_key_values=cache, use_cache=True)
        cache, last = out.past_key_values, out.logits[:, -1]


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bf16_flags() -> list:
    """The CPU's bf16 instruction flags (Linux): bf16 is fast only where some are present."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return []
    return sorted(flag for flag in flags if "bf16" in flag)


def rlev_step(args) -> dict:
    """One RLEV step per dtype through bench_step's openrlhf arm (the real launcher, OpenRLHF's own loop)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent / "train_cpu"))
    import bench_step

    opts = bench_step.options(
        ["--prompts", str(args.prompts), "--samples", str(args.samples), "--max-new-tokens", str(args.max_new_tokens)]
        + ["--micro", str(args.micro), "--seed", str(args.seed)]
    )
    bench_step.model_folder()  # convert the GGUF once, before anything is timed
    results = {
        "settings": {k: v for k, v in vars(opts).items() if not k.endswith("worker")},
        "machine": {
            "cores": bench_step.cores(),
            "load_before": os.getloadavg(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "torch": torch.__version__,
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),  # AVX2: no bf16 instructions
            "bf16_flags": bf16_flags(),
        },
    }
    with tempfile.TemporaryDirectory(prefix="bench-cpu-dtype-") as tmp:
        for dtype in ("fp32", "bf16"):
            print(f"running one RLEV step, --rlev.cpu_dtype {dtype} ...", file=sys.stderr, flush=True)
            results[dtype] = bench_step.run_openrlhf(opts, Path(tmp), batched=True, cpu_dtype=dtype)
            print(f"{dtype}: {json.dumps(results[dtype])}", file=sys.stderr, flush=True)
    results["machine"]["load_after"] = os.getloadavg()
    return results


def step_report(results: dict) -> str:
    parts = ("step", "generation", "experience", "update", "sync")
    lines = [f"| --rlev.cpu_dtype | {' | '.join(f'{p} s' for p in parts)} |", "|---|" + "---|" * len(parts)]
    for dtype in ("fp32", "bf16"):
        lines.append(f"| {dtype} | " + " | ".join(f"{results[dtype][p]:.1f}" for p in parts) + " |")
    ratios = " | ".join(f"{results['bf16'][p] / results['fp32'][p]:.2f}" if results["fp32"][p] else "-" for p in parts)
    lines.append(f"| bf16/fp32 | {ratios} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--layers", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--step", action="store_true", help="time one RLEV step of the CPU backend per dtype")
    parser.add_argument("--prompts", type=int, default=4)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--micro", type=int, default=8)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, help="--step: write every measurement here as JSON")
    args = parser.parse_args()
    if args.step:
        results = rlev_step(args)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2) + "\n")
        print(step_report(results))
        return
    generator = torch.Generator().manual_seed(0)
    batch = torch.randint(0, 49152, (8, 256), generator=generator)
    prompts = torch.randint(0, 49152, (8, 128), generator=generator)
    model = smollm2_shaped(args.layers)
    results = {}
    for dtype in (torch.float32, torch.bfloat16):
        model.to(dtype)
        results[dtype] = (
            timed(lambda: train_step(model, batch), args.repeats),
            timed(lambda: sample(model, prompts, 48), args.repeats),
        )
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.layers} layers, "
        f"CPU {torch.backends.cpu.get_cpu_capability()}, bf16 flags {bf16_flags() or 'none'}"
    )
    for i, phase in enumerate(("train forward+backward 8x256", "sample 8x48 tokens (KV cache)")):
        fp32, bf16 = results[torch.float32][i], results[torch.bfloat16][i]
        print(f"{phase:32s} fp32 {fp32:7.2f} s   bf16 {bf16:7.2f} s   bf16/fp32 {bf16 / fp32:5.2f}")


if __name__ == "__main__":
    main()
