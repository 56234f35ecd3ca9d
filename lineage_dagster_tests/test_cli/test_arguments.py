"""Argument and configuration checks of `ingest`, `lineage` and `cache`, in-process with
CliRunner and no services: each mistake exits 2 (or 1 for `lineage` names) with a clear message,
before any run is launched; plus the run config `ingest` builds and its exit-code rule."""

import json
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

from lineage_dagster.cli import main
from lineage_dagster.cli.ingest import PartitionRun, _print_table, exit_code
from lineage_dagster.cli.lineage import render_lineage
from lineage_dagster.definitions import resolved_ingest_job
from lineage_dagster.defs.jobs import ingest_run_config
from lineage_dagster.graph.read import MAX_DEPTH, Lineage, LineageEdge, LineageNode, close_matches
from lineage_dagster.parsing.models import FileLineage
from lineage_dagster.settings.flags import FLAG_ENV_VARS
from lineage_dagster.sources.parse_cache import ParseCache
from lineage_dagster_tests.test_cli.cli_helpers import write_corpus

ALL_ON = dict.fromkeys(FLAG_ENV_VARS, True)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "dagster_home"
    path.mkdir()
    return path


@pytest.fixture
def env(home: Path) -> dict[str, str | None]:
    """Complete, valid-looking coordinates (nothing listens: no test here reaches Neo4j)."""
    return {
        "DAGSTER_HOME": str(home),
        "NEO4J_URI": "bolt://127.0.0.1:9",
        "NEO4J_USER": "neo4j",
        "NEO4J_PASSWORD": "x",
        **dict.fromkeys(FLAG_ENV_VARS.values()),
    }


@pytest.fixture
def corpus(sql_root: Path) -> Path:
    return write_corpus(sql_root)


def invoke(args: list[str], env: dict[str, str | None]):
    return CliRunner().invoke(main, args, env=env)


# --- ingest -----------------------------------------------------------------------------------


def test_ingest_unknown_partition_lists_the_valid_ones(corpus, env, home):
    result = invoke(["ingest", str(corpus), "-p", "risk", "-p", "nope"], env)
    assert result.exit_code == 2
    assert "Unknown partition 'nope'" in result.output
    assert "valid: finance, risk, staging" in result.output
    assert list(home.iterdir()) == []  # no instance storage was even opened


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("colour=on", "NAME one of parse_cache, batching, neo4j_batch, parallel, metrics"),
        ("parallel", "expected NAME=on|off"),
        ("parallel=sometimes", "parallel='sometimes' is not a flag value"),
    ],
)
def test_ingest_rejects_bad_flags(corpus, env, home, flag, message):
    result = invoke(["ingest", str(corpus), "--flag", flag], env)
    assert result.exit_code == 2
    assert message in result.output
    assert list(home.iterdir()) == []


def test_ingest_needs_dagster_home(corpus, env):
    result = invoke(["ingest", str(corpus)], {**env, "DAGSTER_HOME": None})
    assert result.exit_code == 2
    assert "DAGSTER_HOME is not set" in result.output and "--dagster-home" in result.output


def test_ingest_refuses_a_dagster_home_that_does_not_exist(corpus, env, tmp_path):
    result = invoke(["ingest", str(corpus), "--dagster-home", str(tmp_path / "missing")], env)
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_ingest_needs_neo4j_uri(corpus, env, home):
    result = invoke(["ingest", str(corpus)], {**env, "NEO4J_URI": None})
    assert result.exit_code == 2
    assert "NEO4J_URI is not set" in result.output
    assert list(home.iterdir()) == []


@pytest.mark.faults
def test_ingest_refuses_a_malformed_neo4j_uri_before_any_run(corpus, env, home):
    result = invoke(["ingest", str(corpus)], {**env, "NEO4J_URI": "neo4j//db:7687"})
    assert result.exit_code == 2
    assert "NEO4J_URI='neo4j//db:7687' cannot be used" in result.output
    assert "Traceback" not in result.output
    assert list(home.iterdir()) == []


@pytest.mark.faults
def test_ingest_checks_neo4j_before_any_run(corpus, env, home):
    result = invoke(["ingest", str(corpus)], env)  # nothing listens on port 9
    assert result.exit_code == 3
    assert "Cannot reach the Neo4j to load at bolt://127.0.0.1:9" in result.output
    assert list(home.iterdir()) == []  # no instance opened, no run started


