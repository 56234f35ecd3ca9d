"""The warehouse's tables as external assets, built from the lineage graph's catalog.

The catalog is read from Neo4j once, when the code location initialises, and kept with the code
location as reconstruction metadata (Dagster's state-backed definitions): run workers, step
processes and sensor ticks rebuild the same assets from that copy and never query Neo4j for it.
A reload of the code location (the UI's "Reload definitions", or ``load_lineage`` after a run
that changed the graph) reads it afresh. When Neo4j is unset, down or empty the location still
loads, without table assets, and says why in a warning.
"""

import hashlib
import logging
import os
import re
import time
import warnings
from pathlib import Path

import dagster as dg
import neo4j

# Not exported from the top-level package in 1.13; Dagster's own state-backed integrations
# (dagster-tableau, dagster-sigma, dagster-looker) use these same classes.
from dagster._core.definitions.definitions_load_context import (
    DefinitionsLoadContext,
    DefinitionsLoadType,
)

from lineage_dagster.graph.catalog import (
    Catalog,
    CatalogTable,
    acyclic_upstream,
    catalog_from_json,
    catalog_to_json,
    column_lineage_markdown,
    get_catalog,
)
from lineage_dagster.graph.driver import open_driver
from lineage_dagster.parsing.names import split_name
from lineage_dagster.settings.environment import (
    DEFAULT_NEO4J_USER,
    ENV_NEO4J_PASSWORD,
    ENV_NEO4J_URI,
    ENV_NEO4J_USER,
    ENV_SQL_ROOT,
)

logger = logging.getLogger(__name__)

CATALOG_STATE_KEY = "lineage_dagster/warehouse_catalog"
"""Reconstruction metadata key holding the catalog (JSON) the table assets were built from."""

CATALOG_CONNECTION_TIMEOUT_SECONDS = 3.0
"""Loading the code location waits this long for Neo4j, never retrying: the UI waits on it."""

MAX_LISTED_WRITERS = 10
"""Statements named in a description or linked as code references, at most, per table."""

SOURCE_KIND = "source"
TABLE_ROLE_TAG = "lineage/table_role"
DEFAULT_GROUP = "warehouse"

_NAME_PART = re.compile(r"[^A-Za-z0-9_]")


def table_asset_key(name: str, *, reserved: frozenset[str] = frozenset()) -> dg.AssetKey:
    """The asset key of a table: its name split into its parts (``raw."fx.spot"`` has two),
    each part made of ``[A-Za-z0-9_]``.

    Characters outside that set (quotes, spaces, ``/`` of COPY paths) become ``_``, and a part
    that had any gets a short hash of the whole name, so two names never share a key. A
    one-part name in ``reserved`` (the pipeline's own assets) gets the hash too.

    >>> table_asset_key("finance.gl_balances").path
    ['finance', 'gl_balances']
    >>> table_asset_key("s3://bucket/f.csv").path
    ['s3___bucket_f_f2371a82', 'csv']
    """
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    parts = []
    for part in split_name(name):
        clean = _NAME_PART.sub("_", part)
        parts.append(clean if clean and clean == part else f"{clean}_{digest}")
    if len(parts) == 1 and parts[0] in reserved:
        parts = [f"{parts[0]}_{digest}"]
    return dg.AssetKey(parts)


def group_name(table: CatalogTable) -> str:
    """The table's group: the source folder (partition) whose SQL writes it, else one that
    reads it; the first by name when several do."""
    writing = sorted({w.partition for w in table.writers if w.partition})
    partition = (writing or list(table.partitions) or [DEFAULT_GROUP])[0]
    return _NAME_PART.sub("_", partition) or DEFAULT_GROUP


def warehouse_asset_specs(
    catalog: Catalog, *, sql_root: Path | None = None, reserved: frozenset[str] = frozenset()
) -> list[dg.AssetSpec]:
    """One external ``AssetSpec`` per table of the catalog.

    Args:
        catalog: The tables to show.
        sql_root: The watched folder, to turn the files' relative paths into absolute ones for
            the code references; relative paths are kept when it is unknown.
        reserved: Asset keys taken by the pipeline's own assets.
    """
    keys = {table.name: table_asset_key(table.name, reserved=reserved) for table in catalog.tables}
    upstream = acyclic_upstream(catalog)
    with warnings.catch_warnings():
        # Code references are "beta" in 1.13: no news worth a warning per table on every load.
        warnings.simplefilter("ignore", dg.BetaWarning)
        return [
            _table_spec(table, keys, upstream[table.name], sql_root) for table in catalog.tables
        ]


