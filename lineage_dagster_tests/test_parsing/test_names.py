"""Canonical table and column keys: one key per table whatever dialect names it, quoted parts
kept apart from dotted names, and names as a user types them."""

import pytest

from lineage_dagster.parsing import extract_lineage
from lineage_dagster.parsing.names import (
    canonical_name,
    loose_name,
    split_column,
    split_name,
    typed_name,
)


@pytest.mark.parametrize(
    ("name", "dialect", "key"),
    [
        ("FINANCE.GL", "snowflake", "finance.gl"),
        ("FINANCE.GL", "oracle", "finance.gl"),
        ("finance.gl", "tsql", "finance.gl"),
        ("finance.gl", "postgres", "finance.gl"),
        ("finance.gl", None, "finance.gl"),
        ("finance.gl", "no-such-dialect", "finance.gl"),
        # Quoted parts that differ from the dialect's folding keep their case, in quotes.
        ("RAW.Fx", "snowflake", 'raw."Fx"'),
        ("RAW.fx", "snowflake", 'raw."fx"'),
        ("raw.Fx", "postgres", 'raw."Fx"'),
        # BigQuery table names and case-sensitive dialects' names keep their case.
        ("proj.ds.Events_*", "bigquery", 'proj.ds."Events_*"'),
        ("db.Trades", "clickhouse", 'db."Trades"'),
        # A dot inside a quoted part never reads as two parts.
        ('coll.a."b.c"', "postgres", 'coll.a."b.c"'),
        ('coll."a.b".c', "postgres", 'coll."a.b".c'),
        ('COLL."A.B".C', "snowflake", 'coll."a.b".c'),
        # Paths and stages are places, not identifiers.
        ("s3://Bucket/Gl.parquet", "spark", "s3://Bucket/Gl.parquet"),
        ("@FIN_STAGE", "snowflake", "@FIN_STAGE"),
    ],
)
def test_canonical_name(name, dialect, key):
    assert canonical_name(name, dialect) == key


def test_snowflake_writer_and_tsql_reader_name_one_table():
    written = extract_lineage(
        "INSERT INTO finance.gl (account, amount) SELECT account, amount FROM raw.journal",
        dialect="snowflake",
    ).statements[0]
    read = extract_lineage(
        "SELECT Account, SUM(Amount) FROM Finance.GL GROUP BY Account", dialect="tsql"
    ).statements[0]
    assert written.targets == ("FINANCE.GL",) and read.sources == ("finance.gl",)
    assert canonical_name(written.targets[0], "snowflake") == canonical_name(
        read.sources[0], "tsql"
    )
    edge = written.column_lineage[0]
    assert canonical_name(edge.target, "snowflake") == "finance.gl.account"


def test_quoted_dot_columns_stay_distinct_in_the_extractor_output():
    lineage = extract_lineage(
        'INSERT INTO rpt.flat (x, y) SELECT a."b.c", "a.b".c FROM coll.a, coll."a.b"',
        dialect="postgres",
    )
    sources = {edge.source for edge in lineage.statements[0].column_lineage}
    assert sources == {'coll.a."b.c"', 'coll."a.b".c'}
    assert {split_column(source) for source in sources} == {
        ("coll.a", '"b.c"'),
        ('coll."a.b"', "c"),
    }


def test_split_name_reads_doubled_quotes():
    assert split_name('s."a""b".c') == ["s", 'a"b', "c"]
    assert canonical_name('s."a""b"', "postgres") == 's."a""b"'


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("FINANCE.GL", "finance.gl"),
        ("Finance.Gl", "finance.gl"),
        ('raw."Fx"', 'raw."Fx"'),
        ('raw."fx"', "raw.fx"),
        ('coll."A.B".c', 'coll."A.B".c'),
    ],
)
def test_typed_name(typed, key):
    assert typed_name(typed) == key


def test_loose_name_ignores_case_and_quotes_but_not_parts():
    assert loose_name('raw."Fx"') == loose_name("RAW.FX") == "raw.fx"
    assert split_name('coll."a.b".c') != split_name('coll.a."b.c"')
