"""P(EOS) by response position for the top-k and bottom-k prompts by value (the paper's Figure 2).

RLEV's claim is that value-scaled rewards teach a policy *when to stop*: low-value prompts end early, high-value
prompts stay thorough. The direct measurement: teacher-force each (chat-templated prompt, response) through the
model and read, at every response position t = 0..L, the probability that the next token is an EOS token given
the prompt and the first t response tokens (t = L is just after the response, where a stopped response emitted
its EOS). Curves average over the responses still running at t; `n` says how many that is.

The response is re-tokenized from its text with the model's tokenizer, so curves of two checkpoints
(`--compare`) are computed on the same responses the same way.
"""

import json
import math
from dataclasses import dataclass

from tqdm import tqdm

from openrlhf_rlev.evaluation import metrics
from openrlhf_rlev.evaluation.evaluate import DataJoin, RowRejected, iter_jsonl, prompt_key
from openrlhf_rlev.evaluation.generate import prompt_token_ids, render_prompt
from openrlhf_rlev.reward.labels import LabelError, parse_label


@dataclass(frozen=True)
class Example:
    key: str
    value: float
    prompt_ids: list
    response_ids: list


@dataclass(frozen=True)
class _Prompt:
    key: str
    value: float


# ---- inputs ----


def load_examples(predictions: str, tokenizer, data: str | None = None, chat_template: bool = True):
    """(examples, skipped {reason: count}). Rows without a usable value, prompt or response are skipped."""
    join = DataJoin(data)
    examples, skipped = [], {}
    for line_no, row, error, _ in iter_jsonl(predictions):
        try:
            examples.append(_example(row, line_no, error, join, tokenizer, chat_template))
        except RowRejected as e:
            reason = str(e).split(":")[0]
            skipped[reason] = skipped.get(reason, 0) + 1
    return examples, skipped


def _example(row, line_no, error, join, tokenizer, chat_template) -> Example:
    if error or not isinstance(row, dict):
        raise RowRejected("not a JSON object")
    if not isinstance(row.get("response"), str):
        raise RowRejected("no response")
    joined = join.find(row) or {}
    label = row.get("label") if row.get("label") is not None else joined.get("label")
    prompt = row.get("prompt") if row.get("prompt") is not None else joined.get("prompt")
    if prompt is None:
        raise RowRejected("no prompt (pass --data to join it by index)")
    try:
        value = parse_label(label).value
    except LabelError:
        value = None
    if value is None:
        raise RowRejected("no value in label")
    prompt_ids = prompt_token_ids(tokenizer, render_prompt(tokenizer, prompt, chat_template))
    response_ids = tokenizer(row["response"], add_special_tokens=False)["input_ids"]
    return Example(prompt_key(row, line_no), value, prompt_ids, response_ids)


def select_top_bottom(examples: list[Example], k: int | None = None, fraction: float = metrics.TOP_BOTTOM_FRACTION):
    """(top, bottom) examples: all samples of the k highest- and k lowest-valued prompts."""
    values = {}
    for e in examples:
        values.setdefault(e.key, e.value)
    top, bottom = metrics.top_bottom([_Prompt(key, v) for key, v in values.items()], fraction=fraction, k=k)
    top_keys, bottom_keys = {p.key for p in top}, {p.key for p in bottom}
    return [e for e in examples if e.key in top_keys], [e for e in examples if e.key in bottom_keys]


# ---- the forward pass ----


def eos_probabilities(model, examples: list[Example], eos_ids: list[int], batch_size: int = 4, progress=False):
    """Per example, [P(EOS at t) for t = 0..L]. Batches are left-padded so every response ends at the same
    column, and only the last max(L)+1 columns of logits are materialized (vocab-sized rows are the memory)."""
    import torch

    device = next(model.parameters()).device
    pad = 0
    out: list = [None] * len(examples)
    order = sorted(range(len(examples)), key=lambda i: -len(examples[i].prompt_ids) - len(examples[i].response_ids))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    for batch in tqdm(batches, desc="P(EOS)", unit="batch", disable=not progress):
        seqs = [examples[i].prompt_ids + examples[i].response_ids for i in batch]
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), pad, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for row, s in enumerate(seqs):
            ids[row, width - len(s) :] = torch.tensor(s, dtype=torch.long)
            mask[row, width - len(s) :] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        keep = max(len(examples[i].response_ids) for i in batch) + 1
        with torch.inference_mode():
            logits = _last_logits(model, ids.to(device), mask.to(device), positions.to(device), keep)
            p_eos = torch.softmax(logits.float(), dim=-1)[..., eos_ids].sum(-1).cpu()
        for row, i in enumerate(batch):
            n = len(examples[i].response_ids) + 1
            out[i] = p_eos[row, keep - n :].tolist()
    return out


