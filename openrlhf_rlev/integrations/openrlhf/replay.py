"""Score generated responses through OpenRLHF's own reward path, with the vLLM engine replaced by a replay.

`SingleTurnAgentExecutor` loads this plugin's reward file by path and calls it exactly as a rollout actor does;
only generation (which needs a GPU) is replaced: `ReplayEngine` returns the tokens already generated on the CPU.
"""

import asyncio
import importlib.util
from dataclasses import dataclass

from tqdm import tqdm

from openrlhf_rlev import REWARD_FUNC_PATH
from openrlhf_rlev.evaluation import generate as gen

PATH_EXECUTOR = "openrlhf.utils.agent.SingleTurnAgentExecutor"
PATH_DIRECT = "openrlhf_rlev.integrations.openrlhf.reward_func.reward_func (direct call: openrlhf is not installed)"


@dataclass
class _SamplingParams:
    """The two fields of vLLM's SamplingParams the executor reads."""

    max_tokens: int | None
    logprobs: int | None = None


@dataclass
class _CompletionOutput:
    token_ids: list
    text: str
    finish_reason: str
    logprobs: list | None = None


@dataclass
class _RequestOutput:
    outputs: list


class ReplayEngine:
    """Stands in for the vLLM engine in OpenRLHF's `SingleTurnAgentExecutor.execute`: `generate` returns the
    token ids this demo already generated on the CPU (vLLM needs a GPU).

    Everything else is OpenRLHF's real code: the executor tokenizes the templated prompt, calls this engine,
    stitches prompt + response ids, decodes them with `skip_special_tokens=False` into the `query`, and calls the
    reward file it loaded by path (`--reward.remote_url`) in a worker thread. The prompt ids it sends must be
    the ones the response was generated from; anything else is an error, not a silent mismatch.
    """

    def __init__(self, expected_prompt_ids: list, completion: _CompletionOutput):
        self.expected_prompt_ids = list(expected_prompt_ids)
        self.completion = completion

    async def generate(self, prompt_token_ids, sampling_params, multi_modal_data=None):
        if list(prompt_token_ids) != self.expected_prompt_ids:
            raise ValueError("OpenRLHF tokenized the prompt differently from generation; the replay would be wrong")
        return _RequestOutput([self.completion])


def openrlhf_executor():
    """OpenRLHF's executor with our reward file loaded by path, or None when openrlhf cannot be imported."""
    if importlib.util.find_spec("openrlhf") is None:
        return None
    try:
        from openrlhf.utils.agent import SingleTurnAgentExecutor
    except ImportError:
        return None
    return SingleTurnAgentExecutor(REWARD_FUNC_PATH)


def score_predictions(rows: list[dict], tokenizer, chat_template: bool = True, progress: bool = True):
    """(per-row reward dicts, scoring path used). Each dict: index, sample, reward, score, extra_logs."""
    executor = openrlhf_executor()
    prompts = [gen.render_prompt(tokenizer, r["prompt"], chat_template) for r in rows]
    prompt_ids = [gen.prompt_token_ids(tokenizer, p) for p in prompts]
    bar = tqdm(total=len(rows), desc="reward", unit="resp", disable=not progress)
    if executor is not None:
        results = asyncio.run(_execute_all(executor, rows, prompts, prompt_ids, tokenizer, bar))
        path = PATH_EXECUTOR
    else:
        from openrlhf_rlev.integrations.openrlhf.reward_func import reward_func

        results = []
        for r, p, ids in zip(rows, prompts, prompt_ids):
            query = tokenizer.decode(ids + r["response_token_ids"], skip_special_tokens=False)
            results.append(reward_func([query], [p], [r["label"]]))
            bar.update(1)
        path = PATH_DIRECT
    bar.close()
    out = []
    for r, res in zip(rows, results):
        out.append(
            {
                "index": r["index"],
                "sample": r.get("sample", 0),
                "reward": _float(res.get("reward", res.get("rewards"))),
                "score": _float(res.get("scores")),
                "extra_logs": {k: _float(v) for k, v in (res.get("extra_logs") or {}).items()},
            }
        )
    return out, path


async def _execute_all(executor, rows, prompts, prompt_ids, tokenizer, bar, concurrency: int = 16):
    gate = asyncio.Semaphore(concurrency)

    async def one(row, prompt, ids):
        completion = _CompletionOutput(list(row["response_token_ids"]), row["response"], row["finish_reason"])
        params = _SamplingParams(max_tokens=max(1, len(completion.token_ids)))
        async with gate:
            result = await executor.execute(
                prompt, row["label"], params, len(ids) + params.max_tokens, tokenizer, ReplayEngine(ids, completion)
            )
        bar.update(1)
        return result

    return await asyncio.gather(*(one(r, p, i) for r, p, i in zip(rows, prompts, prompt_ids)))


def _float(x):
    if x is None:
        return None
    return float(x.item() if hasattr(x, "item") else x)
