"""Set-based assertions on the lineage graph (compare whole sets, so extras fail too)."""

import neo4j


def wipe_graph(driver: neo4j.Driver) -> None:
    """Delete every node, in batches: one transaction for a large graph exceeds Neo4j's
    transaction memory limit."""
    with driver.session() as session:
        session.run(
            "MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS"
        ).consume()


def table_names(driver: neo4j.Driver) -> set[str]:
    records, _, _ = driver.execute_query("MATCH (t:Table) RETURN t.name AS name")
    return {record["name"] for record in records}


def feeds(driver: neo4j.Driver) -> set[tuple[str, str]]:
    records, _, _ = driver.execute_query(
        "MATCH (a:Table)-[:FEEDS]->(b:Table) RETURN DISTINCT a.name AS a, b.name AS b"
    )
    return {(record["a"], record["b"]) for record in records}


# The column lineage as docs/graph-model.md defines it: value edges, plus the condition edges a
# statement implies (each column it FILTERS_ON, to each column it WRITES_COLUMN, unless it
# already derives that column's value from it).
COLUMN_EDGES = """
MATCH (t:Column)-[r:DERIVES_FROM]->(s:Column)
RETURN t.id AS t, s.id AS s, r.kind AS k, r.statement_id AS sid
UNION ALL
MATCH (t:Column)<-[:WRITES_COLUMN]-(st:Statement)-[:FILTERS_ON]->(s:Column)
WHERE NOT EXISTS { MATCH (t)-[v:DERIVES_FROM]->(s) WHERE v.statement_id = st.id }
RETURN t.id AS t, s.id AS s, 'condition' AS k, st.id AS sid
"""


def column_edges(driver: neo4j.Driver) -> list[tuple[str, str, str, str]]:
    """(target column, source column, kind, statement id) of every column edge, conditions
    included, once per edge the graph implies (a repeated edge shows twice)."""
    records, _, _ = driver.execute_query(COLUMN_EDGES)
    return [(record["t"], record["s"], record["k"], record["sid"]) for record in records]


def derives_from(driver: neo4j.Driver) -> set[tuple[str, str, str]]:
    """(target column, source column, kind) for every column edge, conditions included."""
    return {(t, s, k) for t, s, k, _sid in column_edges(driver)}


def sql_files(driver: neo4j.Driver) -> dict[str, dict]:
    records, _, _ = driver.execute_query("MATCH (f:SqlFile) RETURN f")
    return {record["f"]["path"]: dict(record["f"]) for record in records}


def graph_snapshot(driver: neo4j.Driver) -> dict[str, object]:
    """Everything a user can query, as comparable sets (node and edge properties included)."""
    nodes, _, _ = driver.execute_query(
        "MATCH (n) RETURN labels(n) AS labels, properties(n) AS props"
    )
    rels, _, _ = driver.execute_query(
        "MATCH (a)-[r]->(b) RETURN type(r) AS type, properties(r) AS props, "
        "coalesce(a.id, a.name, a.path) AS a, coalesce(b.id, b.name, b.path) AS b"
    )
    return {
        "nodes": sorted(repr((sorted(r["labels"]), sorted(r["props"].items()))) for r in nodes),
        "relationships": sorted(
            repr((r["type"], r["a"], r["b"], sorted(r["props"].items()))) for r in rels
        ),
    }


def count(driver: neo4j.Driver, pattern: str) -> int:
    records, _, _ = driver.execute_query(f"MATCH {pattern} RETURN count(*) AS n")
    return records[0]["n"]
