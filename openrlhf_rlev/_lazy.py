"""PEP 562 exports: a package names its public API without importing it, so `import openrlhf_rlev` (in every Ray
worker, through the setup hook) stays cheap and loads neither the verifiers nor a trainer."""

import importlib


def exports(package: str, where: dict[str, str]):
    """A module `__getattr__` that imports `package.<where[name]>` on first access of `name`."""

    def __getattr__(name):
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{where[name]}"), name)

    return __getattr__
