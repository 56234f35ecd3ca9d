"""A script's table declarations, a schema shared by many scripts (SchemaIndex), partial
entries, and the record of what a script looked up (the digest that keeps cached lineage
honest when a table's columns change)."""

from __future__ import annotations

from lineage_dagster.parsing import SchemaIndex, TableDeclaration, extract_lineage


def _declarations(sql: str, **options: object) -> list[tuple[str, tuple[str, ...], bool]]:
    lineage = extract_lineage(sql, **options)  # type: ignore[arg-type]
    return [(d.table, d.columns, d.complete) for d in lineage.declarations if d.like is None]


def _likes(sql: str, **options: object) -> list[tuple[str, str | None]]:
    lineage = extract_lineage(sql, **options)  # type: ignore[arg-type]
    return [(d.table, d.like) for d in lineage.declarations if d.like is not None]


def test_ddl_ctas_views_select_into_and_insert_lists_declare_columns() -> None:
    sql = """
    CREATE TABLE raw.orders (id INT PRIMARY KEY, amount DECIMAL(10, 2), ccy CHAR(3));
    CREATE TABLE mart.daily AS SELECT o.id, amount * 2 AS doubled, COUNT(*) FROM raw.orders o;
    CREATE VIEW mart.v (a, b) AS SELECT id, ccy FROM raw.orders;
    CREATE VIEW mart.w AS SELECT id FROM raw.orders UNION ALL SELECT id FROM raw.refunds;
    SELECT id, ccy INTO mart.copy FROM raw.orders;
    INSERT INTO mart.log (id, note) SELECT id, 'x' FROM raw.orders;
    """
    assert _declarations(sql, dialect="postgres") == [
        ("raw.orders", ("id", "amount", "ccy"), True),
        ("mart.daily", ("id", "doubled", "COUNT(*)"), True),
        ("mart.v", ("a", "b"), True),
        ("mart.w", ("id",), True),
        ("mart.copy", ("id", "ccy"), True),
        ("mart.log", ("id", "note"), False),
    ]


def test_a_star_over_one_table_declares_a_copy_of_its_columns_and_other_stars_nothing() -> None:
    sql = """
    CREATE VIEW mart.open AS SELECT * FROM raw.orders WHERE status = 'O';
    CREATE TABLE mart.snap AS SELECT * FROM mart.open;
    CREATE TABLE mart.joined AS SELECT * FROM raw.orders JOIN raw.refunds ON 1 = 1;
    CREATE TABLE mart.more AS SELECT *, 1 AS one FROM raw.orders;
    CREATE VIEW mart.cte AS WITH c AS (SELECT 1 AS z) SELECT * FROM c;
    """
    assert _likes(sql) == [("mart.open", "raw.orders"), ("mart.snap", "mart.open")]
    assert _declarations(sql) == []


def test_stars_temporary_tables_and_unlisted_inserts_declare_nothing() -> None:
    sql = """
    CREATE TABLE mart.all_cols AS SELECT a.* FROM raw.orders a JOIN raw.refunds r ON 1 = 1;
    CREATE TEMP TABLE scratch (a INT);
    CREATE TABLE stage.t (a INT);
    INSERT INTO mart.x SELECT a FROM stage.t;
    DROP TABLE stage.t;
    INSERT INTO #tmp (a) SELECT 1;
    """
    assert extract_lineage(sql, dialect="tsql").declarations == ()


def test_declared_names_follow_the_dialect_and_use() -> None:
    sql = 'USE DATABASE fin; CREATE TABLE gl.balances (Account INT, "Amount" INT);'
    assert _declarations(sql, dialect="snowflake") == [
        ("FIN.GL.BALANCES", ("ACCOUNT", "Amount"), True)
    ]


def test_declarations_do_not_depend_on_a_schema() -> None:
    sql = "CREATE TABLE mart.t AS SELECT * FROM raw.s; CREATE TABLE mart.u AS SELECT a FROM raw.s"
    without = extract_lineage(sql).declarations
    with_schema = extract_lineage(sql, schema={"raw.s": ["a", "b"]}).declarations
    tables_only = extract_lineage(sql, columns=False).declarations
    assert without == with_schema == tables_only
    assert [(d.table, d.columns, d.like) for d in without] == [
        ("mart.t", (), "raw.s"),
        ("mart.u", ("a",), None),
    ]


