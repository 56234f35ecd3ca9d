"""The watched folder's own schema: declarations merged across files and partitions, a catalog
export, and cached lineage re-extracted exactly when a table it looked up changed columns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lineage_dagster.parsing import SchemaError, SchemaIndex, TableDeclaration
from lineage_dagster.sources.corpus_schema import load_catalog_file, merge_declarations
from lineage_dagster.sources.files import SourceFile, scan_files
from lineage_dagster.sources.parse_cache import ParseCache
from lineage_dagster.sources.planning import LoadedFile, diff_files
from lineage_dagster.sources.source_parser import SourceParser

DDL = "CREATE TABLE ref.books (book_id INT, desk TEXT);\n"
QUERY = (
    "INSERT INTO mart.pnl SELECT desk, SUM(amount) AS pnl "
    "FROM raw.trades t JOIN ref.books b ON t.book_id = b.book_id GROUP BY desk;\n"
)
OTHER = "INSERT INTO mart.fx SELECT ccy, rate FROM raw.rates;\n"


def test_complete_declarations_win_over_insert_lists_and_the_catalog_over_both() -> None:
    schema = merge_declarations(
        [
            ("b/load.sql", [TableDeclaration("t", ("a", "z"), complete=False)]),
            ("a/ddl.sql", [TableDeclaration("t", ("a", "b"))]),
            ("c/x.sql", [TableDeclaration("u", ("p",), complete=False)]),
            ("c/y.sql", [TableDeclaration("u", ("q", "p"), complete=False)]),
        ],
        {"c": ["k"]},
    )
    assert schema.entries == {"c": ["k"], "t": ["a", "b"], "u": ["p", "q", "*"]}


def test_star_copies_take_their_tables_columns_through_chains() -> None:
    schema = merge_declarations(
        [
            ("views.sql", [TableDeclaration("v2", (), like="v1")]),
            ("views.sql", [TableDeclaration("v1", (), like="t")]),
            ("ddl.sql", [TableDeclaration("t", ("a", "b")), TableDeclaration("p", ("x",), False)]),
            (
                "more.sql",
                [TableDeclaration("w", (), like="p"), TableDeclaration("z", (), like="?")],
            ),
            ("own.sql", [TableDeclaration("v3", ("k",)), TableDeclaration("v3", (), like="t")]),
        ]
    )
    assert schema.entries == {
        "p": ["x", "*"],
        "t": ["a", "b"],
        "v1": ["a", "b"],
        "v2": ["a", "b"],
        "v3": ["k"],  # declared with its own columns: those win
        "w": ["x", "*"],  # a copy of a partial table is partial
    }


def test_merge_does_not_depend_on_the_order_files_come_in() -> None:
    items = [
        ("x.sql", [TableDeclaration("t", ("a",))]),
        ("y.sql", [TableDeclaration("t", ("b",))]),
    ]
    assert merge_declarations(items).digest == merge_declarations(items[::-1]).digest


def test_catalog_csv_export_in_ordinal_order(tmp_path: Path) -> None:
    path = tmp_path / "columns.csv"
    path.write_text(
        "TABLE_CATALOG,TABLE_SCHEMA,TABLE_NAME,COLUMN_NAME,ORDINAL_POSITION\n"
        "PROD,FINANCE,GL,AMOUNT,2\n"
        "PROD,FINANCE,GL,ACCOUNT,1\n"
        ",ref,books,desk,1\n"
    )
    assert load_catalog_file(path) == {
        "PROD.FINANCE.GL": ["ACCOUNT", "AMOUNT"],
        "ref.books": ["desk"],
    }


def test_catalog_json_rows_or_mapping(tmp_path: Path) -> None:
    rows = tmp_path / "rows.json"
    rows.write_text(
        json.dumps([{"table_schema": "raw", "table_name": "t", "column_name": c} for c in "ab"])
    )
    assert load_catalog_file(rows) == {"raw.t": ["a", "b"]}
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"raw": {"t": {"a": "int"}}, "ref.u": ["x"]}))
    assert load_catalog_file(mapping) == {"raw.t": ["a"], "ref.u": ["x"]}


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.json", "{not json", "not JSON"),
        ("rows.csv", "table_schema,table_name\nraw,t\n", "column_name"),
        ("scalar.json", '{"raw.t": 3}', "must map to a list"),
    ],
)
def test_a_bad_catalog_file_says_what_is_wrong(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(SchemaError, match=message):
        load_catalog_file(path)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "sql"
    (root / "ddl").mkdir(parents=True)
    (root / "risk").mkdir()
    (root / "ddl" / "books.sql").write_text(DDL)
    (root / "risk" / "pnl.sql").write_text(QUERY)
    (root / "risk" / "fx.sql").write_text(OTHER)
    return root


def _parse_all(root: Path, cache: ParseCache) -> tuple[SchemaIndex, dict[str, tuple]]:
    files, _ = scan_files(root)
    schema = SourceParser(root, cache=cache).corpus_schema(files)
    parser = SourceParser(root, cache=cache, schema=schema)
    results = {}
    for file in files:
        lineage, hit = parser.parse(file.path, file.sha256)
        edges = {(e.source, e.target, e.kind) for s in lineage.statements for e in s.column_lineage}
        results[file.path] = (lineage, hit, edges)
    return schema, results


def test_a_changed_ddl_re_extracts_exactly_the_files_that_read_its_table(
    folder: Path, tmp_path: Path
) -> None:
    cache = ParseCache(tmp_path / "cache.sqlite")
    schema, first = _parse_all(folder, cache)
    assert schema.find("ref.books") == ["book_id", "desk"]
    assert ("ref.books.desk", "mart.pnl.desk", "direct") in first["risk/pnl.sql"][2]
    # Without the schema, desk and amount could come from either table: unresolved.
    assert ("raw.trades.amount", "mart.pnl.pnl", "aggregation") in first["risk/pnl.sql"][2]

    (folder / "ddl" / "books.sql").write_text("CREATE TABLE ref.books (book_id INT, region TEXT);")
    _, second = _parse_all(folder, cache)
    assert not second["risk/pnl.sql"][1], "the file that read ref.books is extracted again"
    assert second["risk/fx.sql"][1], "a file that did not read it stays a cache hit"
    pnl = second["risk/pnl.sql"][2]
    assert ("ref.books.desk", "mart.pnl.desk", "direct") not in pnl
    assert ("raw.trades.desk", "mart.pnl.desk", "direct") in pnl  # now the only candidate

    _, third = _parse_all(folder, cache)
    assert all(hit for _, hit, _ in third.values())


def test_declarations_are_read_once_per_content(folder: Path, tmp_path: Path) -> None:
    cache = ParseCache(tmp_path / "cache.sqlite")
    files, _ = scan_files(folder)
    parser = SourceParser(folder, cache=cache)
    parser.corpus_schema(files)
    (folder / "ddl" / "books.sql").unlink()  # the content is known: no read needed
    books = next(f for f in files if f.path == "ddl/books.sql")
    assert parser.declarations(books.path, books.sha256) == (
        TableDeclaration("ref.books", ("book_id", "desk")),
    )
    assert parser.declarations(books.path, books.sha256, use_cache=False) == ()


def test_plan_reloads_an_unchanged_file_whose_tables_changed_columns() -> None:
    current = [SourceFile("risk/pnl.sql", 10, 0, "s1"), SourceFile("risk/fx.sql", 10, 0, "s2")]
    before = SchemaIndex({"ref.books": ["book_id", "desk"]})
    loaded = {
        "risk/pnl.sql": LoadedFile(
            "risk/pnl.sql", "s1", "v", ("raw.trades", "ref.books"), before.digest_of(["ref.books"])
        ),
        "risk/fx.sql": LoadedFile("risk/fx.sql", "s2", "v", ("raw.rates",), ""),
    }
    same = diff_files(current, loaded, extractor_version="v", schema=before)
    assert same.to_load == ()
    after = SchemaIndex({"ref.books": ["book_id", "region"], "other.t": ["x"]})
    changed = diff_files(current, loaded, extractor_version="v", schema=after)
    assert [f.path for f in changed.to_load] == ["risk/pnl.sql"]
    assert diff_files(current, loaded, extractor_version="v").to_load == ()


def test_a_view_over_a_star_resolves_its_readers(tmp_path: Path) -> None:
    root = tmp_path / "sql"
    (root / "ddl").mkdir(parents=True)
    (root / "ddl" / "t.sql").write_text(
        "CREATE TABLE raw.t (id INT, amount INT);\n"
        "CREATE VIEW mart.v AS SELECT * FROM raw.t WHERE amount > 0;\n"
    )
    (root / "ddl" / "u.sql").write_text("CREATE TABLE raw.u (uid INT, ccy TEXT);\n")
    (root / "q.sql").write_text(
        "INSERT INTO out SELECT amount, ccy FROM mart.v JOIN raw.u ON id = uid;\n"
    )
    files, _ = scan_files(root)
    schema = SourceParser(root).corpus_schema(files)
    lineage, _ = SourceParser(root, schema=schema).parse("q.sql")
    edges = {
        (e.source, e.target) for e in lineage.statements[0].column_lineage if e.kind != "condition"
    }
    assert edges == {("mart.v.amount", "out.amount"), ("raw.u.ccy", "out.ccy")}


def test_an_alter_in_another_folder_adds_columns_through_the_cache(tmp_path: Path) -> None:
    root = tmp_path / "sql"
    for folder in ("ddl", "migrations", "risk"):
        (root / folder).mkdir(parents=True)
    (root / "ddl" / "books.sql").write_text("CREATE TABLE ref.books (book_id INT, desk TEXT);\n")
    (root / "migrations" / "m1.sql").write_text("ALTER TABLE ref.books ADD COLUMN region TEXT;\n")
    (root / "risk" / "q.sql").write_text(
        "INSERT INTO mart.q SELECT trade_id, region "
        "FROM raw.trades t JOIN ref.books b ON t.book_id = b.book_id;\n"
    )
    cache = ParseCache(tmp_path / "cache.sqlite")
    schema, first = _parse_all(root, cache)
    assert schema.find("ref.books") == ["book_id", "desk", "region"]
    assert ("ref.books.region", "mart.q.region", "direct") in first["risk/q.sql"][2]
    cached, second = _parse_all(root, cache)  # declarations now come from the cache
    assert cached.entries == schema.entries
    assert second["risk/q.sql"][1] and second["risk/q.sql"][2] == first["risk/q.sql"][2]
