"""`lineage-dagster lineage` and `cache` on a graph built once by a real `lineage-dagster ingest`
of the three-partition corpus (raw.trades -> stg.trades -> risk.exposure <- ref.fx ->
finance.report): exact upstream and downstream answers for tables and columns, at depth 1 and
transitively, unknown names with suggestions, then the parse cache's stats and clear."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from lineage_dagster.cli import main
from lineage_dagster_tests.test_cli.cli_helpers import cli_env, run_cli, write_corpus

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPORT = ("finance/report.sql", "finance/report.sql#0", 1)
EXPOSURE = ("risk/exposure.sql", "risk/exposure.sql#0", 1)
TRADES = ("staging/trades.sql", "staging/trades.sql#0", 1)


@pytest.fixture(scope="module")
def graph_env(neo4j_env, neo4j_driver, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Environment of a DAGSTER_HOME whose ingest built the corpus' graph in an emptied Neo4j."""
    neo4j_driver.execute_query("MATCH (n) DETACH DELETE n")
    corpus = write_corpus(tmp_path_factory.mktemp("sql"))
    home = tmp_path_factory.mktemp("dagster_home")
    env = cli_env(neo4j_env, home)
    result = run_cli(["ingest", str(corpus)], env)
    assert result.returncode == 1, result.stdout + result.stderr[-3000:]  # broken.sql fails
    return env


def lineage(env: dict, *args: str) -> tuple[int, dict | str]:
    result = CliRunner().invoke(main, ["lineage", *args, "--format", "json"], env=env)
    if result.exit_code != 0:
        return result.exit_code, result.output
    return 0, json.loads(result.output)


def distances(payload: dict) -> dict[str, int]:
    return {node["name"]: node["distance"] for node in payload["nodes"]}


def edges(payload: dict) -> set[tuple]:
    """(source, target, kind, file, statement_id, line) of every edge of the answer."""
    return {
        (e["source"], e["target"], e["kind"], e["file"], e["statement_id"], e["line"])
        for node in payload["nodes"]
        for e in node["edges"]
    }


def test_table_upstream_depth_1(graph_env):
    code, payload = lineage(graph_env, "upstream", "finance.report", "--depth", "1")
    assert code == 0, payload
    assert distances(payload) == {"risk.exposure": 1}
    assert edges(payload) == {("risk.exposure", "finance.report", None, *REPORT)}
    assert payload["truncated"] is True  # risk.exposure has sources of its own


def test_table_upstream_transitive(graph_env):
    code, payload = lineage(graph_env, "upstream", "finance.report")
    assert code == 0, payload
    assert distances(payload) == {
        "risk.exposure": 1,
        "ref.fx": 2,
        "stg.trades": 2,
        "raw.trades": 3,
    }
    assert edges(payload) == {
        ("risk.exposure", "finance.report", None, *REPORT),
        ("ref.fx", "risk.exposure", None, *EXPOSURE),
        ("stg.trades", "risk.exposure", None, *EXPOSURE),
        ("raw.trades", "stg.trades", None, *TRADES),
    }
    assert payload["truncated"] is False


def test_table_downstream_depth_1_and_transitive(graph_env):
    code, near = lineage(graph_env, "downstream", "raw.trades", "--depth", "1")
    assert code == 0, near
    assert distances(near) == {"stg.trades": 1}
    code, far = lineage(graph_env, "downstream", "raw.trades")
    assert distances(far) == {"stg.trades": 1, "risk.exposure": 2, "finance.report": 3}
    assert far["truncated"] is False


def test_the_good_statement_of_a_partly_broken_file_is_queryable(graph_env):
    code, payload = lineage(graph_env, "upstream", "finance.ok")
    assert code == 0, payload
    assert edges(payload) == {
        ("finance.src", "finance.ok", None, "finance/broken.sql", "finance/broken.sql#0", 1)
    }


def test_a_table_nothing_reads_has_no_downstream(graph_env):
    result = CliRunner().invoke(main, ["lineage", "downstream", "finance.report"], env=graph_env)
    assert result.exit_code == 0
    assert result.output.strip() == "Downstream of table finance.report: no tables"


