"""The ``>>>`` examples in the package's docstrings run and hold."""

import doctest
import importlib
import pkgutil

import pytest

import lineage_dagster

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(lineage_dagster.__path__, "lineage_dagster.")
    if not info.name.startswith("lineage_dagster.cli")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
