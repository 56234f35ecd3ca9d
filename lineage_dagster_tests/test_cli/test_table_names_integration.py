"""One table identity across dialects, end to end: Snowflake writes FINANCE.GL, T-SQL reads
finance.gl; both are extracted, loaded into a real Neo4j and asked for with
`lineage-dagster lineage` under any spelling. Quoted names that hold dots stay distinct
columns, and a name that matches tables differing only in quoted case lists them."""

import json

import pytest
from click.testing import CliRunner

from lineage_dagster.cli import main
from lineage_dagster.graph.load import ensure_constraints, load_files
from lineage_dagster.parsing import extract_lineage
from lineage_dagster_tests.test_cli.cli_helpers import cli_env

pytestmark = pytest.mark.integration

FILES = {
    "finance/gl.sql": (
        "snowflake",
        "INSERT INTO finance.gl (account, amount)\nSELECT account, amt FROM raw.journal;\n",
    ),
    "risk/gl_report.sql": (
        "tsql",
        "INSERT INTO rpt.gl_report (account, total)\n"
        "SELECT Account, SUM(Amount) FROM Finance.GL GROUP BY Account;\n",
    ),
    "risk/flat.sql": (
        "postgres",
        'INSERT INTO rpt.flat (from_column, from_table)\nSELECT a."b.c", "a.b".c\n'
        'FROM coll.a, coll."a.b";\n',
    ),
    "risk/fx.sql": (
        "postgres",
        'INSERT INTO rpt.fx_mix (spot, fwd)\nSELECT s.rate, f.rate FROM raw."Fx" s, raw."FX" f;\n',
    ),
}


@pytest.fixture(scope="module")
def env(neo4j_env, neo4j_driver, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A graph loaded from FILES, each extracted in its own dialect."""
    neo4j_driver.execute_query("MATCH (n) DETACH DELETE n")
    lineage = [
        extract_lineage(sql, dialect=dialect, path=path) for path, (dialect, sql) in FILES.items()
    ]
    with neo4j_driver.session() as session:
        ensure_constraints(session)
        report = load_files(session, lineage)
    assert report.files_loaded == len(FILES) and not report.failed_files
    return cli_env(neo4j_env, tmp_path_factory.mktemp("dagster_home"))


def lineage(env: dict, *args: str) -> tuple[int, dict | str]:
    result = CliRunner().invoke(main, ["lineage", *args, "--format", "json"], env=env)
    if result.exit_code != 0:
        return result.exit_code, result.output
    return 0, json.loads(result.output)


def test_one_table_node_with_its_spelling_as_written(env, neo4j_driver):
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (t:Table) WHERE toLower(t.name) = 'finance.gl' RETURN t.name AS name, t.written AS w"
    )
    assert [(r["name"], r["w"]) for r in records] == [("finance.gl", "FINANCE.GL")]


def test_one_feeds_path_through_the_shared_table(env):
    code, payload = lineage(env, "upstream", "rpt.gl_report")
    assert code == 0, payload
    assert {n["name"]: n["distance"] for n in payload["nodes"]} == {
        "finance.gl": 1,
        "raw.journal": 2,
    }
    files = {e["file"] for n in payload["nodes"] for e in n["edges"]}
    assert files == {"risk/gl_report.sql", "finance/gl.sql"}


@pytest.mark.parametrize("spelling", ["finance.gl", "FINANCE.GL", "Finance.Gl", '"FINANCE".gl'])
def test_lineage_finds_the_table_under_any_spelling(env, spelling):
    code, payload = lineage(env, "downstream", spelling)
    assert code == 0, payload
    assert payload["start"] == "finance.gl"
    assert [n["name"] for n in payload["nodes"]] == ["rpt.gl_report"]


def test_column_lineage_across_dialects_in_any_case(env):
    code, payload = lineage(env, "upstream", "RPT.GL_REPORT", "--column", "TOTAL")
    assert code == 0, payload
    assert {n["name"]: n["distance"] for n in payload["nodes"]} == {
        "finance.gl.amount": 1,
        "raw.journal.amt": 2,
    }


def test_quoted_dot_columns_stay_distinct(env, neo4j_driver):
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (c:Column) WHERE c.table STARTS WITH 'coll' RETURN c.id AS id ORDER BY id"
    )
    assert [r["id"] for r in records] == ['coll."a.b".c', 'coll.a."b.c"']
    code, payload = lineage(env, "upstream", "rpt.flat", "--column", "from_column")
    assert code == 0, payload
    assert [n["name"] for n in payload["nodes"]] == ['coll.a."b.c"']
    code, payload = lineage(env, "downstream", 'coll."a.b"', "--column", "c")
    assert code == 0, payload
    assert [n["name"] for n in payload["nodes"]] == ["rpt.flat.from_table"]


def test_a_name_matching_tables_that_differ_in_quoted_case_lists_them(env):
    code, output = lineage(env, "downstream", "raw.fx")
    assert code == 1
    assert 'raw."FX"' in output and 'raw."Fx"' in output
    code, payload = lineage(env, "downstream", 'raw."Fx"')
    assert code == 0, payload
    assert payload["start"] == 'raw."Fx"'
    assert [n["name"] for n in payload["nodes"]] == ["rpt.fx_mix"]
