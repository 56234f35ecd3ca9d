"""The verdict of ``lineage-dagster status`` from what the checks found (no services): each
condition class gives its documented exit code, the most fundamental one wins, and a command
run without configuration reports every missing setting and exits 2."""

import json

import pytest
from click.testing import CliRunner

from lineage_dagster.cli import main
from lineage_dagster.cli.health import (
    EXIT_CODES,
    DaemonBeat,
    LastRun,
    Problem,
    SensorState,
    cache_hit_rate,
    daemon_problems,
    exit_code,
    flag_problems,
    run_problems,
    sensor_problems,
)
from lineage_dagster.graph import queries
from lineage_dagster.graph.health import required_schema_names


def test_healthy_is_0_and_the_most_fundamental_problem_gives_the_code():
    assert exit_code([]) == 0
    found = [Problem("files", 1, "f"), Problem("runs", 8, "r"), Problem("sensor", 7, "s")]
    assert exit_code(found) == 7
    assert exit_code([*found, Problem("neo4j", 3, "n")]) == 3
    assert exit_code([*found, Problem("neo4j", 3, "n"), Problem("flags", 2, "x")]) == 2
    assert exit_code([Problem("neo4j", 4, "schema"), Problem("runs", 8, "r")]) == 4


def test_every_condition_class_has_its_own_code():
    codes = [code for code, _name in EXIT_CODES]
    assert sorted(codes) == list(range(1, 9))


@pytest.mark.parametrize(
    ("beat", "fragment"),
    [
        (DaemonBeat("SENSOR", None), "no heartbeat ever from SENSOR"),
        (DaemonBeat("SENSOR", 121.0), "more than 120 s ago: SENSOR (121 s)"),
        (DaemonBeat("SENSOR", 3.0, ("boom",)), "SENSOR: boom"),
    ],
)
def test_a_daemon_without_a_fresh_clean_heartbeat_is_unhealthy(beat, fragment):
    (problem,) = daemon_problems([beat, DaemonBeat("BACKFILL", 1.0)], max_age_seconds=120)
    assert (problem.check, problem.code) == ("daemon", 6)
    assert fragment in problem.message
    assert "BACKFILL" not in problem.message


def test_fresh_heartbeats_are_healthy():
    assert daemon_problems([DaemonBeat("SENSOR", 119.0)], max_age_seconds=120) == []


@pytest.mark.parametrize(
    ("sensor", "fragment"),
    [
        (SensorState("s", None), "never ticked"),
        (SensorState("s", "STOPPED"), "s is stopped"),
        (SensorState("s", "RUNNING", "FAILURE", 2.0, "timeout"), "last tick failed: timeout"),
    ],
)
def test_a_stopped_silent_or_failing_sensor_is_unhealthy(sensor, fragment):
    (problem,) = sensor_problems([sensor])
    assert (problem.check, problem.code) == ("sensor", 7)
    assert fragment in problem.message


@pytest.mark.parametrize("status", ["RUNNING", "DECLARED_IN_CODE"])
def test_a_running_sensor_is_healthy(status):
    assert sensor_problems([SensorState("s", status, "SKIPPED", 1.0)]) == []


def test_only_a_failed_last_run_is_a_problem():
    runs = [
        LastRun("a", "r1", "FAILURE", 10.0),
        LastRun("b", "r2", "SUCCESS", 10.0),
        LastRun("c", "r3", "CANCELED", 10.0),
        LastRun("d", "r4", "STARTED", 1.0),
        LastRun("e"),
    ]
    (problem,) = run_problems(runs)
    assert (problem.code, "partition a" in problem.message, "r1" in problem.message) == (
        8,
        True,
        True,
    )


def test_hit_rate_counts_the_last_loads_that_looked_the_cache_up():
    assert cache_hit_rate([LastRun("a", cache_hits=3, cache_misses=1), LastRun("b")]) == 0.75
    assert cache_hit_rate([LastRun("a", cache_hits=0, cache_misses=0)]) is None


def test_an_invalid_flag_is_a_configuration_problem():
    (problem,) = flag_problems({"FEATURE_BATCHING": "flase"})
    assert (problem.code, "FEATURE_BATCHING='flase'" in problem.message) == (2, True)


def test_the_schema_check_knows_every_constraint_and_index_the_loader_creates():
    created = [s for s in queries.SCHEMA_STATEMENTS if s.startswith("CREATE")]
    assert len(required_schema_names()) == len(created) == 6
    assert all(name in created[i] for i, name in enumerate(required_schema_names()))


def test_without_configuration_it_reports_every_missing_setting_and_exits_2(monkeypatch):
    for name in ("NEO4J_URI", "DAGSTER_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FEATURE_PARALLEL", "sometimes")
    result = CliRunner().invoke(main, ["status", "--format", "json"])
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert (report["healthy"], report["exit_code"]) == (False, 2)
    assert {(p["check"], p["code"]) for p in report["problems"]} == {
        ("flags", 2),
        ("neo4j", 2),
        ("instance", 2),
    }
    assert report["flags"]["parallel"]["invalid_value"] == "sometimes"
    assert report["cache"]["path"] is None
