"""Two write transactions at a time build the same graph as one after another, in a real Neo4j:
a generated corpus loaded cold, replaced whole and with files deleted; a table whose last
reader and last writer leave it in two transactions at once; a clean-up racing a transaction
that links to the column it removes; two spellings of one table written at once."""

import threading
import time
from collections.abc import Callable
from dataclasses import replace

import neo4j
import pytest

import lineage_dagster.graph.load as load_module
from lineage_dagster.graph import queries
from lineage_dagster.graph.load import ensure_constraints, load_files, load_files_concurrently
from lineage_dagster.parsing import FileLineage, extract_file
from lineage_dagster.parsing.models import ColumnEdge, StatementLineage
from lineage_dagster_tests.benchmarks.corpus import write_corpus
from lineage_dagster_tests.graph_helpers import count, graph_snapshot, table_names, wipe_graph

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[FileLineage]:
    root = tmp_path_factory.mktemp("corpus")
    return [
        replace(extract_file(path), path=path.relative_to(root).as_posix())
        for path in write_corpus(root, files=150, seed=11)
    ]


def test_concurrent_transactions_build_the_graph_of_serial_ones(corpus, empty_graph):
    deleted = sorted(item.path for item in corpus[::7] if item.path)
    kept = [item for item in corpus if item.path not in deleted]
    snapshots = {}
    for name, transactions in (("serial", 1), ("concurrent", 2)):
        wipe_graph(empty_graph)
        with empty_graph.session() as session:
            ensure_constraints(session)
            if transactions == 1:
                cold = load_files(session, corpus, files_per_transaction=20)
        if transactions == 2:
            cold = load_files_concurrently(
                empty_graph.session, corpus, transactions=2, files_per_transaction=20
            )
            assert cold.transactions >= 8  # 150 files in parts of at most 20
        snapshots[f"{name} cold"] = graph_snapshot(empty_graph)
        # Every file replaced over its own lineage, a seventh of them deleted.
        again = load_files_concurrently(
            empty_graph.session, kept, deleted, transactions=transactions, files_per_transaction=20
        )
        assert (again.files_loaded, again.files_deleted) == (len(kept), len(deleted))
        snapshots[f"{name} replaced"] = graph_snapshot(empty_graph)
        assert cold.relationships > 0 and cold.wall_seconds > 0
    assert snapshots["concurrent cold"] == snapshots["serial cold"]
    assert snapshots["concurrent replaced"] == snapshots["serial replaced"]
    assert snapshots["serial replaced"] != snapshots["serial cold"]


def test_a_failing_part_is_raised(corpus, empty_graph):
    def broken_session():
        raise ConnectionError("no route to the server")

    with pytest.raises(ConnectionError, match="no route"):
        load_files_concurrently(broken_session, corpus, transactions=2, files_per_transaction=20)


def test_a_table_left_by_its_reader_and_its_writer_at_once_is_removed(empty_graph, monkeypatch):
    """Its last reader replaced in one transaction, its last writer deleted in the other: read
    without a lock, each clean-up sees the other's statement still there and keeps the table.
    The two clean-ups are made to start at the same moment."""

    def stmt(sources: tuple[str, ...], targets: tuple[str, ...]) -> StatementLineage:
        edges = tuple(ColumnEdge(f"{s}.id", f"{t}.id", "direct") for s in sources for t in targets)
        return StatementLineage(0, 1, "INSERT", sources, targets, edges)

    writer = FileLineage("risk/exposure.sql", "1" * 64, None, (stmt(("raw.t",), ("risk.x",)),))
    reader = FileLineage("risk/summary.sql", "2" * 64, None, (stmt(("risk.x",), ("risk.s",)),))
    rewritten = replace(reader, sha256="3" * 64, statements=(stmt(("raw.u",), ("risk.s",)),))
    with empty_graph.session() as session:
        ensure_constraints(session)
    load_files_concurrently(empty_graph.session, [writer, reader], transactions=1)

    both_deleted = threading.Barrier(2, timeout=30)
    clean_up = load_module._clean_up
    concurrent_calls = []

    def clean_up_together(tx, tables, columns, chunk):
        if len(concurrent_calls) < 2:  # not when Neo4j runs one again after a deadlock
            concurrent_calls.append(tables)
            both_deleted.wait()
        return clean_up(tx, tables, columns, chunk)

    monkeypatch.setattr(load_module, "_clean_up", clean_up_together)
    load_files_concurrently(
        empty_graph.session,
        [rewritten],
        ["risk/exposure.sql"],
        transactions=2,
        files_per_transaction=1,
    )
    assert all("risk.x" in tables for tables in concurrent_calls)
    assert table_names(empty_graph) == {"raw.u", "risk.s"}
    assert count(empty_graph, "(:Column)") == 2


