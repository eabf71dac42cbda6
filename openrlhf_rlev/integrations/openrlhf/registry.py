"""Reward functions by name, through the `openrlhf.reward_funcs` entry-point group.

A package registers `name = "pkg.module:reward_func"` in its pyproject; `--reward_func name` then finds it.
OpenRLHF (0.10.2-0.11.x) loads a reward function from a file path (`--reward.remote_url path.py`) and takes its
attribute `reward_func`, so a name resolves to the file of the module that defines it. The upstream PR in
`patches/` lets `--reward.remote_url pkg.module:reward_func` (an entry point's value) name it directly.
"""

import importlib.util
from importlib.metadata import EntryPoint, entry_points

GROUP = "openrlhf.reward_funcs"
# The attribute OpenRLHF reads from a reward file (openrlhf/utils/agent.py, SingleTurnAgentExecutor).
ATTRIBUTE = "reward_func"


class RegistryError(ValueError):
    pass


def available() -> dict[str, EntryPoint]:
    """Registered names; a name two distributions register differently is an error, not a silent pick."""
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=GROUP):
        other = found.get(ep.name)
        if other is not None and other.value != ep.value:
            raise RegistryError(
                f"reward func {ep.name!r} is registered twice in {GROUP!r}: {other.value} and {ep.value}"
            )
        found[ep.name] = ep
    return found


def known_names() -> list[str]:
    return sorted(available())


def resolve(name: str, check: bool = True) -> str:
    """The file OpenRLHF should load for reward func `name`; with `check`, load it exactly as OpenRLHF will."""
    funcs = available()
    if name not in funcs:
        known = ", ".join(sorted(funcs)) or "none (is openrlhf-rlev installed? pip install -e .)"
        raise RegistryError(f"unknown reward func {name!r}; known: {known} (entry-point group {GROUP!r})")
    ep = funcs[name]
    if ep.attr != ATTRIBUTE:
        raise RegistryError(
            f"reward func {name!r} points to {ep.value}, but OpenRLHF loads the attribute "
            f"{ATTRIBUTE!r} from the module's file: register it as '{ep.module}:{ATTRIBUTE}'"
        )
    return load_path(ep.module, check, f"reward func {name!r}")


def load_path(module: str, check: bool = True, name: str | None = None) -> str:
    """The .py file of `module`, which OpenRLHF loads by path; with `check`, load it exactly as OpenRLHF will."""
    name = name or module
    try:
        spec = importlib.util.find_spec(module)
    except ImportError as e:
        raise RegistryError(f"{name}: cannot find module {module!r}: {e}") from None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        origin = spec.origin if spec else None
        raise RegistryError(f"{name}: module {module!r} is not a .py file (found {origin!r})")
    if check:
        load_like_openrlhf(spec.origin, name)
    return spec.origin


def load_like_openrlhf(path: str, name: str = "reward func"):
    """Load `path` the way OpenRLHF's SingleTurnAgentExecutor does (by path, not as a package module).

    A module with relative imports, or without a callable `reward_func`, fails here with its name
    instead of inside a vLLM actor after the cluster has started.
    """
    from openrlhf_rlev.verifiers.pool import no_prestart  # a check must not start verifier workers in the driver

    try:
        spec = importlib.util.spec_from_file_location("reward_func", path)
        module = importlib.util.module_from_spec(spec)
        with no_prestart():
            spec.loader.exec_module(module)
    except Exception as e:
        raise RegistryError(f"{name}: OpenRLHF could not load {path}: {type(e).__name__}: {e}") from None
    func = getattr(module, ATTRIBUTE, None)
    if not callable(func):
        raise RegistryError(f"{name}: {path} has no callable {ATTRIBUTE!r}")
    return func