def _table_spec(
    table: CatalogTable,
    keys: dict[str, dg.AssetKey],
    upstream: tuple[str, ...],
    sql_root: Path | None,
) -> dg.AssetSpec:
    dialects = {w.dialect for w in table.writers if w.dialect}
    kinds = {SOURCE_KIND} if table.is_source else set(sorted(dialects)[:9]) or {"sql"}
    metadata: dict[str, object] = {
        "dagster/table_name": table.name,
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(column.name, type="unknown") for column in table.columns]
        ),
        "column_lineage": dg.MetadataValue.md(column_lineage_markdown(table)),
        "partitions": ", ".join(table.partitions),
    }
    deps_by_column = {
        column.name: [
            dg.TableColumnDep(asset_key=keys[source_table], column_name=source_column)
            for source_table, source_column in dict.fromkeys(
                (source.table, source.column) for source in column.upstream
            )
            if source_table in keys
        ]
        for column in table.columns
        if column.upstream
    }
    if deps_by_column:
        metadata["dagster/column_lineage"] = dg.TableColumnLineage(deps_by_column=deps_by_column)
    if table.writers:
        metadata["dagster/code_references"] = dg.CodeReferencesMetadataValue(
            code_references=[
                dg.LocalFileCodeReference(
                    file_path=str(sql_root / w.file) if sql_root else w.file,
                    line_number=w.line,
                    label=f"{w.kind or 'statement'} at {w.file}:{w.line}",
                )
                for w in table.writers[:MAX_LISTED_WRITERS]
            ]
        )
    return dg.AssetSpec(
        key=keys[table.name],
        deps=[keys[name] for name in upstream if name in keys],
        description=_description(table, upstream),
        group_name=group_name(table),
        kinds=kinds,
        tags={TABLE_ROLE_TAG: SOURCE_KIND if table.is_source else "derived"},
        metadata=metadata,
    )


def _description(table: CatalogTable, upstream: tuple[str, ...]) -> str:
    if table.is_source:
        lines = [
            f"Source table `{table.name}`: no SQL in the watched folder writes it; "
            f"read by {', '.join(table.partitions) or 'no folder'}."
        ]
    else:
        lines = [f"Table `{table.name}`, written by:", ""]
        lines += [
            f"- {w.kind or 'statement'} at `{w.file}:{w.line}` ({w.dialect or 'unknown dialect'})"
            for w in table.writers[:MAX_LISTED_WRITERS]
        ]
        if len(table.writers) > MAX_LISTED_WRITERS:
            lines.append(f"- and {len(table.writers) - MAX_LISTED_WRITERS} more statements")
    dropped = sorted(set(table.upstream) - set(upstream))
    if dropped:
        lines += ["", f"Also fed by {', '.join(dropped)} (a cycle; not drawn in the graph)."]
    return "\n".join(lines)


def fetch_catalog() -> Catalog:
    """Read the catalog from the Neo4j of ``NEO4J_URI``; an empty one, with a warning, when
    that is unset or cannot be read within a few seconds."""
    uri = os.environ.get(ENV_NEO4J_URI, "").strip()
    if not uri:
        logger.warning(
            "%s is not set: the warehouse's tables are not shown as assets. Set it and reload "
            "the code location.",
            ENV_NEO4J_URI,
        )
        return Catalog()
    started = time.perf_counter()
    try:
        driver = open_driver(
            uri,
            os.environ.get(ENV_NEO4J_USER) or DEFAULT_NEO4J_USER,
            os.environ.get(ENV_NEO4J_PASSWORD, ""),
            max_transaction_retry_seconds=0,
            connection_timeout_seconds=CATALOG_CONNECTION_TIMEOUT_SECONDS,
        )
        with driver, driver.session() as session:
            catalog = get_catalog(session)
    except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError) as exc:
        logger.warning(
            "Could not read the lineage graph at %s (%s): the warehouse's tables are not shown "
            "as assets. The pipeline works as usual; reload the code location once Neo4j is up.",
            uri,
            exc,
        )
        return Catalog()
    if not catalog.tables:
        logger.warning(
            "The lineage graph at %s holds no tables yet: no table assets until a run loads "
            "some (each run that changes the graph reloads the code location).",
            uri,
        )
    else:
        logger.info(
            "Read %d tables from the lineage graph in %.2f s",
            len(catalog.tables),
            time.perf_counter() - started,
        )
    return catalog


def load_catalog() -> tuple[Catalog, str]:
    """The catalog of this code location and its JSON: the copy kept in its reconstruction
    metadata when Dagster rebuilds it (runs, steps), else read from Neo4j and kept for those
    rebuilds."""
    context = DefinitionsLoadContext.get()
    if (
        context.load_type == DefinitionsLoadType.RECONSTRUCTION
        and CATALOG_STATE_KEY in context.reconstruction_metadata
    ):
        state = context.reconstruction_metadata[CATALOG_STATE_KEY]
        return catalog_from_json(state), state
    catalog = fetch_catalog()
    state = catalog_to_json(catalog)
    context.add_to_pending_reconstruction_metadata(CATALOG_STATE_KEY, state)
    return catalog, state


def warehouse_definitions(reserved: frozenset[str] = frozenset()) -> dg.Definitions:
    """The table assets, with the catalog they were built from attached for reconstruction."""
    catalog, state = load_catalog()
    root = os.environ.get(ENV_SQL_ROOT, "").strip()
    specs = warehouse_asset_specs(
        catalog, sql_root=Path(root).resolve() if root else None, reserved=reserved
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)  # "preview" in 1.13, used as designed
        return dg.Definitions(assets=specs).with_reconstruction_metadata({CATALOG_STATE_KEY: state})
