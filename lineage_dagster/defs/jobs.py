from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg

from lineage_dagster.defs.executors import execution_config, lineage_executor
from lineage_dagster.defs.ops.load import load_lineage
from lineage_dagster.defs.ops.parse import parse_sql_batch
from lineage_dagster.defs.ops.plan import plan_sql_files
from lineage_dagster.defs.partitions import source_partitions_def
from lineage_dagster.defs.resources import FEATURE_FLAGS_KEY, SQL_SOURCE_KEY
from lineage_dagster.defs.settings import FLAG_DEFAULTS, FLAG_WARNING, INVALID_FLAG_VARIABLES
from lineage_dagster.settings.flags import EXECUTOR_FLAG, FLAG_ENV_VARS


def ingest_run_config(
    root: Path,
    flags: Mapping[str, bool],
    *,
    full_refresh: bool = False,
    max_concurrent: int | None = None,
    log_level: str = "WARNING",
) -> dict[str, Any]:
    """Run config of one ingest run: SQL root, every flag, executor chosen by ``parallel`` (and
    ``LINEAGE_EXECUTOR`` for which parallel one)."""
    # A run's resource config replaces the resource's whole config: set every flag.
    resource_flags = [name for name in FLAG_ENV_VARS if name != EXECUTOR_FLAG]
    return {
        "execution": execution_config(parallel=flags[EXECUTOR_FLAG], max_concurrent=max_concurrent),
        "resources": {
            SQL_SOURCE_KEY: {"config": {"root": str(root)}},
            FEATURE_FLAGS_KEY: {"config": {name: flags[name] for name in resource_flags}},
        },
        "ops": {plan_sql_files.name: {"config": {"full_refresh": full_refresh}}},
        "loggers": {"console": {"config": {"log_level": log_level}}},
    }


INVALID_FLAGS_TAG = "lineage/invalid_flags"
"""Run tag naming the FEATURE_* variables that hold an invalid value (set only when some do)."""

_DESCRIPTION = (
    "Parse the new, changed and deleted SQL files of one source folder and bring its lineage in "
    "Neo4j up to date."
)

DEFAULT_EXECUTION = execution_config(parallel=FLAG_DEFAULTS[EXECUTOR_FLAG])
# The project's executor (run config picks in-process, multiprocess or Celery), its default set
# by the ``parallel`` flag and LINEAGE_EXECUTOR: the launchpad shows it before a partition is
# chosen, and a run without run config uses it.
ingest_executor = lineage_executor.configured(
    lambda config: config,
    config_schema=dg.Field(
        lineage_executor.config_schema.config_type,
        default_value=DEFAULT_EXECUTION["config"],
        is_required=False,
    ),
)


@dg.job(
    partitions_def=source_partitions_def,
    executor_def=ingest_executor,
    # Each partition's default (the launchpad once a partition is chosen, sensors, backfills):
    # all five flags, the executor standing for ``parallel``, and a console that shows the ops'
    # own messages, not every Dagster event (the UI has them all).
    config={
        "execution": DEFAULT_EXECUTION,
        "resources": {
            FEATURE_FLAGS_KEY: {
                "config": {
                    name: FLAG_DEFAULTS[name] for name in FLAG_ENV_VARS if name != EXECUTOR_FLAG
                }
            }
        },
        "loggers": {"console": {"config": {"log_level": "INFO"}}},
    },
    # A bad FEATURE_* value is shown where operators look: the job's page and every run.
    tags={
        "lineage/kind": "ingest",
        **({INVALID_FLAGS_TAG: ",".join(INVALID_FLAG_VARIABLES)} if INVALID_FLAG_VARIABLES else {}),
    },
    description=f"WARNING: {FLAG_WARNING}.\n\n{_DESCRIPTION}" if FLAG_WARNING else _DESCRIPTION,
)
def ingest_sql_job() -> None:
    batches, in_load_step, deleted = plan_sql_files()
    load_lineage(batches.map(parse_sql_batch).collect(), in_load_step, deleted)
