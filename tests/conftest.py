"""Shared fixtures. A real (if minimal) HF tokenizer: byte-level, so decode(encode(x)) == x for any text.

Tests mirror the package (tests/reward, tests/verifiers, tests/integrations/openrlhf, ...); cross-layer suites
(hostile input, trust, imports) stay here. `tiny_policy` (a tiny trainable model) is shared from this folder.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # --import-mode=importlib keeps tests/ off sys.path: tiny_policy

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


@pytest.fixture(autouse=True)
def _no_cpu_shims_left_behind():
    """The CPU backend's import-only `vllm`/`flash_attn` shims are for its own processes; a test that installs them
    in this process (the launcher's dry run, the step-log test) must not leave them for the next test, where they
    would make TRL or transformers believe vLLM is installed."""
    import sys

    yield
    from openrlhf_rlev.integrations.openrlhf.cpu import shims

    for name, module in list(sys.modules.items()):
        if shims.is_shim(module):
            del sys.modules[name]


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


@pytest.fixture(scope="module")
def em():
    """OpenRLHF's real `experience_maker` module, imported by its real name with only the GPU stack stubbed.

    As in OpenRLHF's own tests (site-packages/tests/test_reward_shaping.py), via sys.modules:
    - `deepspeed`: openrlhf/models/utils.py imports it at top level; compute_reward and masked_mean never use it;
    - `openrlhf.models.utils`: the real file, loaded by path, because its package __init__ imports peft;
    - `openrlhf.trainer.ray.launcher`: imports vllm; experience_maker uses RayActorGroup only as a type hint.
    `ray` and `torch` are real. The value-preserving GRPO wrapper is uninstalled before and after.
    """
    import importlib
    import importlib.util
    import sys
    import types

    pytest.importorskip("torch")
    pytest.importorskip("openrlhf")
    import openrlhf.trainer.ppo_utils  # noqa: F401  real; loads transformers while deepspeed is still unstubbed

    from openrlhf_rlev.integrations.openrlhf import grpo

    name = grpo.TARGET_MODULE
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(sys.modules, "deepspeed", types.ModuleType("deepspeed"))
        path = grpo.installed_openrlhf_root() / "models" / "utils.py"
        spec = importlib.util.spec_from_file_location("openrlhf.models.utils", path)
        utils = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(utils)
        mp.setitem(sys.modules, "openrlhf.models.utils", utils)
        launcher = types.ModuleType("openrlhf.trainer.ray.launcher")
        launcher.RayActorGroup = object
        mp.setitem(sys.modules, "openrlhf.trainer.ray.launcher", launcher)
        mp.delitem(sys.modules, name, raising=False)
        grpo.uninstall()
        module = importlib.import_module(name)
        assert not getattr(module.RemoteExperienceMaker.compute_advantages_and_returns, grpo.PATCHED_MARK, False)
        yield module
        sys.modules.pop(name, None)
        package = sys.modules.get("openrlhf.trainer.ppo_utils")
        if package is not None and hasattr(package, "experience_maker"):
            delattr(package, "experience_maker")  # the stubbed import also set the package attribute
        grpo.uninstall()


@pytest.fixture(scope="module")
def model(byte_tokenizer):
    """A tiny random Llama over the byte tokenizer: real transformers generation and forward passes in
    milliseconds, for tests that check our batching and position arithmetic against direct calls."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(byte_tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        initializer_range=0.5,  # large enough that greedy outputs and EOS probabilities vary between prompts
        eos_token_id=byte_tokenizer.eos_token_id,
        pad_token_id=byte_tokenizer.pad_token_id,
        bos_token_id=None,
    )
    return LlamaForCausalLM(config).eval()


@pytest.fixture(scope="module")
def load_prompt_dataset():
    """`load(path, chat_template) -> (raw rows, PromptDataset)` through OpenRLHF's real `blending_datasets` and
    `PromptDataset`, as `--data.input_key prompt --data.label_key label --data.apply_chat_template` configures them.
    The tokenizer is a real (word-level) HF tokenizer; only the chat template matters to PromptDataset."""
    from types import SimpleNamespace

    from openrlhf.datasets import PromptDataset
    from openrlhf.datasets.utils import blending_datasets
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.WordLevel({"[UNK]": 0, "<eos>": 1}, unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    data_args = SimpleNamespace(input_key="prompt", label_key="label", apply_chat_template=True, image_key="images")
    strategy = SimpleNamespace(
        args=SimpleNamespace(data=data_args, use_ms=False), is_rank_0=lambda: True, print=lambda *a, **k: None
    )

    def load(path, chat_template):
        tok = PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="[UNK]", eos_token="<eos>")
        tok.chat_template = chat_template
        raw = blending_datasets(path, None, strategy, dataset_split="train")
        return raw, PromptDataset(raw, tok, strategy)

    return load
