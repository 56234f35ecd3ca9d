"""The run launcher of the instances the project writes: Dagster's default launcher, plus a health
check of each run's worker process, so that Dagster's run monitoring fails a run whose process
died (SIGKILL, out of memory) instead of leaving it STARTED, which would keep every later run of
its folder queued behind it (one run per folder at a time).

Every run records the PID of the process executing it in an engine event: "Started process for
run" for runs launched through a code server, the executor's first event for runs of
``lineage-dagster ingest`` and ``execute_job``. The check assumes that process runs on this
machine, which holds for the default launcher and the CLI.

Enable it in ``dagster.yaml`` (``lineage-dagster dev`` and ``ingest`` write this)::

    run_launcher:
      module: lineage_dagster.defs.run_launcher
      class: LocalRunLauncher
    run_monitoring:
      enabled: true
"""

import time
from collections.abc import Iterable, Sequence

import dagster as dg
import psutil
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus

# A run records its worker's PID right after RUN_START; one that recorded none this long after
# starting died before it could.
PID_GRACE_SECONDS = 60.0
IN_PROGRESS = (dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED)


class LocalRunLauncher(dg.DefaultRunLauncher):
    """Dagster's default run launcher, able to tell whether a run's worker process still lives."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        return run_worker_health(self._instance, run.run_id)


def run_worker_health(instance: dg.DagsterInstance, run_id: str) -> CheckRunHealthResult:
    """Whether the process executing ``run_id`` is alive (RUNNING) or gone (FAILED)."""
    record = instance.get_run_record_by_id(run_id)
    started = record.start_time if record is not None else None
    pid = _worker_pid(instance, run_id)
    if pid is None:
        if started is not None and time.time() - started > PID_GRACE_SECONDS:
            return CheckRunHealthResult(
                WorkerStatus.FAILED, f"no worker process recorded {PID_GRACE_SECONDS:.0f} s in"
            )
        return CheckRunHealthResult(WorkerStatus.RUNNING, "starting")
    try:
        process = psutil.Process(pid)
        # A process created after the run started is another one that reused the PID.
        alive = process.status() != psutil.STATUS_ZOMBIE and (
            started is None or process.create_time() <= started + 1
        )
    except psutil.NoSuchProcess:
        alive = False
    if alive:
        return CheckRunHealthResult(WorkerStatus.RUNNING, f"pid {pid}", run_worker_id=str(pid))
    return CheckRunHealthResult(
        WorkerStatus.FAILED, f"its process (pid {pid}) is gone", run_worker_id=str(pid)
    )


def fail_dead_runs(instance: dg.DagsterInstance, partitions: Iterable[str]) -> Sequence[str]:
    """Mark failed the in-progress runs of ``partitions`` whose process is gone; return their
    IDs. What run monitoring does on its next poll, for commands that run without the daemon."""
    wanted = set(partitions)
    failed = []
    for run in instance.get_runs(dg.RunsFilter(statuses=list(IN_PROGRESS))):
        if run.tags.get("dagster/partition") not in wanted:
            continue
        health = run_worker_health(instance, run.run_id)
        if health.status == WorkerStatus.FAILED:
            instance.report_run_failed(run, f"Marked failed: {health.msg}.")
            failed.append(run.run_id)
    return failed


def _worker_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The PID in the run's first run-level engine event that records one."""
    connection = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ENGINE_EVENT, limit=20
    )
    for event_record in connection.records:
        event = event_record.event_log_entry.dagster_event
        if event is None or event.step_key is not None:
            continue
        pid = event.engine_event_data.metadata.get("pid")
        if pid is not None:
            return int(str(pid.value))
    return None
