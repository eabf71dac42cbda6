"""The CPU rollout engine's sampler against vLLM's semantics where OpenRLHF relies on them, and its batching.

vLLM itself is a CUDA wheel and cannot run here: each expectation below is vLLM's documented behaviour (its v1
`Sampler` order: stop tokens masked for min_tokens, then greedy or temperature, top-k, top-p; processed logprobs
after all of them; stop on the tokenizer's EOS and the generation config's; text without the stop token), written
out in the test by hand. The model is a tiny random Llama (conftest `model`); OpenRLHF's agent executor and
`generate_responses` are its real code.
"""

import asyncio
import dataclasses

import pytest
import torch

from openrlhf_rlev.integrations.openrlhf.cpu import engine, shims
from openrlhf_rlev.integrations.openrlhf.cpu.sampling import sample

PROMPT = [3, 14, 15, 9, 26]
OTHER = [40, 41, 42, 43, 44, 45, 46, 47, 48]  # a longer prompt: batched rows are left-padded


def first_logits(model, prompt=PROMPT) -> torch.Tensor:
    with torch.no_grad():
        return model(torch.tensor([prompt])).logits[0, -1].float()


def by_hand(logits, temperature, top_k, top_p) -> torch.Tensor:
    """vLLM's processed log-probabilities, written independently: scale, keep the k largest (ties kept), then keep
    the smallest set of most likely tokens whose mass reaches top_p (ascending cumulative mass > 1 - top_p)."""
    scaled = logits / temperature
    kth = scaled.sort(descending=True).values[top_k - 1]
    scaled = torch.where(scaled >= kth, scaled, torch.tensor(float("-inf")))
    probs = scaled.softmax(-1)
    ascending, order = probs.sort()
    keep_sorted = ascending.cumsum(-1) > 1 - top_p
    keep_sorted[-1] = True
    keep = torch.zeros_like(keep_sorted).scatter(0, order, keep_sorted)
    return torch.where(keep, scaled, torch.tensor(float("-inf"))).log_softmax(-1)


def test_rows_are_reproducible_per_seed_whatever_the_batch(model):
    a = sample(model, [PROMPT] * 3, [1, 2, 3], max_tokens=12, stop_ids=set())
    swapped = sample(model, [PROMPT] * 3, [3, 2, 1], max_tokens=12, stop_ids=set())
    alone = sample(model, [PROMPT], [2], max_tokens=12, stop_ids=set())
    assert [c.token_ids for c in a] == [c.token_ids for c in reversed(swapped)]
    assert a[1].token_ids == alone[0].token_ids
    assert len({tuple(c.token_ids) for c in a}) > 1  # different seeds, different samples
    assert all(c.finish_reason == "length" and len(c.token_ids) == 12 for c in a)


def test_prompts_of_different_lengths_batch_like_they_sample_alone(model):
    """Left padding and per-row positions: each row samples what it samples alone, with its own budget."""
    together = sample(
        model, [PROMPT, OTHER, PROMPT], [5, 6, 7], max_tokens=[9, 4, 6], stop_ids=set(), logprobs="processed"
    )
    alone = [
        sample(model, [p], [s], max_tokens=m, stop_ids=set(), logprobs="processed")[0]
        for p, s, m in ((PROMPT, 5, 9), (OTHER, 6, 4), (PROMPT, 7, 6))
    ]
    assert [c.token_ids for c in together] == [c.token_ids for c in alone]
    assert [len(c.token_ids) for c in together] == [9, 4, 6]
    for t, a in zip(together, alone):
        assert t.logprobs == pytest.approx(a.logprobs, abs=1e-4)
    greedy = sample(model, [OTHER, PROMPT], [0, 0], max_tokens=6, stop_ids=set(), temperature=0)
    assert greedy[0].token_ids == sample(model, [OTHER], [0], max_tokens=6, stop_ids=set(), temperature=0)[0].token_ids


