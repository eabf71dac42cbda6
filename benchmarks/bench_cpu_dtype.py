"""Would `--rlev.cpu_dtype bf16` (the GPU's numerics: bf16 forward/backward and bf16 sampling) run at a usable speed?

    python benchmarks/bench_cpu_dtype.py [--layers 30] [--repeats 3]

Times, in one run on the same cores, the two things a CPU step spends its time on, in float32 (what the CPU
backend does) and in bfloat16: a training forward+backward of a batch of 8 x 256 tokens, and 48 sampled tokens for
8 sequences with a KV cache (one token at a time, as the rollout engine samples). The model has SmolLM2-135M's
shape (30 layers, hidden 576, vocabulary 49152) with random weights: speed depends on shapes, not values, and
nothing is downloaded. Prints each time (median of --repeats) and the bf16/fp32 ratio (>1: bf16 is slower).
"""

import argparse
import statistics
import time

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--layers", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
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
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.layers} layers")
    for i, phase in enumerate(("train forward+backward 8x256", "sample 8x48 tokens (KV cache)")):
        fp32, bf16 = results[torch.float32][i], results[torch.bfloat16][i]
        print(f"{phase:32s} fp32 {fp32:7.2f} s   bf16 {bf16:7.2f} s   bf16/fp32 {bf16 / fp32:5.2f}")


if __name__ == "__main__":
    main()
