"""The fast paths give the same lineage as the slow ones: skeleton table walk, whole-file parse."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from sqlglot import exp

import lineage_dagster.parsing.extract as extract_module
from lineage_dagster.parsing import extract_declarations, extract_lineage
from lineage_dagster_tests.benchmarks.corpus import write_corpus
from lineage_dagster_tests.test_parsing.fixture_cases import load_cases

TPC = Path(__file__).parents[1] / "fixtures" / "tpc"
SAMPLE_CORPUS = Path(__file__).parents[2] / "lineage_dagster" / "sample_corpus"


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


def _declarations(sql: str, dialect: str | None, default_schema: str | None = None) -> tuple:
    return extract_lineage(
        sql, dialect=dialect, default_schema=default_schema, columns=False
    ).declarations


def test_declarations_match_a_table_level_extraction(tmp_path: Path) -> None:
    scripts = [(case.sql, case.dialect, case.default_schema) for case in load_cases()]
    for path in [*TPC.rglob("*.sql"), *SAMPLE_CORPUS.rglob("*.sql")]:
        scripts.append((path.read_text(encoding="utf-8"), None, None))
    for path in write_corpus(tmp_path, files=300, seed=5):
        scripts.append((path.read_text(encoding="utf-8"), None, None))
    declaring = 0
    for sql, dialect, default_schema in scripts:
        expected = _declarations(sql, dialect, default_schema)
        fast = extract_declarations(sql.encode(), dialect=dialect, default_schema=default_schema)
        assert fast == expected, sql
        declaring += bool(expected)
    assert declaring > 200


@pytest.mark.parametrize(
    ("sql", "dialect"),
    [
        # T-SQL batches without semicolons: the piece holds a declaring statement after the first.
        ("UPDATE dbo.t SET a = 1\nCREATE TABLE dbo.x (a INT, b INT)", "tsql"),
        ("DELETE FROM dbo.t\nSELECT a, b INTO dbo.y FROM dbo.t", "tsql"),
        ("INSERT INTO dbo.t (a) SELECT 1 FROM dbo.s\nCREATE TABLE dbo.z (c INT)", "tsql"),
        # INSERTs of other shapes: parsed whole.
        ("INSERT INTO dbo.t WITH (TABLOCK) (a, b) SELECT a, b FROM dbo.s", "tsql"),
        ("INSERT INTO t PARTITION (dt = '2024-01-01') (a, b) SELECT a, b FROM s", "hive"),
        ("INSERT ALL INTO t1 (a) VALUES (x) INTO t2 (b) VALUES (y) SELECT x, y FROM s", "oracle"),
        ("INSERT OVERWRITE TABLE t (a, b) SELECT a, b FROM s", "spark"),
        ('INSERT INTO "Mart"."Pnl" ("Book", pnl) SELECT 1, 2', "snowflake"),
        ("INSERT INTO t (SELECT a FROM s)", "postgres"),
        # A MERGE declares the columns its INSERT lists.
        (
            "MERGE INTO t USING s ON t.id = s.id WHEN NOT MATCHED THEN INSERT (id, v) "
            "VALUES (s.id, s.v)",
            "snowflake",
        ),
    ],
)
def test_declarations_of_statements_parsed_in_part(sql: str, dialect: str) -> None:
    assert extract_declarations(sql.encode(), dialect=dialect) == _declarations(sql, dialect)
