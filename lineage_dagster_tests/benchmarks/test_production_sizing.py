"""Sizing figures for the production profile's PostgreSQL and Neo4j: the 1,000-file benchmark
corpus ingested (all flags on, multiprocess executor with two step processes, one run per
partition) on an instance built from the shipped dagster.yaml over a real PostgreSQL, then
re-ingested after every file changed.

Prints, per pass: wall time, runs, PostgreSQL growth (database size and event-log rows) per run
and per 1,000 files, and the graph's relationships. Run with
``pytest -m benchmark -s -k production_sizing``; asserts only that every run succeeded."""

import os
import time
from pathlib import Path

import dagster as dg
import neo4j
import pandas as pd
import psycopg2
import pytest

from lineage_dagster.devstack.local_neo4j import find_free_port
from lineage_dagster.devstack.local_postgres import LocalPostgres
from lineage_dagster.sources.files import list_partitions
from lineage_dagster_tests.benchmarks.corpus import write_corpus
from lineage_dagster_tests.conftest import Neo4jServer
from lineage_dagster_tests.graph_helpers import count
from lineage_dagster_tests.ingest_helpers import ingest
from lineage_dagster_tests.production_profile import PROFILE_DIR, yaml_env_variables

pytestmark = [pytest.mark.benchmark, pytest.mark.integration]

FILES = 1000


def _database_figures(server: LocalPostgres) -> tuple[int, int]:
    """(database bytes, event-log rows)."""
    with (
        psycopg2.connect(
            host=server.host,
            port=server.port,
            user=server.user,
            password=server.password,
            dbname=server.database,
        ) as connection,
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT pg_database_size(current_database())")
        size = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM event_logs")
        return size, cursor.fetchone()[0]


def test_production_sizing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    postgres_home: Path,
    neo4j_env: Neo4jServer,
    empty_graph: neo4j.Driver,
) -> None:
    root = tmp_path / "corpus"
    write_corpus(root, files=FILES, seed=0, copies=0.3)
    partitions = list_partitions(root)
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").symlink_to(PROFILE_DIR / "dagster.yaml")
    password = "pg-" + os.urandom(8).hex()
    with LocalPostgres(postgres_home, port=find_free_port(), password=password) as server:
        values = {
            "DAGSTER_PG_HOST": server.host,
            "DAGSTER_PG_PORT": str(server.port),
            "DAGSTER_PG_DB": server.database,
            "DAGSTER_PG_USER": server.user,
            "DAGSTER_PG_PASSWORD": server.password,
            "DAGSTER_MAX_CONCURRENT_RUNS": "2",
        }
        assert set(values) == yaml_env_variables(PROFILE_DIR / "dagster.yaml")
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        rows = []
        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            before = _database_figures(server)
            for label in ("first load", "every file changed"):
                if label == "every file changed":
                    for path in root.rglob("*.sql"):
                        path.write_text(path.read_text() + "\n-- changed\n")
                started = time.perf_counter()
                for partition in partitions:
                    assert ingest(instance, root, partition).success
                elapsed = time.perf_counter() - started
                after = _database_figures(server)
                runs = len(partitions)
                rows.append(
                    {
                        "pass": label,
                        "wall s": round(elapsed, 1),
                        "runs": runs,
                        "PG MB / run": round((after[0] - before[0]) / runs / 1e6, 2),
                        "PG MB / 1,000 files": round(
                            (after[0] - before[0]) / FILES * 1000 / 1e6, 1
                        ),
                        "event rows / run": (after[1] - before[1]) // runs,
                        "Neo4j relationships": count(empty_graph, "()-[]->()"),
                    }
                )
                before = after
    print()
    print(pd.DataFrame(rows).to_string(index=False))
