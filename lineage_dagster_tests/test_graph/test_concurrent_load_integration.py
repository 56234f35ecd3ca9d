"""Two write transactions at a time build the same graph as one after another, in a real Neo4j:
a generated corpus loaded cold, replaced whole and with files deleted, and a table whose last
reader and last writer leave it in two transactions at once."""

import threading
from dataclasses import replace

import pytest

import lineage_dagster.graph.load as load_module
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
    """Its last reader replaced in one transaction, its last writer deleted in the other: each
    clean-up sees the other's statement still there, so only a check after both commit can
    remove it. The two clean-ups are made to run at the same moment."""

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
        if len(concurrent_calls) < 2:  # the two load transactions, not the check after them
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
