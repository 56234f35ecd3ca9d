"""The fast paths give the same lineage as the slow ones: skeleton table walk, whole-file parse."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from sqlglot import exp

import lineage_dagster.parsing.extract as extract_module
from lineage_dagster.parsing import extract_lineage
from lineage_dagster_tests.benchmarks.corpus import write_corpus
from lineage_dagster_tests.test_parsing.fixture_cases import load_cases


class _Everything:
    def __contains__(self, item: object) -> bool:
        return True


def _tables(sql: str, dialect: str | None) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    return [(s.sources, s.targets) for s in extract_lineage(sql, dialect=dialect).statements]


@pytest.mark.slow
def test_skeleton_walk_matches_full_walk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scripts = [(case.sql, case.dialect) for case in load_cases()]
    for path in write_corpus(tmp_path, files=150, seed=3):
        scripts.append((path.read_text(encoding="utf-8"), None))
    fast = [_tables(sql, dialect) for sql, dialect in scripts]
    # Disable the shortcut for every dialect: always walk in full.
    monkeypatch.setattr(extract_module, "_SELECTS_WITHOUT_KEYWORD", _Everything())
    full = [_tables(sql, dialect) for sql, dialect in scripts]
    assert fast == full


@pytest.mark.slow
def test_whole_file_parse_matches_statement_by_statement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lineage_dagster.parsing.statements as statements_module

    scripts = [(case.sql, case.dialect) for case in load_cases()]
    for path in write_corpus(tmp_path, files=150, seed=4):
        scripts.append((path.read_text(encoding="utf-8"), None))
    fast = [extract_lineage(sql, dialect=dialect).to_dict() for sql, dialect in scripts]
    monkeypatch.setattr(statements_module, "_parse_whole", lambda *args: None)
    slow = [extract_lineage(sql, dialect=dialect).to_dict() for sql, dialect in scripts]
    assert fast == slow


@pytest.mark.slow
def test_released_trees_give_the_same_lineage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripts = [(case.sql, case.dialect) for case in load_cases()]
    for path in write_corpus(tmp_path, files=100, seed=5):
        scripts.append((path.read_text(encoding="utf-8"), None))
    released = [extract_lineage(sql, dialect=dialect).to_dict() for sql, dialect in scripts]
    monkeypatch.setattr(extract_module, "_release", lambda tree: None)
    kept = [extract_lineage(sql, dialect=dialect).to_dict() for sql, dialect in scripts]
    assert released == kept


def test_extraction_leaves_no_trees_to_the_garbage_collector(tmp_path: Path) -> None:
    sql = write_corpus(tmp_path, files=1, seed=6)[0].read_text(encoding="utf-8")
    extract_lineage(sql)  # imports and caches
    gc.collect()
    gc.disable()
    # Keep what the collector finds, to count the syntax-tree nodes among it: other threads of
    # the test process (drivers, watchers) may leave garbage of their own meanwhile.
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        lineage = extract_lineage(sql)
        # Trees unlinked from their parents are freed by reference counting; kept, their
        # cycles would leave thousands of nodes for the collector.
        gc.collect()
        tree_nodes = sum(isinstance(obj, exp.Expr) for obj in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert lineage.statements
    assert tree_nodes < 50
