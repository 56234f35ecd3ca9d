"""Struct fields in a real Neo4j: a field column read by one file hangs off the column another
file writes, lineage walks through it both ways, and it goes when nothing reads it."""

import pytest

from lineage_dagster.graph.load import ensure_constraints, sync_files
from lineage_dagster.graph.read import get_column_lineage
from lineage_dagster.parsing import extract_lineage
from lineage_dagster_tests.graph_helpers import count, graph_snapshot

pytestmark = pytest.mark.integration

LOAD = extract_lineage(
    "INSERT INTO fin.trades (trade_id, widget) SELECT id, w FROM raw.widgets",
    dialect="bigquery",
    path="load/trades.sql",
)
REPORT = extract_lineage(
    "CREATE TABLE mart.asset_ids AS\n"
    "SELECT t.trade_id, t.widget.asset.id AS asset_id FROM fin.trades AS t\n"
    "WHERE t.widget.asset.kind = 'bond'",
    dialect="bigquery",
    path="report/asset_ids.sql",
)


@pytest.fixture
def session(empty_graph):
    with empty_graph.session() as session:
        ensure_constraints(session)
        yield session


def _reached(session, column: str, direction: str) -> dict[str, set[str]]:
    table, _, name = column.partition(":")
    lineage = get_column_lineage(session, table, name, direction=direction)
    return {node.name: {edge.kind for edge in node.edges} for node in lineage.nodes}


def test_a_field_read_joins_the_lineage_of_its_struct(session, empty_graph):
    sync_files(session, [LOAD, REPORT])
    fields, _, _ = empty_graph.execute_query(
        "MATCH (f:Column)-[:FIELD_OF]->(p:Column) RETURN f.id AS field, p.id AS parent"
    )
    assert {(r["field"], r["parent"]) for r in fields} == {
        ('fin.trades."widget.asset.id"', 'fin.trades."widget.asset"'),
        ('fin.trades."widget.asset.kind"', 'fin.trades."widget.asset"'),
        ('fin.trades."widget.asset"', "fin.trades.widget"),
    }
    # Where the report column comes from: the field, the struct, the column it was loaded from.
    upstream = _reached(session, "mart.asset_ids:asset_id", "upstream")
    assert upstream['fin.trades."widget.asset.id"'] == {"direct"}
    assert upstream["fin.trades.widget"] == {"field"}
    assert upstream["raw.widgets.w"] == {"direct"}
    assert 'fin.trades."widget.asset.kind"' in upstream  # the filter on a field
    # What changing the loaded column breaks: the report column, through the field.
    downstream = _reached(session, "raw.widgets:w", "downstream")
    assert {"fin.trades.widget", "mart.asset_ids.asset_id", "mart.asset_ids.trade_id"} <= set(
        downstream
    )

    before = graph_snapshot(empty_graph)
    sync_files(session, [LOAD, REPORT])
    assert graph_snapshot(empty_graph) == before  # one FIELD_OF per field, however often loaded


def test_fields_go_with_their_last_reader_and_their_struct_stays_while_read(session, empty_graph):
    sync_files(session, [LOAD, REPORT])
    sync_files(session, [], deleted_paths=["load/trades.sql"])
    # The struct column is no longer written, but the report still reads its fields.
    assert count(empty_graph, "(:Column {id: 'fin.trades.widget'})") == 1
    assert count(empty_graph, "()-[:FIELD_OF]->()") == 3

    sync_files(session, [], deleted_paths=["report/asset_ids.sql"])
    assert count(empty_graph, "(:Column)") == 0
    assert count(empty_graph, "(:Table)") == 0

    sync_files(session, [REPORT, LOAD])
    sync_files(session, [], deleted_paths=["report/asset_ids.sql"])
    remaining, _, _ = empty_graph.execute_query("MATCH (c:Column) RETURN c.id AS id")
    assert {r["id"] for r in remaining} == {
        "fin.trades.trade_id",
        "fin.trades.widget",
        "raw.widgets.id",
        "raw.widgets.w",
    }
