"""The layers hold: every module of the Dagster-free packages imports without Dagster (and so
without the Dagster layer), in a fresh interpreter, and the Dagster layer lives only in ``defs``
and ``definitions``."""

import importlib
import pkgutil
import subprocess
import sys

import pytest

import lineage_dagster

PURE_PACKAGES = ("parsing", "sources", "graph", "settings", "monitoring", "devstack")


def _modules(package: str) -> list[str]:
    root = importlib.import_module(f"lineage_dagster.{package}")
    found = pkgutil.walk_packages(root.__path__, f"{root.__name__}.")
    return [root.__name__, *sorted(info.name for info in found)]


@pytest.mark.parametrize("package", PURE_PACKAGES)
def test_pure_packages_never_import_dagster(package: str) -> None:
    modules = _modules(package)
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "loaded = sorted(m for m in sys.modules if m == 'dagster' or m.startswith("
        "('dagster.', 'lineage_dagster.defs', 'lineage_dagster.definitions')))\n"
        "print(loaded[:5])\n"
        "sys.exit(1 if loaded else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, f"{package} pulls in {result.stdout.strip()}{result.stderr}"


def test_every_top_level_module_belongs_to_a_layer() -> None:
    """New code goes into a package that names its layer, not flat beside them."""
    top = {info.name for info in pkgutil.iter_modules(lineage_dagster.__path__)}
    assert top == {*PURE_PACKAGES, "defs", "definitions", "cli"}
