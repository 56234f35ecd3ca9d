"""The warehouse catalog read from a real Neo4j: two folders of SQL (one script reading the
other's output) give every table with its upstream tables, columns, column sources with
file:line, writers with dialect and partition, and source tables; an empty graph gives an empty
catalog; a deleted file takes its tables out; the catalog survives a JSON round trip."""

import neo4j
import pytest

from lineage_dagster.graph.catalog import (
    Catalog,
    ColumnSource,
    TableWriter,
    catalog_from_json,
    catalog_to_json,
    column_lineage_markdown,
    get_catalog,
)
from lineage_dagster.graph.load import ensure_constraints, load_files
from lineage_dagster.parsing import extract_lineage

pytestmark = pytest.mark.integration

FILES = {
    "risk/positions.sql": (
        "postgres",
        "-- positions\nINSERT INTO risk.positions (book_id, mv)\n"
        "SELECT t.book_id, SUM(t.qty * p.price) FROM raw.trades AS t\n"
        "JOIN raw.prices AS p ON p.isin = t.isin GROUP BY t.book_id;\n",
    ),
    "finance/report.sql": (
        "spark",
        "CREATE TABLE finance.report AS\nSELECT book_id, mv AS market_value FROM risk.positions;\n",
    ),
}


def _load(session: neo4j.Session) -> None:
    ensure_constraints(session)
    lineage = [
        extract_lineage(sql, dialect=dialect, path=path) for path, (dialect, sql) in FILES.items()
    ]
    report = load_files(session, lineage, [], extractor_version="test")
    assert report.files_loaded == 2


def test_catalog_of_two_folders(empty_graph: neo4j.Driver) -> None:
    with empty_graph.session() as session:
        _load(session)
        catalog = get_catalog(session)
    tables = {table.name: table for table in catalog.tables}
    assert list(tables) == ["finance.report", "raw.prices", "raw.trades", "risk.positions"]

    positions = tables["risk.positions"]
    assert positions.upstream == ("raw.prices", "raw.trades")
    assert [c.name for c in positions.columns] == ["book_id", "mv"]
    assert positions.writers == (
        TableWriter("risk/positions.sql#0", "risk/positions.sql", 2, "INSERT", "postgres", "risk"),
    )
    assert positions.partitions == ("finance", "risk")  # risk writes it, finance reads it
    assert not positions.is_source
    mv = {c.name: c for c in positions.columns}["mv"]
    assert {(s.table, s.column, s.kind, s.file, s.line) for s in mv.upstream} == {
        ("raw.trades", "qty", "aggregation", "risk/positions.sql", 2),
        ("raw.prices", "price", "aggregation", "risk/positions.sql", 2),
    }

    report = tables["finance.report"]
    assert report.upstream == ("risk.positions",)
    assert report.writers[0].dialect == "spark"
    assert report.writers[0].line == 1
    market_value = {c.name: c for c in report.columns}["market_value"]
    assert market_value.upstream == (
        ColumnSource("risk.positions", "mv", "direct", "finance/report.sql", 1),
    )

    trades = tables["raw.trades"]
    assert trades.is_source and trades.upstream == () and trades.partitions == ("risk",)
    assert {c.name for c in trades.columns} >= {"book_id", "qty", "isin"}
    assert all(not c.upstream for c in trades.columns)

    assert catalog_from_json(catalog_to_json(catalog)) == catalog
    markdown = column_lineage_markdown(report)
    assert "| market_value | risk.positions.mv | direct | finance/report.sql:1 |" in markdown


def test_empty_graph_gives_an_empty_catalog(empty_graph: neo4j.Driver) -> None:
    with empty_graph.session() as session:
        assert get_catalog(session) == Catalog()


def test_a_deleted_file_takes_its_tables_out_of_the_catalog(empty_graph: neo4j.Driver) -> None:
    with empty_graph.session() as session:
        _load(session)
        load_files(session, [], ["finance/report.sql"], extractor_version="test")
        catalog = get_catalog(session)
    names = [table.name for table in catalog.tables]
    assert names == ["raw.prices", "raw.trades", "risk.positions"]
    assert catalog.tables[-1].partitions == ("risk",)  # finance no longer reads it
