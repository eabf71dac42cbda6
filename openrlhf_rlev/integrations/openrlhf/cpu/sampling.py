"""Sampling with a transformers causal LM, with vLLM's semantics for the fields OpenRLHF sets.

temperature (0 means greedy), top_p, top_k (-1 means off), max_tokens, min_tokens (EOS is masked before it),
logprobs (of the sampled token under the processed distribution, as OpenRLHF's "processed_logprobs"). The stop
token is kept at the end of `token_ids`, as vLLM does, so OpenRLHF trains on the EOS decision (RLEV's Eq. 13).

Every row draws from its own seeded `torch.Generator`, so a completion depends on (weights, prompt, seed, batch
size), not on which row it is or in which order requests arrived.
"""

from dataclasses import dataclass

import torch


@dataclass
class Completion:
    token_ids: list[int]
    finish_reason: str  # "stop" (an EOS token) or "length" (max_tokens)
    logprobs: list[float] | None


def _processed_logits(logits: torch.Tensor, temperature: float, top_p: float, top_k: int) -> torch.Tensor:
    logits = logits.float()
    if temperature > 0:
        logits = logits / temperature
    if top_k and top_k > 0 and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        probs = sorted_logits.softmax(-1)
        # Drop a token when the tokens before it already reach top_p (the first token always stays).
        drop = probs.cumsum(-1) - probs >= top_p
        sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)
    return logits


@torch.no_grad()
def sample(
    model,
    prompt_ids: list[int],
    seeds: list[int],
    *,
    max_tokens: int,
    eos_ids: set[int],
    temperature: float = 1.0,
    top_p: float = 1.0,
    top_k: int = -1,
    min_tokens: int = 0,
    want_logprobs: bool = False,
) -> list[Completion]:
    """One completion per seed for the same prompt, decoded together with a shared KV cache (no padding)."""
    if max_tokens is None or max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {max_tokens!r}")
    n = len(seeds)
    generators = [torch.Generator().manual_seed(int(s)) for s in seeds]
    eos = sorted(eos_ids)
    tokens: list[list[int]] = [[] for _ in range(n)]
    logprobs: list[list[float]] = [[] for _ in range(n)]
    finished = [False] * n
    inputs = torch.tensor([prompt_ids] * n, dtype=torch.long)
    past = None
    for step in range(max_tokens):
        out = model(input_ids=inputs, past_key_values=past, use_cache=True)
        past = out.past_key_values
        logits = _processed_logits(out.logits[:, -1, :], temperature, top_p, top_k)
        if step < min_tokens and eos:
            logits[:, eos] = float("-inf")
        log_probs = torch.log_softmax(logits, dim=-1)
        next_ids = []
        for i in range(n):
            if finished[i]:
                next_ids.append(tokens[i][-1])  # fed but never read: keeps the batch rectangular
                continue
            if temperature > 0:
                token = int(torch.multinomial(log_probs[i].exp(), 1, generator=generators[i]))
            else:
                token = int(torch.argmax(log_probs[i]))
            tokens[i].append(token)
            logprobs[i].append(float(log_probs[i, token]))
            finished[i] = token in eos_ids
            next_ids.append(token)
        if all(finished):
            break
        inputs = torch.tensor(next_ids, dtype=torch.long).unsqueeze(-1)
    return [
        Completion(tokens[i], "stop" if finished[i] else "length", logprobs[i] if want_logprobs else None)
        for i in range(n)
    ]
