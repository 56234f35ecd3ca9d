"""``lineage-dagster ingest``: run the ingest job headless, one run per partition, for scripts/CI.

The runs go through the Dagster instance of DAGSTER_HOME (so they show in its UI) with the same
job, executor and resources as runs launched by the sensor or the launchpad.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from lineage_dagster.cli.connection import connect
from lineage_dagster.cli.flags import effective_flags
from lineage_dagster.cli.instance import prepare_dagster_home, with_python_log_level
from lineage_dagster.cli.output import UsageExit, format_option, format_table, on_off
from lineage_dagster.cli.processes import (
    EXIT_INTERRUPTED,
    die_with_parent,
    interrupt_on_sigterm,
    stop_descendants,
)
from lineage_dagster.settings.environment import (
    DEFAULT_NEO4J_USER,
    ENV_NEO4J_PASSWORD,
    ENV_NEO4J_USER,
)
from lineage_dagster.settings.flags import EXECUTOR_FLAG, FLAG_ENV_VARS, parse_flag
from lineage_dagster.sources.files import partition_key_problem, split_partitions

if TYPE_CHECKING:
    import dagster as dg

EXIT_OK = 0
EXIT_FILES_FAILED = 1
EXIT_RUN_FAILED = 3
INSTANCE_LOCK_FILE = ".lineage-ingest.lock"
# Tag of every run this command executes: the PID of the process executing it.
CLI_PID_TAG = "lineage/cli_pid"
# How long the partitions' processes get to stop their runs cleanly after a signal.
STOP_TIMEOUT_SECONDS = 20.0


DEFAULT_CONCURRENT_RUNS = 2 if (os.cpu_count() or 1) >= 4 else 1
"""Each run's parse steps already use every CPU: on 2 CPUs, two runs at a time took 20-30%
longer than one at a time (1,000 files, docs/performance.md); with more, overlapping one run's
Neo4j writes with another's parsing pays."""


@dataclass(frozen=True)
class PartitionRun:
    """The outcome of one ingest run, as the command reports it."""

    partition: str
    run_id: str
    status: str
    duration_seconds: float | None
    files_loaded: int | None = None
    files_deleted: int | None = None
    files_unchanged: int | None = None
    files_failed: int | None = None
    files_parsed: int | None = None
    cache_hits: int | None = None
    """None when the parse_cache flag is off (the cache was not asked), as ``cache_misses``."""
    cache_misses: int | None = None
    failed_files: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    interrupted: bool = False
    """Stopped by a signal to the command (the run is failed or canceled)."""

    @property
    def success(self) -> bool:
        return self.status == "SUCCESS"


def run_partition(
    instance: dg.DagsterInstance, partition: str, run_config: Mapping[str, Any]
) -> PartitionRun:
    """Run the ingest job for one partition on ``instance`` and summarise the run."""
    import dagster as dg
    from dagster._core.events import RunFailureReason

    from lineage_dagster.definitions import resolved_ingest_job
    from lineage_dagster.defs.ops.load import load_lineage
    from lineage_dagster.defs.ops.plan import plan_sql_files

    load_step, plan_step = load_lineage.name, plan_sql_files.name
    with dg.execute_job(
        dg.reconstructable(resolved_ingest_job),
        instance=instance,
        run_config=dict(run_config),
        tags={
            "dagster/partition": partition,
            "lineage/launched_by": "cli",
            CLI_PID_TAG: str(os.getpid()),
        },
        raise_on_error=False,
    ) as result:
        metadata: dict[str, dict[str, Any]] = {}
        errors = []
        interrupted = False
        for event in result.all_events:
            if event.event_type_value == "STEP_OUTPUT" and event.step_key in (load_step, plan_step):
                output = event.step_output_data
                metadata.setdefault(event.step_key, {}).update(
                    {key: value.value for key, value in output.metadata.items()}
                )
            elif event.event_type_value == "STEP_FAILURE":
                errors.append(f"{event.step_key}: {_root_cause(event.step_failure_data.error)}")
            elif event.event_type_value == "PIPELINE_FAILURE":
                reason = getattr(event.event_specific_data, "failure_reason", None)
                interrupted |= reason == RunFailureReason.UNEXPECTED_TERMINATION
                if not errors:
                    errors.append(event.message or "run failed")
        run_id, success = result.run_id, result.success
    run = instance.get_run_by_id(run_id)
    status = "SUCCESS" if success else "FAILURE"
    if run is not None and run.status == dg.DagsterRunStatus.CANCELED:
        status, interrupted = "CANCELED", True
    stats = instance.get_run_stats(run_id)
    duration = stats.end_time - stats.start_time if stats.start_time and stats.end_time else None
    load, plan = metadata.get(load_step, {}), metadata.get(plan_step, {})
    return PartitionRun(
        partition=partition,
        run_id=run_id,
        status=status,
        duration_seconds=round(duration, 2) if duration is not None else None,
        files_loaded=load.get("files_loaded"),
        files_deleted=load.get("files_deleted"),
        files_unchanged=plan.get("files_unchanged"),
        files_failed=load.get("files_failed"),
        files_parsed=load.get("files_parsed"),
        cache_hits=load.get("cache_hits"),
        cache_misses=load.get("cache_misses"),
        failed_files=list(load.get("failed_files") or []),
        errors=errors,
        interrupted=interrupted,
    )


