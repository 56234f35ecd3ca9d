"""Where a run's steps execute: one process, parallel processes on one machine, or Celery workers.

The ingest job has one executor, ``lineage_executor``, whose run config selects ``in_process``,
``multiprocess`` (Dagster's, with forkserver) or ``celery`` (dagster-celery: each step a task on a
Celery worker, on any number of machines). The ``parallel`` flag keeps its meaning, parallel or
in-process; ``LINEAGE_EXECUTOR`` (read once in ``settings.py``) says which parallel executor a run
gets by default, so the launchpad, the sensor's runs and UI backfills follow the deployment.
"""

import os
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_celery import celery_executor

from lineage_dagster.defs.settings import CELERY_BACKEND_VARIABLE, EXECUTOR_KIND
from lineage_dagster.settings.environment import ENV_CELERY_BROKER_URL

# Modules the forkserver imports once, so a step process forked from it starts in ~0.15 s, not
# ~2 CPU-s: most of a step's start is importing Dagster and opening the instance's (SQLite)
# storage. The last one freezes what the others allocated (see freeze_preloaded.py).
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
    "lineage_dagster.defs.freeze_preloaded",
]

CELERY_SETTINGS: dict[str, Any] = {
    # A step's task is acknowledged when it ends, not when a worker takes it: the task of a worker
    # that dies (machine lost, SIGKILL) goes back to the queue once the broker's visibility
    # timeout has passed, and another worker runs the step again (every step is idempotent).
    "task_acks_late": True,
    # A step whose own process dies while its worker lives (e.g. killed for memory) fails the
    # run instead of being delivered again and again.
    "task_reject_on_worker_lost": False,
    # A worker takes one step at a time, so steps spread over the workers.
    "worker_prefetch_multiplier": 1,
    "broker_transport_options": {
        # Longer than the longest step: a task unacknowledged for longer is delivered again,
        # even if its worker is still running it.
        "visibility_timeout": 3600,
        # Live workers look for tasks of dead workers every 10 s.
        "unacked_restore_interval": 10,
        "unacked_restore_throttle": 1,
        # Publishing retries while the broker is briefly unreachable (dagster-celery's defaults).
        "max_retries": 3,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.5,
    },
}
"""The Celery settings of runs and workers (workers read them from the shipped
``docs/operations/celery/celery-worker.yaml``)."""

_EXECUTORS = {
    "in_process": dg.in_process_executor,
    "multiprocess": dg.multiprocess_executor,
    "celery": celery_executor,
}


def _requirements(config: Mapping[str, object]) -> list[dg.ExecutorRequirement]:
    return [] if "in_process" in config else list(dg.multiple_process_executor_requirements())


@dg.executor(
    name="lineage_executor",
    config_schema=dg.Field(
        dg.Selector(
            {kind: executor.config_schema.as_field() for kind, executor in _EXECUTORS.items()}
        ),
        default_value={"multiprocess": {}},
    ),
    requirements=_requirements,
)
def lineage_executor(init_context: dg.InitExecutorContext) -> dg.Executor:
    """In-process, multiprocess or Celery execution, chosen by run config (one key of three)."""
    ((kind, config),) = init_context.executor_config.items()
    assert isinstance(config, Mapping)
    chosen = _EXECUTORS[kind]
    return chosen.executor_creation_fn(  # type: ignore[misc]
        dg.InitExecutorContext(
            job=init_context.job,
            executor_def=chosen,
            executor_config=config,
            instance=init_context.instance,
        )
    )


def celery_config() -> dict[str, Any]:
    """The ``celery`` executor's config: broker and backend URLs read from the environment
    where the run executes (never written into run config), and ``CELERY_SETTINGS``."""
    return {
        "broker": {"env": ENV_CELERY_BROKER_URL},
        "backend": {"env": CELERY_BACKEND_VARIABLE},
        "config_source": CELERY_SETTINGS,
    }


def execution_config(
    *, parallel: bool, kind: str = EXECUTOR_KIND, max_concurrent: int | None = None
) -> dict[str, Any]:
    """Run config of ``lineage_executor``: in-process unless ``parallel``, else ``kind``
    (``multiprocess`` or ``celery``; ``max_concurrent`` applies to multiprocess, Celery's
    parallelism is its workers' concurrency)."""
    if not parallel:
        return {"config": {"in_process": {}}}
    if kind == "celery":
        return {"config": {"celery": celery_config()}}
    return {
        "config": {
            "multiprocess": {
                "max_concurrent": max_concurrent or os.cpu_count() or 1,
                "start_method": {"forkserver": {"preload_modules": PRELOAD_MODULES}},
            }
        }
    }
