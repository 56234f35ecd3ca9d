"""The warehouse's tables as external assets, from a fake catalog: keys, deps (cycles broken),
groups, kinds, descriptions, column schema, column lineage (metadata and Markdown) and code
references; the code location loads fast without Neo4j (unset or down) and keeps the pipeline;
a rebuild from the kept catalog never queries Neo4j."""

import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._utils.test.definitions import (
    scoped_definitions_load_context,
    scoped_reconstruction_metadata,
)

from lineage_dagster.definitions import defs
from lineage_dagster.defs import warehouse
from lineage_dagster.defs.warehouse import (
    CATALOG_STATE_KEY,
    table_asset_key,
    warehouse_asset_specs,
)
from lineage_dagster.graph.catalog import (
    Catalog,
    CatalogColumn,
    CatalogTable,
    ColumnSource,
    TableWriter,
    catalog_to_json,
)

PIPELINE_KEYS = {dg.AssetKey("sql_files"), dg.AssetKey("lineage_graph")}


def _writer(file: str, line: int, dialect: str = "postgres", kind: str = "INSERT") -> TableWriter:
    return TableWriter(f"{file}#0", file, line, kind, dialect, file.split("/")[0])


CATALOG = Catalog(
    (
        CatalogTable(
            "finance.gl_balances",
            upstream=("raw.journal",),
            columns=(
                CatalogColumn(
                    "amount",
                    (
                        ColumnSource("raw.journal", "amount", "aggregation", "finance/gl.sql", 4),
                        ColumnSource("raw.journal", "amount", "direct", "finance/gl2.sql", 2),
                    ),
                ),
                CatalogColumn("account"),
            ),
            writers=(
                _writer("finance/gl.sql", 4, "snowflake"),
                _writer("finance/gl2.sql", 2, "tsql", "MERGE"),
            ),
            partitions=("finance", "risk"),
        ),
        CatalogTable("raw.journal", columns=(CatalogColumn("amount"),), partitions=("finance",)),
        # A cycle: a <- b <- a.
        CatalogTable("x.a", upstream=("x.b",), writers=(_writer("risk/a.sql", 1),)),
        CatalogTable("x.b", upstream=("x.a",), writers=(_writer("risk/b.sql", 1),)),
        CatalogTable('"odd name"', writers=(_writer("risk/odd.sql", 3),), partitions=("risk",)),
    )
)


@pytest.fixture
def specs() -> dict[dg.AssetKey, dg.AssetSpec]:
    built = warehouse_asset_specs(CATALOG, sql_root=Path("/srv/sql"))
    return {spec.key: spec for spec in built}


def test_keys_deps_groups_and_kinds(specs: dict[dg.AssetKey, dg.AssetSpec]) -> None:
    gl = specs[dg.AssetKey(["finance", "gl_balances"])]
    assert {dep.asset_key for dep in gl.deps} == {dg.AssetKey(["raw", "journal"])}
    assert gl.group_name == "finance"
    assert gl.kinds == {"snowflake", "tsql"}
    assert gl.tags["lineage/table_role"] == "derived"
    assert "INSERT at `finance/gl.sql:4` (snowflake)" in (gl.description or "")
    assert "MERGE at `finance/gl2.sql:2` (tsql)" in (gl.description or "")

    raw = specs[dg.AssetKey(["raw", "journal"])]
    assert raw.kinds == {"source"} and raw.tags["lineage/table_role"] == "source"
    assert raw.group_name == "finance" and not raw.deps
    assert "Source table" in (raw.description or "")

    # The cycle loses exactly one edge, always the same one, and says so.
    a, b = specs[dg.AssetKey(["x", "a"])], specs[dg.AssetKey(["x", "b"])]
    assert [d.asset_key for d in a.deps] == [dg.AssetKey(["x", "b"])] and not b.deps
    assert "x.a (a cycle" in (b.description or "")
    # The whole set is a valid code location (Dagster refuses cyclic asset graphs).
    dg.Definitions(assets=list(specs.values())).resolve_asset_graph()


