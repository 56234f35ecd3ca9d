"""The modules of the parsing package import each other without cycles, only use each
other's public names, and each opens with a one-line docstring naming its concept.

Every import between two parsing modules counts, type-only ones under ``TYPE_CHECKING``
included: a cycle there still ties the two modules into one concept.
"""

from __future__ import annotations

import ast
from pathlib import Path

import lineage_dagster.parsing as parsing

PACKAGE = parsing.__name__
PARSING = Path(parsing.__file__).parent


def _module_name(path: Path) -> str:
    return "__init__" if path.stem == "__init__" else path.stem


def _imported_modules(tree: ast.Module, modules: set[str]) -> set[str]:
    """The parsing modules one module imports (the package itself counts as ``__init__``)."""
    found: set[str] = set()
    prefix = f"{PACKAGE}."
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == PACKAGE:
                # ``from lineage_dagster.parsing import x``: a module, or a name of __init__.
                for alias in node.names:
                    found.add(alias.name if alias.name in modules else "__init__")
            elif node.module.startswith(prefix):
                found.add(node.module[len(prefix) :].split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level:
            # Relative imports: ``from .x import y`` or ``from . import x``.
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PACKAGE:
                    found.add("__init__")
                elif alias.name.startswith(prefix):
                    found.add(alias.name[len(prefix) :].split(".")[0])
    return found


def import_graph(root: Path = PARSING) -> dict[str, set[str]]:
    """Module -> the parsing modules it imports, read from the source with ``ast``."""
    paths = sorted(root.glob("*.py"))
    modules = {_module_name(path) for path in paths}
    graph: dict[str, set[str]] = {}
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        name = _module_name(path)
        graph[name] = _imported_modules(tree, modules) - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as ``[a, b, ..., a]``, or ``None`` when it is acyclic."""
    done: set[str] = set()
    path: list[str] = []
    on_path: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node in on_path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        path.append(node)
        on_path.add(node)
        for neighbour in sorted(graph.get(node, ())):
            cycle = visit(neighbour)
            if cycle is not None:
                return cycle
        path.pop()
        on_path.discard(node)
        done.add(node)
        return None

    for start in sorted(graph):
        cycle = visit(start)
        if cycle is not None:
            return cycle
    return None


def private_uses(source: str) -> list[str]:
    """Private names ``source`` takes from elsewhere: ``obj._name`` (but ``self``/``cls``) and
    ``from lineage_dagster... import _name``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            owner = node.value
            is_own = isinstance(owner, ast.Name) and owner.id in ("self", "cls")
            if not is_own and not node.attr.startswith("__"):
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.ImportFrom) and (
            node.level or (node.module or "").startswith(PACKAGE)
        ):
            found += [
                f"line {node.lineno}: import {alias.name}"
                for alias in node.names
                if alias.name.startswith("_") and not alias.name.startswith("__")
            ]
    return found


def test_parsing_modules_import_each_other_without_cycles() -> None:
    graph = import_graph()
    assert find_cycle(graph) is None


def test_the_graph_sees_the_imports_it_checks() -> None:
    graph = import_graph()
    # Runtime, type-only (TYPE_CHECKING) and package imports are all edges.
    assert "tables" in graph["handlers"]
    assert "script_state" in graph["tables"]
    assert "names" in graph["walker"]
    assert "extract" in graph["__init__"]


def test_find_cycle_reports_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_a_type_only_import_back_is_a_cycle(tmp_path: Path) -> None:
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "handlers.py").write_text(f"from {PACKAGE}.tables import source_tables\n")
    (tmp_path / "tables.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        f"    from {PACKAGE}.handlers import ScriptState\n"
    )
    assert find_cycle(import_graph(tmp_path)) == ["handlers", "tables", "handlers"]


def test_parsing_modules_use_only_public_names_of_each_other() -> None:
    uses = {
        path.name: private_uses(path.read_text(encoding="utf-8"))
        for path in sorted(PARSING.glob("*.py"))
    }
    assert {name: found for name, found in uses.items() if found} == {}


def test_private_uses_finds_private_names() -> None:
    source = (
        f"from {PACKAGE}.walker import _merge\n"
        "def f(walker, self):\n"
        "    walker._add_source(1)\n"
        "    self._own()\n"
        "    return walker.__class__\n"
    )
    assert private_uses(source) == ["line 1: import _merge", "line 3: walker._add_source"]


def test_every_parsing_module_opens_with_a_one_line_summary() -> None:
    summaries = {}
    for path in sorted(PARSING.glob("*.py")):
        docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        summaries[path.name] = docstring.split("\n", 1)[0]
    assert [name for name, summary in summaries.items() if not summary.endswith(".")] == []
