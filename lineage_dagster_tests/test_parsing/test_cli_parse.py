"""``lineage-dagster parse``: JSON and table output, dialect precedence, exit codes 0/1/2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from lineage_dagster.cli.parse import parse_command


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "risk").mkdir()
    (tmp_path / "legacy").mkdir()
    (tmp_path / "risk" / "var.sql").write_text(
        "-- dialect: snowflake\nINSERT INTO mart.var SELECT book, pnl FROM raw.pnl;\n"
    )
    (tmp_path / "legacy" / "load.sql").write_text(
        "SELECT a INTO #t FROM dbo.src\nGO\nINSERT INTO dbo.dst SELECT a FROM #t\nGO\n"
    )
    (tmp_path / "legacy" / "notes.txt").write_text("not sql")
    return tmp_path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(parse_command, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_json_output_one_object_per_file(tree: Path) -> None:
    code, output = run(str(tree), "--dialect", "tsql")
    assert code == 0, output
    files = json.loads(output)
    assert [Path(f["path"]).name for f in files] == ["load.sql", "var.sql"]
    load, var = files
    assert load["dialect"] == "tsql" and var["dialect"] == "snowflake"  # the comment wins
    assert load["statements"][1]["sources"] == ["dbo.src"]
    assert load["statements"][1]["targets"] == ["dbo.dst"]
    assert var["statements"][0]["column_lineage"][0] == {
        "source": "RAW.PNL.BOOK",
        "target": "MART.VAR.BOOK",
        "kind": "direct",
    }
    assert all(f["error"] is None and len(f["sha256"]) == 64 for f in files)


def test_dialect_map_sits_between_comment_and_flag(tree: Path, tmp_path: Path) -> None:
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"legacy": "tsql", "risk": "postgres"}))
    code, output = run(str(tree), "--dialect-map", str(mapping), "--dialect", "bigquery")
    assert code == 0
    dialects = {Path(f["path"]).name: f["dialect"] for f in json.loads(output)}
    assert dialects == {"load.sql": "tsql", "var.sql": "snowflake"}


def test_schema_file_expands_stars(tmp_path: Path) -> None:
    sql = tmp_path / "a.sql"
    sql.write_text("INSERT INTO out SELECT * FROM db.t")
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"db.t": ["x", "y"]}))
    code, output = run(str(sql), "--schema", str(schema))
    assert code == 0
    edges = json.loads(output)[0]["statements"][0]["column_lineage"]
    assert [e["target"] for e in edges] == ["out.x", "out.y"]


def test_failed_statement_exits_1_with_complete_json(tmp_path: Path) -> None:
    sql = tmp_path / "bad.sql"
    sql.write_text("SELECT * FROM a;\nSELECT FROM (;\nSELECT * FROM b;")
    code, output = run(str(sql))
    assert code == 1
    statements = json.loads(output)[0]["statements"]
    assert [s["error"] is None for s in statements] == [True, False, True]
    assert statements[1]["error"]["line"] == 2


def test_unreadable_file_is_reported_in_the_json(tmp_path: Path) -> None:
    (tmp_path / "latin1.sql").write_bytes("SELECT 'é'".encode("latin-1"))
    (tmp_path / "ok.sql").write_text("SELECT * FROM t")
    code, output = run(str(tmp_path))
    assert code == 1
    bad, ok = json.loads(output)
    assert bad["statements"] == [] and "byte offset 8" in bad["error"]["message"]
    assert ok["error"] is None and ok["statements"][0]["sources"] == ["t"]


def test_table_format(tree: Path) -> None:
    code, output = run(str(tree), "--dialect", "tsql", "--format", "table")
    assert code == 0
    assert "load.sql:3  INSERT" in output and "dbo.src -> dbo.dst" in output


def test_no_columns_flag(tree: Path) -> None:
    code, output = run(str(tree / "risk"), "--no-columns")
    assert code == 0
    assert json.loads(output)[0]["statements"][0]["column_lineage"] == []


@pytest.mark.parametrize(
    "args",
    [
        ["--dialect", "snowflak"],
        ["--format", "xml"],
        ["--max-bytes", "0"],
    ],
)
def test_usage_errors_exit_2(tree: Path, args: list[str]) -> None:
    code, _output = run(str(tree), *args)
    assert code == 2


def test_unknown_dialect_message_lists_valid_ones(tree: Path) -> None:
    code, output = run(str(tree), "--dialect", "snowflak")
    assert code == 2 and "valid dialects:" in output and "snowflake" in output


def test_missing_path_exits_2(tmp_path: Path) -> None:
    code, _ = run(str(tmp_path / "nope.sql"))
    assert code == 2


def test_bad_dialect_map_exits_2(tree: Path, tmp_path: Path) -> None:
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"legacy": "nosuch"}))
    code, output = run(str(tree), "--dialect-map", str(mapping))
    assert code == 2 and "nosuch" in output


def test_registered_on_the_main_group() -> None:
    from lineage_dagster.cli import main

    assert main.get_command(None, "parse") is parse_command  # type: ignore[arg-type]


def test_bad_schema_and_default_schema_exit_2_before_any_output(tree: Path, tmp_path: Path) -> None:
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"db.t": 3}))
    code, output = run(str(tree), "--schema", str(schema))
    assert code == 2 and not output.startswith("[")
    code, output = run(str(tree), "--default-schema", "a.b.c")
    assert code == 2 and "more than two parts" in output


def test_no_conditions_flag(tmp_path: Path) -> None:
    sql = tmp_path / "a.sql"
    sql.write_text("INSERT INTO out SELECT a.x FROM a JOIN b ON a.id = b.id")
    code, output = run(str(sql), "--no-conditions")
    assert code == 0
    kinds = {e["kind"] for e in json.loads(output)[0]["statements"][0]["column_lineage"]}
    assert kinds == {"direct"}


def test_table_format_reports_coverage_and_corpus_schema_resolves(tmp_path: Path) -> None:
    (tmp_path / "ddl.sql").write_text("CREATE TABLE ref.books (book_id INT, desk TEXT);\n")
    (tmp_path / "pnl.sql").write_text(
        "INSERT INTO mart.pnl SELECT desk, SUM(amount) AS pnl "
        "FROM raw.trades t JOIN ref.books b ON t.book_id = b.book_id GROUP BY desk;\n"
    )
    code, plain = run(str(tmp_path), "--format", "table", "--no-conditions")
    assert code == 0
    # Without a schema, desk and amount may come from either table.
    assert "pnl.sql: target columns: 0 value, 0 condition only, 2 none (no_schema 2)" in plain
    assert plain.rstrip().endswith(
        "total target columns: 0 value, 0 condition only, 2 none (no_schema 2)"
    )
    code, resolved = run(str(tmp_path), "--format", "table", "--no-conditions", "--corpus-schema")
    assert code == 0
    assert "pnl.sql: target columns: 2 value, 0 condition only, 0 none" in resolved
    code, output = run(str(tmp_path / "pnl.sql"), "--corpus-schema")
    edges = {
        (e["source"], e["target"]) for e in json.loads(output)[0]["statements"][0]["column_lineage"]
    }
    assert ("raw.trades.desk", "mart.pnl.desk") not in edges  # ddl.sql was not given
