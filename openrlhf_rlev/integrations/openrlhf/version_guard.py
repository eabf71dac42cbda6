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


# The launcher speaks OpenRLHF's dotted flags (--reward.remote_url, --data.label_key), which arrived in 0.10.2.
LAUNCHER_SUPPORTED = ((0, 10, 2), (0, 12, 0))  # [from, to)
PLAIN_ROUTE = (
    "on OpenRLHF 0.9.x-0.10.1 use the plain route: python -m openrlhf.cli.train_ppo_ray <your flags> "
    "--remote_rm_url $(openrlhf-rlev reward-path) --label_key label, with RLEV_* settings in the Ray runtime env "
    "(env_vars) and an estimator that keeps the value (reinforce, rloo, reinforce_baseline, dr_grpo: group_norm "
    "divides s(x) out there); see docs/versions.md"
)


def release(version: str) -> tuple[int, ...] | None:
    """(major, minor, patch) of a version string such as 0.10.1.post2; None if it has no such numbers."""
    import re

    found = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", version)
    return tuple(int(x or 0) for x in found.groups()) if found else None


def launcher_problem(version: str | None = None) -> str | None:
    """Why the launcher cannot drive this OpenRLHF (None when it can, or when the version is unknown: then
    OpenRLHF's own parser and the fingerprint guards decide)."""
    version = openrlhf_version() if version is None else version
    found = release(version)
    if found is None or found >= LAUNCHER_SUPPORTED[0]:
        return None
    return f"openrlhf-rlev train needs OpenRLHF >= 0.10.2 (dotted flags); this is {version}: {PLAIN_ROUTE}"


def launcher_warning(version: str | None = None) -> str | None:
    """A warning for an OpenRLHF newer than the tested range (the launch goes on; the guards check what changed)."""
    version = openrlhf_version() if version is None else version
    found = release(version)
    if found is None or found < LAUNCHER_SUPPORTED[1]:
        return None
    return (
        f"RLEV: OpenRLHF {version} is newer than the tested range (0.10.2-0.11.x); the reward file and launcher "
        "usually carry over, and GRPO and --rlev.cpu refuse to patch code that changed"
    )
