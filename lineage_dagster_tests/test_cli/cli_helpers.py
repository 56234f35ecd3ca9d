"""A small corpus of three partitions and a way to run the real ``lineage-dagster`` executable."""

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import neo4j

    from lineage_dagster_tests.conftest import Neo4jServer

CLI = Path(sys.executable).with_name("lineage-dagster")

# staging -> risk -> finance: raw.trades feeds stg.trades feeds risk.exposure (with ref.fx),
# which feeds finance.report. finance/broken.sql has one good statement and one broken one.
CORPUS = {
    "staging/trades.sql": (
        "INSERT INTO stg.trades (id, book, ccy, amount)\n"
        "SELECT id, book, ccy, amount FROM raw.trades;\n"
    ),
    "risk/exposure.sql": (
        "INSERT INTO risk.exposure (book, total)\n"
        "SELECT t.book, SUM(t.amount * f.rate)\n"
        "FROM stg.trades AS t JOIN ref.fx AS f ON f.ccy = t.ccy\n"
        "GROUP BY t.book;\n"
    ),
    "finance/report.sql": (
        "CREATE TABLE finance.report AS\nSELECT book, total FROM risk.exposure;\n"
    ),
    "finance/broken.sql": (
        "INSERT INTO finance.ok (a) SELECT a FROM finance.src;\nSELECT (1 + FROM finance.nowhere;\n"
    ),
}

CORPUS_FEEDS = {
    ("raw.trades", "stg.trades"),
    ("stg.trades", "risk.exposure"),
    ("ref.fx", "risk.exposure"),
    ("risk.exposure", "finance.report"),
    ("finance.src", "finance.ok"),
}


def write_corpus(root: Path, files: Mapping[str, str] = CORPUS) -> Path:
    """Write ``files`` (relative path -> SQL) under ``root``."""
    for relative, sql in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sql)
    return root


def cli_env(server: "Neo4jServer", dagster_home: Path, **extra: str) -> dict[str, str]:
    """The environment of a CLI subprocess: Neo4j coordinates, the instance, no FEATURE_*."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("FEATURE_")}
    env.update(
        NEO4J_URI=server.uri,
        NEO4J_USER=server.user,
        NEO4J_PASSWORD=server.password,
        DAGSTER_HOME=str(dagster_home),
        # No Pushgateway in these tests.
        FEATURE_METRICS="off",
    )
    env.update(extra)
    return env


def start_cli(args: Sequence[str], env: Mapping[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [str(CLI), *args], env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def run_cli(
    args: Sequence[str], env: Mapping[str, str], *, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run ``lineage-dagster ARGS`` as a real process (so the multiprocess executor runs)."""
    return subprocess.run(
        [str(CLI), *args], env=dict(env), capture_output=True, text=True, timeout=timeout
    )


def duplicates(driver: "neo4j.Driver") -> dict[str, list]:
    """Keys held by more than one node, and edges repeated for the same statement."""
    queries = {
        "tables": "MATCH (n:Table) WITH n.name AS key, count(*) AS n WHERE n > 1 RETURN key",
        "columns": "MATCH (n:Column) WITH n.id AS key, count(*) AS n WHERE n > 1 RETURN key",
        "feeds": (
            "MATCH (a:Table)-[r:FEEDS]->(b:Table) "
            "WITH [a.name, b.name, r.statement_id] AS key, count(*) AS n WHERE n > 1 RETURN key"
        ),
        "derives_from": (
            "MATCH (t:Column)-[r:DERIVES_FROM]->(s:Column) "
            "WITH [s.id, t.id, r.statement_id] AS key, count(*) AS n WHERE n > 1 RETURN key"
        ),
        "statement_columns": (
            "MATCH (s:Statement)-[r:WRITES_COLUMN|FILTERS_ON]->(c:Column) "
            "WITH [s.id, type(r), c.id] AS key, count(*) AS n WHERE n > 1 RETURN key"
        ),
    }
    return {
        name: [record["key"] for record in driver.execute_query(query)[0]]
        for name, query in queries.items()
    }
