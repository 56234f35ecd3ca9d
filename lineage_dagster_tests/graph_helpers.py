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


def derives_from(driver: neo4j.Driver) -> set[tuple[str, str, str]]:
    """(target column, source column, kind) for every DERIVES_FROM edge."""
    records, _, _ = driver.execute_query(
        "MATCH (t:Column)-[r:DERIVES_FROM]->(s:Column) RETURN t.id AS t, s.id AS s, r.kind AS k"
    )
    return {(record["t"], record["s"], record["k"]) for record in records}


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
