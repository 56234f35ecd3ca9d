import time

import dagster as dg

from lineage_dagster.assets import lineage_graph
from lineage_dagster.config import FeatureFlags, LoadConfig
from lineage_dagster.files import FailedFile
from lineage_dagster.graph.load import graph_rows, sync_files
from lineage_dagster.metrics import load_metrics
from lineage_dagster.ops.parse import ParsedBatch
from lineage_dagster.parsing import EXTRACTOR_VERSION
from lineage_dagster.parsing.models import FileLineage
from lineage_dagster.planning import group_by_size
from lineage_dagster.resources import MetricsResource, Neo4jResource
from lineage_dagster.resources.neo4j_resource import NEO4J_RETRY_POLICY


@dg.op(retry_policy=NEO4J_RETRY_POLICY)
def load_lineage(
    context: dg.OpExecutionContext,
    config: LoadConfig,
    parsed: list[ParsedBatch],
    deleted: list[str],
    neo4j: Neo4jResource,
    feature_flags: FeatureFlags,
    prometheus: MetricsResource,
) -> dict[str, int]:
    """Replace the changed files' lineage in Neo4j and remove the deleted files' lineage.

    Files are replaced whole inside one transaction per group of files, so a failure or a
    retry never leaves a file half-loaded; re-running converges on the same graph.
    """
    lineage = [item for batch in parsed for item in batch.lineage]
    failed = [item for batch in parsed for item in batch.failed]
    if feature_flags.neo4j_batch:
        files_per_tx, rows_per_query = config.files_per_transaction, None
    else:
        # The plain path: one file per transaction and one query per node or relationship.
        files_per_tx, rows_per_query = 1, 1
    items: list[FileLineage | FailedFile] = sorted([*lineage, *failed], key=_path)
    sizes = [graph_rows(item) if isinstance(item, FileLineage) else 1 for item in items]
    # Bounded groups keep each transaction within Neo4j's transaction memory limit; deleted
    # files travel in groups of their own.
    groups: list[tuple[list[FileLineage | FailedFile], list[str]]] = [
        ([items[i] for i in group], [])
        for group in group_by_size(
            sizes, max_items=files_per_tx, max_size=config.rows_per_transaction
        )
    ] + [([], deleted[i : i + files_per_tx]) for i in range(0, len(deleted), files_per_tx)]
    totals = dict.fromkeys(
        ("files_loaded", "files_deleted", "statements", "relationships", "transactions"), 0
    )
    write_seconds: list[float] = []
    with neo4j.get_session() as session:
        for group, deleted_group in groups:
            started = time.perf_counter()
            summary = sync_files(
                session,
                [item for item in group if isinstance(item, FileLineage)],
                failed=[item for item in group if isinstance(item, FailedFile)],
                deleted_paths=deleted_group,
                extractor_version=EXTRACTOR_VERSION,
                batch_size=config.batch_size,
                rows_per_query=rows_per_query,
            )
            write_seconds.append(time.perf_counter() - started)
            for key in totals:
                totals[key] += getattr(summary, key)
    failures = [
        {"path": f.path, "line": f.line, "column": f.column, "message": f.message} for f in failed
    ] + [
        {
            "path": item.path,
            "line": stmt.error.line,
            "column": stmt.error.column,
            "message": stmt.error.message,
        }
        for item in lineage
        for stmt in item.errors
        if stmt.error is not None
    ]
    files_failed = len({failure["path"] for failure in failures})
    metadata = {
        **totals,
        "files_failed": files_failed,
        "cache_hits": sum(batch.cache_hits for batch in parsed),
        "cache_misses": sum(batch.cache_misses for batch in parsed),
        "failed_files": dg.MetadataValue.json(failures),
    }
    context.add_output_metadata(metadata)
    # The catalog and the asset lineage view show each folder's load history.
    context.log_event(
        dg.AssetMaterialization(
            asset_key=lineage_graph.key, partition=context.partition_key, metadata=metadata
        )
    )
    if feature_flags.metrics:
        metrics = load_metrics(
            write_seconds=write_seconds,
            relationships=totals["relationships"],
            files_deleted=totals["files_deleted"],
            failed_files=files_failed,
        )
        prometheus.push(context, metrics, step="load")
    return totals


def _path(item: FileLineage | FailedFile) -> str:
    return item.path or ""
