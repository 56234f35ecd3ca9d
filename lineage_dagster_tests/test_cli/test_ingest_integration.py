"""`lineage-dagster ingest` as a real process (so the multiprocess executor runs for real) on a
temporary Dagster instance and the real Neo4j: a corpus of three partitions with one broken
file, the graph, the printed summary and exit codes; an unchanged re-run that loads nothing;
the parallel and parse_cache flags switched off; a run that fails (exit code 3); and two ingests
of different partitions started at the same time, which must both succeed without duplicating
any node or edge."""

import itertools
import json
import os
import re
from pathlib import Path

import dagster as dg
import pytest

from lineage_dagster.defs.partitions import SOURCE_PARTITIONS_NAME
from lineage_dagster.parsing import extract_lineage
from lineage_dagster.sources.parse_cache import ParseCache, default_cache_path
from lineage_dagster_tests.graph_helpers import (
    column_edges,
    feeds,
    graph_snapshot,
    sql_files,
    table_names,
)
from lineage_dagster_tests.test_cli.cli_helpers import (
    CORPUS,
    CORPUS_FEEDS,
    cli_env,
    duplicates,
    run_cli,
    start_cli,
    write_corpus,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TIMEOUT = 600


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "dagster_home"
    path.mkdir()
    (path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return path


@pytest.fixture
def env(neo4j_env, home: Path) -> dict[str, str]:
    return cli_env(neo4j_env, home)


@pytest.fixture
def instance(home: Path, monkeypatch: pytest.MonkeyPatch):
    """The instance the CLI ran on, opened the way the CLI opens it."""
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        yield instance


def summary_rows(stdout: str) -> dict[str, dict[str, str]]:
    """The per-partition table of the summary, by partition, keyed by column header."""
    lines = stdout.split("\n\n")[0].splitlines()
    headers = re.split(r"\s{2,}", lines[0].strip())
    rows = [
        dict(zip(headers, re.split(r"\s{2,}", line.strip()), strict=True)) for line in lines[1:]
    ]
    return {row["PARTITION"]: row for row in rows}


def step_worker_starts(instance: dg.DagsterInstance, run_id: str) -> int:
    """Steps the run started in their own process (only the multiprocess executor does)."""
    return sum(
        1
        for entry in instance.all_logs(run_id)
        if entry.dagster_event is not None
        and entry.dagster_event.event_type_value == "STEP_WORKER_STARTED"
    )


def test_ingest_then_unchanged_reingest(sql_root, env, empty_graph, instance, home):
    corpus = write_corpus(sql_root)
    first = run_cli(
        ["ingest", str(corpus), "--concurrent-runs", "2", "--format", "json"], env, timeout=TIMEOUT
    )
    # Every run succeeded, one file failed: exit code 1.
    assert first.returncode == 1, first.stderr[-3000:]
    payload = json.loads(first.stdout)
    assert payload["exit_code"] == 1
    runs = {run["partition"]: run for run in payload["runs"]}
    assert list(runs) == ["finance", "risk", "staging"]
    assert {p: run["status"] for p, run in runs.items()} == dict.fromkeys(runs, "SUCCESS")
    assert {p: run["files_loaded"] for p, run in runs.items()} == {
        "finance": 2,
        "risk": 1,
        "staging": 1,
    }
    assert {p: run["cache_misses"] for p, run in runs.items()} == {
        "finance": 2,
        "risk": 1,
        "staging": 1,
    }
    assert {p: run["files_failed"] for p, run in runs.items()} == {
        "finance": 1,
        "risk": 0,
        "staging": 0,
    }
    [failure] = runs["finance"]["failed_files"]
    assert (failure["path"], failure["line"]) == ("finance/broken.sql", 2)
    assert failure["message"]
    assert runs["risk"]["failed_files"] == runs["staging"]["failed_files"] == []

    # The graph holds every partition, including the good statement of the broken file.
    assert feeds(empty_graph) == CORPUS_FEEDS
    files = sql_files(empty_graph)
    assert set(files) == set(CORPUS)
    assert files["finance/broken.sql"]["status"] == "partial"
    assert not any(duplicates(empty_graph).values()), duplicates(empty_graph)

    # The runs are on the instance of DAGSTER_HOME (what its UI shows), run by step processes.
    assert set(instance.get_dynamic_partitions(SOURCE_PARTITIONS_NAME)) == set(runs)
    for partition, run in runs.items():
        record = instance.get_run_by_id(run["run_id"])
        assert record is not None and record.status == dg.DagsterRunStatus.SUCCESS
        assert record.job_name == "ingest_sql_job"
        assert record.tags["dagster/partition"] == partition
        assert "multiprocess" in record.run_config["execution"]["config"]
        assert record.run_config["resources"]["sql_source"]["config"]["root"] == str(corpus)
        # Plan and load; files this few are parsed by the load step, not a step of their own.
        assert step_worker_starts(instance, run["run_id"]) == 2
    # Two partitions at a time, each run in its own process: runs overlap.
    assert "3 partition(s)" in first.stderr and "2 at a time" in first.stderr
    spans = sorted(
        (stats.start_time, stats.end_time)
        for stats in (instance.get_run_stats(run["run_id"]) for run in runs.values())
    )
    assert any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans))

    before = graph_snapshot(empty_graph)
    second = run_cli(["ingest", str(corpus)], env, timeout=TIMEOUT)
    assert second.returncode == 0, second.stdout + second.stderr[-3000:]
    # The default: one run at a time on fewer than 4 CPUs (each run's steps use them all).
    default = 2 if (os.cpu_count() or 1) >= 4 else 1
    assert f"{default} at a time" in second.stderr
    rows = summary_rows(second.stdout)
    assert list(rows) == ["finance", "risk", "staging"]
    assert {p: (r["STATUS"], r["LOADED"], r["FAILED"]) for p, r in rows.items()} == dict.fromkeys(
        rows, ("SUCCESS", "0", "0")
    )
    assert {p: r["UNCHANGED"] for p, r in rows.items()} == {
        "finance": "2",
        "risk": "1",
        "staging": "1",
    }
    assert all(re.fullmatch(r"[0-9a-f-]{36}", r["RUN ID"]) for r in rows.values())
    assert all(re.fullmatch(r"\d+\.\ds", r["DURATION"]) for r in rows.values())
    assert "Failed files" not in second.stdout
    assert graph_snapshot(empty_graph) == before