@contextmanager
def open_instance(
    home: Path, partitions: Sequence[str], log_level: str = "WARNING"
) -> Iterator[dg.DagsterInstance]:
    """The instance of ``home``, with ``partitions`` added to the dynamic partitions, printing
    Dagster's own messages at ``log_level``. A new (empty) ``home`` gets the instance config.

    Opening an instance for the first time creates its SQLite databases; two commands doing
    that at once both stamp the schema version and leave the instance unusable ("more than one
    head"). An exclusive lock on a file in ``home`` makes concurrent commands take turns.
    """
    import dagster as dg

    from lineage_dagster.defs.partitions import SOURCE_PARTITIONS_NAME

    # Step processes find the instance (and the parse cache under it) through this variable.
    os.environ["DAGSTER_HOME"] = str(home)
    with open(home / INSTANCE_LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            prepare_dagster_home(home)
            # The first opening creates the storage, under the lock.
            with dg.DagsterInstance.get() as opened:
                instance = with_python_log_level(opened, log_level)
            known = set(instance.get_dynamic_partitions(SOURCE_PARTITIONS_NAME))
            new = [key for key in partitions if key not in known]
            if new:
                instance.add_dynamic_partitions(SOURCE_PARTITIONS_NAME, new)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    with instance:
        yield instance


def _root_cause(error: Any) -> str:
    """The innermost cause of a Dagster error (the op's own exception, not its wrapper)."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return (error.message or error.cls_name or "unknown error").strip()


def _child_options(
    flags: Mapping[str, bool],
    full_refresh: bool,
    max_concurrent: int | None,
    dagster_home: Path,
    log_level: str,
) -> list[str]:
    """The options of this command for one partition's child process, flags made explicit."""
    options = ["--dagster-home", str(dagster_home), "--log-level", log_level]
    options += [f"--flag={name}={on_off(value)}" for name, value in flags.items()]
    if full_refresh:
        options.append("--full-refresh")
    if max_concurrent is not None:
        options += ["--max-concurrent", str(max_concurrent)]
    return options


def _ingest_in_processes(
    path: Path, partitions: Sequence[str], options: Sequence[str], at_once: int
) -> list[PartitionRun]:
    """Ingest each partition in a child ``ingest`` process, ``at_once`` at a time.

    Runs of different partitions touch different files, so they may overlap (while one waits
    on Neo4j, another parses), but not in one process: Dagster sets up logging for each run it
    executes, which is not safe from two threads. Each child leads its own process group and
    gets SIGTERM when this process ends, even by SIGKILL; on Ctrl-C, SIGTERM or SIGHUP this
    process stops them (their runs end failed) and raises KeyboardInterrupt with the runs so
    far in its ``runs`` attribute.
    """
    children: dict[str, subprocess.Popen[str]] = {}
    stopping = threading.Event()
    lock = threading.Lock()
    done: dict[str, PartitionRun] = {}

    def run(partition: str) -> None:
        command = [sys.executable, "-m", "lineage_dagster.cli", "ingest", str(path)]
        command += ["--partition", partition, "--concurrent-runs", "1", "--format", "json"]
        command += ["--child-of", str(os.getpid())]
        with lock:
            if stopping.is_set():
                return
            click.echo(f"  {partition} ...", err=True)
            child = subprocess.Popen(
                [*command, *options], stdout=subprocess.PIPE, text=True, start_new_session=True
            )
            children[partition] = child
        stdout, _ = child.communicate()
        # Whatever the child left behind (its step processes, when it was killed) goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)
        try:
            [result] = json.loads(stdout)["runs"]
            done[partition] = PartitionRun(**result)
        except (ValueError, KeyError, TypeError):
            done[partition] = PartitionRun(
                partition, "", "FAILURE", None, errors=[f"ingest exited with {child.returncode}"]
            )

    pool = ThreadPoolExecutor(max_workers=at_once)
    futures = [pool.submit(run, partition) for partition in partitions]
    try:
        for future in futures:
            future.result()
    except KeyboardInterrupt as interrupt:
        with _signals_ignored():
            with lock:
                stopping.set()
            pool.shutdown(wait=False, cancel_futures=True)
            for child in children.values():
                with contextlib.suppress(ProcessLookupError):
                    child.send_signal(signal.SIGTERM)
            _wait_for_children(children.values(), STOP_TIMEOUT_SECONDS)
            pool.shutdown(wait=True)
        interrupt.runs = [done[p] for p in partitions if p in done]  # type: ignore[attr-defined]
        raise
    pool.shutdown(wait=True)
    return [done[partition] for partition in partitions]


def _wait_for_children(children: Iterable[subprocess.Popen[str]], timeout: float) -> None:
    """Wait up to ``timeout`` seconds for ``children`` to exit, then kill their groups."""
    deadline = time.monotonic() + timeout
    for child in list(children):
        try:
            child.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.pid, signal.SIGKILL)


