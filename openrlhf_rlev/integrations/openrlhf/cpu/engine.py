"""The rollout engine on CPU: OpenRLHF's `RolloutRayActor` with vLLM replaced by transformers sampling.

`generate_responses` is OpenRLHF's own function (`RolloutRayActor.generate_responses`, which runs OpenRLHF's agent
executor: the `SingleTurnAgentExecutor` that loads the reward file, or a `--train.agent_func_path` executor), called
with a `Sampler` as the engine the executor generates with. What changes is what vLLM did: the model loads with
transformers, `Sampler.generate` samples (`sampling.sample`), and `load_weights` takes the trainer's state dict
(`weight_sync`) instead of an NCCL broadcast. `create_vllm_engines` builds these actors with the arguments it gives
vLLM's.

Batching: like vLLM, which batches whatever requests are in flight, the engine samples the prompts of a call
together. OpenRLHF's `SamplesGenerator._dispatch_prompts_to_vllm` sends one `generate_responses` call per prompt;
`batch_dispatch` (installed in the trainer process) runs that same function, collects the calls it makes per engine,
and sends them as one `generate_batch` call with one Ray return per prompt. There, OpenRLHF's `generate_responses`
runs for every prompt at once, and the sampler waits until every unfinished sample has asked for tokens, then
samples them as one batch (grouped by sampling params). `RLEV_CPU_BATCH=0` turns this off (one prompt at a time).

Determinism: the actor is a plain (synchronous) Ray actor, which Ray runs in submission order; a batch is what one
dispatch sent; OpenRLHF's SamplesGenerator collects prompts as they complete (`ray.wait`), and here takes them in
the order it sent them (`InOrderRay`). Each sample draws from its own generator, seeded from
(engine seed, weight version, prompt, sample number of that prompt), whatever else is in the batch. Together: the
same flags and seed give the same rollouts in the same order, and so the same weights.
"""

import asyncio
import dataclasses
import hashlib
import os
import time
from dataclasses import dataclass, field

import ray
import torch

from openrlhf_rlev.integrations.openrlhf.cpu import device, ds_engine, numerics, shims, weight_sync
from openrlhf_rlev.integrations.openrlhf.cpu.sampling import sample

BATCH_ENV = "RLEV_CPU_BATCH"  # "0": one prompt per engine call, as before batching (benchmarks compare the two)
# Sampling params the sampler takes per row; requests that differ in anything else are sampled in separate batches.
PER_ROW_PARAMS = ("max_tokens", "min_tokens")
# vLLM's logprobs_mode values -> what `sampling.sample` reports (OpenRLHF asks for processed_logprobs).
LOGPROBS_MODES = {None: "raw", "raw_logprobs": "raw", "processed_logprobs": "processed"}

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


def stop_token_ids(model, tokenizer) -> set[int]:
    """What vLLM stops on by default: the tokenizer's EOS and every EOS of the generation config."""
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    config_ids = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if config_ids is not None:
        ids |= set(config_ids) if isinstance(config_ids, (list, tuple)) else {config_ids}
    if not ids:
        raise ValueError("the model has no EOS token id (neither its tokenizer nor its generation config names one)")
    return {int(i) for i in ids}


def params_fields(params) -> dict:
    """The fields of a SamplingParams: the shim's dataclass, or vLLM's own (a msgspec struct) when installed."""
    if dataclasses.is_dataclass(params):
        return {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}
    names = getattr(params, "__struct_fields__", None)
    return {name: getattr(params, name) for name in names} if names else dict(vars(params))


def batch_key(params) -> tuple:
    """Requests with equal keys are sampled together: every sampling param but the per-row budgets."""
    return tuple(sorted((k, repr(v)) for k, v in params_fields(params).items() if k not in PER_ROW_PARAMS))


