"""Predictions from a model on a prepared dataset: one JSONL row per (prompt, sample), safe to interrupt.

Prompts are rendered exactly as OpenRLHF's `PromptDataset` does with `--data.apply_chat_template` (a string
becomes one user message; `add_generation_prompt=True`) and tokenized like its executor
(`add_special_tokens=False`), so the token ids generated here are the ones a rollout would see.

Rows are written in batches, each appended, flushed and fsynced; a rerun skips the (index, sample) keys already
in the output and drops a torn last line, so an interruption loses at most the batch in flight. Rows are
written longest prompt first (padding-efficient batches), not in data order; `index` joins them back.
"""

import json
import os
from dataclasses import dataclass

from tqdm import tqdm

from openrlhf_rlev.evaluation.datafiles import DataError, load_prepared

DEFAULT_MAX_NEW_TOKENS = 128


@dataclass(frozen=True)
class GenConfig:
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    batch_size: int = 8
    temperature: float = 0.0  # 0 = greedy, the paper's evaluation
    top_p: float = 1.0
    n_samples: int = 1
    input_key: str = "prompt"
    label_key: str = "label"
    chat_template: bool = True
    max_prompt_tokens: int | None = None
    seed: int = 0


@dataclass(frozen=True)
class Completion:
    token_ids: list  # includes the EOS token when the response stopped, as vLLM reports it
    text: str  # decoded without special tokens
    finish_reason: str  # "stop" | "length"


def render_prompt(tokenizer, prompt, chat_template: bool = True) -> str:
    """The prompt text OpenRLHF's PromptDataset would build (openrlhf.datasets.prompts_dataset.preprocess_data)."""
    if not chat_template:
        if not isinstance(prompt, str):
            raise DataError("a chat-message prompt needs the chat template (drop --no-chat-template)")
        return prompt
    chat = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
    return tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)


def prompt_token_ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


# ---- resumable output ----


def row_key(row: dict) -> tuple[int, int]:
    return int(row["index"]), int(row.get("sample", 0))


def read_done(path: str) -> set[tuple[int, int]]:
    """Keys of the complete rows already in `path`; a torn last line (an interrupted write) is cut off."""
    if not os.path.exists(path):
        return set()
    done = set()
    with open(path, "rb") as f:
        data = f.read()
    good_end = data.rfind(b"\n") + 1
    if good_end < len(data):
        with open(path, "r+b") as f:
            f.truncate(good_end)
    for line in data[:good_end].decode("utf-8").splitlines():
        if line.strip():
            try:
                done.add(row_key(json.loads(line)))
            except (ValueError, KeyError, TypeError) as e:
                raise DataError(f"{path}: cannot resume, a line is not a predictions row ({e}): {line[:200]!r}") from e
    return done


# ---- backends ----


