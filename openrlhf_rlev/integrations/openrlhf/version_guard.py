"""Which OpenRLHF code a patch was tested on: a sha256 of the source of the functions it relies on.

A version number says too little (wheels and git checkouts differ, and a fix can change a function without a
release); the functions' own source says exactly whether the code a patch wraps or replaces is the code it was
tested against. Read from the files, without importing OpenRLHF's training stack.
"""

import ast
import hashlib
import importlib.util
import textwrap
from pathlib import Path


class IncompatibleOpenRLHF(RuntimeError):
    pass


def function_source(path: Path, qualname: str) -> str:
    text = path.read_text()
    nodes = ast.parse(text).body
    node = None
    for part in qualname.split("."):
        node = next((n for n in nodes if getattr(n, "name", None) == part), None)
        if node is None:
            raise IncompatibleOpenRLHF(f"{path} has no {qualname}")
        nodes = getattr(node, "body", [])
    segment = textwrap.dedent(" " * node.col_offset + ast.get_source_segment(text, node))
    return "\n".join(line.rstrip() for line in segment.splitlines())


def fingerprint(openrlhf_root: Path, functions) -> str:
    """sha256 over `(relative file, qualname)` pairs' source (stable across Python versions)."""
    digest = hashlib.sha256()
    for relative, qualname in functions:
        digest.update(function_source(Path(openrlhf_root) / relative, qualname).encode())
        digest.update(b"\0")
    return digest.hexdigest()


def installed_openrlhf_root() -> Path:
    """The installed `openrlhf` package folder, found without importing its training stack."""
    spec = importlib.util.find_spec("openrlhf")
    if spec is None or not spec.submodule_search_locations:
        raise IncompatibleOpenRLHF("openrlhf is not installed")
    return Path(list(spec.submodule_search_locations)[0])


def openrlhf_version() -> str:
    try:
        from importlib.metadata import version

        return version("openrlhf")
    except Exception:
        return "unknown"


def check(functions, tested: dict, refusal: str, advice: str, openrlhf_root: Path | None = None) -> str:
    """The tested version's name if `functions` fingerprint as one in `tested`; else IncompatibleOpenRLHF."""
    root = installed_openrlhf_root() if openrlhf_root is None else Path(openrlhf_root)
    try:
        found = fingerprint(root, functions)
    except (OSError, SyntaxError) as e:
        raise IncompatibleOpenRLHF(f"cannot read OpenRLHF's source under {root}: {e}") from None
    if found not in tested:
        names = ", ".join(q for _, q in functions)
        raise IncompatibleOpenRLHF(
            f"{refusal} this OpenRLHF (version {openrlhf_version()}, {root}): {names} differ from the code "
            f"it was tested on ({', '.join(tested.values())}; fingerprint {found[:12]}). {advice}"
        )
    return tested[found]