def test_greedy_is_the_argmax_and_a_tiny_top_p_or_top_k_1_agree(model):
    ids, expected = torch.tensor([PROMPT]), []
    for _ in range(6):
        with torch.no_grad():
            token = int(model(ids).logits[0, -1].argmax())
        expected.append(token)
        ids = torch.cat([ids, torch.tensor([[token]])], dim=1)
    greedy = sample(model, [PROMPT], [0], max_tokens=6, stop_ids=set(), temperature=0)[0].token_ids
    top_k = sample(model, [PROMPT], [5], max_tokens=6, stop_ids=set(), top_k=1)[0].token_ids
    top_p = sample(model, [PROMPT], [5], max_tokens=6, stop_ids=set(), top_p=1e-6)[0].token_ids
    assert greedy == top_k == top_p == expected


def test_min_tokens_masks_the_stop_token_before_top_p(model):
    """EOS as the only token of a small nucleus: vLLM masks it first and samples from the rest; masking after
    top-p left nothing to sample (the engine crashed)."""
    logits = first_logits(model)
    ranked = logits.argsort(descending=True).tolist()
    eos = ranked[0]
    out = sample(model, [PROMPT], [1], max_tokens=3, stop_ids={eos}, top_p=1e-6, min_tokens=1, logprobs="processed")
    assert out[0].token_ids[0] == ranked[1]  # the nucleus of what is left after masking EOS
    assert out[0].logprobs[0] == 0.0  # processed: the whole mass on the one token left
    stopped = sample(model, [PROMPT], [1], max_tokens=3, stop_ids={eos}, top_p=1e-6)[0]
    assert stopped.token_ids == [eos] and stopped.finish_reason == "stop"


def test_min_tokens_holds_every_stop_id_and_the_stop_token_is_kept(model):
    everything_but_7 = set(range(model.config.vocab_size)) - {7}
    stopped = sample(model, [PROMPT], [4], max_tokens=10, stop_ids=everything_but_7)[0]
    assert stopped.finish_reason == "stop" and len(stopped.token_ids) == 1 and stopped.token_ids[0] != 7
    held = sample(model, [PROMPT], [4], max_tokens=10, stop_ids=everything_but_7, min_tokens=3)[0]
    assert held.token_ids[:3] == [7, 7, 7] and held.finish_reason == "stop" and len(held.token_ids) == 4


@pytest.mark.parametrize("seed", range(6))
def test_processed_logprobs_are_after_temperature_top_k_and_top_p_in_that_order(model, seed):
    temperature, top_k, top_p = 1.7, 40, 0.5
    expected = by_hand(first_logits(model), temperature, top_k, top_p)
    out = sample(
        model, [PROMPT], [seed], max_tokens=1, stop_ids=set(), temperature=temperature, top_k=top_k, top_p=top_p,
        logprobs="processed",
    )[0]  # fmt: skip
    token = out.token_ids[0]
    assert torch.isfinite(expected[token])  # drawn from the processed support
    assert out.logprobs[0] == pytest.approx(float(expected[token]), abs=1e-5)
    # The order matters here: top-p on the untempered distribution keeps a different set.
    assert (by_hand(first_logits(model), 1.0, top_k, top_p).isfinite() != expected.isfinite()).any()


def test_greedy_processed_logprobs_and_raw_logprobs_follow_vllm(model):
    raw = first_logits(model).log_softmax(-1)
    greedy = sample(model, [PROMPT], [0], max_tokens=1, stop_ids=set(), temperature=0, top_p=0.3, logprobs="processed")
    token = greedy[0].token_ids[0]
    # vLLM samples greedy rows before top-k/top-p: the logprob is the model's, not 0 from a one-token nucleus.
    assert greedy[0].logprobs[0] == pytest.approx(float(raw[token]), abs=1e-5) and greedy[0].logprobs[0] < 0
    tempered = sample(model, [PROMPT], [3], max_tokens=1, stop_ids=set(), temperature=0.5, top_k=5, logprobs="raw")
    assert tempered[0].logprobs[0] == pytest.approx(float(raw[tempered[0].token_ids[0]]), abs=1e-5)


# ── the engine: stop ids, output text, request grouping, batching through OpenRLHF's own generate_responses ──


@pytest.fixture(scope="module")
def sampler(model, byte_tokenizer, tmp_path_factory):
    from openrlhf.utils.agent import SingleTurnAgentExecutor

    folder = tmp_path_factory.mktemp("tiny_engine")
    model.generation_config.eos_token_id = [byte_tokenizer.eos_token_id, 5]
    model.save_pretrained(folder)
    byte_tokenizer.save_pretrained(folder)
    return engine.Sampler(SingleTurnAgentExecutor(None), str(folder), seed=3, dtype="float32")


