"""Loading lineage into a real Neo4j: exact graph, replacement, deletion, idempotency and the
one-query-per-relationship baseline giving the same graph as UNWIND batches."""

import pytest

from lineage_dagster.graph import queries
from lineage_dagster.graph.load import (
    ConcurrentCleanupError,
    ensure_constraints,
    get_loaded_files,
    sync_files,
)
from lineage_dagster.parsing.models import (
    ColumnEdge,
    FileLineage,
    StatementError,
    StatementLineage,
)
from lineage_dagster_tests.graph_helpers import (
    count,
    derives_from,
    feeds,
    graph_snapshot,
    sql_files,
    table_names,
)

pytestmark = pytest.mark.integration


def _file(path: str, sha: str, *statements: StatementLineage) -> FileLineage:
    return FileLineage(path=path, sha256=sha, dialect="ansi", statements=statements)


VAR = _file(
    "risk/var.sql",
    "a1",
    StatementLineage(
        0,
        1,
        "INSERT",
        sources=("trading.positions", "market.prices"),
        targets=("risk.var",),
        column_lineage=(
            ColumnEdge("trading.positions.qty", "risk.var.exposure", "expression"),
            ColumnEdge("market.prices.px", "risk.var.exposure", "expression"),
        ),
    ),
)
GL = _file(
    "finance/gl.sql",
    "b1",
    StatementLineage(0, 1, "INSERT", sources=("finance.journal",), targets=("finance.gl",)),
)


@pytest.fixture
def session(empty_graph):
    with empty_graph.session() as session:
        ensure_constraints(session)
        yield session


def test_loads_the_exact_graph(session, empty_graph):
    summary = sync_files(session, [VAR, GL], extractor_version="v1")
    assert summary.files_loaded == 2
    assert table_names(empty_graph) == {
        "trading.positions",
        "market.prices",
        "risk.var",
        "finance.journal",
        "finance.gl",
    }
    assert feeds(empty_graph) == {
        ("trading.positions", "risk.var"),
        ("market.prices", "risk.var"),
        ("finance.journal", "finance.gl"),
    }
    assert derives_from(empty_graph) == {
        ("risk.var.exposure", "trading.positions.qty", "expression"),
        ("risk.var.exposure", "market.prices.px", "expression"),
    }
    assert count(empty_graph, "(:SqlFile)-[:CONTAINS]->(:Statement)") == 2
    assert count(empty_graph, "(:Column)") == 3
    assert count(empty_graph, "(:Statement)-[:WRITES_COLUMN]->(:Column {table: 'risk.var'})") == 1
    loaded = get_loaded_files(session, "risk")
    assert set(loaded) == {"risk/var.sql"}
    assert loaded["risk/var.sql"].extractor_version == "v1"


def test_reloading_the_same_lineage_changes_nothing(session, empty_graph):
    sync_files(session, [VAR, GL])
    before = graph_snapshot(empty_graph)
    sync_files(session, [VAR, GL])
    assert graph_snapshot(empty_graph) == before


def test_a_changed_file_replaces_its_old_lineage_and_orphans_go(session, empty_graph):
    sync_files(session, [VAR, GL])
    changed = _file(
        "risk/var.sql",
        "a2",
        StatementLineage(0, 1, "INSERT", sources=("trading.trades",), targets=("risk.var",)),
    )
    sync_files(session, [changed])
    assert feeds(empty_graph) == {
        ("trading.trades", "risk.var"),
        ("finance.journal", "finance.gl"),
    }
    assert "market.prices" not in table_names(empty_graph)
    assert derives_from(empty_graph) == set()
    assert count(empty_graph, "(c:Column)") == 0
    assert sql_files(empty_graph)["risk/var.sql"]["sha256"] == "a2"


def test_shared_tables_survive_until_their_last_file_goes(session, empty_graph):
    other = _file(
        "trading/pos.sql",
        "c1",
        StatementLineage(0, 1, "INSERT", sources=("trading.raw",), targets=("trading.positions",)),
    )
    sync_files(session, [VAR, other])
    sync_files(session, [], deleted_paths=["risk/var.sql"])
    assert table_names(empty_graph) == {"trading.raw", "trading.positions"}
    assert set(sql_files(empty_graph)) == {"trading/pos.sql"}
    sync_files(session, [], deleted_paths=["trading/pos.sql"])
    assert count(empty_graph, "(n)") == 0


def test_a_failed_file_records_its_error_and_drops_its_old_lineage(session, empty_graph):
    sync_files(session, [GL])
    error = StatementError("invalid UTF-8 at byte 3", line=1, column=4)
    sync_files(session, [FileLineage("finance/gl.sql", "", None, (), error)])
    node = sql_files(empty_graph)["finance/gl.sql"]
    assert (node["status"], node["error_message"], node["error_column"]) == (
        "failed",
        "invalid UTF-8 at byte 3",
        4,
    )
    assert feeds(empty_graph) == set()
    assert count(empty_graph, "(:Table)") == 0


def test_one_query_per_relationship_gives_the_same_graph(session, empty_graph):
    sync_files(session, [VAR, GL], batch_size=5000)
    batched = graph_snapshot(empty_graph)
    session.run("MATCH (n) DETACH DELETE n").consume()
    sync_files(session, [VAR], rows_per_query=1)
    sync_files(session, [GL], rows_per_query=1)
    assert graph_snapshot(empty_graph) == batched


@pytest.mark.parametrize("gone", ["column", "table"])
def test_an_end_node_removed_after_its_merge_rolls_the_load_back(
    session, empty_graph, monkeypatch, gone
):
    """Another folder's run may remove a table or column (its cleanup) between this load's
    MERGE of it and the CREATE of an edge to it; simulated here inside the transaction. The
    load fails loudly, writes nothing, and loads whole when run again."""
    sync_files(session, [GL], extractor_version="v1")
    before = graph_snapshot(empty_graph)
    step, removal = {
        "column": ("MERGE_COLUMNS", "MATCH (c:Column {id: 'market.prices.px'}) DETACH DELETE c"),
        "table": ("MERGE_TABLES", "MATCH (t:Table {name: 'market.prices'}) DETACH DELETE t"),
    }[gone]
    merge = getattr(queries, step)
    monkeypatch.setattr(queries, step, f"{merge}\nWITH count(*) AS merged\n{removal}")
    with pytest.raises(ConcurrentCleanupError, match="no end node"):
        sync_files(session, [VAR], extractor_version="v1")
    assert graph_snapshot(empty_graph) == before
    monkeypatch.undo()
    sync_files(session, [VAR], extractor_version="v1")
    assert ("risk.var.exposure", "market.prices.px", "expression") in derives_from(empty_graph)
    assert "risk/var.sql" in sql_files(empty_graph)