def _run_here(
    instance: dg.DagsterInstance, partitions: Sequence[str], run_config: Mapping[str, Any]
) -> list[PartitionRun]:
    """Run the partitions one after the other in this process. On Ctrl-C, SIGTERM or SIGHUP,
    Dagster stops the running run's steps and fails it; then every process this one started is
    stopped, runs it left in progress are canceled, and KeyboardInterrupt is raised with the
    runs so far in its ``runs`` attribute."""
    import dagster as dg
    from dagster import DagsterInvalidConfigError

    runs: list[PartitionRun] = []
    try:
        for partition in partitions:
            click.echo(f"  {partition} ...", err=True)
            try:
                runs.append(run_partition(instance, partition, run_config))
            except DagsterInvalidConfigError as exc:
                raise UsageExit(f"Invalid run config: {exc}") from None
            if runs[-1].interrupted:
                raise KeyboardInterrupt
    except KeyboardInterrupt as interrupt:
        # A signal outside the run's execution (while it starts or ends) reaches no step:
        # stop what is left, and cancel what the run's own handling did not end.
        with _signals_ignored():
            stop_descendants()
            left = instance.get_runs(
                dg.RunsFilter(
                    statuses=[
                        dg.DagsterRunStatus.NOT_STARTED,
                        dg.DagsterRunStatus.STARTING,
                        dg.DagsterRunStatus.STARTED,
                    ],
                    tags={CLI_PID_TAG: str(os.getpid())},
                )
            )
            for run in left:
                instance.report_run_canceled(run, "lineage-dagster ingest was interrupted.")
        interrupt.runs = runs  # type: ignore[attr-defined]
        raise
    return runs


@contextmanager
def _signals_ignored() -> Iterator[None]:
    """Let a second Ctrl-C or SIGTERM not interrupt the clean-up of the first."""
    signums = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    saved = {signum: signal.signal(signum, signal.SIG_IGN) for signum in signums}
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


def exit_code(runs: Sequence[PartitionRun]) -> int:
    """3 if a run failed, 1 if a file failed in runs that succeeded, else 0."""
    if any(not run.success for run in runs):
        return EXIT_RUN_FAILED
    if any(run.failed_files or run.files_failed for run in runs):
        return EXIT_FILES_FAILED
    return EXIT_OK


