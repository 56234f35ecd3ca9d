import os
from collections.abc import Mapping
from typing import Any

import dagster as dg

from lineage_dagster.flags import flag_defaults
from lineage_dagster.ops.ingest import plan_sql_files
from lineage_dagster.ops.load import load_lineage
from lineage_dagster.ops.parse import parse_sql_batch
from lineage_dagster.partitions import source_partitions_def

# Modules each forkserver child imports once, so a step process starts in ~0.2 s, not ~2 CPU-s:
# two thirds of a step's start is opening the instance's (SQLite) storage.
PRELOAD_MODULES = [
    "dagster",
    "lineage_dagster.definitions",
    "sqlalchemy",
    "alembic",
    "dagster._core.storage.runs.sqlite",
    "dagster._core.storage.event_log.sqlite",
    "dagster._core.storage.schedules.sqlite",
    "dagster._core.storage.sqlite_storage",
    "sqlglot",
    "neo4j",
]


def execution_config(*, parallel: bool, max_concurrent: int | None = None) -> dict[str, Any]:
    """Run config of the default executor: ``parallel`` picks multiprocess or in-process."""
    if not parallel:
        return {"config": {"in_process": {}}}
    return {
        "config": {
            "multiprocess": {
                "max_concurrent": max_concurrent or os.cpu_count() or 1,
                "start_method": {"forkserver": {"preload_modules": PRELOAD_MODULES}},
            }
        }
    }


def default_run_config(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """The launchpad default: executor from the ``parallel`` flag (FEATURE_PARALLEL)."""
    parallel, _source = flag_defaults(environ)["parallel"]
    return {"execution": execution_config(parallel=parallel)}


@dg.job(
    partitions_def=source_partitions_def,
    config=default_run_config(),
    tags={"lineage/kind": "ingest"},
    description="Parse the new, changed and deleted SQL files of one source folder and bring "
    "its lineage in Neo4j up to date.",
)
def ingest_sql_job() -> None:
    batches, deleted = plan_sql_files()
    load_lineage(batches.map(parse_sql_batch).collect(), deleted)
