"""Run the ingest job the way production does: a real instance, reconstructable, and by
default the multiprocess executor (forkserver)."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from lineage_dagster.definitions import defs, resolved_ingest_job
from lineage_dagster.defs.executors import execution_config
from lineage_dagster.defs.partitions import SOURCE_PARTITIONS_NAME
from lineage_dagster.defs.resources import SqlParserResource, SqlSourceResource
from lineage_dagster.sources.file_access import DEFAULT_READ_TIMEOUT_SECONDS


@dataclass(frozen=True)
class IngestRun:
    success: bool
    run_id: str
    load_metadata: dict[str, Any]
    step_failures: dict[str, str]


ALL_ON = {"parse_cache": True, "batching": True, "neo4j_batch": True, "metrics": False}


def ingest(
    instance: dg.DagsterInstance,
    sql_root: Path,
    partition: str,
    *,
    flags: dict[str, bool] | None = None,
    parallel: bool = True,
    executor: str = "multiprocess",
    step_storage_dir: Path | None = None,
    cache_path: Path | None = None,
    full_refresh: bool = False,
    raise_on_error: bool = True,
    metrics_gateway: str | None = None,
    neo4j_config: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
    plan: dict[str, Any] | None = None,
) -> IngestRun:
    """Run one partition of the ingest job on ``instance``.

    ``metrics_gateway`` points the run's metrics at that Pushgateway (they are pushed only when
    the ``metrics`` flag is on); ``neo4j_config`` overrides Neo4jResource fields such as ``uri``;
    ``plan`` adds to the plan step's config (e.g. ``min_batch_bytes``); ``executor`` names the
    parallel executor (``multiprocess`` or ``celery``) and ``step_storage_dir`` the IO manager's
    folder, which Celery workers must reach.
    """
    if not instance.has_dynamic_partition(SOURCE_PARTITIONS_NAME, partition):
        instance.add_dynamic_partitions(SOURCE_PARTITIONS_NAME, [partition])
    resources: dict[str, Any] = {
        "sql_source": {"config": {"root": str(sql_root)}},
        "feature_flags": {"config": {**ALL_ON, **(flags or {})}},
    }
    if cache_path is not None:
        resources["sql_parser"] = {"config": {"cache_path": str(cache_path)}}
    if metrics_gateway is not None:
        resources["prometheus"] = {"config": {"gateway": metrics_gateway}}
    if step_storage_dir is not None:
        resources["io_manager"] = {"config": {"base_dir": str(step_storage_dir)}}
    if neo4j_config is not None:
        resources["neo4j"] = {"config": neo4j_config}  # never credentials: those stay EnvVars
    run_config = {
        "execution": execution_config(parallel=parallel, kind=executor, max_concurrent=2),
        "resources": resources,
        "ops": {
            "plan_sql_files": {
                "config": {"full_refresh": full_refresh, "workers": 2, **(plan or {})}
            }
        },
    }
    with dg.execute_job(
        dg.reconstructable(resolved_ingest_job),
        instance=instance,
        run_config=run_config,
        tags={"dagster/partition": partition, **(tags or {})},
        raise_on_error=raise_on_error,
    ) as result:
        failures = {
            event.step_key: event.step_failure_data.error.to_string()
            for event in result.all_events
            if event.event_type_value == "STEP_FAILURE"
        }
        return IngestRun(
            result.success, result.run_id, _step_metadata(result, "load_lineage"), failures
        )


def _step_metadata(result: Any, step_key: str) -> dict[str, Any]:
    for event in result.all_events:
        if event.step_key == step_key and event.event_type_value == "STEP_OUTPUT":
            return {key: value.value for key, value in event.step_output_data.metadata.items()}
    return {}


def sensor_context(
    instance: dg.DagsterInstance,
    root: Path,
    cursor: str | None = None,
    *,
    read_timeout_seconds: float = DEFAULT_READ_TIMEOUT_SECONDS,
) -> dg.SensorEvaluationContext:
    """The folder sensor's context on ``root``, with the code location's definitions and the
    resources the sensor takes; use it as a context manager."""
    return dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        definitions=defs(),
        resources={
            "sql_source": SqlSourceResource(
                root=str(root), read_timeout_seconds=read_timeout_seconds
            ),
            "sql_parser": SqlParserResource(),
        },
    )
