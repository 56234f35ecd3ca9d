"""Neo4j outages: a run started while Neo4j is down rides it out once Neo4j is back; an outage
that lasts fails the run cleanly; and a run after a failed, half-applied load converges on the
same graph with no duplicates."""

import threading
import time
from dataclasses import replace
from pathlib import Path

import neo4j
import pytest

from lineage_dagster.devstack.local_neo4j import LocalNeo4j, find_free_port
from lineage_dagster.graph.driver import open_driver
from lineage_dagster.graph.load import ensure_constraints, sync_files
from lineage_dagster.parsing import extract_file
from lineage_dagster_tests.graph_helpers import count, graph_snapshot
from lineage_dagster_tests.ingest_helpers import ingest

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.faults]

FILES = {
    f"risk/step_{n}.sql": f"INSERT INTO risk.t{n + 1} (k, v) SELECT k, v * 2 FROM risk.t{n};\n"
    for n in range(6)
}


@pytest.fixture
def corpus(sql_root: Path) -> Path:
    for path, text in FILES.items():
        (sql_root / path).parent.mkdir(parents=True, exist_ok=True)
        (sql_root / path).write_text(text)
    return sql_root


@pytest.fixture
def own_neo4j(tmp_path: Path, neo4j_env):
    """A second Neo4j this test may stop and start; same login as the session's (the EnvVars)."""
    server = LocalNeo4j(
        tmp_path / "outage-db",
        port=find_free_port(),
        user=neo4j_env.user,
        password=neo4j_env.password,
    )
    yield server
    server.stop()


def _neo4j_config(server: LocalNeo4j, retry_seconds: float = 30) -> dict:
    """Run config for the resource: run config replaces its whole config, so the login is
    passed as references to the environment variables, never as values."""
    return {
        "uri": server.uri,
        "user": {"env": "NEO4J_USER"},
        "password": {"env": "NEO4J_PASSWORD"},
        "max_transaction_retry_seconds": retry_seconds,
    }


def _driver(server: LocalNeo4j) -> neo4j.Driver:
    return open_driver(server.uri, server.user, server.password)


def test_a_run_rides_out_an_outage_that_ends(ingest_instance, corpus, own_neo4j):
    restarter = threading.Timer(3.0, own_neo4j.start)  # Neo4j comes back after the run starts
    restarter.start()
    started = time.monotonic()
    run = ingest(
        ingest_instance,
        corpus,
        "risk",
        neo4j_config=_neo4j_config(own_neo4j, retry_seconds=120),
    )
    restarter.join()
    assert run.success, run.step_failures
    assert time.monotonic() - started > 3.0  # it really waited for the database
    with _driver(own_neo4j) as driver:
        assert count(driver, "(:SqlFile)") == len(FILES)
        assert count(driver, "()-[:FEEDS]->()") == len(FILES)


def test_a_lasting_outage_fails_cleanly_and_the_rerun_converges(
    ingest_instance, corpus, own_neo4j, tmp_path
):
    down = ingest(
        ingest_instance,
        corpus,
        "risk",
        raise_on_error=False,
        neo4j_config=_neo4j_config(own_neo4j, retry_seconds=1),
    )
    assert not down.success
    assert "ServiceUnavailable" in down.step_failures["plan_sql_files"]
    assert own_neo4j.uri.split("//")[1] in down.step_failures["plan_sql_files"]

    own_neo4j.start()
    # A reference graph: everything loaded in one go.
    rerun = ingest(ingest_instance, corpus, "risk", neo4j_config=_neo4j_config(own_neo4j))
    assert rerun.success
    with _driver(own_neo4j) as driver:
        complete = graph_snapshot(driver)
        # Simulate a load that failed half-way: only the first files' groups were committed,
        # and by an older extractor, so the next run must reload them too.
        driver.execute_query("MATCH (n) DETACH DELETE n")
        with driver.session() as session:
            ensure_constraints(session)
            half = [replace(extract_file(corpus / path), path=path) for path in list(FILES)[:3]]
            sync_files(session, half, extractor_version="stale")
        again = ingest(ingest_instance, corpus, "risk", neo4j_config=_neo4j_config(own_neo4j))
        assert again.success
        assert again.load_metadata["files_loaded"] == len(FILES)
        assert graph_snapshot(driver) == complete
        records, _, _ = driver.execute_query(
            "MATCH (a)-[r:FEEDS]->(b) WITH a, b, r.statement_id AS s, count(*) AS n "
            "WHERE n > 1 RETURN count(*) AS duplicates"
        )
        assert records[0]["duplicates"] == 0
