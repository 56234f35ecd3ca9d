"""Transforming extracted lineage into graph rows: de-duplicated, sorted, provenance kept."""

import pytest

from lineage_dagster.graph.load import split_column, statement_id, transform_lineage
from lineage_dagster.parsing.models import (
    ColumnEdge,
    FileLineage,
    StatementError,
    StatementLineage,
)


def _file(path: str, *statements: StatementLineage) -> FileLineage:
    return FileLineage(path=path, sha256="0" * 64, dialect="snowflake", statements=statements)


def test_feeds_are_sources_times_targets_per_statement():
    lineage = _file(
        "risk/a.sql",
        StatementLineage(0, 1, "INSERT", sources=("s.a", "s.b"), targets=("s.c", "s.d")),
        StatementLineage(1, 5, "INSERT", sources=("s.c",), targets=("s.c",)),
    )
    rows = transform_lineage([lineage])
    assert [(r["source"], r["target"]) for r in rows.feeds] == [
        ("s.a", "s.c"),
        ("s.a", "s.d"),
        ("s.b", "s.c"),
        ("s.b", "s.d"),
    ]
    assert {r["statement_id"] for r in rows.feeds} == {"risk/a.sql#0"}
    # A self-feed is recorded as READS + WRITES of the statement, not as a FEEDS loop.
    assert {r["table"] for r in rows.reads if r["statement_id"].endswith("#1")} == {"s.c"}
    assert [r["name"] for r in rows.tables] == ["s.a", "s.b", "s.c", "s.d"]


def test_column_edges_create_columns_and_their_tables():
    lineage = _file(
        "f.sql",
        StatementLineage(
            0,
            1,
            "INSERT",
            sources=("s.a",),
            targets=("s.b",),
            column_lineage=(
                ColumnEdge("s.a.x", "s.b.y", "direct"),
                ColumnEdge("s.a.x", "s.b.y", "direct"),
                ColumnEdge("s.z.k", "s.b.y", "condition"),
            ),
        ),
    )
    rows = transform_lineage([lineage])
    assert [r["id"] for r in rows.columns] == ["s.a.x", "s.b.y", "s.z.k"]
    assert {r["name"] for r in rows.tables} == {"s.a", "s.b", "s.z"}
    assert [(r["target"], r["source"], r["kind"]) for r in rows.derives_from] == [
        ("s.b.y", "s.a.x", "direct"),
        ("s.b.y", "s.z.k", "condition"),
    ]
    assert all(r["file"] == "f.sql" for r in rows.derives_from)


def test_statement_errors_and_failed_files_are_recorded_on_the_file():
    broken = _file(
        "finance/b.sql",
        StatementLineage(0, 1, "INSERT", sources=("s.a",), targets=("s.b",)),
        StatementLineage(1, 7, "UNKNOWN", error=StatementError("Expecting )", 8, 14)),
    )
    failed = FileLineage("finance/c.sql", "", None, (), StatementError("not UTF-8 at byte 12"))
    rows = transform_lineage([broken, failed], extractor_version="v1")
    files = {r["path"]: r for r in rows.files}
    assert files["finance/b.sql"]["status"] == "partial"
    assert files["finance/b.sql"]["error_line"] == 8
    assert files["finance/b.sql"]["partition"] == "finance"
    assert files["finance/c.sql"]["status"] == "failed"
    assert files["finance/c.sql"]["error_message"] == "not UTF-8 at byte 12"
    assert files["finance/c.sql"]["extractor_version"] == "v1"
    statements = {r["id"]: r for r in rows.statements}
    assert statements[statement_id("finance/b.sql", 1)]["error_column"] == 14
    assert len(rows.feeds) == 1


def test_lineage_without_a_path_is_refused():
    with pytest.raises(ValueError, match="path"):
        transform_lineage([FileLineage(path=None, sha256="x", dialect=None)])


@pytest.mark.parametrize(
    ("column", "expected"),
    [("db.s.t.c", ("db.s.t", "c")), ("t.c", ("t", "c"))],
)
def test_split_column(column, expected):
    assert split_column(column) == expected


def test_a_plain_selects_result_columns_are_not_graph_columns():
    lineage = _file(
        "report.sql",
        StatementLineage(
            0,
            1,
            "SELECT",
            sources=("s.a",),
            column_lineage=(ColumnEdge("s.a.x", "x", "direct"),),
        ),
    )
    rows = transform_lineage([lineage])
    assert rows.columns == [] and rows.derives_from == []
    assert [r["table"] for r in rows.reads] == ["s.a"]
    assert [r["name"] for r in rows.tables] == ["s.a"]
