"""Import-only stand-ins for `vllm` and `flash_attn`, used only where the real packages are not installed.

OpenRLHF imports both at module level (`samples_generator`, `vllm_engine`, `models.ring_attn_utils`), but on the
CPU backend nothing of theirs runs: the rollout engine is `engine.CPURolloutEngine` and sample packing (the only
user of `flash_attn.bert_padding`) is refused by the launcher. The one name that *is* called is
`vllm.SamplingParams`: `SamplesGenerator` builds it and the CPU engine reads it, so it is a small real class here.
Every other name raises if called, saying why, so a shim can never silently stand in for real work.
"""

import importlib.machinery
import importlib.util
import sys
import types
from dataclasses import dataclass

ORIGIN = "openrlhf-rlev CPU backend (import-only shim)"
# A PEP 440 version that reads as what it is; OpenRLHF compares vllm.__version__ in a few places, and
# create_vllm_engines asserts > 0.10.0 before it passes logprobs_mode (which the CPU engine honours).
VLLM_VERSION = "0.10.1+rlevcpu"


@dataclass
class SamplingParams:
    """The fields of vLLM's SamplingParams that OpenRLHF sets and the CPU engine honours (vLLM's defaults)."""

    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = -1
    max_tokens: int | None = 16
    min_tokens: int = 0
    skip_special_tokens: bool = True
    logprobs: int | None = None
    seed: int | None = None
    stop_token_ids: list[int] | None = None


def _unavailable(name: str):
    def call(*args, **kwargs):
        raise RuntimeError(f"{name} is an import-only shim of the openrlhf-rlev CPU backend and cannot run on CPU")

    call.__name__ = name.rsplit(".", 1)[-1]
    return call


# module -> {attribute: value}; a module that has submodules is a package.
_MODULES = {
    "vllm": {"__version__": VLLM_VERSION, "SamplingParams": SamplingParams},
    "vllm.inputs": {"TokensPrompt": _unavailable("vllm.inputs.TokensPrompt")},
    "vllm.utils": {"random_uuid": _unavailable("vllm.utils.random_uuid")},
    "flash_attn": {},
    "flash_attn.bert_padding": {
        name: _unavailable(f"flash_attn.bert_padding.{name}")
        for name in ("index_first_axis", "pad_input", "rearrange", "unpad_input")
    },
    "flash_attn.utils": {},
    "flash_attn.utils.distributed": {"all_gather": _unavailable("flash_attn.utils.distributed.all_gather")},
}


def _missing(top: str) -> bool:
    """True when `top` is not installed (or is already our shim)."""
    if top in sys.modules:
        return is_shim(sys.modules[top])
    try:
        return importlib.util.find_spec(top) is None
    except (ImportError, ValueError):
        return True


def is_shim(module) -> bool:
    return getattr(getattr(module, "__spec__", None), "origin", None) == ORIGIN


def install() -> list[str]:
    """Register the shims for the packages that are not installed; returns the module names registered."""
    installed = []
    for top in ("vllm", "flash_attn"):
        if not _missing(top):
            continue
        for name, attributes in _MODULES.items():
            if name != top and not name.startswith(top + "."):
                continue
            if name in sys.modules and is_shim(sys.modules[name]):
                continue
            is_package = any(other.startswith(name + ".") for other in _MODULES)
            spec = importlib.machinery.ModuleSpec(name, loader=None, origin=ORIGIN, is_package=is_package)
            module = types.ModuleType(name, f"{ORIGIN}: {name}")
            module.__spec__ = spec  # transformers probes packages with importlib.util.find_spec
            if is_package:
                module.__path__ = []
            module.__dict__.update(attributes)
            sys.modules[name] = module
            parent, _, child = name.rpartition(".")
            if parent:
                setattr(sys.modules[parent], child, module)
            installed.append(name)
    if "flash_attn" in installed:
        from openrlhf_rlev.integrations.openrlhf import import_hooks

        import_hooks.after_import("transformers.utils.import_utils", _no_flash_attn_distribution)
    return installed


def _no_flash_attn_distribution(import_utils) -> None:
    """transformers (< 5.15) looks up an importable flash_attn's distribution without a KeyError guard; the shim
    has none. Name one that does not exist: transformers then reads the shim's version ("N/A"), sees no
    "flash-attn" distribution and reports flash-attn unavailable, which is the truth."""
    mapping = getattr(import_utils, "PACKAGE_DISTRIBUTION_MAPPING", None)
    if isinstance(mapping, dict):
        mapping.setdefault("flash_attn", ["openrlhf-rlev-flash-attn-shim"])