def test_ingest_reports_bad_feature_variables(corpus, env):
    result = invoke(["ingest", str(corpus)], {**env, "FEATURE_BATCHING": "perhaps"})
    assert result.exit_code == 2
    assert "FEATURE_BATCHING='perhaps'" in result.output


def test_ingest_of_a_missing_or_empty_folder_is_a_usage_error(env, tmp_path):
    missing = invoke(["ingest", str(tmp_path / "nowhere")], env)
    assert missing.exit_code == 2 and "does not exist" in missing.output
    (tmp_path / "empty").mkdir()
    empty = invoke(["ingest", str(tmp_path / "empty")], env)
    assert empty.exit_code == 2 and "no folders or SQL files" in empty.output


def test_ingest_help_documents_the_exit_codes(env):
    result = invoke(["ingest", "--help"], env)
    assert result.exit_code == 0
    for line in ("0  every run succeeded", "1  every run succeeded, but", "3  Neo4j cannot be"):
        assert line in result.output


@pytest.mark.parametrize("parallel", [True, False])
def test_run_config_is_valid_for_the_job_and_carries_the_flags(tmp_path, monkeypatch, parallel):
    # The Neo4j resource reads its EnvVars when the config is validated.
    for name in ("NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD"):
        monkeypatch.setenv(name, "bolt://127.0.0.1:9" if name == "NEO4J_URI" else "x")
    flags = {**ALL_ON, "parallel": parallel, "parse_cache": False}
    config = ingest_run_config(tmp_path, flags, full_refresh=True, max_concurrent=2)
    assert dg.validate_run_config(resolved_ingest_job(), config)
    assert config["resources"]["sql_source"]["config"]["root"] == str(tmp_path)
    assert config["resources"]["feature_flags"]["config"] == {
        "parse_cache": False,
        "batching": True,
        "neo4j_batch": True,
        "metrics": True,
    }
    executor = config["execution"]["config"]
    assert list(executor) == (["multiprocess"] if parallel else ["in_process"])
    assert config["ops"]["plan_sql_files"]["config"]["full_refresh"] is True


def _run(status: str = "SUCCESS", failed: int = 0) -> PartitionRun:
    failed_files = [{"path": "a.sql", "line": 1, "message": "bad"}] * failed
    return PartitionRun("p", "id", status, 1.0, files_failed=failed, failed_files=failed_files)


@pytest.mark.parametrize(
    ("runs", "code"),
    [
        ([_run(), _run()], 0),
        ([_run(), _run(failed=1)], 1),
        ([_run(failed=1), _run("FAILURE")], 3),
        ([_run("FAILURE")], 3),
    ],
)
def test_exit_code_rule(runs, code):
    assert exit_code(runs) == code


# --- lineage ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["lineage", "upstream"], "Missing argument 'NAME'"),
        (["lineage", "upstream", "t", "--depth", "0"], "--depth"),
        (["lineage", "downstream", "t", "--depth", str(MAX_DEPTH + 1)], "--depth"),
        (["lineage", "upstream", "t", "--format", "xml"], "--format"),
        (["lineage", "sideways", "t"], "No such command 'sideways'"),
    ],
)
def test_lineage_rejects_bad_arguments(env, args, message):
    result = invoke(args, env)
    assert result.exit_code == 2
    assert message in result.output


def test_lineage_needs_neo4j_uri(env):
    result = invoke(["lineage", "upstream", "risk.exposure"], {**env, "NEO4J_URI": None})
    assert result.exit_code == 2
    assert "NEO4J_URI is not set" in result.output


@pytest.mark.faults
def test_lineage_rejects_a_uri_without_a_bolt_scheme(env):
    result = invoke(["lineage", "upstream", "risk.exposure"], {**env, "NEO4J_URI": "db:7687"})
    assert result.exit_code == 2
    assert "NEO4J_URI='db:7687' cannot be used: URI scheme 'db' is not supported" in result.output


@pytest.mark.faults
def test_lineage_reports_an_unreachable_neo4j_with_exit_3(env):
    result = invoke(["lineage", "downstream", "risk.exposure"], env)
    assert result.exit_code == 3
    assert "Cannot reach the lineage graph at bolt://127.0.0.1:9" in result.output


