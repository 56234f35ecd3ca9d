"""Dialect names, `-- dialect:` comments and folder mappings."""

from __future__ import annotations

import pytest

from lineage_dagster.parsing import (
    VALID_DIALECTS,
    DialectMap,
    UnknownDialectError,
    dialect_from_comment,
    resolve_dialect,
)


def test_valid_dialects_cover_the_supported_engines() -> None:
    for name in ("snowflake", "bigquery", "tsql", "oracle", "postgres", "redshift", "spark",
                 "hive", "teradata", "databricks"):  # fmt: skip
        assert name in VALID_DIALECTS


def test_aliases_and_case() -> None:
    assert resolve_dialect("MSSQL") == "tsql"
    assert resolve_dialect("PostgreSQL") == "postgres"
    assert resolve_dialect(" Snowflake ") == "snowflake"


def test_unknown_dialect_is_never_a_silent_fallback() -> None:
    with pytest.raises(UnknownDialectError) as info:
        resolve_dialect("db2")
    assert info.value.valid == VALID_DIALECTS
    assert "valid dialects: athena, bigquery" in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-- dialect: tsql\nSELECT 1", "tsql"),
        ("--dialect=BigQuery\nSELECT 1", "bigquery"),
        ("/* dialect: oracle */ SELECT 1", "oracle"),
        ("\n\n  -- owner: risk\n-- dialect: redshift\nSELECT 1", "redshift"),
        ("SELECT 1\n-- dialect: tsql", None),
        ("-- no dialect here\nSELECT 1", None),
    ],
)
def test_dialect_comment(text: str, expected: str | None) -> None:
    assert dialect_from_comment(text) == expected


def test_folder_map_longest_prefix_wins() -> None:
    mapping = DialectMap({"finance": "oracle", "finance/emea": "tsql", "./risk/": "snowflake"})
    assert mapping.dialect_for("finance/emea/a.sql") == "tsql"
    assert mapping.dialect_for("finance/apac/a.sql") == "oracle"
    assert mapping.dialect_for("risk/var.sql") == "snowflake"
    assert mapping.dialect_for("/repo/sql/risk/var.sql", root="/repo/sql") == "snowflake"
    assert mapping.dialect_for("financeX/a.sql") is None


def test_folder_map_validates_dialects() -> None:
    with pytest.raises(UnknownDialectError):
        DialectMap({"a": "nosuch"})
