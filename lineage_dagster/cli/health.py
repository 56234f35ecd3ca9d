"""What ``lineage-dagster status`` found and its verdict: plain values, no I/O, no Dagster.

Each unhealthy condition is a :class:`Problem` carrying the exit code of its class; the command
exits with the code of the most fundamental problem (the order of ``EXIT_CODES``).
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

EXIT_HEALTHY = 0
EXIT_FILES_WITH_ERRORS = 1
EXIT_CONFIGURATION = 2
EXIT_NEO4J_UNAVAILABLE = 3
EXIT_NEO4J_SCHEMA = 4
EXIT_INSTANCE_UNAVAILABLE = 5
EXIT_DAEMON = 6
EXIT_SENSOR = 7
EXIT_RUN_FAILED = 8

EXIT_CODES: tuple[tuple[int, str], ...] = (
    (EXIT_CONFIGURATION, "configuration"),
    (EXIT_NEO4J_UNAVAILABLE, "neo4j"),
    (EXIT_INSTANCE_UNAVAILABLE, "instance"),
    (EXIT_DAEMON, "daemon"),
    (EXIT_SENSOR, "sensor"),
    (EXIT_NEO4J_SCHEMA, "neo4j schema"),
    (EXIT_RUN_FAILED, "runs"),
    (EXIT_FILES_WITH_ERRORS, "files"),
)
"""Each condition class's exit code, most fundamental first: with several problems, the first
class present in this order gives the exit code."""

RUNNING_SENSOR_STATUSES = frozenset({"RUNNING", "DECLARED_IN_CODE", "AUTOMATICALLY_RUNNING"})
"""Stored sensor statuses meaning "running": turned on in the UI, or on by default in code."""


@dataclass(frozen=True)
class Problem:
    """One unhealthy condition: the check that found it, its exit code and what to do."""

    check: str
    code: int
    message: str


@dataclass(frozen=True)
class DaemonBeat:
    """A required daemon's last heartbeat: its age (None when it never sent one) and errors."""

    daemon_type: str
    age_seconds: float | None
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class SensorState:
    """A sensor as the instance stores it (``status`` None: never ticked on this instance)."""

    name: str
    status: str | None
    last_tick_status: str | None = None
    last_tick_age_seconds: float | None = None
    last_tick_error: str | None = None


@dataclass(frozen=True)
class LastRun:
    """A partition's latest run (``status`` None: never run) and its parse cache counts."""

    partition: str
    run_id: str | None = None
    status: str | None = None
    age_seconds: float | None = None
    cache_hits: int | None = None
    cache_misses: int | None = None


@dataclass
class Report:
    """Everything the command found: sections for the output and the problems."""

    sections: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return exit_code(self.problems)


def exit_code(problems: Iterable[Problem]) -> int:
    """The exit code of the most fundamental problem, 0 when there is none.

    >>> exit_code([Problem("files", 1, "x"), Problem("daemon", EXIT_DAEMON, "y")])
    6
    >>> exit_code([])
    0
    """
    codes = {problem.code for problem in problems}
    return next((code for code, _name in EXIT_CODES if code in codes), EXIT_HEALTHY)


def daemon_problems(beats: Sequence[DaemonBeat], *, max_age_seconds: float) -> list[Problem]:
    """Required daemons without a heartbeat, with one older than ``max_age_seconds``, or with
    errors in their last one (one problem per kind, naming the daemons).

    >>> beats = [DaemonBeat("SENSOR", 200.0), DaemonBeat("BACKFILL", 200.0), DaemonBeat("ASSET", 5)]
    >>> print(daemon_problems(beats, max_age_seconds=120)[0].message)
    last heartbeat more than 120 s ago: SENSOR (200 s), BACKFILL (200 s): is dagster-daemon running?
    """
    never = [beat.daemon_type for beat in beats if beat.age_seconds is None]
    stale = [
        f"{beat.daemon_type} ({beat.age_seconds:.0f} s)"
        for beat in beats
        if beat.age_seconds is not None and beat.age_seconds > max_age_seconds
    ]
    failing = [f"{beat.daemon_type}: {beat.errors[0]}" for beat in beats if beat.errors]
    messages = []
    if never:
        messages.append(f"no heartbeat ever from {', '.join(never)}: start dagster-daemon")
    if stale:
        messages.append(
            f"last heartbeat more than {max_age_seconds:g} s ago: {', '.join(stale)}: "
            "is dagster-daemon running?"
        )
    if failing:
        messages.append(f"daemons report errors: {'; '.join(failing)}")
    return [Problem("daemon", EXIT_DAEMON, message) for message in messages]


def sensor_problems(sensors: Sequence[SensorState]) -> list[Problem]:
    """A sensor is unhealthy when stopped, never ticked, or when its last tick failed."""
    problems = []
    for sensor in sensors:
        if sensor.status is None:
            message = f"{sensor.name} has never ticked on this instance: is dagster-daemon running?"
        elif sensor.status not in RUNNING_SENSOR_STATUSES:
            message = f"{sensor.name} is {sensor.status.lower()}: turn it on in the UI (Automation)"
        elif sensor.last_tick_status == "FAILURE":
            message = f"{sensor.name}'s last tick failed: {sensor.last_tick_error or 'no error'}"
        else:
            continue
        problems.append(Problem("sensor", EXIT_SENSOR, message))
    return problems


def run_problems(runs: Sequence[LastRun]) -> list[Problem]:
    """A partition whose latest run failed is unhealthy (a canceled run was an operator's act)."""
    return [
        Problem(
            "runs",
            EXIT_RUN_FAILED,
            f"the last run of partition {run.partition} failed (run {run.run_id}): see it in the "
            "UI, then re-execute it",
        )
        for run in runs
        if run.status == "FAILURE"
    ]


def cache_hit_rate(runs: Sequence[LastRun]) -> float | None:
    """Parse cache hits over lookups in the partitions' last loads; None without lookups.

    >>> cache_hit_rate([LastRun("a", cache_hits=1, cache_misses=3), LastRun("b")])
    0.25
    """
    hits = sum(run.cache_hits or 0 for run in runs)
    lookups = hits + sum(run.cache_misses or 0 for run in runs)
    return hits / lookups if lookups else None


def flag_problems(invalid: Mapping[str, str]) -> list[Problem]:
    """Each FEATURE_* variable with an invalid value (variable -> value) is a configuration
    problem, even though the code location falls back to the flag's safe value."""
    return [
        Problem(
            "flags",
            EXIT_CONFIGURATION,
            f"{variable}={value!r} is not a flag value (the code location uses its fallback)",
        )
        for variable, value in invalid.items()
    ]