def test_close_matches_prefers_same_name_then_same_last_part_then_spelling():
    names = ["stg.trades", "raw.trades", "risk.exposure", "ref.fx"]
    assert close_matches("RAW.TRADES", names) == ("raw.trades",)
    assert close_matches("trades", names) == ("raw.trades", "stg.trades")
    assert close_matches("risk.exposur", names) == ("risk.exposure",)
    assert close_matches("zzz", names) == ()


def test_render_lineage_prints_one_row_per_edge_and_the_truncation_note():
    edge = LineageEdge("a.x.c", "b.y.c", "f.sql#0", "f.sql", 3, "direct")
    lineage = Lineage("b.y.c", "column", "upstream", 1, (LineageNode("a.x.c", 1, (edge,)),), True)
    lines = render_lineage(lineage).splitlines()
    assert lines[0] == "Upstream of column b.y.c: 1 column, up to 1 hop away"
    assert lines[1].split() == ["DISTANCE", "COLUMN", "EDGE", "KIND", "FILE:LINE", "STATEMENT"]
    assert lines[2].split() == [
        "1",
        "a.x.c",
        "a.x.c",
        "->",
        "b.y.c",
        "direct",
        "f.sql:3",
        "f.sql#0",
    ]
    assert "beyond depth 1" in lines[3]


# --- cache ------------------------------------------------------------------------------------


def test_cache_needs_dagster_home_or_path(env):
    result = invoke(["cache", "stats"], {**env, "DAGSTER_HOME": None})
    assert result.exit_code == 2
    assert "DAGSTER_HOME is not set" in result.output


def test_cache_stats_and_clear_of_a_given_file(env, tmp_path):
    path = tmp_path / "cache.sqlite"
    cache = ParseCache(path)
    for key in ("k1", "k2", "k3"):
        cache.put(key, FileLineage(path=None, sha256=key, dialect=None))
    cache.close()
    stats = invoke(["cache", "stats", "--path", str(path), "--format", "json"], env)
    assert stats.exit_code == 0, stats.output
    payload = json.loads(stats.output)
    assert (payload["path"], payload["entries"], payload["exists"]) == (str(path), 3, True)
    assert payload["bytes"] >= path.stat().st_size > 0
    cleared = invoke(["cache", "clear", "--path", str(path)], env)
    assert cleared.exit_code == 0
    assert f"Removed 3 entries from {path}." in cleared.output
    assert (
        json.loads(invoke(["cache", "stats", "--path", str(path), "--format", "json"], env).output)[
            "entries"
        ]
        == 0
    )


def test_cache_of_a_home_without_cache_reports_nothing_and_creates_nothing(env, home):
    stats = invoke(["cache", "stats", "--format", "json"], env)
    assert stats.exit_code == 0
    payload = json.loads(stats.output)
    assert payload["path"] == str(home / "lineage" / "parse_cache.sqlite")
    assert (payload["exists"], payload["entries"]) == (False, 0)
    assert "nothing to clear" in invoke(["cache", "clear"], env).output
    assert list(home.iterdir()) == []


def test_the_summary_names_each_failed_run_with_its_failed_step(capsys):
    failed = PartitionRun("risk", "r-1", "FAILURE", 2.0, errors=["load_lineage: Neo4j went away"])
    _print_table([_run(), failed])
    out = capsys.readouterr().out
    failed_runs = out.split("Failed runs (1):\n")[1]
    assert "risk (r-1):" in failed_runs
    assert "load_lineage: Neo4j went away" in failed_runs


@pytest.mark.faults
def test_failed_files_are_counted_as_files_not_failures(capsys):
    failures = [{"path": "a.sql", "line": n, "message": "bad"} for n in (3, 9)]
    _print_table([PartitionRun("p", "id", "SUCCESS", 1.0, files_failed=1, failed_files=failures)])
    out = capsys.readouterr().out
    assert "Failed files (1):" in out
    assert "a.sql:3: bad" in out and "a.sql:9: bad" in out


def test_lineage_conditions_need_a_column(env):
    result = invoke(["lineage", "upstream", "risk.exposure", "--conditions"], env)
    assert result.exit_code == 2
    assert "--conditions applies to column lineage" in result.output
