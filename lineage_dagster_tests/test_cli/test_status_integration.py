"""``lineage-dagster status`` against a real deployment: the session's Neo4j, a Dagster instance
in a temporary DAGSTER_HOME (the project's dagster.yaml) and a real ``dagster-daemon run``
process whose sensor ingests a two-folder corpus. In order, one daemon for the module:
healthy (exit 0); Neo4j down (exit 3, the rest still checked); a partition's last run failed
(exit 8); the daemon stopped (its heartbeat ages past the threshold: exit 6). Each asserts the
exit code and the JSON report."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from lineage_dagster.cli.dev import WORKSPACE_FILE, prepare_dagster_home
from lineage_dagster.devstack.local_neo4j import find_free_port
from lineage_dagster_tests.graph_helpers import wipe_graph
from lineage_dagster_tests.ingest_helpers import ingest
from lineage_dagster_tests.test_cli.cli_helpers import cli_env, run_cli, write_corpus

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DAEMON = Path(sys.executable).with_name("dagster-daemon")
CORPUS = {
    "ledger/entries.sql": "INSERT INTO ledger.entries (id, amt) SELECT id, amt FROM raw.je;\n",
    "risk/exposure.sql": (
        "INSERT INTO risk.exposure (book, total)\n"
        "SELECT book, SUM(amount) FROM ledger.entries GROUP BY book;\n"
    ),
}
PARTITIONS = {"ledger", "risk"}
WAIT_SECONDS = 300.0


def _status(env: dict[str, str], *args: str) -> tuple[int, dict[str, Any]]:
    result = run_cli(["status", "--format", "json", *args], env, timeout=120)
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def _last_runs(home: Path) -> dict[str, str]:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        records = instance.get_run_records(filters=dg.RunsFilter(job_name="ingest_sql_job"))
        latest: dict[str, str] = {}
        for record in sorted(records, key=lambda r: r.create_timestamp):
            latest[record.dagster_run.tags["dagster/partition"]] = record.dagster_run.status.value
    return latest


def _heartbeats(home: Path) -> list[float]:
    """When each daemon last beat (each daemon beats on its own)."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return [beat.timestamp for beat in instance.get_daemon_heartbeats().values()]


