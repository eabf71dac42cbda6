"""Run a function on a module right after a process imports it, or now if it already has.

The Ray setup hook runs in every worker process, but OpenRLHF's trainer modules are imported only in some of them
(the experience maker in the PPO trainer actor, the policy trainer in the policy actors). Patching on import keeps
each patch in the processes that use the code, and keeps the other workers from importing the training stack.
"""

import importlib.abc
import sys
from typing import Callable

_callbacks: dict[str, list[Callable]] = {}


class _ThenLoader(importlib.abc.Loader):
    def __init__(self, inner, name: str):
        self._inner, self._name = inner, name

    def create_module(self, spec):
        return self._inner.create_module(spec)

    def exec_module(self, module):
        self._inner.exec_module(module)
        for callback in _callbacks.get(self._name, []):
            callback(module)

    def __getattr__(self, name):  # get_source, get_filename, ... for inspect and linecache
        return getattr(self._inner, name)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname not in _callbacks:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _ThenLoader(spec.loader, fullname)
                return spec
        return None


def after_import(module_name: str, callback: Callable) -> str:
    """Call `callback(module)` now if `module_name` is loaded ('now'), else when it is imported ('deferred').

    A callback is registered once however often this is called; callbacks must be idempotent.
    """
    module = sys.modules.get(module_name)
    if module is not None:
        callback(module)
        return "now"
    registered = _callbacks.setdefault(module_name, [])
    if callback not in registered:
        registered.append(callback)
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
    return "deferred"


def pending(module_name: str) -> bool:
    """Whether a callback waits for `module_name` to be imported in this process."""
    return bool(_callbacks.get(module_name)) and any(isinstance(f, _Finder) for f in sys.meta_path)


def forget(module_name: str | None = None) -> None:
    """Drop pending callbacks (tests); a module already patched stays patched."""
    if module_name is None:
        _callbacks.clear()
    else:
        _callbacks.pop(module_name, None)
    if not _callbacks:
        sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _Finder)]