def refuse_unsupported(params) -> None:
    """vLLM features OpenRLHF does not set and this engine does not implement: an error, never silently ignored."""
    fields = params_fields(params)
    unsupported = {
        "stop": bool(fields.get("stop")),
        "ignore_eos": bool(fields.get("ignore_eos")),
        "n": fields.get("n", 1) != 1,
    }
    wrong = [name for name, given in unsupported.items() if given]
    if wrong:
        raise NotImplementedError(f"the CPU rollout engine does not implement SamplingParams {wrong}: {params!r}")


class _CountingExecutor:
    """OpenRLHF's executor, telling the sampler when a sample is done (so it never waits for a finished one)."""

    def __init__(self, executor, sampler):
        self._executor, self._sampler = executor, sampler

    async def execute(self, *args, **kwargs):
        try:
            return await self._executor.execute(*args, **kwargs)
        finally:
            self._sampler.sample_done()

    def __getattr__(self, name):
        return getattr(self._executor, name)


class Sampler:
    """The engine OpenRLHF's agent executor generates with (`await llm_engine.generate(...)`), on transformers."""

    def __init__(self, executor, model: str, seed: int, dtype: str, logprobs_mode: str | None = None):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if logprobs_mode not in LOGPROBS_MODES:
            raise NotImplementedError(f"logprobs_mode {logprobs_mode!r}: the CPU engine has {sorted(LOGPROBS_MODES)}")
        self.executor = _CountingExecutor(executor, self)  # what OpenRLHF's generate_responses reads from `self`
        self.tokenizer = AutoTokenizer.from_pretrained(model, trust_remote_code=True)
        # Loaded in the run's param dtype (what the trainer loads) and computed in what the trainer trains in:
        # float32, or bf16 with --rlev.cpu_dtype bf16 (as vLLM computes with the bf16 weights it is sent).
        self.model = AutoModelForCausalLM.from_pretrained(model, dtype=getattr(torch, dtype), trust_remote_code=True)
        self.model.to(torch.bfloat16 if numerics.bf16() else torch.float32).eval()
        self.compute_dtypes: set = set()  # dtypes the LM head's input had while sampling (the log line reports them)
        head = ds_engine.output_embeddings(self.model)
        if head is not None:
            head.register_forward_pre_hook(lambda _m, inputs: self.compute_dtypes.add(inputs[0].dtype))
        self.stop_ids = stop_token_ids(self.model, self.tokenizer)
        self.logprobs = LOGPROBS_MODES[logprobs_mode]
        self.seed = int(seed)
        self.version = 0  # weight updates received
        self._weights_sha = None  # sha256 of the weights it samples with (weight_sync.weights_digest), per version
        self.sample_numbers: dict = {}
        self.queue: list = []
        self.unfinished = 0  # samples of the running batch whose executor has not returned
        self.flush_scheduled = False
        self.batches = 0  # sampling batches run (for the engine's log line)

    async def run(self, calls: list[dict]) -> list:
        """OpenRLHF's generate_responses for every call (one prompt each), sampled together."""
        self.unfinished = sum(call.get("num_samples", 1) for call in calls)
        try:
            return await asyncio.gather(*(_generate_responses(self, **call) for call in calls))
        finally:
            self.unfinished = 0

    async def generate(self, prompt_token_ids, sampling_params, multi_modal_data=None):
        if multi_modal_data:
            raise NotImplementedError("the CPU rollout engine generates text only")
        future = asyncio.get_running_loop().create_future()
        self.queue.append((tuple(prompt_token_ids), sampling_params, future))
        self._schedule()
        return await future

    def sample_done(self) -> None:
        self.unfinished = max(0, self.unfinished - 1)
        self._schedule()

    def _schedule(self) -> None:
        # After the callbacks already queued: the other samples started with this one ask for tokens first.
        if self.queue and not self.flush_scheduled:
            self.flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self):
        self.flush_scheduled = False
        if len(self.queue) < self.unfinished:
            return  # a sample is still busy (a reward, an agent step): sample when it asks for tokens or is done
        queue, self.queue = self.queue, []
        groups: dict = {}
        for request in queue:
            groups.setdefault(batch_key(request[1]), []).append(request)
        for group in groups.values():
            try:
                outputs = self._sample(group)
            except Exception as e:  # the caller's await gets the error, not a hung engine
                outputs = [e] * len(group)
            for (_, _, future), output in zip(group, outputs):
                if isinstance(output, Exception):
                    future.set_exception(output)
                else:
                    future.set_result(output)

    def _seed(self, prompt: tuple, params) -> int:
        if getattr(params, "seed", None) is not None:  # vLLM: a request's own seed fixes its sample
            return int(params.seed)
        number = self.sample_numbers.get(prompt, 0)
        self.sample_numbers[prompt] = number + 1
        return sample_seed(self.seed, self.version, prompt, number)

    def _sample(self, group: list) -> list:
        self.batches += 1
        params = group[0][1]
        refuse_unsupported(params)
        logprobs = self.logprobs if params.logprobs is not None else None
        completions = sample(
            self.model,
            [list(prompt) for prompt, _, _ in group],
            [self._seed(prompt, p) for prompt, p, _ in group],
            max_tokens=[p.max_tokens for _, p, _ in group],
            min_tokens=[p.min_tokens or 0 for _, p, _ in group],
            stop_ids=self.stop_ids | set(getattr(params, "stop_token_ids", None) or ()),
            temperature=params.temperature,
            top_p=params.top_p,
            top_k=params.top_k if params.top_k is not None else -1,
            logprobs=logprobs,
        )
        keep_stop = getattr(params, "include_stop_str_in_output", False)
        return [RequestOutput([self._output(c, params, keep_stop)]) for c in completions]

    def _output(self, c, params, keep_stop: bool) -> "CompletionOutput":
        # vLLM's text leaves out the token that stopped the sample (token_ids keep it).
        shown = c.token_ids if keep_stop or c.finish_reason != "stop" else c.token_ids[:-1]
        return CompletionOutput(
            token_ids=c.token_ids,
            text=self.tokenizer.decode(shown, skip_special_tokens=params.skip_special_tokens),
            finish_reason=c.finish_reason,
            logprobs=None if c.logprobs is None else [{t: Logprob(p)} for t, p in zip(c.token_ids, c.logprobs)],
        )

    def weights_sha(self) -> str:
        """sha256 of the model it samples with, as weight_sync hashes what the trainer sends (~0.5 s for 135M
        parameters, once per weight version): the log shows which weights generated each step."""
        if self._weights_sha is None:
            self._weights_sha = weight_sync.weights_digest(self.model.state_dict())
        return self._weights_sha

    def load_weights(self, state_dict: dict) -> int:
        self.model.load_state_dict(state_dict, strict=True)
        self._weights_sha = None
        self.version += 1
        self.sample_numbers.clear()
        return self.version


