"""The Neo4j write path alone, on the 1,000-file benchmark corpus: rows and relationships per
second for each step of the load transactions, and how many relationships the graph model
writes against the earlier model (an edge per condition column and target column, and
HAS_COLUMN), counted from the same extracted lineage. Run with
``pytest -m benchmark -s -k load_benchmark``; prints figures, asserts only what must hold."""

import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from lineage_dagster.graph.load import ensure_constraints, load_files, transform_lineage
from lineage_dagster.parsing import FileLineage, extract_file
from lineage_dagster_tests.benchmarks.corpus import write_corpus
from lineage_dagster_tests.graph_helpers import count, wipe_graph

pytestmark = [pytest.mark.benchmark, pytest.mark.integration]

FILES = 1000


def _earlier_model_relationships(corpus: list[FileLineage]) -> int:
    """CONTAINS, READS, WRITES, FEEDS, HAS_COLUMN and one DERIVES_FROM per extracted column
    edge: what the model before FILTERS_ON/WRITES_COLUMN wrote for the same lineage."""
    statements = reads = writes = 0
    feeds: set[tuple[str, str, str]] = set()
    columns: set[str] = set()
    derives: set[tuple[str, str, str, str]] = set()
    for lineage in corpus:
        for stmt in lineage.statements:
            sid = f"{lineage.path}#{stmt.index}"
            statements += 1
            reads += len(set(stmt.sources))
            writes += len(set(stmt.targets))
            feeds.update((s, t, sid) for s in stmt.sources for t in stmt.targets if s != t)
            if stmt.targets:
                for edge in stmt.column_lineage:
                    columns.update((edge.source, edge.target))
                    derives.add((edge.source, edge.target, edge.kind, sid))
    return statements + reads + writes + len(feeds) + len(columns) + len(derives)


def test_neo4j_write_path(tmp_path: Path, neo4j_driver) -> None:
    root = tmp_path / "corpus"
    corpus = [
        replace(extract_file(path), path=path.relative_to(root).as_posix())
        for path in write_corpus(root, files=FILES, seed=0)
    ]
    rows = transform_lineage(corpus)
    row_counts = {
        "files": len(rows.files),
        "tables": len(rows.tables),
        "statements": len(rows.statements),
        "feeds": len(rows.feeds),
        "columns": len(rows.columns),
        "statement_columns": len(rows.statement_columns),
        "derives_from": len(rows.derives_from),
    }
    runs = []
    for phase in ("empty graph", "replace all"):
        if phase == "empty graph":
            wipe_graph(neo4j_driver)
        with neo4j_driver.session() as session:
            ensure_constraints(session)
            started = time.perf_counter()
            report = load_files(session, corpus)
            runs.append((phase, time.perf_counter() - started, report))
    relationships = count(neo4j_driver, "()-[]->()")
    earlier = _earlier_model_relationships(corpus)
    assert relationships == runs[0][2].relationships  # what the load says it wrote is there

    table = pd.DataFrame(
        [
            {
                "phase": phase,
                "step": step,
                "rows": row_counts.get(step),
                "seconds": round(seconds, 2),
                "rows/s": round(row_counts[step] / seconds) if step in row_counts else None,
            }
            for phase, _total, report in runs
            for step, seconds in report.query_seconds.items()
        ]
    )
    print(f"\nNeo4j write path, {FILES} files ({len(rows.statements)} statements):")
    print(table.to_string(index=False))
    summary = pd.DataFrame(
        [
            {
                "phase": phase,
                "seconds": round(total, 2),
                "transactions": report.transactions,
                "relationships": report.relationships,
                "relationships/s": round(report.relationships / total),
            }
            for phase, total, report in runs
        ]
    )
    print(summary.to_string(index=False))
    print(
        f"Relationships in the graph: {relationships:,}; the earlier model wrote {earlier:,} "
        f"for the same lineage ({1 - relationships / earlier:.0%} fewer)."
    )