def test_index_matches_case_and_unique_longer_names_never_guesses() -> None:
    index = SchemaIndex(
        {
            "PROD.FINANCE.GL": ["ID"],
            "dev.risk.var": ["a"],
            "prod.risk.var": ["b"],
            "raw.t": ["x"],
        }
    )
    assert index.find("finance.gl") == ["ID"]
    assert index.find("prod.finance.gl") == ["ID"]
    assert index.find("RAW.T") == ["x"]
    assert index.find("risk.var") is None  # two catalogs have it: no guess
    assert index.find("gl") is None  # a bare name never matches a qualified entry
    assert index.find("raw.u") is None


def test_a_shared_index_resolves_across_dialects() -> None:
    index = SchemaIndex({"FIN.GL": ["ACCOUNT", "AMOUNT"], "fin.fx": ["ccy", "rate"]})
    stmt = extract_lineage(
        "INSERT INTO mart.t SELECT account, amount * rate AS eur FROM fin.gl JOIN fin.fx ON 1 = 1",
        dialect="tsql",
        schema=index,
    ).statements[0]
    edges = {(e.source, e.target, e.kind) for e in stmt.column_lineage if e.kind != "condition"}
    assert edges == {
        ("fin.gl.account", "mart.t.account", "direct"),
        ("fin.gl.amount", "mart.t.eur", "expression"),
        ("fin.fx.rate", "mart.t.eur", "expression"),
    }


def test_a_partial_entry_resolves_its_columns_and_keeps_the_rest_unknown() -> None:
    schema = SchemaIndex({"raw.a": ["id", "x", "*"], "raw.b": ["bid", "y"]})
    stmt = extract_lineage(
        "INSERT INTO out SELECT x, y, z FROM raw.a JOIN raw.b ON id = bid", schema=schema
    ).statements[0]
    edges = {(e.source, e.target) for e in stmt.column_lineage if e.kind != "condition"}
    # z is in neither list, but only raw.a may have more columns.
    assert edges == {("raw.a.x", "out.x"), ("raw.b.y", "out.y"), ("raw.a.z", "out.z")}
    # A partial list never maps an INSERT without a column list by position.
    insert = extract_lineage("INSERT INTO raw.a SELECT 1, 2 FROM raw.b", schema=schema)
    assert {e.target for e in insert.statements[0].column_lineage} <= {
        "raw.a._col_0",
        "raw.a._col_1",
        "raw.a.1",
        "raw.a.2",
    }


def test_lookups_are_recorded_and_their_digest_follows_the_entries() -> None:
    sql = "INSERT INTO mart.t SELECT a FROM raw.s JOIN raw.u ON raw.s.k = raw.u.k"
    first = extract_lineage(sql, schema=SchemaIndex({"raw.s": ["a", "k"]}))
    # The INSERT has no column list: its target's columns were looked up too.
    assert first.schema_tables == ("mart.t", "raw.s", "raw.u")
    assert first.schema_digest
    same = extract_lineage(sql, schema=SchemaIndex({"raw.s": ["a", "k"], "other.t": ["z"]}))
    assert same.schema_digest == first.schema_digest  # an unrelated table changed
    changed = extract_lineage(sql, schema=SchemaIndex({"raw.s": ["a", "k"], "raw.u": ["k"]}))
    assert changed.schema_digest != first.schema_digest
    index = SchemaIndex({"raw.s": ["a", "k"], "other.t": ["z"]})
    assert index.digest_of(first.schema_tables) == first.schema_digest
    assert extract_lineage(sql).schema_digest == ""
    # Found under another spelling (declared in another dialect): the digest is the entry's.
    upper = SchemaIndex({"RAW.S": ["A", "K"]})
    folded = extract_lineage(sql, dialect="postgres", schema=upper)
    assert folded.schema_digest == upper.digest_of(folded.schema_tables) != ""


def test_declaration_round_trips_through_to_dict() -> None:
    item = TableDeclaration("raw.t", ("a",), complete=False, added=True)
    assert item.to_dict() == {
        "table": "raw.t",
        "columns": ["a"],
        "complete": False,
        "like": None,
        "added": True,
    }
