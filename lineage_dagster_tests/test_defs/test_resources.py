"""Resources as configured in the code location: settings are checked when a resource is built
(a misspelt dialect fails the configuration, not a parse)."""

from pathlib import Path

import pytest

from lineage_dagster.defs.resources import SqlParserResource


def test_the_resource_refuses_unknown_dialects_when_configured():
    with pytest.raises(ValueError, match="snowflak"):
        SqlParserResource(dialect="snowflak")
    with pytest.raises(ValueError, match="tsqll"):
        SqlParserResource(dialect_map={"risk": "tsqll"})
    resource = SqlParserResource(dialect="SQLServer", dialect_map={"risk/": "Snowflake"})
    parser = resource.source_parser(Path("."), max_bytes=100)
    assert (parser.default_dialect, parser.dialect_for("risk/a.sql")) == ("tsql", "snowflake")
