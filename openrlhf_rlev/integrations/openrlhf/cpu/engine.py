"""The rollout engine on CPU: OpenRLHF's `RolloutRayActor` with vLLM replaced by transformers sampling.

`generate_responses` is OpenRLHF's own function (`RolloutRayActor.generate_responses`, which runs OpenRLHF's agent
executor: the `SingleTurnAgentExecutor` that loads the reward file, or a `--train.agent_func_path` executor), called
with a `Sampler` as the engine the executor generates with. What changes is what vLLM did: the model loads with
transformers, `Sampler.generate` samples (`sampling.sample`), and `load_weights` takes the trainer's state dict
(`weight_sync`) instead of an NCCL broadcast. `create_vllm_engines` builds these actors with the arguments it gives
vLLM's.

Determinism: the actor is a plain (synchronous) Ray actor, which Ray runs in submission order; OpenRLHF's
SamplesGenerator collects prompts in the order they complete, so they complete in the order it sent them. (An
async actor, like vLLM's, starts calls as their arguments arrive, which under load reorders them.) The n samples of
a prompt are decoded together, each with a seed derived from (engine seed, weight version, prompt, sample number).
Together: the same flags and seed give the same rollouts in the same order, and so the same weights.
"""

import asyncio
import hashlib
from dataclasses import dataclass, field

import ray
import torch

from openrlhf_rlev.evaluation.model_loading import eos_token_ids
from openrlhf_rlev.integrations.openrlhf.cpu import shims
from openrlhf_rlev.integrations.openrlhf.cpu.sampling import sample

shims.install()  # OpenRLHF imports vllm and flash_attn at module level

from openrlhf.trainer.ray import vllm_engine  # noqa: E402
from openrlhf.utils.agent import SingleTurnAgentExecutor  # noqa: E402


def ray_actor_class(actor):
    """The user class behind `@ray.remote class X` (Ray keeps it as the modified class's base)."""
    try:
        return actor.__ray_metadata__.modified_class.__bases__[0]
    except AttributeError as e:
        raise TypeError(f"{actor!r} is not a Ray actor class this backend knows how to extend: {e}") from None


@dataclass
class Logprob:
    logprob: float


@dataclass
class CompletionOutput:
    token_ids: list
    text: str
    finish_reason: str
    logprobs: list | None = None


@dataclass
class RequestOutput:
    outputs: list = field(default_factory=list)


