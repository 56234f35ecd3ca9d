"""extract_lineage and extract_file: the JSON contract, options, bad input that never crashes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from lineage_dagster.parsing import (
    EXTRACTOR_VERSION,
    SchemaError,
    SqlDecodeError,
    SqlFileTooLargeError,
    UnknownDialectError,
    extract_file,
    extract_lineage,
)


def test_to_dict_is_the_documented_json_contract() -> None:
    lineage = extract_lineage(
        "INSERT INTO mart.t (a) SELECT x FROM raw.s WHERE y > 0;\nSELECT FROM (;",
        dialect="postgres",
    )
    data = json.loads(json.dumps(lineage.to_dict()))
    assert set(data) == {
        "path", "sha256", "dialect", "statements", "error", "declarations", "schema_tables",
        "schema_digest",
    }  # fmt: skip
    assert data["dialect"] == "postgres" and data["error"] is None
    assert data["declarations"] == [
        {"table": "mart.t", "columns": ["a"], "complete": False, "like": None, "added": False}
    ]
    assert data["schema_tables"] == ["raw.s"] and data["schema_digest"] == ""
    first, second = data["statements"]
    assert set(first) == {
        "index", "line", "kind", "sources", "targets", "column_lineage", "error", "gaps",
    }  # fmt: skip
    assert first["gaps"] == []
    assert first["index"] == 0 and first["line"] == 1 and first["kind"] == "INSERT"
    assert first["sources"] == ["raw.s"] and first["targets"] == ["mart.t"]
    assert {"source": "raw.s.x", "target": "mart.t.a", "kind": "direct"} in first["column_lineage"]
    assert {"source": "raw.s.y", "target": "mart.t.a", "kind": "condition"} in first[
        "column_lineage"
    ]
    assert second["index"] == 1 and second["line"] == 2
    assert set(second["error"]) == {"message", "line", "column"}
    assert second["error"]["line"] == 2 and second["error"]["column"] == 13


def test_extractor_version_is_a_string() -> None:
    assert isinstance(EXTRACTOR_VERSION, str) and EXTRACTOR_VERSION


def test_columns_false_gives_the_same_tables_without_edges() -> None:
    sql = "WITH c AS (SELECT a FROM raw.x) INSERT INTO mart.y SELECT a FROM c JOIN raw.z USING (a)"
    full = extract_lineage(sql).statements[0]
    tables = extract_lineage(sql, columns=False).statements[0]
    assert (tables.sources, tables.targets) == (full.sources, full.targets)
    assert full.column_lineage and not tables.column_lineage


def test_dialect_comment_wins_over_the_argument() -> None:
    lineage = extract_lineage("-- dialect: snowflake\nSELECT * FROM raw.t", dialect="postgres")
    assert lineage.dialect == "snowflake"
    assert lineage.statements[0].sources == ("RAW.T",)


def test_unknown_dialect_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownDialectError) as info:
        extract_lineage("SELECT 1", dialect="snowflak")
    assert "snowflake" in str(info.value) and "tsql" in str(info.value)
    with pytest.raises(UnknownDialectError):
        extract_lineage("-- dialect: nosuch\nSELECT 1")


def test_default_schema_forms() -> None:
    assert extract_lineage("SELECT * FROM t", default_schema="db").statements[0].sources == (
        "db.t",
    )
    assert extract_lineage("SELECT * FROM s.t, t", default_schema="cat.db").statements[
        0
    ].sources == ("cat.db.t", "cat.s.t")
    with pytest.raises(SchemaError):
        extract_lineage("SELECT 1", default_schema="a.b.c")


def test_schema_accepts_lists_dicts_and_nested_forms() -> None:
    sql = "INSERT INTO out SELECT * FROM db.t"
    for schema in (
        {"db.t": ["a", "b"]},
        {"db.t": {"a": "int", "b": "text"}},
        {"db": {"t": {"a": "int", "b": "text"}}},
    ):
        edges = {
            (e.source, e.target)
            for e in extract_lineage(sql, schema=schema).statements[0].column_lineage
        }
        assert edges == {("db.t.a", "out.a"), ("db.t.b", "out.b")}
    with pytest.raises(SchemaError):
        extract_lineage(sql, schema={"db.t": 3})


def test_never_invents_columns_without_a_schema() -> None:
    stmt = extract_lineage("INSERT INTO out SELECT * FROM a JOIN b ON a.id = b.id").statements[0]
    assert {(e.source, e.target) for e in stmt.column_lineage if e.kind == "direct"} == {
        ("a.*", "out.*"),
        ("b.*", "out.*"),
    }


@pytest.mark.parametrize("text", ["", "   \n\n", "-- only a comment\n", "/* block */", ";;;"])
def test_empty_input_has_no_statements(text: str) -> None:
    assert extract_lineage(text).statements == ()


def test_empty_file_has_no_statements(tmp_path: Path) -> None:
    path = tmp_path / "empty.sql"
    path.write_bytes(b"")
    lineage = extract_file(path)
    assert lineage.statements == () and lineage.error is None
    assert lineage.sha256 == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_non_utf8_file_gives_the_byte_offset(tmp_path: Path) -> None:
    path = tmp_path / "latin1.sql"
    path.write_bytes("SELECT 1;\nSELECT 'café'".encode("latin-1"))
    with pytest.raises(SqlDecodeError) as info:
        extract_file(path)
    assert "byte offset 21" in str(info.value) and "0xe9" in str(info.value)
    assert (info.value.line, info.value.column) == (2, 12)
    assert info.value.sha256


def test_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "blob.sql"
    path.write_bytes(b"SELECT 1\x00\x01\x02")
    with pytest.raises(SqlDecodeError, match="NUL"):
        extract_file(path)


def test_utf8_bom_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "bom.sql"
    path.write_bytes("\ufeffSELECT * FROM t".encode())
    assert extract_file(path).statements[0].sources == ("t",)


def test_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.sql"
    path.write_bytes(b"SELECT 1;\n" * 100)
    with pytest.raises(SqlFileTooLargeError, match="1000 bytes, larger than the limit of 999"):
        extract_file(path, max_bytes=999)


@pytest.mark.slow
def test_a_50_mb_file_gives_a_precise_error_quickly(tmp_path: Path) -> None:
    path = tmp_path / "huge.sql"
    line = b"INSERT INTO mart.t SELECT a, b, c FROM raw.s WHERE d = 1;\n"
    with path.open("wb") as handle:
        handle.write(line * (50 * 1024 * 1024 // len(line) + 1))
    start = time.perf_counter()
    with pytest.raises(SqlFileTooLargeError, match="larger than the limit"):
        extract_file(path)
    assert time.perf_counter() - start < 5


@pytest.mark.slow
def test_large_file_under_the_limit_is_streamed_piece_by_piece(tmp_path: Path) -> None:
    path = tmp_path / "large.sql"
    statement = "INSERT INTO mart.t SELECT a FROM raw.s WHERE d = 'x;y';\n"
    count = (1 << 20) // len(statement) + 10  # just over the streaming threshold
    path.write_text("-- dialect: postgres\n" + statement * count + "SELECT FROM (;\n")
    lineage = extract_file(path)
    assert len(lineage.statements) == count + 1
    assert lineage.statements[-1].error is not None
    assert lineage.statements[-1].error.line == count + 2
    assert lineage.statements[5].line == 7 and lineage.statements[5].sources == ("raw.s",)


def test_unterminated_string_is_located_and_others_survive() -> None:
    sql = "INSERT INTO a SELECT * FROM b;\nSELECT 'oops FROM c;\nINSERT INTO d SELECT * FROM e;"
    statements = extract_lineage(sql).statements
    assert [s.error is None for s in statements] == [True, False, True]
    assert statements[1].error.message.startswith("unterminated string")
    assert (statements[1].error.line, statements[1].error.column) == (2, 8)
    assert statements[2].targets == ("d",) and statements[2].line == 3


def test_unterminated_block_comment_keeps_earlier_statements() -> None:
    statements = extract_lineage("SELECT * FROM a;\n/* never closed\nSELECT 1").statements
    assert statements[0].sources == ("a",)


@pytest.mark.parametrize("depth", [200, 5000])
def test_deeply_nested_expressions_never_crash(depth: int) -> None:
    sql = "SELECT " + "(" * depth + "1" + ")" * depth + " FROM t;\nSELECT * FROM ok"
    statements = extract_lineage(sql).statements
    assert statements[-1].sources == ("ok",)
    if depth > 1000:
        assert statements[0].error is not None


def test_deeply_nested_subqueries_never_crash() -> None:
    sql = "SELECT * FROM " + "(SELECT * FROM " * 400 + "t" + ") x" * 400
    statement = extract_lineage(sql).statements[0]
    assert statement.error is not None or statement.sources == ("t",)


def test_garbage_text_gives_statement_errors() -> None:
    statements = extract_lineage("this is not sql at all ) ( ;\nSELECT * FROM t").statements
    assert statements[-1].sources == ("t",)


def test_statement_lines_are_file_relative() -> None:
    sql = "\n\n-- header\nSELECT 1;\n\n\nSELECT *\nFROM t;"
    assert [s.line for s in extract_lineage(sql).statements] == [4, 7]


def test_procedure_statements_are_listed_with_their_lines() -> None:
    sql = (
        "CREATE PROCEDURE dbo.p AS\nBEGIN\n"
        "  INSERT INTO dbo.a SELECT * FROM dbo.b;\n"
        "  INSERT INTO dbo.c SELECT * FROM dbo.a;\nEND\nGO\n"
    )
    statements = extract_lineage(sql, dialect="tsql").statements
    assert [(s.line, s.sources, s.targets) for s in statements] == [
        (3, ("dbo.b",), ("dbo.a",)),
        (4, ("dbo.a",), ("dbo.c",)),
    ]


@pytest.mark.parametrize(
    ("sql", "dialect"),
    [
        # Fragments found by cutting real scripts at random places.
        ("er_id IS NULL\n  UNION ALL\n  SELECT e.id, e.manager_id FROM hr.e", "bigquery"),
        ("SELECT a FROM t UNION", None),
        ("WITH c AS (SELECT 1) UNION SELECT 2", None),
        ("INSERT INTO t (a, b", "tsql"),
        ("MERGE INTO t USING s ON", "snowflake"),
        ("END; END; GO\nGO 3\n;", "tsql"),
        ("CREATE PROCEDURE p AS", "tsql"),
        ("$$ unterminated", "postgres"),
    ],
)
def test_truncated_fragments_never_raise(sql: str, dialect: str | None) -> None:
    for statement in extract_lineage(sql, dialect=dialect).statements:
        assert statement.error is None or not statement.error.message.startswith("internal")


def test_conditions_false_keeps_only_value_edges() -> None:
    sql = "INSERT INTO out SELECT a.x FROM a JOIN b ON a.id = b.id WHERE b.flag = 1"
    with_conditions = extract_lineage(sql).statements[0].column_lineage
    without = extract_lineage(sql, conditions=False).statements[0].column_lineage
    assert {e.kind for e in with_conditions} == {"direct", "condition"}
    assert [(e.source, e.target, e.kind) for e in without] == [("a.x", "out.x", "direct")]


def test_default_catalog_alone_and_with_a_schema() -> None:
    sql = "SELECT * FROM t, s.u, c.s.v"
    assert extract_lineage(sql, default_catalog="cat").statements[0].sources == (
        "c.s.v",
        "cat.s.u",
        "t",
    )
    assert extract_lineage(sql, default_catalog="cat", default_schema="db").statements[
        0
    ].sources == ("c.s.v", "cat.db.t", "cat.s.u")
    with pytest.raises(SchemaError):
        extract_lineage(sql, default_catalog="x", default_schema="cat.db")


def test_bigquery_defaults_and_schema_keep_table_case() -> None:
    lineage = extract_lineage(
        "INSERT INTO ds.Out SELECT * FROM Reporting.Events",
        dialect="bigquery",
        default_catalog="my-Project",
        schema={"my-Project.Reporting.Events": ["id"]},
    )
    stmt = lineage.statements[0]
    assert stmt.sources == ("my-Project.Reporting.Events",)
    assert [(e.source, e.target) for e in stmt.column_lineage] == [
        ("my-Project.Reporting.Events.id", "my-Project.ds.Out.id")
    ]
