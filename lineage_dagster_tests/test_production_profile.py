"""The shipped production profile (docs/operations/production), started for real: its own
PostgreSQL cluster, its own Neo4j, a DAGSTER_HOME holding the shipped dagster.yaml and
workspace.yaml (filled in only through the environment, from the env file template), and the
code server, daemon and webserver as three process groups, each run from its systemd unit's
ExecStart, EnvironmentFile and WorkingDirectory (everything systemd does but switch User=).

The flags are the template's: the first stage of the guide's rollout (optimisations off, metrics
on). The daemon's sensor ingests two folders; one folder then changes twice in quick succession
(an edit, then a rename). The runs of that folder must never overlap (the queue holds the later
one), every run succeeds, and the graph is exactly the folders' final content. No process is left
behind.
"""

import contextlib
import hashlib
import itertools
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import dagster as dg
import neo4j
import pytest
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config
from dagster._core.run_coordinator import QueuedRunCoordinator

from lineage_dagster.cli.processes import stop_process_group
from lineage_dagster.devstack.local_neo4j import find_free_port
from lineage_dagster.devstack.local_postgres import LocalPostgres
from lineage_dagster.settings.environment import (
    ENV_DAGSTER_HOME,
    ENV_NEO4J_PASSWORD,
    ENV_NEO4J_URI,
    ENV_NEO4J_USER,
    ENV_PUSHGATEWAY_URL,
    ENV_SENSOR_INTERVAL,
    ENV_SQL_ROOT,
    ENV_WEBSERVER_URL,
)
from lineage_dagster.settings.flags import FLAG_ENV_VARS
from lineage_dagster_tests.conftest import Neo4jServer
from lineage_dagster_tests.graph_helpers import feeds, sql_files, table_names
from lineage_dagster_tests.production_profile import (
    ENV_FILE,
    PROFILE_DIR,
    STATE_DIR,
    UNITS,
    WEBSERVER_PATHS,
    exec_start,
    read_env_file,
    service_settings,
    unit_variables,
    yaml_env_variables,
)

T = TypeVar("T")

DAGSTER_YAML = PROFILE_DIR / "dagster.yaml"
WORKSPACE_YAML = PROFILE_DIR / "workspace.yaml"
PARTITION_TAG = "dagster/partition"
FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
RUN_TIMEOUT_SECONDS = 240.0

# The folders the sensor watches: finance changes twice; risk is ingested once beside it.
FINANCE_V1 = {
    "stage.sql": "INSERT INTO finance.stage SELECT id, amount FROM finance.raw_ledger;\n",
    "report.sql": "INSERT INTO finance.report SELECT id, SUM(amount) AS total "
    "FROM finance.stage GROUP BY id;\n",
}
FINANCE_REPORT_V2 = (
    "INSERT INTO finance.report SELECT s.id, SUM(s.amount) AS total "
    "FROM finance.stage s JOIN finance.accounts a ON a.id = s.id GROUP BY s.id;\n"
)
RISK = {"exposure.sql": "INSERT INTO risk.exposure SELECT id, amount FROM finance.report;\n"}


# --- the shipped files themselves (fast) -------------------------------------------------------


def test_env_file_defines_every_variable_the_profile_and_project_read():
    defined = set(read_env_file())
    used_by_profile = yaml_env_variables(DAGSTER_YAML) | yaml_env_variables(WORKSPACE_YAML)
    for unit in UNITS.values():
        used_by_profile |= unit_variables(unit)
    read_by_project = {
        ENV_DAGSTER_HOME,
        ENV_SQL_ROOT,
        ENV_NEO4J_URI,
        ENV_NEO4J_USER,
        ENV_NEO4J_PASSWORD,
        ENV_PUSHGATEWAY_URL,
        ENV_WEBSERVER_URL,
        ENV_SENSOR_INTERVAL,
        *FLAG_ENV_VARS.values(),
    }
    assert used_by_profile - defined == set()
    assert read_by_project - defined == set()
    # Secrets are placeholders, never real values.
    assert {name: value for name, value in read_env_file().items() if "PASSWORD" in name} == {
        "DAGSTER_PG_PASSWORD": "CHANGE-ME",
        "NEO4J_PASSWORD": "CHANGE-ME",
    }


def test_units_run_as_systemd_services_from_the_env_file():
    copy_to = ENV_FILE.read_text().split("Copy to ", 1)[1].split(",", 1)[0]
    for name, unit in UNITS.items():
        settings = service_settings(unit)
        assert settings["EnvironmentFile"] == copy_to, name
        assert settings["User"] and settings["User"] != "root", name
        assert settings["Restart"] == "always", name
        assert settings["WorkingDirectory"] == STATE_DIR, name
        assert settings["ExecStart"].startswith("/"), name  # systemd wants an absolute path


