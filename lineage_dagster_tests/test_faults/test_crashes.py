"""Crashes and contention the pipeline survived before the fault suite existed, kept so they stay
survived, as real processes on a real instance and a real Neo4j: Neo4j killed with SIGKILL in
the middle of a load and restarted; the step process of a load killed with SIGKILL; two ingests
of the same folder at once; a burst of 3,000 new files, which the sensor turns into one run of
the folder and the run loads whole. After each, an ingest converges on the complete graph
without duplicates."""

import os
import signal

import dagster as dg
import pytest

from lineage_dagster.defs.sensors import sql_folder_sensor
from lineage_dagster.devstack.local_neo4j import LocalNeo4j, find_free_port
from lineage_dagster.graph.driver import open_driver
from lineage_dagster_tests.graph_helpers import count
from lineage_dagster_tests.ingest_helpers import sensor_context
from lineage_dagster_tests.test_cli.cli_helpers import cli_env, run_cli, start_cli
from lineage_dagster_tests.test_faults.fault_helpers import (
    assert_converges,
    dense_corpus,
    load_step_pids,
    process_tree,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.faults]

BURST = 3_000


def test_neo4j_killed_mid_load_then_the_rerun_converges(sql_root, tmp_path, neo4j_env, home):
    """A Neo4j of its own (the session's must not die), with the session's login."""
    server = LocalNeo4j(
        tmp_path / "db", port=find_free_port(), user=neo4j_env.user, password=neo4j_env.password
    ).start()
    try:
        env = cli_env(neo4j_env, home, NEO4J_URI=server.uri)
        files = dense_corpus(sql_root, ["risk"])
        ingest = start_cli(["ingest", str(sql_root)], env)
        load_step_pids(home, ingest)
        assert server.process is not None
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
        server.process = None
        server.start()  # store recovery; the run's retries may ride the outage out
        ingest.communicate(timeout=900)
        assert ingest.returncode in (0, 3)  # loaded after the restart, or failed cleanly
        with open_driver(server.uri, neo4j_env.user, neo4j_env.password) as driver:
            assert_converges(sql_root, files, env, driver, home)
    finally:
        server.stop()


def test_a_load_step_killed_then_the_rerun_converges(sql_root, env, empty_graph, home):
    files = dense_corpus(sql_root, ["risk"])
    ingest = start_cli(["ingest", str(sql_root)], env)
    [step_pid] = load_step_pids(home, ingest)
    assert step_pid in [p.pid for p in process_tree(ingest.pid)]
    os.kill(step_pid, signal.SIGKILL)
    stdout, stderr = ingest.communicate(timeout=900)
    # The executor reports the crashed step: the run fails, or its retry loads everything.
    assert ingest.returncode in (0, 3), stdout + stderr[-3000:]
    assert_converges(sql_root, files, env, empty_graph, home)


def test_two_ingests_of_one_folder_at_once(sql_root, env, empty_graph, home):
    files = dense_corpus(sql_root, ["risk"], files=40)
    # Both open the instance first (ingest takes turns on that), then run concurrently.
    ingests = [start_cli(["ingest", str(sql_root)], env) for _ in range(2)]
    for ingest in ingests:
        stdout, stderr = ingest.communicate(timeout=900)
        assert ingest.returncode == 0, stdout + stderr[-3000:]
    assert_converges(sql_root, files, env, empty_graph, home)


def test_a_burst_of_new_files_is_one_run_that_loads_them_all(sql_root, env, empty_graph, home):
    (sql_root / "risk").mkdir()
    for n in range(BURST):
        (sql_root / "risk" / f"f{n:04d}.sql").write_text(
            f"INSERT INTO risk.t{n} (x) SELECT x FROM stg.s{n % 10};\n"
        )
    with dg.instance_for_test() as instance, sensor_context(instance, sql_root) as context:
        tick = sql_folder_sensor(context)
    assert isinstance(tick, dg.SensorResult)
    assert [request.partition_key for request in tick.run_requests] == ["risk"]

    result = run_cli(["ingest", str(sql_root)], env)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert count(empty_graph, "(:SqlFile {status: 'ok'})") == BURST
    assert count(empty_graph, "()-[:FEEDS]->()") == BURST
    files = {
        f"risk/f{n:04d}.sql": (sql_root / "risk" / f"f{n:04d}.sql").read_text()
        for n in range(BURST)
    }
    assert_converges(sql_root, files, env, empty_graph, home)
