"""The layout is the architecture: lower layers never import higher ones, and only integrations/<framework>/ knows
its framework. Read from the source (AST), so a lazy import inside a function counts too."""

import ast
from pathlib import Path

import openrlhf_rlev

PACKAGE = Path(openrlhf_rlev.__file__).parent

# layer -> the first-party layers it may import (besides itself and the private helpers at the top).
ALLOWED = {
    "reward": {"verifiers"},
    "verifiers": {"reward"},
    "integrations/openrlhf": {
        "reward",
        "verifiers",
        "evaluation.model_loading",
        "evaluation.generate",
        "evaluation.datafiles",  # the dry run reads the training data with the evaluation's reader
    },
    "integrations/trl": {"reward", "verifiers"},
    "integrations/verl": {"reward", "verifiers"},
    "prepare": {"reward", "verifiers", "integrations.openrlhf.eval_labels"},
    "evaluation": {"reward", "verifiers", "prepare", "integrations.openrlhf.replay"},
}
TOP_LEVEL = {"_lazy", "__version__", "REWARD_FUNC_PATH"}  # the package's own top: no layer
FRAMEWORKS = {"openrlhf": "integrations/openrlhf", "trl": "integrations/trl", "verl": "integrations/verl"}


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(PACKAGE).as_posix(), ast.parse(path.read_text())


def imported(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{a.name}" for a in node.names)


def layer_of(relative: str) -> str | None:
    return next((layer for layer in sorted(ALLOWED, key=len, reverse=True) if relative.startswith(layer + "/")), None)


def test_lower_layers_never_import_higher_ones():
    bad = []
    for relative, tree in modules():
        layer = layer_of(relative)
        if layer is None:
            continue
        own = layer.replace("/", ".")
        for name in imported(tree):
            if not name.startswith("openrlhf_rlev.") or name.split(".")[1] in TOP_LEVEL:
                continue
            target = name[len("openrlhf_rlev.") :]
            ok = target.startswith(own) or any(
                target == a or target.startswith(a + ".") or a.startswith(target + ".") for a in ALLOWED[layer]
            )
            if not ok:
                bad.append(f"{relative} imports {name}")
    assert bad == []


def test_only_its_integration_imports_a_framework():
    bad = []
    for relative, tree in modules():
        for name in imported(tree):
            root = name.split(".")[0]
            if root in FRAMEWORKS and not relative.startswith(FRAMEWORKS[root] + "/"):
                bad.append(f"{relative} imports {name}")
    assert bad == []


def test_every_package_declares_its_api():
    missing = [
        p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("__init__.py")
        if "__all__"
        not in {
            t.id
            for n in ast.parse(p.read_text()).body
            if isinstance(n, ast.Assign)
            for t in n.targets
            if isinstance(t, ast.Name)
        }
    ]
    assert missing == []


def test_the_rules_see_imports():
    """The checks above would pass vacuously if `imported` found nothing."""
    names = set()
    for relative, tree in modules():
        if relative == "integrations/openrlhf/query.py":
            names = set(imported(tree))
    assert "openrlhf_rlev.reward.sample" in names and "openrlhf_rlev.integrations.openrlhf.response" in names
