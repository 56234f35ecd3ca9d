"""Coverage: how many target columns got value lineage, only condition lineage, or none, and
why, per statement and per file (the run report and the dashboard are built from it)."""

from __future__ import annotations

from lineage_dagster.parsing import SchemaIndex, extract_lineage
from lineage_dagster.parsing.models import Coverage

JOIN = (
    "INSERT INTO mart.t (a, b, c, d, e) "
    "SELECT x, 'fixed', COUNT(*), s.y, u.z FROM raw.s s JOIN raw.u u ON s.k = u.k "
    "GROUP BY x, s.y, u.z"
)


def _gaps(sql: str, **options: object) -> dict[str, str]:
    (stmt,) = extract_lineage(sql, **options).statements  # type: ignore[arg-type]
    return dict(stmt.gaps)


def test_each_column_without_a_source_says_why() -> None:
    assert _gaps(JOIN) == {
        "mart.t.a": "no_schema",  # x may come from raw.s or raw.u: neither has known columns
        "mart.t.b": "no_column_read",
        "mart.t.c": "no_column_read",
    }
    schema = SchemaIndex({"raw.s": ["k", "x", "y"], "raw.u": ["k", "z"]})
    assert _gaps(JOIN, schema=schema) == {
        "mart.t.b": "no_column_read",
        "mart.t.c": "no_column_read",
    }
    known = SchemaIndex({"raw.s": ["k", "y"], "raw.u": ["k", "z"]})
    assert _gaps(JOIN, schema=known) == {
        "mart.t.a": "unresolved_column",  # no table in scope has x
        "mart.t.b": "no_column_read",
        "mart.t.c": "no_column_read",
    }


def test_counts_value_condition_only_and_none_by_reason() -> None:
    lineage = extract_lineage(JOIN)
    # d and e have values; a, b, c only the join and grouping columns.
    assert lineage.coverage() == Coverage(2, 3, ())
    without_conditions = extract_lineage(JOIN, conditions=False)
    assert without_conditions.coverage() == Coverage(
        2, 0, (("no_column_read", 2), ("no_schema", 1))
    )


def test_stars_failed_and_unsupported_statements_count_as_none() -> None:
    sql = (
        "CREATE TABLE mart.copy AS SELECT * FROM raw.s;\n"
        "SELECT FROM (;\n"
        "COPY INTO mart.files FROM @stage/path/;\n"
        "CREATE TABLE mart.ddl (a INT);\n"
        "SELECT a FROM raw.s"
    )
    lineage = extract_lineage(sql, dialect="snowflake")
    # The DDL moves no data and the query writes no table: neither counts.
    assert lineage.coverage() == Coverage(0, 0, (("no_schema", 2), ("unparsed", 1)))


def test_coverage_adds_up_and_serialises() -> None:
    total = Coverage(1, 2, (("no_schema", 1),)) + Coverage(
        3, 0, (("no_schema", 2), ("unparsed", 1))
    )
    assert total == Coverage(4, 2, (("no_schema", 3), ("unparsed", 1)))
    assert total.total == 10
    assert total.to_dict() == {
        "value": 4,
        "condition_only": 2,
        "none": {"no_schema": 3, "unparsed": 1},
    }