def _parse_flag_option(
    ctx: click.Context, param: click.Parameter, values: Sequence[str]
) -> dict[str, bool]:
    overrides = {}
    for item in values:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in FLAG_ENV_VARS:
            raise click.BadParameter(
                f"{item!r}: expected NAME=on|off with NAME one of " + ", ".join(FLAG_ENV_VARS),
                ctx=ctx,
                param=param,
            )
        try:
            overrides[name] = parse_flag(value, name=name)
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    return overrides


def _select_partitions(root: Path, requested: Sequence[str]) -> list[str]:
    available, skipped = split_partitions(root)
    for key in skipped:
        click.echo(f"Skipping folder {key!r}: {partition_key_problem(key)}", err=True)
    if not requested:
        if not available:
            raise click.UsageError(f"{root} has no folders or SQL files to ingest")
        return available
    unknown = [key for key in requested if key not in available]
    if unknown:
        valid = ", ".join(available) or "none"
        raise click.UsageError(
            f"Unknown partition {', '.join(map(repr, unknown))} of {root}; valid: {valid}"
        )
    return list(dict.fromkeys(requested))


def _fail_dead_runs(instance: dg.DagsterInstance, partitions: Sequence[str]) -> None:
    """Mark failed the runs of ``partitions`` left in progress by a process that died (killed
    with SIGKILL): without the daemon's run monitoring they would stay STARTED for ever."""
    from lineage_dagster.defs.run_launcher import fail_dead_runs

    for run_id in fail_dead_runs(instance, partitions):
        click.echo(f"Marked run {run_id} failed: its process is gone.", err=True)


def _check_neo4j() -> None:
    """Fail before any run starts when Neo4j is misconfigured, down or refuses the login (a run
    would spend minutes in retries to report the same)."""
    connect("the Neo4j to load", retry_seconds=0).close()
    # The code location reads all three variables; the same defaults as `lineage`.
    os.environ.setdefault(ENV_NEO4J_USER, DEFAULT_NEO4J_USER)
    os.environ.setdefault(ENV_NEO4J_PASSWORD, "")


def _print_table(runs: Sequence[PartitionRun]) -> None:
    headers = ["PARTITION", "RUN ID", "STATUS", "LOADED", "DELETED", "UNCHANGED", "FAILED"]
    headers += ["CACHE HITS", "CACHE MISSES", "DURATION"]
    rows = [
        [
            run.partition,
            run.run_id,
            run.status,
            run.files_loaded,
            run.files_deleted,
            run.files_unchanged,
            run.files_failed,
            run.cache_hits,
            run.cache_misses,
            None if run.duration_seconds is None else f"{run.duration_seconds:.1f}s",
        ]
        for run in runs
    ]
    click.echo(format_table(headers, rows))
    failed_files = [item for run in runs for item in run.failed_files]
    if failed_files:
        # As many files as the FAILED column counts; a file may list several failed statements.
        click.echo(f"\nFailed files ({len({item['path'] for item in failed_files})}):")
        for item in failed_files:
            where = item["path"] + (f":{item['line']}" if item.get("line") else "")
            click.echo(f"  {where}: {item['message']}")
    failed_runs = [run for run in runs if not run.success]
    if failed_runs:
        click.echo(f"\nFailed runs ({len(failed_runs)}):")
        for run in failed_runs:
            click.echo(f"  {run.partition} ({run.run_id}):")
            for error in run.errors or ["see the run in the Dagster UI"]:
                click.echo("    " + error.replace("\n", "\n    "))