class Deployment:
    """The daemon process and the environment the status command runs with."""

    def __init__(self, home: Path, env: dict[str, str], log: Path) -> None:
        self.home, self.env, self.log = home, env, log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [str(DAEMON), "run", "-w", str(WORKSPACE_FILE)],
            env=self.env,
            cwd=WORKSPACE_FILE.parent,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its code server and run workers share its process group
        )

    def stop(self) -> None:
        """SIGTERM to the daemon's own process group, then wait until every member is gone."""
        if self.process is None or self.process.poll() is not None:
            return
        group = self.process.pid
        os.killpg(group, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(group, signal.SIGKILL)
            self.process.wait(timeout=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                return
            time.sleep(0.5)
        os.killpg(group, signal.SIGKILL)

    def wait_for_runs(self, expected: dict[str, str]) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while (runs := _last_runs(self.home)) != expected:
            assert self.process is not None and self.process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, f"runs {runs}\n{self.log.read_text()[-3000:]}"
            time.sleep(1)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, neo4j_env, neo4j_driver) -> Iterator[Deployment]:
    wipe_graph(neo4j_driver)  # files with errors left by other modules would make it exit 1
    base = tmp_path_factory.mktemp("status")
    home = prepare_dagster_home(base / "dagster_home")
    # Create the SQLite storage before the daemon starts: two processes creating it at once
    # both create its tables ("table runs already exists").
    dg.DagsterInstance.from_config(str(home)).dispose()
    root = write_corpus(base / "sql", CORPUS)
    env = cli_env(
        neo4j_env,
        home,
        LINEAGE_SQL_ROOT=str(root),
        LINEAGE_SENSOR_INTERVAL_SECONDS="1",
        FEATURE_PARALLEL="off",  # in-process runs: quicker, and the status is the same
    )
    deployment = Deployment(home, env, base / "daemon.log")
    deployment.start()
    try:
        deployment.wait_for_runs(dict.fromkeys(PARTITIONS, "SUCCESS"))
        yield deployment
    finally:
        deployment.stop()


def test_a_healthy_deployment_exits_0(deployment):
    code, report = _status(deployment.env)
    assert (code, report["exit_code"], report["healthy"], report["problems"]) == (0, 0, True, [])
    assert report["neo4j"]["reachable"] and report["neo4j"]["missing_schema"] == []
    assert report["files"]["with_errors"] == 0
    daemons = {beat["daemon_type"]: beat for beat in report["daemon"]["daemons"]}
    assert "SENSOR" in daemons and all(b["age_seconds"] < 120 for b in daemons.values())
    (sensor,) = report["sensor"]["sensors"]
    assert sensor["name"] == "sql_folder_sensor"
    assert sensor["status"] in ("RUNNING", "DECLARED_IN_CODE")
    assert sensor["last_tick_status"] in ("SKIPPED", "SUCCESS")
    runs = {run["partition"]: run for run in report["runs"]["partitions"]}
    assert set(runs) == PARTITIONS
    assert {run["status"] for run in runs.values()} == {"SUCCESS"}
    assert all(run["cache_misses"] == 1 and run["run_id"] for run in runs.values())
    assert report["cache"]["entries"] == 2 and report["cache"]["bytes"] > 0
    assert report["cache"]["hit_rate"] == 0.0
    assert report["flags"]["parallel"] == {
        "value": False,
        "source": "FEATURE_PARALLEL",
        "invalid_value": None,
    }
    table = run_cli(["status"], deployment.env, timeout=120)
    assert table.returncode == 0 and "Healthy (exit code 0)." in table.stdout


def test_neo4j_down_exits_3_and_still_checks_the_instance(deployment):
    dead = f"bolt://127.0.0.1:{find_free_port()}"
    code, report = _status({**deployment.env, "NEO4J_URI": dead})
    assert code == report["exit_code"] == 3
    assert [(p["check"], p["code"]) for p in report["problems"]] == [("neo4j", 3)]
    assert dead in report["problems"][0]["message"]
    assert report["neo4j"]["reachable"] is False
    assert report["instance"]["reachable"] is True
    assert len(report["runs"]["partitions"]) == 2


def test_a_failed_last_run_exits_8(deployment, tmp_path):
    with dg.DagsterInstance.from_config(str(deployment.home)) as instance:
        # The folder the run is pointed at does not exist: its plan step fails.
        failed = ingest(instance, tmp_path / "moved", "risk", parallel=False, raise_on_error=False)
    assert not failed.success
    code, report = _status(deployment.env)
    assert code == report["exit_code"] == 8
    assert [(p["check"], p["code"]) for p in report["problems"]] == [("runs", 8)]
    assert "partition risk" in report["problems"][0]["message"]
    runs = {run["partition"]: run for run in report["runs"]["partitions"]}
    assert (runs["risk"]["status"], runs["risk"]["run_id"]) == ("FAILURE", failed.run_id)
    assert runs["ledger"]["status"] == "SUCCESS"


def test_a_stopped_daemon_exits_6_once_its_heartbeat_is_stale(deployment):
    deployment.stop()
    # A threshold just above the stopped daemon's heartbeat ages (the command takes seconds).
    beats = _heartbeats(deployment.home)
    threshold = time.time() - min(beats) + 20
    code, report = _status(deployment.env, "--max-heartbeat-age", f"{threshold:.1f}")
    # Just stopped: its heartbeats are still younger than the threshold.
    assert code == 8 and "daemon" not in {p["check"] for p in report["problems"]}
    # Until every daemon's last beat, the newest included, is older than the threshold.
    time.sleep(max(0.0, max(beats) + threshold + 1 - time.time()))
    code, report = _status(deployment.env, "--max-heartbeat-age", f"{threshold:.1f}")
    assert code == report["exit_code"] == 6
    checks = [(p["check"], p["code"]) for p in report["problems"]]
    assert ("daemon", 6) in checks and ("runs", 8) in checks
    daemon_problem = next(p for p in report["problems"] if p["check"] == "daemon")
    assert (
        "SENSOR" in daemon_problem["message"]
        and "is dagster-daemon running?" in daemon_problem["message"]
    )
