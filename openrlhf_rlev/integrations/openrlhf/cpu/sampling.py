"""Sampling with a transformers causal LM, with vLLM's semantics for the fields OpenRLHF sets.

Per step, in vLLM's order (its v1 `Sampler`): the stop tokens are masked while a row is shorter than its
`min_tokens` (before anything else, so a small top_p can never leave only masked tokens); temperature below 1e-5
means greedy (vLLM then ignores top_k/top_p); otherwise the logits are divided by the temperature, then top-k
(-1 or 0: off) and top-p (1: off) keep their tokens, and the next token is drawn from what is left. A row stops at
any of its stop ids, which stays the last token of `token_ids` as in vLLM (OpenRLHF trains on that EOS decision:
RLEV's Eq. 13), or after `max_tokens`.

Logprobs, as vLLM's `logprobs_mode`: "processed" is the sampled token's log-probability under the distribution it
was drawn from (after the min_tokens mask, temperature, top-k and top-p; greedy rows: after the mask only), what
OpenRLHF asks for ("processed_logprobs") whenever it requests logprobs; "raw" is that of the model's unprocessed
logits.

Rows may hold different prompts (left-padded, with the positions of each row's own tokens) and different budgets;
each prompt is prefilled once and its KV cache copied to its samples, and finished rows leave the batch. Every row
draws from its own seeded `torch.Generator`, so its randomness depends on its seed alone, not on its position or
on which other rows share the batch.
"""

from dataclasses import dataclass

import torch

GREEDY_BELOW = 1e-5  # vLLM's _SAMPLING_EPS: a temperature below it is greedy sampling


@dataclass
class Completion:
    token_ids: list[int]
    finish_reason: str  # "stop" (a stop id, kept as the last token) or "length" (max_tokens)
    logprobs: list[float] | None


def processed_logits(logits: torch.Tensor, temperature: float, top_p: float, top_k: int) -> torch.Tensor:
    """Temperature, then top-k, then top-p, on logits whose masked tokens are already -inf (vLLM's order)."""
    logits = logits / temperature
    if top_k and 0 < top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        probs = sorted_logits.softmax(-1)
        # Drop a token when the tokens ranked above it already reach top_p (the first token always stays).
        drop = probs.cumsum(-1) - probs >= top_p
        sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)
    return logits


def _as_list(value, n: int) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value] * n


def _prefill(model, prompts: list[tuple]):
    """One forward over the distinct prompts, left-padded (pad id 0, masked out); returns (last logits, cache, mask)."""
    width = max(len(p) for p in prompts)
    ids = torch.tensor([[0] * (width - len(p)) + list(p) for p in prompts], dtype=torch.long)
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], dtype=torch.long)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    out = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True)
    return out.logits[:, -1, :].float(), out.past_key_values, mask


@torch.no_grad()
def sample(
    model,
    prompts: list[list[int]],
    seeds: list[int],
    *,
    max_tokens,
    stop_ids: set[int],
    temperature: float = 1.0,
    top_p: float = 1.0,
    top_k: int = -1,
    min_tokens=0,
    logprobs: str | None = None,
) -> list[Completion]:
    """One completion per row: `prompts[i]` sampled with `seeds[i]`; `max_tokens`/`min_tokens` per row or shared.

    `logprobs`: None, "processed" or "raw" (see the module docstring)."""
    n = len(seeds)
    if len(prompts) != n:
        raise ValueError(f"{len(prompts)} prompts for {n} seeds: give one prompt per row")
    budgets, floors = _as_list(max_tokens, n), _as_list(min_tokens or 0, n)
    for budget in budgets:
        if budget is None or budget < 1:
            raise ValueError(f"max_tokens must be >= 1, got {budget!r}")
    if logprobs not in (None, "processed", "raw"):
        raise ValueError(f"logprobs must be None, 'processed' or 'raw', got {logprobs!r}")
    if n == 0:
        return []
    greedy = temperature < GREEDY_BELOW
    generators = [torch.Generator().manual_seed(int(s)) for s in seeds]
    tokens: list[list[int]] = [[] for _ in range(n)]
    chosen_logprobs: list[list[float]] = [[] for _ in range(n)]
    finished = [False] * n

    distinct = list(dict.fromkeys(tuple(p) for p in prompts))
    logits, past, mask = _prefill(model, distinct)
    rows = torch.tensor([distinct.index(tuple(p)) for p in prompts], dtype=torch.long)
    logits, mask = logits[rows], mask[rows]
    is_stop = torch.zeros(logits.shape[-1], dtype=torch.bool)
    is_stop[[t for t in stop_ids if 0 <= t < logits.shape[-1]]] = True
    past.reorder_cache(rows)
    positions = mask.sum(-1, keepdim=True)  # each row's next position
    active = list(range(n))  # the original row of each batch row
    step = 0
    while True:
        raw = torch.log_softmax(logits, dim=-1) if logprobs == "raw" else None
        below_floor = torch.tensor([step < floors[i] for i in active])
        logits = logits.masked_fill(below_floor[:, None] & is_stop[None, :], float("-inf"))
        if greedy:  # vLLM samples greedy rows before temperature, top-k and top-p
            final = logits
            picked = logits.argmax(dim=-1).tolist()
        else:
            final = processed_logits(logits, temperature, top_p, top_k)
            probs = final.softmax(dim=-1)
            picked = [int(torch.multinomial(probs[b], 1, generator=generators[i])) for b, i in enumerate(active)]
        reported = torch.log_softmax(final, dim=-1) if logprobs == "processed" else raw
        for b, (i, token) in enumerate(zip(active, picked)):
            tokens[i].append(token)
            if reported is not None:
                chosen_logprobs[i].append(float(reported[b, token]))
        next_ids = picked
        step += 1
        keep = []
        for b, i in enumerate(active):
            if tokens[i][-1] in stop_ids:
                finished[i] = True
            elif len(tokens[i]) < budgets[i]:
                keep.append(b)
        if not keep:
            break
        if len(keep) < len(active):
            index = torch.tensor(keep, dtype=torch.long)
            past.reorder_cache(index)
            mask, positions = mask[index], positions[index]
            active = [active[b] for b in keep]
            next_ids = [next_ids[b] for b in keep]
        mask = torch.cat([mask, torch.ones(len(active), 1, dtype=torch.long)], dim=-1)
        out = model(
            input_ids=torch.tensor(next_ids, dtype=torch.long).unsqueeze(-1),
            attention_mask=mask,
            position_ids=positions,
            past_key_values=past,
            use_cache=True,
        )
        past, positions = out.past_key_values, positions + 1
        logits = out.logits[:, -1, :].float()
    return [
        Completion(tokens[i], "stop" if finished[i] else "length", chosen_logprobs[i] if logprobs else None)
        for i in range(n)
    ]