def params(**kwargs):
    return shims.SamplingParams(**{"max_tokens": 6, "min_tokens": 0, "skip_special_tokens": False, **kwargs})


def generate(sampler, *requests):
    async def run():
        return await asyncio.gather(*(sampler.generate(list(p), q) for p, q in requests))

    return [r.outputs[0] for r in asyncio.run(run())]


def test_stop_ids_are_the_tokenizers_eos_and_every_generation_config_eos(sampler, byte_tokenizer):
    assert sampler.stop_ids == {byte_tokenizer.eos_token_id, 5}
    tokenizer_only = type("M", (), {"generation_config": type("G", (), {"eos_token_id": None})()})()
    assert engine.stop_token_ids(tokenizer_only, byte_tokenizer) == {byte_tokenizer.eos_token_id}


def test_text_leaves_out_the_stop_token_and_token_ids_keep_it(sampler, byte_tokenizer):
    from openrlhf_rlev.integrations.openrlhf.cpu.sampling import Completion

    eos = byte_tokenizer.eos_token_id
    vocabulary = set(range(len(byte_tokenizer)))
    # Every token but 70 stops, and min_tokens 2 holds them: the sample is 70, 70, then a stop token.
    out = generate(sampler, (PROMPT, params(stop_token_ids=sorted(vocabulary - {70}), min_tokens=2)))[0]
    assert out.finish_reason == "stop" and out.token_ids[:2] == [70, 70] and len(out.token_ids) == 3
    assert out.token_ids[2] != 70 and out.text == byte_tokenizer.decode([70, 70])
    # The tokenizer's EOS as the stop token: its text never shows, even with skip_special_tokens=False.
    stopped = sampler._output(Completion([70, 71, eos], "stop", None), params(), False)
    assert stopped.token_ids == [70, 71, eos] and stopped.text == byte_tokenizer.decode([70, 71])
    assert "<|im_end|>" not in stopped.text
    cut = sampler._output(Completion([70, 71], "length", None), params(), False)
    assert cut.text == byte_tokenizer.decode([70, 71])
    kept = sampler._output(Completion([70, 71, eos], "stop", None), params(), keep_stop=True)
    assert kept.text.endswith("<|im_end|>")


def test_requests_differing_in_logprobs_or_skip_special_tokens_get_their_own(sampler, byte_tokenizer):
    from openrlhf_rlev.integrations.openrlhf.cpu.sampling import Completion

    without, with_logprobs = generate(sampler, (PROMPT, params()), (PROMPT, params(logprobs=1)))
    assert without.logprobs is None
    assert len(with_logprobs.logprobs) == len(with_logprobs.token_ids)
    assert all(set(entry) == {t} for entry, t in zip(with_logprobs.logprobs, with_logprobs.token_ids))
    assert engine.batch_key(params(logprobs=1)) != engine.batch_key(params())
    assert engine.batch_key(params(skip_special_tokens=True)) != engine.batch_key(params())
    assert engine.batch_key(params(max_tokens=3, min_tokens=1)) == engine.batch_key(params(max_tokens=9))
    start = byte_tokenizer.convert_tokens_to_ids("<|im_start|>")
    special = Completion([70, start, 71], "length", None)
    assert "<|im_start|>" in sampler._output(special, params(skip_special_tokens=False), False).text
    assert "<|im_start|>" not in sampler._output(special, params(skip_special_tokens=True), False).text


def count_batches(monkeypatch) -> list:
    """The number of rows of each sampling batch the engine runs (engine.sample, counted)."""
    batches, real = [], engine.sample

    def counting(model, prompts, seeds, **kwargs):
        batches.append(len(prompts))
        return real(model, prompts, seeds, **kwargs)

    monkeypatch.setattr(engine, "sample", counting)
    return batches


