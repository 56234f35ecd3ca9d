from contextlib import nullcontext
from typing import Any

import dagster as dg
from pydantic import Field

from lineage_dagster.defs.assets import EVERY_FILE_PARSED, every_file_parsed_outcome, lineage_graph
from lineage_dagster.defs.ops.parse import (
    ParsedBatch,
    cache_metadata,
    coverage_metadata,
    parse_batch,
)
from lineage_dagster.defs.resources import (
    DagsterWebserverResource,
    FeatureFlagsResource,
    Neo4jResource,
    PushgatewayResource,
    SqlParserResource,
    SqlSourceResource,
)
from lineage_dagster.defs.resources.neo4j_resource import NEO4J_RETRY_POLICY
from lineage_dagster.graph.load import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_FILES_PER_TRANSACTION,
    DEFAULT_ROWS_PER_TRANSACTION,
    get_failed_files,
    load_files_concurrently,
)
from lineage_dagster.monitoring.run_metrics import (
    StepMetrics,
    load_metrics,
    peak_rss_mb,
)
from lineage_dagster.parsing import EXTRACTOR_VERSION
from lineage_dagster.sources.planning import ParseBatch

FILES_FAILED_TAG = "lineage/files_failed"
"""Tag of a run in which files failed to parse: how many."""


class LoadConfig(dg.Config):
    """How lineage is written to Neo4j."""

    batch_size: int = Field(default=DEFAULT_BATCH_SIZE, description="Rows per UNWIND query.")
    files_per_transaction: int = Field(
        default=DEFAULT_FILES_PER_TRANSACTION,
        description="Files replaced per write transaction at most (a file is always replaced "
        "whole, in one transaction).",
    )
    rows_per_transaction: int = Field(
        default=DEFAULT_ROWS_PER_TRANSACTION,
        description="Nodes and relationships written per transaction at most, so a transaction "
        "stays within Neo4j's transaction memory; a larger file gets a transaction of its own.",
    )
    transactions: int = Field(
        default=2,
        description="Write transactions at a time, each on a session of its own (Neo4j runs a "
        "transaction's queries on one core); 1 writes them one after another. With neo4j_batch "
        "off, always 1.",
    )


@dg.op(retry_policy=NEO4J_RETRY_POLICY)
def load_lineage(
    context: dg.OpExecutionContext,
    config: LoadConfig,
    parsed: list[ParsedBatch],
    in_load_step: ParseBatch,
    deleted: list[str],
    sql_source: SqlSourceResource,
    sql_parser: SqlParserResource,
    neo4j: Neo4jResource,
    feature_flags: FeatureFlagsResource,
    prometheus: PushgatewayResource,
    webserver: DagsterWebserverResource,
) -> dict[str, int]:
    """Replace the changed files' lineage in Neo4j and remove the deleted files' lineage.

    The lineage comes from the parse steps and, for the ``in_load_step`` files, from the parse
    cache or a parse here (files too few for a parse step, or gone from the cache since the
    plan). Files are replaced whole
    inside one transaction per group of files, so a failure or a retry never leaves a file
    half-loaded; re-running converges on the same graph. When the graph changed, the code
    location is reloaded, so its table assets show the change.
    """
    # Off, the plain path: one file per transaction and one query per node or relationship.
    batched = feature_flags.neo4j_batch
    tracking = (
        prometheus.step_running(context, step="load")
        if feature_flags.metrics
        else nullcontext(StepMetrics())
    )
    with tracking as step_metrics:
        if in_load_step.files:
            here = parse_batch(
                in_load_step, sql_source, sql_parser, use_cache=feature_flags.parse_cache
            )
            parsed = [*parsed, here]
            here.log_failures(context)
            if feature_flags.metrics:
                step_metrics.include(here.metrics())
        lineage = [item for batch in parsed for item in batch.lineage]
        report = load_files_concurrently(
            neo4j.get_session,
            lineage,
            deleted,
            transactions=config.transactions if batched else 1,
            extractor_version=EXTRACTOR_VERSION,
            files_per_transaction=config.files_per_transaction if batched else 1,
            rows_per_transaction=config.rows_per_transaction,
            batch_size=config.batch_size,
            rows_per_query=None if batched else 1,
        )
        with neo4j.get_session() as session:
            failed_in_graph = get_failed_files(session)
        totals = {
            "files_loaded": report.files_loaded,
            "files_deleted": report.files_deleted,
            "statements": report.statements,
            "relationships": report.relationships,
            "transactions": report.transactions,
        }
        metadata: dict[str, Any] = {
            **totals,
            "files_failed": report.files_failed,
            "neo4j_write_seconds": round(report.wall_seconds, 3),
            "peak_rss_mb": round(peak_rss_mb(), 1),
            **cache_metadata(
                sum(batch.cache_hits for batch in parsed),
                sum(batch.cache_misses for batch in parsed),
                feature_flags.parse_cache,
            ),
            "failed_files": dg.MetadataValue.json(list(report.failed_files)),
            **coverage_metadata(lineage),
        }
        context.add_output_metadata(metadata)
        # The catalog and the asset lineage view show each folder's load history.
        context.log_event(
            dg.AssetMaterialization(
                asset_key=lineage_graph.key, partition=context.partition_key, metadata=metadata
            )
        )
        # A run with a failed file still succeeds (the rest is loaded): the tag marks it in the
        # runs list, the failing check marks the asset in the catalog and the asset graph.
        if report.files_failed:
            context.instance.add_run_tags(
                context.run_id, {FILES_FAILED_TAG: str(report.files_failed)}
            )
        # log_event records check evaluations too; its type hint lags behind.
        context.log_event(
            dg.AssetCheckEvaluation(  # type: ignore[arg-type]
                asset_key=lineage_graph.key,
                check_name=EVERY_FILE_PARSED,
                **every_file_parsed_outcome(failed_in_graph),
            )
        )
        if feature_flags.metrics:
            step_metrics.include(
                load_metrics(
                    write_seconds=report.write_seconds,
                    relationships=report.relationships,
                    files_deleted=report.files_deleted,
                    failed_files=report.files_failed,
                )
            )
    if report.files_loaded or report.files_deleted:
        webserver.reload_code_location(context)
    return totals
