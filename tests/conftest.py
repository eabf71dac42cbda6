"""Shared fixtures. A real (if minimal) HF tokenizer: byte-level, so decode(encode(x)) == x for any text."""

import pytest

EOS = "<|im_end|>"
PAD = "<|endoftext|>"


def make_byte_tokenizer():
    """A real `PreTrainedTokenizerFast` (byte-level BPE with no merges) with a ChatML template and EOS/pad tokens.

    Small enough to build in milliseconds, real enough that OpenRLHF's executor tokenizes and decodes through the
    genuine transformers code path (`skip_special_tokens=False` keeps the EOS text, as in training).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {ch: i for i, ch in enumerate(sorted(alphabet))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, pad_token=PAD)
    fast.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    fast.add_special_tokens({"additional_special_tokens": ["<|im_start|>"]})
    return fast


@pytest.fixture(scope="session")
def byte_tokenizer():
    return make_byte_tokenizer()


def _hypothesis_profile():
    # Shared, noisy 2-core machines: per-example deadlines would flake on timing, not on behaviour.
    from hypothesis import HealthCheck
    from hypothesis import settings as hypothesis_settings

    hypothesis_settings.register_profile(
        "rlev", deadline=None, max_examples=100, suppress_health_check=[HealthCheck.too_slow]
    )
    hypothesis_settings.load_profile("rlev")


_hypothesis_profile()


@pytest.fixture(autouse=True, scope="module")
def _no_verifier_workers_outlive_a_module():
    """Scoring math starts the process-wide verifier pool lazily; shut it after each module so that tests which
    count child processes (pool, server) start from a clean baseline whatever ran before them."""
    yield
    from openrlhf_rlev.verifiers import pool

    pool.shutdown()