def _last_logits(model, ids, mask, positions, keep: int):
    try:
        logits = model(input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=keep).logits
    except TypeError:  # a model without logits_to_keep
        logits = model(input_ids=ids, attention_mask=mask, position_ids=positions).logits
    return logits[:, -keep:, :]


def mean_curve(curves: list[list[float]], max_positions: int | None = None) -> tuple[list[float], list[int]]:
    """Per position, the mean over the curves long enough to have it, and how many that is."""
    length = max((len(c) for c in curves), default=0)
    if max_positions is not None:
        length = min(length, max_positions)
    means, counts = [], []
    for t in range(length):
        alive = [c[t] for c in curves if len(c) > t]
        means.append(sum(alive) / len(alive))
        counts.append(len(alive))
    return means, counts


EOS_FLOOR = 1e-12  # log10 of 0 is undefined: P(EOS) below this counts as this


def window_size(length: int) -> int:
    """About a dozen windows over the longest response, at least 4 positions each."""
    return max(4, -(-length // 12))


def window_bands(curves: list[list[float]], window: int) -> list[dict]:
    """The readable form of P(EOS) curves: per window of `window` positions, each response still running there
    gives one number (its mean log10 P(EOS) over the window), and the window gets their mean with a 95% band
    (1.96 standard errors across responses). Raw per-position means over a few dozen responses are spiky noise."""
    length = max((len(c) for c in curves), default=0)
    out = []
    for start in range(0, length, window):
        per = [
            sum(math.log10(max(p, EOS_FLOOR)) for p in c[start : start + window]) / len(c[start : start + window])
            for c in curves
            if len(c) > start
        ]
        n = len(per)
        mean = sum(per) / n
        se = math.sqrt(sum((x - mean) ** 2 for x in per) / (n - 1) / n) if n > 1 else 0.0
        end = min(start + window, length)
        out.append(
            {"start": start, "end": end, "log10_mean": mean, "lo": mean - 1.96 * se, "hi": mean + 1.96 * se, "n": n}
        )
    return out


# ---- the whole measurement ----


def termination_curves(
    model,
    tokenizer,
    predictions: str,
    data: str | None = None,
    k: int | None = None,
    batch_size: int = 4,
    max_positions: int | None = None,
    chat_template: bool = True,
    model_name: str = "model",
    progress: bool = True,
) -> dict:
    from openrlhf_rlev.evaluation.model_loading import eos_token_ids

    examples, skipped = load_examples(predictions, tokenizer, data, chat_template)
    top, bottom = select_top_bottom(examples, k=k)
    eos_ids = eos_token_ids(model, tokenizer)
    probs = eos_probabilities(model, top + bottom, eos_ids, batch_size=batch_size, progress=progress)
    result = {
        "model": model_name,
        "eos_token_ids": eos_ids,
        "n_prompts": len({e.key for e in examples}),
        "k": len({e.key for e in top}),
        "skipped": skipped,
        "definition": __doc__.split("\n\n")[1].replace("\n", " "),
    }
    window = window_size(max((len(c) for c in probs), default=0) if max_positions is None else max_positions)
    result["window"] = window
    for name, group, curves in (("top", top, probs[: len(top)]), ("bottom", bottom, probs[len(top) :])):
        means, counts = mean_curve(curves, max_positions)
        values = [e.value for e in group]
        result[name] = {
            "prompts": sorted({e.key for e in group}),
            "value_min": min(values) if values else None,
            "value_max": max(values) if values else None,
            "n_responses": len(group),
            "mean_response_tokens": sum(len(e.response_ids) for e in group) / len(group) if group else None,
            "p_eos": means,
            "n": counts,
            "windows": window_bands([c[:max_positions] for c in curves], window),
        }
    return result


def write_curves(result: dict, json_path: str, png_path: str | None, compare: dict | None = None) -> dict:
    from openrlhf_rlev.evaluation.plots import plot_termination

    with open(json_path, "w", encoding="utf-8") as f:
        json.dump(result, f, ensure_ascii=False, indent=2)
    written = {"curves": json_path}
    if png_path:
        series = [(result["model"], result)] + ([(compare["model"], compare)] if compare else [])
        title = f"P(EOS) by response position, top vs bottom {result['k']} prompts by value"
        written["plot"] = plot_termination(series, png_path, title)
    return written


def load_curves(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if not all(g in data and "p_eos" in data[g] for g in ("top", "bottom")):
        raise ValueError(f"{path}: not a termination curves JSON (needs top/bottom p_eos)")
    data.setdefault("model", path)
    for g in ("top", "bottom"):  # written before windows existed: the mean curve alone, no band
        if "windows" not in data[g]:
            data[g]["windows"] = window_bands([data[g]["p_eos"]], window_size(len(data[g]["p_eos"])))
    return data