def sample_seed(seed: int, version: int, prompt_ids: tuple, number: int) -> int:
    digest = hashlib.sha256(repr((seed, version, prompt_ids, number)).encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


class Sampler:
    """The engine OpenRLHF's agent executor generates with (`await llm_engine.generate(...)`), on transformers."""

    def __init__(self, executor, model: str, seed: int, dtype: str):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.executor = executor  # what OpenRLHF's generate_responses reads from its `self`
        self.tokenizer = AutoTokenizer.from_pretrained(model, trust_remote_code=True)
        # Loaded in the run's param dtype (what the trainer loads) and computed in float32 (what it trains in).
        self.model = AutoModelForCausalLM.from_pretrained(model, dtype=getattr(torch, dtype), trust_remote_code=True)
        self.model.float().eval()
        self.eos_ids = set(eos_token_ids(self.model, self.tokenizer))
        self.seed = int(seed)
        self.version = 0  # weight updates received
        self.sample_numbers: dict = {}
        self.queue: list = []

    async def generate(self, prompt_token_ids, sampling_params, multi_modal_data=None):
        if multi_modal_data:
            raise NotImplementedError("the CPU rollout engine generates text only")
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if not self.queue:
            loop.call_soon(self._flush)  # runs after the other samples of this prompt have queued
        self.queue.append((tuple(prompt_token_ids), sampling_params, future))
        return await future

    def _flush(self):
        queue, self.queue = self.queue, []
        groups: dict = {}
        for prompt, params, future in queue:
            key = (prompt, params.temperature, params.top_p, params.top_k, params.max_tokens, params.min_tokens)
            groups.setdefault(key, (prompt, params, []))[2].append(future)
        for prompt, params, futures in groups.values():
            try:
                outputs = self._sample(prompt, params, len(futures))
            except Exception as e:  # the caller's await gets the error, not a hung engine
                outputs = [e] * len(futures)
            for future, output in zip(futures, outputs):
                if isinstance(output, Exception):
                    future.set_exception(output)
                else:
                    future.set_result(output)

    def _sample(self, prompt: tuple, params, n: int) -> list:
        first = self.sample_numbers.get(prompt, 0)
        self.sample_numbers[prompt] = first + n
        seeds = [sample_seed(self.seed, self.version, prompt, first + i) for i in range(n)]
        completions = sample(
            self.model,
            list(prompt),
            seeds,
            max_tokens=params.max_tokens,
            eos_ids=self.eos_ids,
            temperature=params.temperature,
            top_p=params.top_p,
            top_k=params.top_k if params.top_k is not None else -1,
            min_tokens=params.min_tokens or 0,
            want_logprobs=params.logprobs is not None,
        )
        return [
            RequestOutput(
                [
                    CompletionOutput(
                        token_ids=c.token_ids,
                        text=self.tokenizer.decode(c.token_ids, skip_special_tokens=params.skip_special_tokens),
                        finish_reason=c.finish_reason,
                        logprobs=None
                        if c.logprobs is None
                        else [{t: Logprob(p)} for t, p in zip(c.token_ids, c.logprobs)],
                    )
                ]
            )
            for c in completions
        ]

    def load_weights(self, state_dict: dict) -> int:
        self.model.load_state_dict(state_dict, strict=True)
        self.version += 1
        self.sample_numbers.clear()
        return self.version


# OpenRLHF's own generate_responses: an async function of (self with .executor, prompt, label, ...).
_generate_responses = ray_actor_class(vllm_engine.RolloutRayActor).generate_responses


class CPURolloutEngine:
    """The Ray actor `create_vllm_engines` builds in place of RolloutRayActor; synchronous, so calls run in order."""

    def __init__(self, *args, model, seed=0, dtype="bfloat16", agent_func_path=None, remote_rm_url=None, **_):
        # As RolloutRayActor: the executor is OpenRLHF's, chosen the same way.
        if agent_func_path:
            executor = vllm_engine._load_agent_executor(agent_func_path)
        else:
            executor = SingleTurnAgentExecutor(remote_rm_url)
        self.sampler = Sampler(executor, model, seed, dtype)

    def generate_responses(self, *args, **kwargs):
        return asyncio.run(_generate_responses(self.sampler, *args, **kwargs))

    def get_num_unfinished_requests(self) -> int:
        return 0  # calls run one at a time; none is in flight when this one runs

    def load_weights(self, state_dict: dict) -> int:
        """The trainer's weights (see weight_sync); returns the new weight version."""
        return self.sampler.load_weights(state_dict)

    def reset_prefix_cache(self):
        return None

    def pause_generation(self):
        """`--train.async_enable`'s weight broadcast pauses the engines first. Calls here run one at a time, so by
        the time this runs no generation is in flight: nothing to pause (vLLM's mid-request pause has no CPU twin,
        which is why `--train.partial_rollout_enable` is refused on CPU)."""
        return None

    def resume_generation(self):
        return None

    def sleep(self, level=1):
        return None

    def wake_up(self, tags=None):
        return None

    def init_process_group(self, *args, **kwargs):
        raise NotImplementedError("the CPU rollout engine receives weights by load_weights, not a process group")

    def update_weight(self, *args, **kwargs):
        raise NotImplementedError("the CPU rollout engine receives weights by load_weights")

    def update_weight_cuda_ipc(self, *args, **kwargs):
        raise NotImplementedError("the CPU rollout engine receives weights by load_weights")


def remote_class():
    """The Ray actor class `create_vllm_engines` instantiates in place of RolloutRayActor."""
    return ray.remote(CPURolloutEngine)
