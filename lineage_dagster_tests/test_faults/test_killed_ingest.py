"""`lineage-dagster ingest` stopped in the middle of a run, as real processes on a real instance
and the real Neo4j. SIGTERM (to the one process running the run, or to the parent of one child
process per partition) stops the runs' steps, fails the runs and exits 130; SIGKILL of a parent
makes its children stop their runs; SIGKILL of the process running the run, which cannot be
caught, leaves its run STARTED until Dagster's run monitoring (a real daemon on the instance,
polling every second) or the next ingest fails it, and its step processes end with it. In every
case no process is left behind, and the next ingest converges on the complete graph without
duplicates."""

import signal
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from lineage_dagster_tests.test_cli.cli_helpers import start_cli
from lineage_dagster_tests.test_faults.fault_helpers import (
    IN_PROGRESS,
    assert_all_gone,
    assert_converges,
    dense_corpus,
    load_step_pids,
    open_instance,
    process_tree,
    runs,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.faults]


def test_sigterm_fails_the_run_stops_its_steps_and_exits_130(sql_root, env, empty_graph, home):
    files = dense_corpus(sql_root, ["risk"])
    ingest = start_cli(["ingest", str(sql_root)], env)
    load_step_pids(home, ingest)
    tree = process_tree(ingest.pid)
    assert len(tree) > 2  # the forkserver and the step processes

    ingest.send_signal(signal.SIGTERM)
    stdout, stderr = ingest.communicate(timeout=120)
    assert ingest.returncode == 130, stdout + stderr[-3000:]
    assert "Interrupted" in stderr
    assert "risk" in stdout  # the summary lists the interrupted run
    assert_all_gone(tree, 30)
    [run] = runs(home).values()
    assert run.status == dg.DagsterRunStatus.FAILURE
    assert_converges(sql_root, files, env, empty_graph, home)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_a_stopped_parent_stops_the_children_running_its_partitions(
    sql_root, env, empty_graph, home, signum
):
    files = dense_corpus(sql_root, ["risk", "finance"])
    ingest = start_cli(["ingest", str(sql_root), "--concurrent-runs", "2"], env)
    load_step_pids(home, ingest, runs=1)
    tree = process_tree(ingest.pid)

    ingest.send_signal(signum)
    ingest.communicate(timeout=120)
    assert ingest.returncode == (130 if signum == signal.SIGTERM else -signal.SIGKILL)
    assert_all_gone(tree, 60)
    # The children stopped their own runs (SIGTERM from the parent, or from the kernel when the
    # parent was killed): nothing waits for run monitoring.
    statuses = [run.status for run in runs(home).values()]
    assert statuses and not set(statuses) & set(IN_PROGRESS), statuses
    assert_converges(sql_root, files, env, empty_graph, home)


@pytest.fixture
def daemon(env: dict[str, str], tmp_path: Path):
    """A real dagster-daemon on the instance (run monitoring every second); its sensor watches
    an empty folder."""
    empty = tmp_path / "watched"
    empty.mkdir()
    log = (tmp_path / "daemon.log").open("w")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("dagster-daemon")),
            "run",
            "-m",
            "lineage_dagster.definitions",
        ],
        env={**env, "LINEAGE_SQL_ROOT": str(empty)},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(
            lambda: "MonitoringDaemon" in (tmp_path / "daemon.log").read_text(),
            180,
            "the monitoring daemon to start",
        )
        yield process
    finally:
        for member in process_tree(process.pid)[::-1]:
            member.terminate()
        process.wait(60)
        log.close()


@pytest.mark.parametrize("monitoring", [True, False], ids=["run-monitoring", "next-ingest"])
def test_sigkill_leaves_no_process_and_the_run_is_failed(
    sql_root, env, empty_graph, home, request, monitoring
):
    if monitoring:
        request.getfixturevalue("daemon")
    files = dense_corpus(sql_root, ["risk"])
    ingest = start_cli(["ingest", str(sql_root)], env)
    load_step_pids(home, ingest)
    tree = process_tree(ingest.pid)

    ingest.send_signal(signal.SIGKILL)
    ingest.communicate(timeout=60)
    # The step processes end with the run process: nothing goes on writing to Neo4j.
    assert_all_gone(tree, 30)
    [run_id] = runs(home)
    if monitoring:
        wait_for(
            lambda: runs(home)[run_id].status == dg.DagsterRunStatus.FAILURE,
            60,
            "run monitoring to fail the run",
        )
        with open_instance(home) as instance:
            messages = [entry.message for entry in instance.all_logs(run_id)]
        assert any("is gone" in message for message in messages), messages[-5:]
    else:
        assert runs(home)[run_id].status == dg.DagsterRunStatus.STARTED
    assert_converges(sql_root, files, env, empty_graph, home)
    assert runs(home)[run_id].status == dg.DagsterRunStatus.FAILURE
