import os
from collections.abc import Iterator
from dataclasses import replace

import dagster as dg
from pydantic import Field

from lineage_dagster.defs.assets import sql_files
from lineage_dagster.defs.resources import (
    FeatureFlagsResource,
    Neo4jResource,
    SqlParserResource,
    SqlSourceResource,
)
from lineage_dagster.defs.resources.neo4j_resource import NEO4J_RETRY_POLICY
from lineage_dagster.graph.load import (
    ensure_constraints,
    get_loaded_files,
    get_stale_partitions,
)
from lineage_dagster.parsing import EXTRACTOR_VERSION
from lineage_dagster.sources.files import SourceFile, partition_of
from lineage_dagster.sources.planning import ParseBatch, diff_files, plan_parse_batches

FULL_REFRESH_TAG = "lineage/full_refresh"
"""A run tagged ``lineage/full_refresh=true`` re-loads every file (UI backfills can set tags)."""


class PlanConfig(dg.Config):
    """What the planning step of an ingest run considers."""

    full_refresh: bool = Field(
        default=False,
        description="Re-load every file of the partition, not only new, changed and deleted ones "
        "(a run tagged lineage/full_refresh=true does the same: UI backfills can set tags).",
    )
    batches_per_worker: int = Field(
        default=3, description="Parse batches per worker process at most (2-4 balances load)."
    )
    min_batch_bytes: int = Field(
        default=512 * 1024,
        description="Smallest parse batch worth a step of its own, in bytes of SQL to parse "
        "(a step process takes a fraction of a second to start; parsing runs at ~2.5 MB/s); "
        "less than that in all is parsed by the load step.",
    )
    workers: int | None = Field(
        default=None, description="Worker processes to plan for; defaults to the CPU count."
    )


@dg.op(
    retry_policy=NEO4J_RETRY_POLICY,
    out={
        "batches": dg.DynamicOut(ParseBatch, description="Files for one parse step."),
        "in_load_step": dg.Out(
            ParseBatch,
            description="Files with no parse step: the load step reads their lineage from the "
            "parse cache, or parses them itself when they are too few to be worth a step.",
        ),
        "deleted": dg.Out(list[str], description="Files whose lineage is removed."),
    },
)
def plan_sql_files(
    context: dg.OpExecutionContext,
    config: PlanConfig,
    sql_source: SqlSourceResource,
    sql_parser: SqlParserResource,
    neo4j: Neo4jResource,
    feature_flags: FeatureFlagsResource,
) -> Iterator[dg.DynamicOutput | dg.Output]:
    """Compare the partition's folder with the graph and fan the changed files out in batches;
    those whose lineage is in the parse cache, and a remainder smaller than one batch worth a
    step (``min_batch_bytes``, e.g. the one file a sensor saw change), go to the load step."""
    partition = context.partition_key
    # UI backfills cannot pass run config, but they can set tags.
    full_refresh = config.full_refresh or context.run.tags.get(FULL_REFRESH_TAG) == "true"
    parser = sql_parser.source_parser(sql_source)
    schema = None
    if sql_parser.corpus_schema:
        # Every partition's declarations: a file here may read a table defined in another.
        everything, all_unreadable = sql_source.scan()
        schema = sql_parser.plan_schema(parser, everything, use_cache=feature_flags.parse_cache)
        files = [file for file in everything if partition_of(file.path) == partition]
        # A folder's error ends with "/": "risk/" is partition risk's own folder.
        unreadable = [e for e in all_unreadable if partition_of(f"{e.path}_") == partition]
        parser = sql_parser.source_parser(sql_source, schema_digest=schema.digest)
    else:
        files, unreadable = sql_source.scan(partition)
    with neo4j.get_session() as session:
        ensure_constraints(session)
        loaded = get_loaded_files(session, partition)
        if schema is not None:
            sql_parser.clear_stale(partition)
            if sql_parser.schema_changed:
                # Files of other partitions may have read a table whose columns changed.
                stale = get_stale_partitions(session, partition, schema)
                sql_parser.mark_stale(stale, schema)
                if stale:
                    context.log.info(
                        f"The folder's schema changed: {sorted(stale)} will be re-extracted"
                    )
    changes = diff_files(
        files,
        loaded,
        extractor_version=EXTRACTOR_VERSION,
        full_refresh=full_refresh,
        unreadable=[error.path for error in unreadable],
        schema=schema,
    )
    folders = [error for error in unreadable if error.path.endswith("/")]
    for folder in folders:
        context.log.warning(f"{folder.path}: {folder.message}; its files are kept as they were")
    # Unreadable files go through parsing too, which reports them with their error (not read
    # again: a file on a hung mount would cost a second timeout).
    work = [
        *changes.to_load,
        *(
            SourceFile(error.path, 0, 0, "", error=error.message)
            for error in unreadable
            if error not in folders
        ),
    ]
    cached: list[SourceFile] = []
    if feature_flags.parse_cache:
        cached = [f for f in work if f.sha256 and parser.is_cached(f.path, f.sha256)]
    hits = {file.path for file in cached}
    to_parse = [file for file in work if file.path not in hits]
    if feature_flags.batching:
        workers = config.workers or os.cpu_count() or 1
        batches = plan_parse_batches(
            to_parse,
            max_batches=workers * config.batches_per_worker,
            min_batch_bytes=config.min_batch_bytes,
        )
        if len(batches) == 1 and batches[0].size < config.min_batch_bytes:
            # Not worth a step process of its own: the load step parses it.
            batches = []
            cached = [*cached, *to_parse]
    else:
        batches = [ParseBatch(i, (file,), file.size) for i, file in enumerate(to_parse)]
    digest = schema.digest if schema is not None else ""
    batches = [replace(batch, schema=digest) for batch in batches]
    in_load_step = ParseBatch(len(batches), tuple(cached), sum(f.size for f in cached), digest)
    if not work and not changes.deleted and changes.unchanged:
        context.log.info(
            f"Partition {partition}: nothing to load, its {changes.unchanged} files are unchanged "
            "since their last load. Feature flags change how files are parsed and loaded, not "
            "which: full_refresh (or the lineage/full_refresh tag) re-parses and re-loads them."
        )
    context.log.info(
        f"Partition {partition}: {len(changes.to_load)} to load ({len(hits)} cached), "
        f"{len(changes.deleted)} deleted, {changes.unchanged} unchanged, {len(unreadable)} "
        f"unreadable; {len(batches)} batches"
    )
    context.add_output_metadata(
        {
            "files_to_load": len(changes.to_load),
            "files_deleted": len(changes.deleted),
            "files_unchanged": changes.unchanged,
            "files_unreadable": len(unreadable) - len(folders),
            "folders_unreadable": dg.MetadataValue.json([f.path for f in folders]),
            "files_cached": len(hits),
            "batches": len(batches),
            "schema_tables": len(schema) if schema is not None else 0,
        },
        output_name="deleted",
    )
    # The folder as this run read it: the asset graph shows each ingested folder as filled.
    context.log_event(
        dg.AssetMaterialization(
            asset_key=sql_files.key,
            partition=partition,
            metadata={
                "files": len(files),
                "bytes": sum(f.size for f in files),
                "files_unreadable": len(unreadable) - len(folders),
            },
        )
    )
    # With no batch the load step still runs (its collected input is empty).
    for batch in batches:
        yield dg.DynamicOutput(batch, mapping_key=batch.mapping_key, output_name="batches")
    yield dg.Output(in_load_step, output_name="in_load_step")
    yield dg.Output(list(changes.deleted), output_name="deleted")