def test_dagster_yaml_is_a_valid_instance_config(monkeypatch: pytest.MonkeyPatch):
    for name, value in read_env_file().items():
        monkeypatch.setenv(name, value)
    config = dagster_instance_config(str(PROFILE_DIR))[0]
    coordinator = config["run_coordinator"]
    assert coordinator["class"] == "QueuedRunCoordinator"
    assert process_config(QueuedRunCoordinator.config_type(), coordinator["config"]).success
    assert coordinator["config"]["tag_concurrency_limits"] == [
        {"key": PARTITION_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
    ]
    assert config["run_monitoring"]["enabled"] is True
    assert config["telemetry"]["enabled"] is False


# --- the profile, running --------------------------------------------------------------------


def _wait_for(
    predicate: Callable[[], T],
    timeout: float,
    what: str,
    processes: dict[str, "subprocess.Popen[bytes]"],
    logs: Path,
) -> T:
    """Poll ``predicate``; fail at once, with the services' logs, if a service exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        exited = {name: p.returncode for name, p in processes.items() if p.poll() is not None}
        if exited:
            raise AssertionError(f"Services exited {exited} waiting for {what}\n{_tails(logs)}")
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"Timed out after {timeout:.0f} s waiting for {what}\n{_tails(logs)}")


def _tails(logs: Path) -> str:
    return "\n".join(
        f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}" for log in logs.glob("*.log")
    )


def _write_atomically(path: Path, text: str) -> None:
    """Replace a file in one step, as a deploy tool would, so no tick sees it half written."""
    staging = path.parent.parent / f".{path.name}.new"
    staging.write_text(text)
    os.replace(staging, path)


def _server_info(port: int) -> dict:
    assert "/server_info" in WEBSERVER_PATHS
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5) as response:
        return json.loads(response.read())


def _location_loaded(port: int) -> bool:
    query = "{ workspaceOrError { ... on Workspace { locationEntries { name locationOrLoadError "
    query += "{ __typename } } } } }"
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",  # a path of WEBSERVER_PATHS
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            entries = json.loads(response.read())["data"]["workspaceOrError"]["locationEntries"]
    except (urllib.error.URLError, ConnectionError, TimeoutError, KeyError):
        return False
    return any(
        entry["name"] == "lineage_dagster"
        and (entry["locationOrLoadError"] or {}).get("__typename") == "RepositoryLocation"
        for entry in entries
    )


def _runs(instance: dg.DagsterInstance, partition: str) -> list[dg.RunRecord]:
    records = instance.get_run_records(filters=dg.RunsFilter(tags={PARTITION_TAG: partition}))
    return sorted(records, key=lambda record: record.create_timestamp)


def _processes_in_groups(groups: set[int], grace_seconds: float = 10) -> list[int]:
    """Live (not zombie) processes of ``groups``, once those killed last had time to exit."""
    deadline = time.monotonic() + grace_seconds
    while True:
        found = []
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                with contextlib.suppress(OSError):
                    fields = (proc / "stat").read_text().rsplit(") ", 1)[1].split()
                    if fields[0] != "Z" and int(fields[2]) in groups:
                        found.append(int(proc.name))
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


@pytest.fixture
def profile_postgres(postgres_home: Path) -> Iterator[LocalPostgres]:
    server = LocalPostgres(
        postgres_home, port=find_free_port(), password="pg-" + os.urandom(8).hex()
    )
    with server:
        yield server
    assert server.server_pid() is None


@pytest.mark.integration
@pytest.mark.slow
def test_production_profile_serialises_runs_per_partition(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    profile_postgres: LocalPostgres,
    neo4j_server: Neo4jServer,
    empty_graph: neo4j.Driver,
):
    state_dir = tmp_path / "state"
    dagster_home = state_dir / "dagster_home"
    dagster_home.mkdir(parents=True)
    # The operator's copies, as the guide says; linked, so this is the shipped text.
    (dagster_home / "dagster.yaml").symlink_to(DAGSTER_YAML)
    (dagster_home / "workspace.yaml").symlink_to(WORKSPACE_YAML)
    sql_root = tmp_path / "sql"
    for folder, files in {"finance": FINANCE_V1, "risk": RISK}.items():
        (sql_root / folder).mkdir(parents=True)
        for name, text in files.items():
            (sql_root / folder / name).write_text(text)
    logs = tmp_path / "logs"
    logs.mkdir()

    webserver_port = find_free_port()
    rendered = read_env_file()
    overrides = {
        "DAGSTER_HOME": str(dagster_home),
        "DAGSTER_PG_HOST": profile_postgres.host,
        "DAGSTER_PG_PORT": str(profile_postgres.port),
        "DAGSTER_PG_DB": profile_postgres.database,
        "DAGSTER_PG_USER": profile_postgres.user,
        "DAGSTER_PG_PASSWORD": profile_postgres.password,
        "LINEAGE_CODE_SERVER_PORT": str(find_free_port()),
        "LINEAGE_WEBSERVER_PORT": str(webserver_port),
        "LINEAGE_WEBSERVER_URL": f"http://127.0.0.1:{webserver_port}",
        "NEO4J_URI": neo4j_server.uri,
        "NEO4J_USER": neo4j_server.user,
        "NEO4J_PASSWORD": neo4j_server.password,
        "LINEAGE_SQL_ROOT": str(sql_root),
        "LINEAGE_SENSOR_INTERVAL_SECONDS": "1",
        "LINEAGE_PUSHGATEWAY_URL": "",
    }
    assert set(overrides) <= set(rendered), "the test sets a variable the template lacks"
    rendered.update(overrides)
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DAGSTER_", "LINEAGE_", "NEO4J_", "FEATURE_"))
    }
    service_env = {**inherited, **rendered}
    # This process reads the same instance, through the same variables.
    for name in yaml_env_variables(DAGSTER_YAML):
        monkeypatch.setenv(name, rendered[name])

    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, unit in UNITS.items():
            settings = service_settings(unit)
            command = exec_start(unit, rendered, Path(sys.executable).parent)
            with (logs / f"{name}.log").open("wb") as log:
                processes[name] = subprocess.Popen(
                    command,
                    cwd=settings["WorkingDirectory"].replace(STATE_DIR, str(state_dir)),
                    env=service_env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
        _wait_for(
            lambda: _location_loaded(webserver_port),
            120,
            "the location on the webserver",
            processes,
            logs,
        )
        # The guide's webserver health check.
        assert _server_info(webserver_port)["dagster_webserver_version"] == dg.__version__
        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"

            def all_finished(partition: str, count: int) -> bool:
                runs = _runs(instance, partition)
                return len(runs) >= count and all(
                    run.dagster_run.status in FINISHED for run in runs
                )

            _wait_for(
                lambda: all_finished("finance", 1), RUN_TIMEOUT_SECONDS, "run 1", processes, logs
            )
            # Two changes in quick succession: the second lands while the first one's run is
            # still queued or running.
            _write_atomically(sql_root / "finance" / "report.sql", FINANCE_REPORT_V2)
            _wait_for(
                lambda: len(_runs(instance, "finance")) >= 2, 60, "run 2 requested", processes, logs
            )
            os.replace(sql_root / "finance" / "stage.sql", sql_root / "finance" / "staging.sql")
            _wait_for(
                lambda: all_finished("finance", 3), RUN_TIMEOUT_SECONDS, "run 3", processes, logs
            )
            _wait_for(
                lambda: all_finished("risk", 1), RUN_TIMEOUT_SECONDS, "risk run", processes, logs
            )

            finance_runs = _runs(instance, "finance")
            risk_runs = _runs(instance, "risk")
            daemon_types = set(instance.get_daemon_heartbeats())
    finally:
        groups = {process.pid for process in processes.values()}
        # All three are asked to stop at once (as `systemctl stop` of the three would); then
        # each group is waited for, and killed if it lingers.
        for process in processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGTERM)
        for process in processes.values():
            stop_process_group(process)
    assert _processes_in_groups(groups) == []

    assert {"SENSOR", "QUEUED_RUN_COORDINATOR", "MONITORING"} <= daemon_types
    assert [run.dagster_run.status for run in finance_runs + risk_runs] == [
        dg.DagsterRunStatus.SUCCESS
    ] * 4
    for earlier, later in itertools.pairwise(finance_runs):
        assert earlier.end_time is not None and later.start_time is not None
        assert later.start_time >= earlier.end_time, "two runs of one partition overlapped"
    # The limit was put to work: the last run was created while the one before it had not ended.
    assert finance_runs[2].create_timestamp.timestamp() < finance_runs[1].end_time

    files = {
        path.relative_to(sql_root).as_posix(): path.read_bytes() for path in sql_root.rglob("*.sql")
    }
    assert {path: node["sha256"] for path, node in sql_files(empty_graph).items()} == {
        path: hashlib.sha256(data).hexdigest() for path, data in files.items()
    }
    assert table_names(empty_graph) == {
        "finance.raw_ledger",
        "finance.stage",
        "finance.accounts",
        "finance.report",
        "risk.exposure",
    }
    assert feeds(empty_graph) == {
        ("finance.raw_ledger", "finance.stage"),
        ("finance.stage", "finance.report"),
        ("finance.accounts", "finance.report"),
        ("finance.report", "risk.exposure"),
    }