@click.command("ingest")
@click.argument(
    "path",
    type=click.Path(exists=True, file_okay=False, resolve_path=True, path_type=Path),
)
@click.option(
    "--partition",
    "-p",
    "partitions",
    multiple=True,
    help="Partition (top-level folder of PATH, `_root` for files directly in it) to ingest; "
    "repeat for several. Default: all.",
)
@click.option(
    "--flag",
    "flags",
    multiple=True,
    callback=_parse_flag_option,
    metavar="NAME=on|off",
    help="Override a feature flag for these runs (parse_cache, batching, neo4j_batch, parallel, "
    "metrics); repeatable. Unset flags come from FEATURE_* or their defaults.",
)
@click.option(
    "--full-refresh", is_flag=True, help="Reload every file, not only new and changed ones."
)
@click.option(
    "--max-concurrent",
    type=click.IntRange(min=1),
    default=None,
    help="Parallel step processes per run (multiprocess executor). Default: CPU count.",
)
@click.option(
    "--concurrent-runs",
    type=click.IntRange(min=1),
    default=DEFAULT_CONCURRENT_RUNS,
    show_default=True,
    help="Partitions ingested at the same time, each its own run in its own process "
    "(1 when the parallel flag is off). Default: 2 with 4 or more CPUs, else 1.",
)
@click.option(
    "--dagster-home",
    type=click.Path(exists=True, file_okay=False, resolve_path=True, path_type=Path),
    envvar="DAGSTER_HOME",
    show_envvar=True,
    help="Folder of the Dagster instance to run on.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="warning",
    show_default=True,
    help="Level of the run's log lines printed to stderr (the instance keeps them all).",
)
# Set by a parent ingest running partitions in child processes: this one ends with it.
@click.option("--child-of", type=int, hidden=True)
@format_option(what="Summary")
def ingest_command(
    path: Path,
    partitions: tuple[str, ...],
    flags: dict[str, bool],
    full_refresh: bool,
    max_concurrent: int | None,
    concurrent_runs: int,
    dagster_home: Path | None,
    log_level: str,
    child_of: int | None,
    output_format: str,
) -> None:
    """Ingest the SQL files of PATH into Neo4j: one run of the ingest job per partition.

    Each run loads the new and changed files of its partition and removes the lineage of
    deleted ones; runs are recorded on the Dagster instance of DAGSTER_HOME and show in its
    UI. Neo4j is reached through NEO4J_URI, NEO4J_USER and NEO4J_PASSWORD.

    \b
    Exit codes:
      0  every run succeeded and every file loaded
      1  every run succeeded, but some files failed to parse (listed with path and line)
      2  usage or configuration error (bad option, unknown partition, unset variable or a
         malformed NEO4J_URI)
      3  Neo4j cannot be reached or refuses the login (checked before any run starts), or a
         run failed; see its errors and the run in the UI
    130  interrupted by Ctrl-C, SIGTERM or SIGHUP: the runs in progress were stopped, with
         their step processes, and marked failed (the next run repairs the graph)
    """
    if child_of is not None:
        die_with_parent(child_of)
    interrupt_on_sigterm()
    if dagster_home is None:
        raise UsageExit("DAGSTER_HOME is not set: export it or pass --dagster-home FOLDER")
    try:
        selected = _select_partitions(path, partitions)
        values = {name: value for name, (value, _source) in effective_flags().items()}
        values.update(flags)
        _check_neo4j()
        from lineage_dagster.defs.jobs import ingest_run_config

        run_config = ingest_run_config(
            path,
            values,
            full_refresh=full_refresh,
            max_concurrent=max_concurrent,
            log_level=log_level.upper(),
        )
        # The plain path (parallel off) runs one partition after the other.
        at_once = min(concurrent_runs, len(selected)) if values[EXECUTOR_FLAG] else 1
        summary = ", ".join(f"{name}={on_off(value)}" for name, value in values.items())
        with open_instance(dagster_home, selected, log_level.upper()) as instance:
            _fail_dead_runs(instance, selected)
            click.echo(
                f"Ingesting {len(selected)} partition(s) of {path}, {at_once} at a time "
                f"({summary})",
                err=True,
            )
            try:
                if at_once > 1:
                    options = _child_options(
                        values, full_refresh, max_concurrent, dagster_home, log_level
                    )
                    runs = _ingest_in_processes(path, selected, options, at_once)
                else:
                    runs = _run_here(instance, selected, run_config)
                code = exit_code(runs)
            except KeyboardInterrupt as interrupt:
                runs, code = getattr(interrupt, "runs", []), EXIT_INTERRUPTED
                with _signals_ignored():
                    # Runs of children that died without ending them.
                    _fail_dead_runs(instance, selected)
                click.echo("Interrupted: the runs in progress were stopped and failed.", err=True)
    except KeyboardInterrupt:
        # Before any run started: nothing to stop.
        raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
    if output_format == "json":
        payload = {"exit_code": code, "runs": [asdict(run) for run in runs]}
        click.echo(json.dumps(payload, indent=2))
    else:
        _print_table(runs)
    click.get_current_context().exit(code)
