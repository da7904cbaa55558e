"""The shape of the house (docs/architecture.md): which top-level package may import which."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter

from tests.support import ROOT

PACKAGES = ("model", "training", "storage", "bot", "console", "camera", "cli", "bench")
SERVING = ("model", "storage", "bot", "console", "camera")
"""What a serving install runs: none of it may import `training` (TensorFlow, the data)."""


def imports_between_packages() -> dict[str, dict[str, set[str]]]:
    """For each package, the other packages it imports and, for each, the files that do."""
    found: dict[str, dict[str, set[str]]] = {package: {} for package in PACKAGES}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    top = module.split(".")[0]
                    if top in PACKAGES and top != package:
                        found[package].setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def test_serving_packages_never_import_training():
    imports = imports_between_packages()
    assert {package: imports[package].get("training") for package in SERVING} == dict.fromkeys(SERVING)


def test_model_and_storage_import_no_other_package():
    imports = imports_between_packages()
    assert imports["model"] == {} and imports["storage"] == {}


def test_no_import_cycle_between_packages():
    graph = {package: set(others) for package, others in imports_between_packages().items()}
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as error:
        raise AssertionError(f"import cycle between packages: {error.args[1]}") from None
    assert order.index("model") < order.index("bot") and order.index("bot") < order.index("cli")