class TransformersBackend:
    """Batched generate() with left padding, on whatever device the model is on (CPU here)."""

    def __init__(self, model, tokenizer):
        from openrlhf_rlev.evaluation.model_loading import eos_token_ids

        self.model, self.tokenizer = model, tokenizer
        self.eos_ids = eos_token_ids(model, tokenizer)
        pad = tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else self.eos_ids[0]
        self.on_step = None  # called with the number of new tokens after each decode step (progress)

    def generate(self, prompts: list[list[int]], cfg: GenConfig) -> list[Completion]:
        import torch

        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for i, p in enumerate(prompts):
            ids[i, width - len(p) :] = torch.tensor(p, dtype=torch.long)
            mask[i, width - len(p) :] = 1
        device = next(self.model.parameters()).device
        sampling = {"do_sample": True, "temperature": cfg.temperature, "top_p": cfg.top_p}
        extra = {"stopping_criteria": self._progress(width)} if self.on_step else {}
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=ids.to(device),
                attention_mask=mask.to(device),
                max_new_tokens=cfg.max_new_tokens,
                eos_token_id=self.eos_ids,
                pad_token_id=self.pad_id,
                **(sampling if cfg.temperature > 0 else {"do_sample": False}),
                **extra,
            )
        return [self._completion(row[width:].tolist()) for row in out]

    def _progress(self, prompt_width: int):
        """A stopping criterion that never stops: it reports each decode step, so a batch of long prompts shows
        progress within seconds instead of only when the whole batch is done."""
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        on_step = self.on_step

        class Progress(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                on_step(input_ids.shape[1] - prompt_width)
                return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

        return StoppingCriteriaList([Progress()])

    def _completion(self, new_ids: list[int]) -> Completion:
        for i, t in enumerate(new_ids):
            if t in self.eos_ids:
                kept, reason = new_ids[: i + 1], "stop"
                break
        else:
            kept, reason = new_ids, "length"
        return Completion(kept, self.tokenizer.decode(kept, skip_special_tokens=True), reason)


class VLLMBackend:
    """vLLM on a GPU. Not exercised by the CPU test suite (vLLM needs CUDA); the transformers path is."""

    def __init__(self, model_path: str, seed: int = 0):
        from vllm import LLM

        self.llm = LLM(model=model_path, seed=seed)

    def generate(self, prompts: list[list[int]], cfg: GenConfig) -> list[Completion]:
        from vllm import SamplingParams

        params = SamplingParams(temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=cfg.max_new_tokens)
        outs = self.llm.generate([{"prompt_token_ids": p} for p in prompts], params, use_tqdm=False)
        return [Completion(list(o.outputs[0].token_ids), o.outputs[0].text, o.outputs[0].finish_reason) for o in outs]


def vllm_usable() -> bool:
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        return False
    import torch

    return torch.cuda.is_available()


# ---- the run ----


def generate_file(
    data_path: str,
    out_path: str,
    backend,
    tokenizer,
    cfg: GenConfig = GenConfig(),
    limit: int | None = None,
    progress: bool = True,
) -> dict:
    """Generate every missing (index, sample) of the data rows with index < `limit` into `out_path`.

    Data rows that cannot be used (bad JSON, no prompt, prompt over --max-prompt-tokens) go to
    `<out>.skipped.jsonl` with a reason; the returned counts add up to rows x samples.
    """
    rows, skipped = load_prepared(data_path, cfg.input_key, cfg.label_key)
    if limit is not None:
        rows = [r for r in rows if r["index"] < limit]
        skipped = [s for s in skipped if s["index"] < limit]
    done = read_done(out_path)
    work = []
    for row in rows:
        text = render_prompt(tokenizer, row["prompt"], cfg.chat_template)
        ids = prompt_token_ids(tokenizer, text)
        if cfg.max_prompt_tokens and len(ids) > cfg.max_prompt_tokens:
            skipped.append(
                {"index": row["index"], "reason": f"prompt has {len(ids)} tokens > {cfg.max_prompt_tokens}"}
            )
            continue
        for s in range(cfg.n_samples):
            if (row["index"], s) not in done:
                work.append((len(ids), row, s, ids))
    _write_skipped(out_path, skipped)
    work.sort(key=lambda w: -w[0])
    already = sum(1 for row in rows for s in range(cfg.n_samples) if (row["index"], s) in done)
    _seed(cfg.seed)
    written = 0
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    n_batches = -(-len(work) // cfg.batch_size)
    with (
        open(out_path, "a", encoding="utf-8") as out,
        tqdm(total=len(work), desc="generate", unit="resp", disable=not progress) as bar,
    ):
        for b, start in enumerate(range(0, len(work), cfg.batch_size), start=1):
            if progress and hasattr(backend, "on_step"):
                backend.on_step = lambda t, b=b: bar.set_postfix_str(
                    f"batch {b}/{n_batches}, token {t}/{cfg.max_new_tokens}", refresh=True
                )
                backend.on_step(0)  # shown at once; a batch of long prompts takes a while to its first token
            batch = work[start : start + cfg.batch_size]
            completions = backend.generate([w[3] for w in batch], cfg)
            for (_, row, s, _), c in zip(batch, completions):
                out.write(json.dumps(output_row(row, s, c), ensure_ascii=False) + "\n")
            out.flush()
            os.fsync(out.fileno())
            written += len(batch)
            bar.update(len(batch))
    return {
        "output": out_path,
        "written": written,
        "already_done": already,
        "skipped": len(skipped),
        "skipped_file": skipped_path(out_path) if skipped else None,
    }


def output_row(row: dict, sample: int, c: Completion) -> dict:
    out = {"index": row["index"]}
    if "id" in row:
        out["id"] = row["id"]
    out.update(
        sample=sample,
        prompt=row["prompt"],
        response=c.text,
        label=row["label"],
        datasource=row["datasource"],
        n_tokens=len(c.token_ids),
        finish_reason=c.finish_reason,
        response_token_ids=list(c.token_ids),
    )
    return out


def skipped_path(out_path: str) -> str:
    return os.path.splitext(out_path)[0] + ".skipped.jsonl"


def _write_skipped(out_path: str, skipped: list[dict]) -> None:
    path = skipped_path(out_path)
    if skipped:
        with open(path, "w", encoding="utf-8") as f:
            for s in skipped:
                f.write(json.dumps(s, ensure_ascii=False) + "\n")
    elif os.path.exists(path):
        os.remove(path)


def _seed(seed: int) -> None:
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:
        pass