def test_odd_names_get_valid_distinct_keys() -> None:
    # Quotes are name syntax (a quoted part of the table key), not characters of the part.
    odd = table_asset_key('"odd name"')
    assert odd.path[0].startswith("odd_name_") and odd == table_asset_key('"odd name"')
    assert odd != table_asset_key("odd name")
    # A quoted part holding a dot is one part: never the key of a three-part name.
    dotted = table_asset_key('coll."a.b"')
    assert len(dotted.path) == 2 and dotted.path[0] == "coll"
    assert dotted != table_asset_key("coll.a.b") and dotted != table_asset_key("coll.a_b")
    assert table_asset_key("odd_name_") != table_asset_key("odd name_")
    assert table_asset_key("lineage_graph", reserved=frozenset({"lineage_graph"})) != (
        dg.AssetKey("lineage_graph")
    )
    assert table_asset_key("a..b").path[1].startswith("_")


def test_columns_lineage_and_code_references(specs: dict[dg.AssetKey, dg.AssetSpec]) -> None:
    gl = specs[dg.AssetKey(["finance", "gl_balances"])]
    schema = gl.metadata["dagster/column_schema"]
    assert [c.name for c in schema.columns] == ["amount", "account"]
    lineage = gl.metadata["dagster/column_lineage"]
    assert lineage.deps_by_column == {
        "amount": [
            dg.TableColumnDep(asset_key=dg.AssetKey(["raw", "journal"]), column_name="amount")
        ]
    }
    markdown = gl.metadata["column_lineage"].value
    assert "| amount | raw.journal.amount | aggregation | finance/gl.sql:4 |" in markdown
    assert "| amount | raw.journal.amount | direct | finance/gl2.sql:2 |" in markdown
    references = gl.metadata["dagster/code_references"].code_references
    assert [(r.file_path, r.line_number) for r in references] == [
        ("/srv/sql/finance/gl.sql", 4),
        ("/srv/sql/finance/gl2.sql", 2),
    ]
    raw = specs[dg.AssetKey(["raw", "journal"])]
    assert "dagster/code_references" not in raw.metadata
    assert "dagster/column_lineage" not in raw.metadata


@pytest.mark.parametrize("uri", [None, "bolt://127.0.0.1:1"])
def test_code_location_loads_fast_without_neo4j(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, uri: str | None
) -> None:
    if uri is None:
        monkeypatch.delenv("NEO4J_URI", raising=False)
    else:
        monkeypatch.setenv("NEO4J_URI", uri)
    started = time.perf_counter()
    with scoped_definitions_load_context():
        loaded = defs()
    assert time.perf_counter() - started < 5
    assert set(loaded.resolve_asset_graph().get_all_asset_keys()) == PIPELINE_KEYS
    assert loaded.resolve_job_def("ingest_sql_job")
    assert loaded.resolve_sensor_def("sql_folder_sensor")
    assert "the warehouse's tables are not shown as assets" in caplog.text


def test_rebuild_uses_the_kept_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_fetch() -> Catalog:
        raise AssertionError("a rebuild must not query Neo4j")

    monkeypatch.setattr(warehouse, "fetch_catalog", no_fetch)
    # A fresh load context first: Dagster leaves the context of an earlier in-process load set
    # process-wide, and its metadata would take precedence over this test's.
    with (
        scoped_definitions_load_context(),
        scoped_reconstruction_metadata({CATALOG_STATE_KEY: catalog_to_json(CATALOG)}),
    ):
        loaded = defs()
    keys = set(loaded.resolve_asset_graph().get_all_asset_keys())
    assert dg.AssetKey(["finance", "gl_balances"]) in keys and keys > PIPELINE_KEYS


def test_initial_load_keeps_the_catalog_for_rebuilds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(warehouse, "fetch_catalog", lambda: CATALOG)
    with scoped_definitions_load_context() as context:
        loaded = defs()
        pending = context.get_pending_reconstruction_metadata()
    assert pending[CATALOG_STATE_KEY] == catalog_to_json(CATALOG)
    assert loaded.metadata[CATALOG_STATE_KEY].value == catalog_to_json(CATALOG)
