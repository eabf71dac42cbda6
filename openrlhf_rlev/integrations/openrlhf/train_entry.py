"""Run OpenRLHF's own `openrlhf/cli/train_ppo_ray.py`, unmodified, up to the point where it calls `train(args)`.

OpenRLHF (0.10.2-0.11.x) builds its parser inline under `if __name__ == "__main__":`, validates the arguments there,
and ends with `train(args)`. There is no function to import that returns the parser. So this module executes
the module's own code object as `__main__` (what `python -m` and `runpy` do), with one difference: module-level
names are stored through a mapping that records the function bound to `train` and puts a stand-in in its
place. When the module reaches its last line, `train(args)`, the stand-in receives the fully parsed and
validated `args` and stops execution. The caller then has OpenRLHF's real `train` and real `args`:

- a dry run prints the args; OpenRLHF's argparse errors and validation asserts surface unchanged;
- a real run starts Ray with our runtime env first and then calls the real `train(args)` itself.

Nothing is copied from OpenRLHF and nothing is edited: if a future version stops calling `train(args)` at
module level, `parse` says so instead of guessing.

On a machine without the GPU stack (vllm, deepspeed), the module's top-level imports fail although the parser
needs none of them. With `allow_missing_imports` those imports become inert placeholders (listed in
`Parsed.stubbed_imports`); calling one raises, so a placeholder can never silently stand in for real work.
"""

import builtins
import contextlib
import importlib.util
import math
import sys
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Callable

MODULE = "openrlhf.cli.train_ppo_ray"


class EntryError(RuntimeError):
    pass


class _TrainReached(BaseException):
    """Stops the module at `train(args)`; a BaseException so no `except Exception` in OpenRLHF can swallow it."""


@dataclass
class Parsed:
    args: SimpleNamespace
    train: Callable
    namespace: dict
    stubbed_imports: list[str] = field(default_factory=list)


class _Capture(dict):
    """Module-level namespace that swaps OpenRLHF's `train` for a stand-in (see the module docstring).

    Writes go through to the real globals too, so OpenRLHF's functions (whose globals are that dict) still
    see every module-level name.
    """

    def __init__(self, module_globals: dict):
        super().__init__()
        self.module_globals = module_globals
        self.real_train = None
        self.args = None

    def __setitem__(self, key, value):
        if key == "train":
            self.real_train = value
            value = self._stand_in
        self.module_globals[key] = value
        super().__setitem__(key, value)

    def _stand_in(self, args):
        self.args = args
        raise _TrainReached


class _Unavailable:
    """Placeholder for a module that cannot be imported here; any call raises with the original error."""

    def __init__(self, name: str, error: BaseException):
        self._name, self._error = name, error

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _Unavailable(f"{self._name}.{attr}", self._error)

    def __call__(self, *args, **kwargs):
        raise EntryError(f"{self._name} is not importable here ({self._error}); the dry run cannot call it")

    def __repr__(self):
        return f"<unavailable {self._name}: {self._error}>"


def _tolerant_import(stubbed: list[str]):
    real_import = builtins.__import__

    def import_(name, globals=None, locals=None, fromlist=(), level=0):
        try:
            return real_import(name, globals, locals, fromlist, level)
        except ImportError as e:
            stubbed.append(f"{name}: {e}")
            return _Unavailable(name, e)

    return import_


@contextlib.contextmanager
def _argv(argv: list[str]):
    saved = sys.argv
    sys.argv = list(argv)
    try:
        yield
    finally:
        sys.argv = saved


def parse(argv: list[str], allow_missing_imports: bool = False, module: str = MODULE) -> Parsed:
    """OpenRLHF's parser and validation on `argv`; raises SystemExit (argparse) or AssertionError as OpenRLHF does."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.loader is None:
        raise EntryError(f"cannot find {module}: is openrlhf installed?")
    code = spec.loader.get_code(module)
    stubbed: list[str] = []
    builtins_ns = dict(vars(builtins))
    if allow_missing_imports:
        builtins_ns["__import__"] = _tolerant_import(stubbed)
    module_globals = {
        "__name__": "__main__",
        "__file__": spec.origin,
        "__spec__": spec,
        "__loader__": spec.loader,
        "__package__": spec.parent,
        "__builtins__": builtins_ns,
    }
    capture = _Capture(module_globals)
    try:
        with _argv([spec.origin, *argv]):
            exec(code, module_globals, capture)
    except _TrainReached:
        pass
    if capture.real_train is None:
        raise EntryError(f"{module} defines no train(); this launcher supports openrlhf 0.10.2-0.11.x")
    if capture.args is None:
        raise EntryError(
            f"{module} returned without calling train(args); this launcher supports openrlhf 0.10.2-0.11.x"
        )
    module_globals["train"] = capture.real_train
    return Parsed(capture.args, capture.real_train, module_globals, stubbed)


class _RayInitProbe:
    """Stands in for `ray` inside OpenRLHF's train(): reports 'not initialised' and records the ray.init call."""

    def __init__(self):
        self.kwargs = None

    def is_initialized(self):
        return False

    def init(self, *args, **kwargs):
        if args:
            kwargs = {"address": args[0], **kwargs}
        self.kwargs = kwargs
        raise _TrainReached

    def __getattr__(self, name):
        raise _TrainReached


def ray_init_kwargs(parsed: Parsed) -> dict:
    """What OpenRLHF's train() would pass to ray.init, read by running train() against a probe.

    train() starts with `if not ray.is_initialized(): ray.init(runtime_env=...)`; the probe answers the first
    and stops at the second, before anything else runs. Reading it (rather than copying the values) keeps
    OpenRLHF's defaults, and its `os.environ.get` overrides, whatever they are in the installed version.
    """
    probe = _RayInitProbe()
    namespace = parsed.namespace
    saved = namespace.get("ray")
    namespace["ray"] = probe
    try:
        parsed.train(parsed.args)
    except _TrainReached:
        pass
    finally:
        namespace["ray"] = saved
    if probe.kwargs is None:
        raise EntryError(
            "could not read OpenRLHF's ray.init arguments: train() did not start with ray.init; "
            "this launcher supports openrlhf 0.10.2-0.11.x"
        )
    return probe.kwargs


def to_dict(args) -> dict:
    """Nested SimpleNamespace (OpenRLHF's `hierarchize`) -> plain, JSON-friendly dict."""
    if isinstance(args, SimpleNamespace):
        return {k: to_dict(v) for k, v in vars(args).items()}
    if isinstance(args, (list, tuple)):
        return [to_dict(v) for v in args]
    if isinstance(args, float) and not math.isfinite(args):
        return str(args)  # e.g. --ckpt.max_mem defaults to inf; keep the output strict JSON
    return args