# OpenRLHF's own generate_responses: an async function of (self with .executor, prompt, label, ...).
_generate_responses = ray_actor_class(vllm_engine.RolloutRayActor).generate_responses


class CPURolloutEngine:
    """The Ray actor `create_vllm_engines` builds in place of RolloutRayActor; synchronous, so calls run in order."""

    def __init__(
        self, *args, model, seed=0, dtype="bfloat16", agent_func_path=None, remote_rm_url=None, logprobs_mode=None, **_
    ):
        torch.set_num_threads(device.share("generation"))  # the engines generate at the same time
        # As RolloutRayActor: the executor is OpenRLHF's, chosen the same way.
        if agent_func_path:
            executor = vllm_engine._load_agent_executor(agent_func_path)
        else:
            executor = SingleTurnAgentExecutor(remote_rm_url)
        self.sampler = Sampler(executor, model, seed, dtype, logprobs_mode)

    def generate_responses(self, *args, **kwargs):
        """One prompt, as OpenRLHF calls it (and as the engine runs with RLEV_CPU_BATCH=0)."""
        return asyncio.run(_generate_responses(self.sampler, *args, **kwargs))

    def generate_batch(self, calls: list[dict]):
        """Several generate_responses calls (keyword arguments each), sampled together; one Ray return per call."""
        started, batches = time.perf_counter(), self.sampler.batches
        results = asyncio.run(self.sampler.run(calls))
        samples = sum(len(r) for r in results)
        print(
            f"RLEV CPU engine: {len(calls)} prompt(s), {samples} sample(s) in {self.sampler.batches - batches} "
            f"sampling batch(es), {time.perf_counter() - started:.1f} s, weights version {self.sampler.version} "
            f"sha256 {self.sampler.weights_sha()[:16]}, computed in {sorted(map(str, self.sampler.compute_dtypes))}"
        )
        return results[0] if len(calls) == 1 else results

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


