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
    return FileLineage(path=path, sha256="0" * 64, dialect="postgres", statements=statements)


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
    second = next(r for r in rows.statements if r["id"].endswith("#1"))
    assert (second["reads"], second["writes"]) == (["s.c"], ["s.c"])
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
    # The condition is folded into the statement's FILTERS_ON: only the value edge is stored.
    assert [(r["target"], r["source"], r["kind"]) for r in rows.derives_from] == [
        ("s.b.y", "s.a.x", "direct"),
    ]
    assert rows.statement_columns == [
        {"statement_id": "f.sql#0", "writes": ["s.b.y"], "filters": ["s.z.k"]}
    ]
    assert all(r["file"] == "f.sql" for r in rows.derives_from)


def _conditions(*edges: ColumnEdge) -> tuple[list, list]:
    lineage = _file(
        "f.sql",
        StatementLineage(0, 1, "INSERT", sources=("s.a",), targets=("s.t",), column_lineage=edges),
    )
    rows = transform_lineage([lineage])
    stored = [(r["source"], r["target"], r["kind"]) for r in rows.derives_from]
    return stored, rows.statement_columns


def test_conditions_fold_when_they_reach_every_written_column():
    stored, statement_columns = _conditions(
        ColumnEdge("s.a.x", "s.t.x", "direct"),
        ColumnEdge("s.a.y", "s.t.y", "expression"),
        ColumnEdge("s.a.d", "s.t.x", "condition"),
        ColumnEdge("s.a.d", "s.t.y", "condition"),
        # The filter column is also copied to s.t.x: no condition edge for that pair.
        ColumnEdge("s.a.x", "s.t.y", "condition"),
    )
    assert stored == [("s.a.x", "s.t.x", "direct"), ("s.a.y", "s.t.y", "expression")]
    assert statement_columns[0]["writes"] == ["s.t.x", "s.t.y"]
    assert statement_columns[0]["filters"] == ["s.a.d", "s.a.x"]


def test_conditions_that_are_not_a_full_product_stay_explicit():
    stored, statement_columns = _conditions(
        ColumnEdge("s.a.x", "s.t.x", "direct"),
        ColumnEdge("s.a.y", "s.t.y", "direct"),
        ColumnEdge("s.a.d", "s.t.x", "condition"),  # not to s.t.y: folding would invent it
    )
    assert ("s.a.d", "s.t.x", "condition") in stored
    assert len(stored) == 3
    assert statement_columns[0]["filters"] == []


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
    assert rows.statements[0]["reads"] == ["s.a"]
    assert [r["name"] for r in rows.tables] == ["s.a"]


def test_one_table_key_across_dialects_keeps_a_spelling_as_written():
    snowflake = FileLineage(
        "finance/gl.sql",
        "1" * 64,
        "snowflake",
        (
            StatementLineage(
                0,
                1,
                "INSERT",
                sources=("RAW.JOURNAL",),
                targets=("FINANCE.GL",),
                column_lineage=(ColumnEdge("RAW.JOURNAL.AMT", "FINANCE.GL.AMOUNT", "direct"),),
            ),
        ),
    )
    tsql = FileLineage(
        "risk/report.sql",
        "2" * 64,
        "tsql",
        (
            StatementLineage(
                0,
                1,
                "INSERT",
                sources=("finance.gl",),
                targets=("rpt.gl",),
                column_lineage=(ColumnEdge("finance.gl.amount", "rpt.gl.total", "aggregation"),),
            ),
        ),
    )
    for files in ([snowflake, tsql], [tsql, snowflake]):
        rows = transform_lineage(files)
        assert rows.tables == [
            {"name": "finance.gl", "written": "FINANCE.GL"},
            {"name": "raw.journal", "written": "RAW.JOURNAL"},
            {"name": "rpt.gl", "written": "rpt.gl"},
        ]
        assert [(r["source"], r["target"]) for r in rows.feeds] == [
            ("finance.gl", "rpt.gl"),
            ("raw.journal", "finance.gl"),
        ]
        assert {r["id"] for r in rows.columns} == {
            "finance.gl.amount",
            "raw.journal.amt",
            "rpt.gl.total",
        }


def test_quoted_dot_columns_are_two_graph_columns():
    lineage = FileLineage(
        "f.sql",
        "3" * 64,
        "postgres",
        (
            StatementLineage(
                0,
                1,
                "INSERT",
                sources=("coll.a", 'coll."a.b"'),
                targets=("rpt.flat",),
                column_lineage=(
                    ColumnEdge('coll.a."b.c"', "rpt.flat.x", "direct"),
                    ColumnEdge('coll."a.b".c', "rpt.flat.y", "direct"),
                ),
            ),
        ),
    )
    rows = transform_lineage([lineage])
    sources = [(r["id"], r["table"], r["name"]) for r in rows.columns if r["table"] != "rpt.flat"]
    assert sources == [('coll."a.b".c', 'coll."a.b"', "c"), ('coll.a."b.c"', "coll.a", '"b.c"')]


@pytest.mark.parametrize(
    ("dialect", "fields"),
    [
        (
            "bigquery",
            [
                {"field": 'fin.trades."widget.asset"', "parent": "fin.trades.widget"},
                {"field": 'fin.trades."widget.asset.id"', "parent": 'fin.trades."widget.asset"'},
            ],
        ),
        ("postgres", []),  # no structs: a quoted "widget.asset.id" is one column of its own
    ],
)
def test_a_struct_field_read_hangs_off_the_column_holding_it(dialect, fields):
    lineage = FileLineage(
        "f.sql",
        "4" * 64,
        dialect,
        (
            StatementLineage(
                0,
                1,
                "INSERT",
                sources=("fin.trades",),
                targets=("fin.assets",),
                column_lineage=(
                    ColumnEdge('fin.trades."widget.asset.id"', "fin.assets.asset_id", "direct"),
                    ColumnEdge("fin.trades.trade_id", "fin.assets.asset_id", "condition"),
                ),
            ),
        ),
    )
    rows = transform_lineage([lineage])
    assert rows.fields == fields
    columns = {row["id"] for row in rows.columns}
    assert {row["parent"] for row in fields} <= columns
    assert rows.relationship_count() == 1 + 1 + 1 + 1 + 1 + 1 + 1 + len(fields)