def test_first_ingest_on_a_new_home_prints_no_dagster_noise(
    sql_root, neo4j_env, empty_graph, tmp_path, monkeypatch
):
    """A new, empty DAGSTER_HOME gets the instance config (no telemetry notice, no "No dagster
    instance configuration file"), and at the default level (warning) no DEBUG line is printed,
    not even the step processes announcing themselves, nor any colour code; the instance still
    records every event, and --log-level debug prints them."""
    corpus = write_corpus(sql_root)
    home = tmp_path / "new_home"
    home.mkdir()
    env = cli_env(neo4j_env, home)
    args = ["ingest", str(corpus), "-p", "staging", "-p", "risk"]
    result = run_cli(args, env, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr[-3000:]
    printed = result.stdout + result.stderr
    for unwanted in ("DEBUG", "STEP_WORKER_STARTED", "\x1b[", "Telemetry:", "No dagster instance"):
        assert unwanted not in printed, (unwanted, printed[-3000:])
    assert (home / "dagster.yaml").read_text().startswith("# Written by lineage-dagster")
    runs = summary_rows(result.stdout)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        for row in runs.values():
            assert step_worker_starts(instance, row["RUN ID"]) == 2  # recorded, not printed

    (corpus / "risk" / "exposure.sql").write_text(CORPUS["risk/exposure.sql"] + "\n-- edited\n")
    debug = run_cli([*args, "--log-level", "debug"], env, timeout=TIMEOUT)
    assert debug.returncode == 0, debug.stderr[-3000:]
    assert "STEP_WORKER_STARTED" in debug.stderr


def test_table_summary_lists_failed_files_with_path_and_line(sql_root, env, empty_graph):
    corpus = write_corpus(sql_root, {"finance/broken.sql": CORPUS["finance/broken.sql"]})
    result = run_cli(["ingest", str(corpus), "--flag", "parallel=off"], env, timeout=TIMEOUT)
    assert result.returncode == 1, result.stdout + result.stderr[-3000:]
    assert summary_rows(result.stdout)["finance"]["FAILED"] == "1"
    failed_section = result.stdout.split("Failed files (1):\n")[1]
    assert failed_section.startswith("  finance/broken.sql:2: ")


def test_parallel_and_parse_cache_off(sql_root, env, empty_graph, instance, home):
    corpus = write_corpus(sql_root)
    args = ["ingest", str(corpus), "-p", "staging", "-p", "risk", "--format", "json"]
    result = run_cli(
        [*args, "--flag", "parallel=off", "--flag", "parse_cache=off"], env, timeout=TIMEOUT
    )
    assert result.returncode == 0, result.stderr[-3000:]
    runs = {run["partition"]: run for run in json.loads(result.stdout)["runs"]}
    assert list(runs) == ["staging", "risk"]
    assert feeds(empty_graph) == {
        ("raw.trades", "stg.trades"),
        ("stg.trades", "risk.exposure"),
        ("ref.fx", "risk.exposure"),
    }
    for run in runs.values():
        assert (run["status"], run["files_loaded"], run["files_parsed"]) == ("SUCCESS", 1, 1)
        # The cache was not asked: no hits, no misses.
        assert run["cache_hits"] is None and run["cache_misses"] is None
        record = instance.get_run_by_id(run["run_id"])
        assert record.run_config["execution"] == {"config": {"in_process": {}}}
        assert record.run_config["resources"]["feature_flags"]["config"]["parse_cache"] is False
        assert step_worker_starts(instance, run["run_id"]) == 0
    # Nothing was written to the parse cache.
    cache = ParseCache(default_cache_path(home))
    try:
        assert cache.stats().entries == 0
    finally:
        cache.close()


def _contended_corpus(count: int) -> dict[str, str]:
    """Files of two partitions that all read the same tables and write one shared table, so
    concurrent loads MERGE the same Table and Column nodes."""
    files = {}
    for partition in ("risk", "finance"):
        for i in range(count):
            files[f"{partition}/m{i:02d}.sql"] = (
                f"INSERT INTO {partition}.m{i:02d} (book, value)\n"
                "SELECT t.book, t.amount * f.rate\n"
                "FROM stg.trades AS t JOIN ref.fx AS f ON f.ccy = t.ccy;\n"
                "INSERT INTO mart.books (book, ccy)\n"
                "SELECT book, ccy FROM stg.trades;\n"
            )
    return files


def _expected_edges(files: dict[str, str]) -> tuple[set, set]:
    feeds_expected, derives_expected = set(), set()
    for path, sql in files.items():
        for stmt in extract_lineage(sql).statements:
            sid = f"{path}#{stmt.index}"
            feeds_expected |= {(s, t, sid) for s in stmt.sources for t in stmt.targets if s != t}
            derives_expected |= {(e.target, e.source, e.kind, sid) for e in stmt.column_lineage}
    return feeds_expected, derives_expected


def test_two_concurrent_ingests_of_different_partitions(sql_root, env, empty_graph):
    files = _contended_corpus(12)
    corpus = write_corpus(sql_root, files)
    processes = {
        partition: start_cli(["ingest", str(corpus), "-p", partition, "--format", "json"], env)
        for partition in ("risk", "finance")
    }
    outputs = {p: process.communicate(timeout=TIMEOUT) for p, process in processes.items()}
    for partition, process in processes.items():
        stdout, stderr = outputs[partition]
        assert process.returncode == 0, f"{partition}: {stdout}\n{stderr[-3000:]}"
        [run] = json.loads(stdout)["runs"]
        assert (run["partition"], run["status"], run["files_loaded"]) == (partition, "SUCCESS", 12)

    assert not any(duplicates(empty_graph).values()), duplicates(empty_graph)
    feeds_expected, derives_expected = _expected_edges(files)
    records, _, _ = empty_graph.execute_query(
        "MATCH (a:Table)-[r:FEEDS]->(b:Table) RETURN a.name AS a, b.name AS b, r.statement_id AS s"
    )
    assert len(records) == len(feeds_expected)
    assert {(r["a"], r["b"], r["s"]) for r in records} == feeds_expected
    edges = column_edges(empty_graph)
    assert len(edges) == len(derives_expected)
    assert set(edges) == derives_expected
    assert table_names(empty_graph) == {
        "stg.trades",
        "ref.fx",
        "mart.books",
        *(f"{p}.m{i:02d}" for p in ("risk", "finance") for i in range(12)),
    }


@pytest.mark.faults
@pytest.mark.parametrize("password", ["wrong", ""], ids=["wrong-password", "empty-password"])
def test_a_refused_login_exits_3_before_any_run(sql_root, env, empty_graph, instance, password):
    corpus = write_corpus(sql_root, {"risk/exposure.sql": CORPUS["risk/exposure.sql"]})
    # A user the server does not know (not the real one, which repeated failures would lock).
    bad = {**env, "NEO4J_USER": "nobody", "NEO4J_PASSWORD": password}
    result = run_cli(["ingest", str(corpus), "--flag", "parallel=off"], bad, timeout=TIMEOUT)
    assert result.returncode == 3, result.stdout + result.stderr[-3000:]
    assert "refused the login of user 'nobody'" in result.stderr
    assert "check NEO4J_USER and NEO4J_PASSWORD" in result.stderr
    assert "(an empty password means no login at all)" in result.stderr
    assert "scheme" not in result.stderr  # the driver's own words for an empty password
    assert "Traceback" not in result.stderr
    assert instance.get_runs() == []  # checked before any run started
    assert table_names(empty_graph) == set()