class _Recorder:
    """Stands in for one engine while OpenRLHF's dispatch runs: records its generate_responses calls."""

    def __init__(self, engine, index: int, calls: list):
        self.get_num_unfinished_requests = engine.get_num_unfinished_requests  # dispatch asks each engine's load
        self.generate_responses = self
        self._index, self._calls = index, calls

    def remote(self, **kwargs):
        self._calls.append((self._index, kwargs))
        return len(self._calls) - 1  # where this prompt's ref goes in the list dispatch returns


def batch_dispatch(dispatch):
    """Wrap `SamplesGenerator._dispatch_prompts_to_vllm`: OpenRLHF's dispatch decides which engine gets which
    prompt with which params; the calls it makes go out as one `generate_batch` per engine, one ref per prompt."""

    def dispatch_in_batches(self, *args, **kwargs):
        engines = self.vllm_engines
        if os.environ.get(BATCH_ENV, "1") == "0":
            return dispatch(self, *args, **kwargs)
        calls: list = []
        self.vllm_engines = [_Recorder(engine, i, calls) for i, engine in enumerate(engines)]
        try:
            slots = dispatch(self, *args, **kwargs)
        finally:
            self.vllm_engines = engines
        refs: list = [None] * len(calls)
        for index, engine in enumerate(engines):
            mine = [slot for slot, (owner, _) in enumerate(calls) if owner == index]
            if not mine:
                continue
            batch = [calls[slot][1] for slot in mine]
            out = engine.generate_batch.options(num_returns=len(batch)).remote(batch)
            for slot, ref in zip(mine, out if len(batch) > 1 else [out]):
                refs[slot] = ref
        return [refs[slot] for slot in slots]

    dispatch_in_batches.__wrapped__ = dispatch
    dispatch_in_batches.__rlev_cpu_batch__ = True
    return dispatch_in_batches


class InOrderRay:
    """`ray` as SamplesGenerator sees it, except that `wait(refs, num_returns=1)` hands back refs in the order they
    were dispatched. Ray's own wait picks among several ready refs by hash order, which differs between runs: the
    prompts of a batch are all ready at once, and the experiences (and so the micro-batches and their float sums)
    would come in a different order each run."""

    def __getattr__(self, name):
        return getattr(ray, name)

    @staticmethod
    def wait(refs, *, num_returns=1, timeout=None, **kwargs):
        refs = list(refs)
        if num_returns != 1 or not refs:
            return ray.wait(refs, num_returns=num_returns, timeout=timeout, **kwargs)
        ready, _ = ray.wait(refs[:1], num_returns=1, timeout=timeout, **kwargs)
        return (refs[:1], refs[1:]) if ready else ([], refs)


def patch_samples_generator(module) -> None:
    """In `openrlhf.trainer.ppo_utils.samples_generator` (idempotent): `batch_dispatch` on
    `SamplesGenerator._dispatch_prompts_to_vllm`, and `InOrderRay` as the module's `ray`."""
    cls = module.SamplesGenerator
    if not getattr(cls._dispatch_prompts_to_vllm, "__rlev_cpu_batch__", False):
        cls._dispatch_prompts_to_vllm = batch_dispatch(cls._dispatch_prompts_to_vllm)
    if not isinstance(module.ray, InOrderRay):
        module.ray = InOrderRay()


def remote_class():
    """The Ray actor class `create_vllm_engines` instantiates in place of RolloutRayActor."""
    return ray.remote(CPURolloutEngine)
