"""Resources as configured in the code location: settings are checked when a resource is built
(a misspelt dialect fails the configuration, not a parse)."""

from pathlib import Path

import dagster as dg
import pytest

from lineage_dagster.defs.resources import SqlParserResource, SqlSourceResource


def test_the_resource_refuses_unknown_dialects_when_configured():
    with pytest.raises(ValueError, match="snowflak"):
        SqlParserResource(dialect="snowflak")
    with pytest.raises(ValueError, match="tsqll"):
        SqlParserResource(dialect_map={"risk": "tsqll"})
    resource = SqlParserResource(dialect="SQLServer", dialect_map={"risk/": "Snowflake"})
    folder = SqlSourceResource(root=".", max_file_bytes=100, read_timeout_seconds=2.5)
    parser = resource.source_parser(folder)
    assert (parser.default_dialect, parser.dialect_for("risk/a.sql")) == ("tsql", "snowflake")
    assert (parser.root, parser.max_bytes, parser.read_timeout_seconds) == (
        Path(".").resolve(),
        100,
        2.5,
    )


def test_the_catalog_file_wins_over_the_schema_file_and_a_bad_one_fails_clearly(tmp_path: Path):
    schema_file = tmp_path / "schema.json"
    schema_file.write_text('{"raw.t": ["a"], "raw.u": ["b"]}')
    catalog = tmp_path / "columns.csv"
    catalog.write_text("table_schema,table_name,column_name\nraw,t,x\nraw,t,y\n")
    resource = SqlParserResource(schema_file=str(schema_file), catalog_file=str(catalog))
    assert resource.configured_schema() == {"raw.t": ["x", "y"], "raw.u": ["b"]}
    catalog.write_text("table_schema,table_name\nraw,t\n")
    with pytest.raises(dg.Failure, match="column_name"):
        resource.configured_schema()
