"""The compact graph model loses no lineage: on the benchmark corpus loaded into a real Neo4j,
every `lineage upstream|downstream` answer (tables and columns, with files, lines and edge
kinds) equals a walk over the extractor's own edges, where every condition edge is explicit.
Also: a graph written by the previous model (HAS_COLUMN, explicit condition edges) is migrated
in place, answers the same, and reloads cleanly."""

import random
from dataclasses import replace

import pytest

from lineage_dagster.graph.load import ensure_constraints, load_files, split_column, statement_id
from lineage_dagster.graph.read import (
    MAX_DEPTH,
    Direction,
    Lineage,
    LineageEdge,
    LineageNode,
    get_column_lineage,
    get_table_lineage,
)
from lineage_dagster.parsing import FileLineage, extract_file
from lineage_dagster.parsing.names import canonical_name
from lineage_dagster_tests.benchmarks.corpus import write_corpus
from lineage_dagster_tests.graph_helpers import count, wipe_graph

pytestmark = [pytest.mark.integration, pytest.mark.slow]

Edges = dict[str, list[LineageEdge]]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[FileLineage]:
    root = tmp_path_factory.mktemp("corpus")
    return [
        replace(extract_file(path), path=path.relative_to(root).as_posix())
        for path in write_corpus(root, files=400, seed=7)
    ]


def _reference_edges(corpus: list[FileLineage]) -> tuple[Edges, Edges, Edges, Edges]:
    """Table and column edges by target and by source, straight from the extracted lineage
    (names keyed as the graph keys them: canonical for the file's dialect)."""
    tables: set[LineageEdge] = set()
    columns: set[LineageEdge] = set()
    for lineage in corpus:
        assert lineage.path is not None
        dialect = lineage.dialect
        for stmt in lineage.statements:
            sid = statement_id(lineage.path, stmt.index)
            sources = [canonical_name(source, dialect) for source in stmt.sources]
            targets = [canonical_name(target, dialect) for target in stmt.targets]
            tables.update(
                LineageEdge(source, target, sid, lineage.path, stmt.line)
                for source in sources
                for target in targets
                if source != target
            )
            if stmt.targets:
                columns.update(
                    LineageEdge(
                        canonical_name(e.source, dialect),
                        canonical_name(e.target, dialect),
                        sid,
                        lineage.path,
                        stmt.line,
                        e.kind,
                    )
                    for e in stmt.column_lineage
                )
    indexes: list[Edges] = [{}, {}, {}, {}]
    for edge in tables:
        indexes[0].setdefault(edge.target, []).append(edge)
        indexes[1].setdefault(edge.source, []).append(edge)
    for edge in columns:
        indexes[2].setdefault(edge.target, []).append(edge)
        indexes[3].setdefault(edge.source, []).append(edge)
    return indexes[0], indexes[1], indexes[2], indexes[3]


def _reference_walk(start: str, level: str, direction: Direction, edges: Edges) -> Lineage:
    """Breadth-first, shortest distance per node, edges to the level before: what the reader
    promises, computed without Neo4j."""
    far = (lambda e: e.source) if direction == "upstream" else (lambda e: e.target)
    distances, nodes, frontier = {start: 0}, [], [start]
    for distance in range(1, MAX_DEPTH + 1):
        reached: Edges = {}
        for key in frontier:
            for edge in edges.get(key, []):
                if far(edge) not in distances:
                    reached.setdefault(far(edge), []).append(edge)
        if not reached:
            break
        for name, found in sorted(reached.items()):
            distances[name] = distance
            key = lambda e: (e.source, e.target, e.statement_id, e.file, e.kind or "")  # noqa: E731
            nodes.append(LineageNode(name, distance, tuple(sorted(found, key=key))))
        frontier = sorted(reached)
    return Lineage(start, level, direction, MAX_DEPTH, tuple(nodes), False)  # type: ignore[arg-type]


def _compare_all(session, corpus: list[FileLineage], sample: int) -> int:
    up_t, down_t, up_c, down_c = _reference_edges(corpus)
    tables = sorted({*up_t, *down_t})
    columns = sorted({*up_c, *down_c})
    rng = random.Random(0)
    compared = 0
    for table in rng.sample(tables, min(sample, len(tables))):
        for direction, edges in (("upstream", up_t), ("downstream", down_t)):
            got = get_table_lineage(session, table, direction=direction)
            assert got == _reference_walk(table, "table", direction, edges), table
            compared += 1
    for column in rng.sample(columns, min(sample, len(columns))):
        table, name = split_column(column)
        for direction, edges in (("upstream", up_c), ("downstream", down_c)):
            got = get_column_lineage(session, table, name, direction=direction)
            assert got == _reference_walk(column, "column", direction, edges), column
            compared += 1
    return compared


def test_compact_conditions_answer_like_explicit_edges(corpus, empty_graph):
    with empty_graph.session() as session:
        ensure_constraints(session)
        load_files(session, corpus)
        conditions = sum(
            e.kind == "condition"
            for lineage in corpus
            for s in lineage.statements
            if s.targets
            for e in s.column_lineage
        )
        stored = count(empty_graph, "()-[:DERIVES_FROM {kind: 'condition'}]->()")
        filters = count(empty_graph, "(:Statement)-[:FILTERS_ON]->()")
        # The corpus is condition-heavy, and the model stores a small part of it.
        assert conditions > 10 * (stored + filters)
        assert _compare_all(session, corpus, sample=150) == 600


OLD_MODEL = """
UNWIND $rows AS row
MATCH (s:Statement {id: row.statement_id})
MATCH (source:Column {id: row.source})
MATCH (target:Column {id: row.target})
MERGE (t:Table {name: row.table})
MERGE (t)-[:HAS_COLUMN]->(target)
CREATE (target)-[:DERIVES_FROM {statement_id: row.statement_id, kind: 'condition',
                                file: row.file}]->(source)
"""


def test_a_graph_of_the_previous_model_is_migrated(corpus, empty_graph):
    """Rebuild the previous model's shape (condition edges explicit, HAS_COLUMN, no
    WRITES_COLUMN/FILTERS_ON), then let ensure_constraints migrate it."""
    wipe_graph(empty_graph)
    files = corpus[:120]
    with empty_graph.session() as session:
        ensure_constraints(session)
        load_files(session, files)
        rows = [
            {"statement_id": sid, "source": s, "target": t, "table": t.rsplit(".", 1)[0], "file": f}
            for t, s, sid, f in session.run(
                "MATCH (t:Column)<-[:WRITES_COLUMN]-(st:Statement)-[:FILTERS_ON]->(s:Column) "
                "WHERE NOT EXISTS { MATCH (t)-[v:DERIVES_FROM]->(s) WHERE v.statement_id = st.id }"
                " RETURN t.id AS t, s.id AS s, st.id AS sid, st.file AS f"
            ).values()
        ]
        session.run("MATCH ()-[r:WRITES_COLUMN|FILTERS_ON]->() DELETE r").consume()
        session.run(OLD_MODEL, rows=rows).consume()
        assert count(empty_graph, "()-[:HAS_COLUMN]->()") > 0

        ensure_constraints(session)
        assert count(empty_graph, "()-[:HAS_COLUMN]->()") == 0
        assert _compare_all(session, files, sample=60) == 240
        # Reloading a migrated file replaces its explicit condition edges by the compact form.
        load_files(session, files)
        assert count(empty_graph, "()-[:DERIVES_FROM {kind: 'condition'}]->()") == 0
        assert _compare_all(session, files, sample=60) == 240