def wait_until_blocked(driver: neo4j.Driver, timeout: float = 30.0) -> None:
    """Return once a transaction of the server waits for another's lock."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records, _, _ = driver.execute_query(
            "SHOW TRANSACTIONS YIELD status WHERE status STARTS WITH 'Blocked' RETURN count(*) AS n"
        )
        if records[0]["n"]:
            return
        time.sleep(0.05)
    pytest.fail(f"no transaction was blocked within {timeout:.0f} s")


def run_while_open(
    driver: neo4j.Driver, first: Callable[[neo4j.Transaction], object], second: Callable
) -> None:
    """Run ``first`` in a transaction left open, start ``second`` in a thread, and commit
    ``first`` once ``second`` waits for its lock; ``first`` runs again if Neo4j picked it as
    the victim of a deadlock (as the driver would)."""
    with driver.session() as session:
        tx = session.begin_transaction()
        first(tx)
        errors: list[BaseException] = []

        def run_second() -> None:
            try:
                second()
            except BaseException as exc:  # reported by the test, not lost in the thread
                errors.append(exc)

        thread = threading.Thread(target=run_second)
        thread.start()
        wait_until_blocked(driver)
        try:
            tx.commit()
        except neo4j.exceptions.TransientError:
            session.execute_write(first)
        thread.join(timeout=60)
    assert not thread.is_alive()
    assert not errors, errors


def test_a_clean_up_keeps_a_column_a_concurrent_transaction_links_to(empty_graph):
    """The column had no edge when the clean-up began; the other transaction's edge to it
    commits while the clean-up waits. Unlocked, DETACH DELETE took the new edge with it."""
    empty_graph.execute_query("CREATE (:Statement {id: 's'}), (:Column {id: 'c', table: 't'})")

    def link(tx):
        tx.run(
            "MATCH (s:Statement {id: 's'}) MERGE (c:Column {id: 'c'}) ON CREATE SET c.table = 't' "
            "CREATE (s)-[:WRITES_COLUMN]->(c)"
        ).consume()

    def clean_up():
        with empty_graph.session() as session:
            session.execute_write(lambda tx: tx.run(queries.CLEANUP_COLUMNS, ids=["c"]).consume())

    run_while_open(empty_graph, link, clean_up)
    assert count(empty_graph, "(:Statement {id: 's'})-[:WRITES_COLUMN]->(:Column {id: 'c'})") == 1
    assert count(empty_graph, "(n) WHERE n._LOCK_ IS NOT NULL") == 0


def test_the_smallest_spelling_of_a_table_wins_when_two_are_written_at_once(empty_graph):
    """Each transaction read the stored spelling ``c`` and found its own smaller; the one that
    commits second must not overwrite a smaller spelling the first committed."""
    for first, second in (("a", "b"), ("b", "a")):
        wipe_graph(empty_graph)
        empty_graph.execute_query("CREATE (:Table {name: 't', written: 'c'})")

        def merge(tx, spelling):
            tx.run(queries.MERGE_TABLES, rows=[{"name": "t", "written": spelling}]).consume()

        def merge_second(spelling=second):
            with empty_graph.session() as session:
                session.execute_write(merge, spelling)

        run_while_open(empty_graph, lambda tx, spelling=first: merge(tx, spelling), merge_second)
        records, _, _ = empty_graph.execute_query("MATCH (t:Table) RETURN t.written AS written")
        assert [record["written"] for record in records] == ["a"], (first, second)