def test_a_call_of_several_prompts_is_sampled_as_one_batch(sampler, byte_tokenizer, monkeypatch):
    """OpenRLHF's generate_responses for three prompts at once (its executor tokenizes, generates, and returns the
    observation): one sampling batch of every sample, each response the same as the prompt sampled on its own."""
    batches = count_batches(monkeypatch)
    texts = ["What is 1+1?", "Name a colour, any colour.", "Hi"]
    sampling = params(temperature=0.9)
    call = {"label": None, "sampling_params": sampling, "max_length": 64, "hf_tokenizer": byte_tokenizer}
    calls = [{"prompt": t, "num_samples": 2, **call} for t in texts]
    version = sampler.version
    sampler.sample_numbers.clear()
    together = asyncio.run(sampler.run(calls))
    assert batches == [6]
    batches.clear()
    sampler.sample_numbers.clear()  # the same sample numbers again, so the same seeds
    one_by_one = [asyncio.run(sampler.run([c])) for c in calls]
    assert batches == [2, 2, 2]
    assert sampler.version == version
    assert [[r["observation_tokens"] for r in group] for group in together] == [
        [r["observation_tokens"] for r in group[0]] for group in one_by_one
    ]
    assert [len(group) for group in together] == [2, 2, 2]
    assert together[1][0]["prompt"] == texts[1]


def test_the_sampler_waits_for_every_unfinished_sample_before_sampling(sampler, byte_tokenizer, monkeypatch):
    """A sample that is busy elsewhere (an agent's environment step) joins the batch when it asks for tokens."""

    class SlowFirst:
        async def execute(self, prompt, label, sampling_params, max_length, hf_tokenizer, llm_engine, images=None):
            if prompt == "slow":
                await asyncio.sleep(1.0)  # longer than any time window a sampler might batch by
            ids = hf_tokenizer(text=prompt, add_special_tokens=False)["input_ids"]
            out = await llm_engine.generate(ids, sampling_params)
            return {"prompt": prompt, "tokens": out.outputs[0].token_ids}

    batches = count_batches(monkeypatch)
    monkeypatch.setattr(sampler, "executor", engine._CountingExecutor(SlowFirst(), sampler))
    call = {"label": None, "sampling_params": params(), "max_length": 32, "hf_tokenizer": byte_tokenizer}
    out = asyncio.run(sampler.run([{"prompt": "slow", **call}, {"prompt": "fast", **call}]))
    assert batches == [2] and [group[0]["prompt"] for group in out] == ["slow", "fast"]


def test_unsupported_sampling_params_are_refused_not_ignored(sampler):
    @dataclasses.dataclass
    class WithIgnoreEos(shims.SamplingParams):  # a field of vLLM's SamplingParams that OpenRLHF does not set
        ignore_eos: bool = False

    bad = WithIgnoreEos(max_tokens=4, ignore_eos=True)
    with pytest.raises(NotImplementedError, match="ignore_eos"):
        generate(sampler, (PROMPT, bad))


def test_samples_generator_takes_prompts_in_the_order_it_sent_them(monkeypatch):
    """Ray's wait picks among ready refs by hash order; all prompts of a batch are ready at once, so OpenRLHF's
    collecting loop would order experiences (and so micro-batches and their float sums) differently each run."""
    ready_now = {"a", "b", "c"}

    def hash_order_wait(refs, *, num_returns=1, timeout=None, **kwargs):
        ready = sorted((r for r in refs if r in ready_now), reverse=True)[:num_returns]
        return ready, [r for r in refs if r not in ready]

    monkeypatch.setattr(engine.ray, "wait", hash_order_wait)
    in_order = engine.InOrderRay()
    assert engine.ray.wait(["a", "b", "c"], num_returns=1) == (["c"], ["a", "b"])  # what OpenRLHF would take
    assert in_order.wait(["a", "b", "c"], num_returns=1, timeout=10.0) == (["a"], ["b", "c"])
    ready_now = {"b"}
    assert in_order.wait(["a", "b"], num_returns=1, timeout=0.1) == ([], ["a", "b"])  # a is first: wait for it
    assert in_order.get is engine.ray.get

    module = type("M", (), {"SamplesGenerator": type("S", (), {"_dispatch_prompts_to_vllm": lambda self: []})})
    module.ray = engine.ray
    engine.patch_samples_generator(module)
    engine.patch_samples_generator(module)  # idempotent
    assert isinstance(module.ray, engine.InOrderRay)
    assert module.SamplesGenerator._dispatch_prompts_to_vllm.__wrapped__.__name__ == "<lambda>"
