"""The ``>>>`` examples in the parsing modules' docstrings run and hold."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import lineage_dagster.parsing as parsing

MODULES = [
    parsing.__name__,
    *sorted(f"{parsing.__name__}.{info.name}" for info in pkgutil.iter_modules(parsing.__path__)),
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_parsing_never_imports_dagster() -> None:
    import subprocess
    import sys

    code = (
        "import sys, lineage_dagster.parsing, lineage_dagster.parsing.extract; "
        "sys.exit(1 if any(m == 'dagster' or m.startswith('dagster.') for m in sys.modules) else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