def test_column_upstream_depth_1_and_transitive_with_edge_kinds(graph_env):
    code, near = lineage(
        graph_env, "upstream", "finance.report", "--column", "total", "--depth", "1"
    )
    assert code == 0, near
    assert edges(near) == {("risk.exposure.total", "finance.report.total", "direct", *REPORT)}
    code, values = lineage(graph_env, "upstream", "finance.report", "-c", "total")
    # By default only the columns that carry values: no join or grouping keys.
    assert distances(values) == {
        "risk.exposure.total": 1,
        "stg.trades.amount": 2,
        "ref.fx.rate": 2,
        "raw.trades.amount": 3,
    }
    assert "condition" not in {e[2] for e in edges(values)}
    code, far = lineage(graph_env, "upstream", "finance.report", "-c", "total", "--conditions")
    assert distances(far) == {
        "risk.exposure.total": 1,
        "stg.trades.amount": 2,
        "ref.fx.rate": 2,
        "ref.fx.ccy": 2,  # join key
        "stg.trades.ccy": 2,  # join key
        "stg.trades.book": 2,  # grouping key
        "raw.trades.amount": 3,
        "raw.trades.ccy": 3,
        "raw.trades.book": 3,
    }
    kinds = {(e[0], e[1]): e[2] for e in edges(far)}
    assert kinds == {
        ("risk.exposure.total", "finance.report.total"): "direct",
        ("stg.trades.amount", "risk.exposure.total"): "aggregation",
        ("ref.fx.rate", "risk.exposure.total"): "aggregation",
        ("ref.fx.ccy", "risk.exposure.total"): "condition",
        ("stg.trades.ccy", "risk.exposure.total"): "condition",
        ("stg.trades.book", "risk.exposure.total"): "condition",
        ("raw.trades.amount", "stg.trades.amount"): "direct",
        ("raw.trades.ccy", "stg.trades.ccy"): "direct",
        ("raw.trades.book", "stg.trades.book"): "direct",
    }


def test_column_downstream(graph_env):
    code, payload = lineage(graph_env, "downstream", "stg.trades", "--column", "amount")
    assert code == 0, payload
    assert edges(payload) == {
        ("stg.trades.amount", "risk.exposure.total", "aggregation", *EXPOSURE),
        ("risk.exposure.total", "finance.report.total", "direct", *REPORT),
    }
    assert distances(payload) == {"risk.exposure.total": 1, "finance.report.total": 2}


def test_table_output_lists_each_edge_with_file_and_statement(graph_env):
    args = ["lineage", "upstream", "risk.exposure", "--column", "book", "--conditions"]
    result = CliRunner().invoke(main, args, env=graph_env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Upstream of column risk.exposure.book: 5 columns, up to 2 hops away"
    rows = [line.split() for line in lines[2:]]
    expected_row = "1 stg.trades.book stg.trades.book -> risk.exposure.book direct"
    assert [*expected_row.split(), "risk/exposure.sql:1", "risk/exposure.sql#0"] in rows
    assert {(row[0], row[1]) for row in rows} == {
        ("1", "stg.trades.book"),
        ("1", "stg.trades.ccy"),
        ("1", "ref.fx.ccy"),
        ("2", "raw.trades.book"),
        ("2", "raw.trades.ccy"),
    }


def test_unknown_names_exit_1_with_close_matches(graph_env):
    code, message = lineage(graph_env, "upstream", "trades")
    assert code == 1
    assert "No table named 'trades'" in message and "raw.trades, stg.trades" in message
    code, message = lineage(graph_env, "downstream", "risk.exposure", "--column", "totl")
    assert code == 1
    assert "No column named 'risk.exposure.totl'" in message
    assert "did you mean risk.exposure.total?" in message
    code, message = lineage(graph_env, "upstream", "nothing.like.this")
    assert code == 1
    assert "did you mean" not in message
    code, message = lineage(graph_env, "upstream", "risk.exposure", "--column", "notional")
    assert code == 1
    assert message.rstrip().endswith("its table has the columns book, total")


def test_cache_stats_then_clear(graph_env):
    home = Path(graph_env["DAGSTER_HOME"])
    runner = CliRunner()
    stats = runner.invoke(main, ["cache", "stats", "--format", "json"], env=graph_env)
    assert stats.exit_code == 0, stats.output
    payload = json.loads(stats.output)
    assert payload["path"] == str(home / "lineage" / "parse_cache.sqlite")
    # One entry per parsed file content: the four files of the corpus.
    assert payload["entries"] == 4
    assert payload["bytes"] > 0
    table = runner.invoke(main, ["cache", "stats"], env=graph_env)
    assert "entries       4" in table.output
    cleared = runner.invoke(main, ["cache", "clear"], env=graph_env)
    assert cleared.exit_code == 0
    assert cleared.output.startswith("Removed 4 entries from ")
    after = runner.invoke(main, ["cache", "stats", "--format", "json"], env=graph_env)
    assert json.loads(after.output)["entries"] == 0
