"""``lineage-dagster status``: one health check of the whole pipeline, for people and probes.

It reads, and never changes: Neo4j (reachable, constraints and indexes, files with errors),
the Dagster instance of DAGSTER_HOME (daemon heartbeats, the sensor, each partition's last
run), the parse cache and the feature flags. The exit code names the most fundamental problem
(see ``cli/health.py`` and docs/cli.md).
"""

import json
import logging
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
import neo4j

from lineage_dagster.cli.connection import Neo4jUnavailable, connect
from lineage_dagster.cli.health import (
    EXIT_CONFIGURATION,
    EXIT_FILES_WITH_ERRORS,
    EXIT_INSTANCE_UNAVAILABLE,
    EXIT_NEO4J_SCHEMA,
    EXIT_NEO4J_UNAVAILABLE,
    Problem,
    Report,
    cache_hit_rate,
    daemon_problems,
    flag_problems,
    run_problems,
    sensor_problems,
)
from lineage_dagster.cli.output import UsageExit, format_option, format_table, human_bytes, on_off
from lineage_dagster.graph.health import get_files_with_errors, get_missing_schema
from lineage_dagster.settings.environment import ENV_DAGSTER_HOME
from lineage_dagster.settings.flags import read_flags
from lineage_dagster.sources.parse_cache import ParseCache, default_cache_path

DEFAULT_MAX_HEARTBEAT_AGE_SECONDS = 120.0
"""Dagster daemons beat every 30 s: four missed beats mean the daemon is gone."""
FILES_SHOWN = 20
CHECKS = ("neo4j", "instance", "daemon", "sensor", "runs", "files", "cache", "flags")


def check_neo4j(report: Report) -> None:
    """Neo4j reachable, its constraints and indexes present, and the files with errors."""
    section: dict[str, Any] = {"uri": os.environ.get("NEO4J_URI", ""), "reachable": False}
    report.sections["neo4j"] = section
    try:
        driver = connect("the lineage graph", retry_seconds=5.0)
    except UsageExit as exc:
        report.problems.append(Problem("neo4j", EXIT_CONFIGURATION, exc.message))
        return
    except Neo4jUnavailable as exc:
        report.problems.append(Problem("neo4j", EXIT_NEO4J_UNAVAILABLE, exc.message))
        return
    try:
        with driver.session() as session:
            missing = get_missing_schema(session)
            errors = get_files_with_errors(session, limit=FILES_SHOWN)
    except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError) as exc:
        report.problems.append(
            Problem("neo4j", EXIT_NEO4J_UNAVAILABLE, f"Neo4j failed a read query: {exc}")
        )
        return
    finally:
        driver.close()
    section.update(reachable=True, missing_schema=list(missing))
    report.sections["files"] = {"with_errors": errors.total, "shown": list(errors.files)}
    if missing:
        report.problems.append(
            Problem(
                "neo4j",
                EXIT_NEO4J_SCHEMA,
                f"constraints or indexes missing: {', '.join(missing)} (the next ingest run "
                "creates them; until then every write scans its label)",
            )
        )
    if errors.total:
        report.problems.append(
            Problem(
                "files",
                EXIT_FILES_WITH_ERRORS,
                f"{errors.total} file(s) failed to parse in whole or in part: fix them, the "
                "sensor re-ingests them",
            )
        )


def check_instance(report: Report, *, max_heartbeat_age: float) -> Path | None:
    """The instance of DAGSTER_HOME: daemons, the sensor and each partition's last run."""
    home_text = os.environ.get(ENV_DAGSTER_HOME, "").strip()
    section: dict[str, Any] = {"dagster_home": home_text, "reachable": False}
    report.sections["instance"] = section
    if not home_text:
        report.problems.append(
            Problem("instance", EXIT_CONFIGURATION, f"{ENV_DAGSTER_HOME} is not set: export it")
        )
        return None
    home = Path(home_text).expanduser().resolve()
    # Imported here: the other commands start without loading Dagster.
    from lineage_dagster.cli.instance_health import (
        open_instance,
        read_daemons,
        read_last_runs,
        read_sensors,
    )

    # Importing the Dagster layer reads the FEATURE_* variables again, and would warn again
    # about an invalid one on stderr: check_flags reports it already.
    logging.getLogger("lineage_dagster.defs.settings").setLevel(logging.ERROR)
    from lineage_dagster.defs.jobs import ingest_sql_job
    from lineage_dagster.defs.partitions import SOURCE_PARTITIONS_NAME
    from lineage_dagster.defs.sensors import sql_folder_sensor

    now = time.time()
    try:
        with open_instance(home) as instance:
            daemons = read_daemons(instance, now)
            sensors = read_sensors(instance, [sql_folder_sensor.name], now)
            runs = read_last_runs(
                instance,
                job_name=ingest_sql_job.name,
                partitions_name=SOURCE_PARTITIONS_NAME,
                now=now,
            )
    except Exception as exc:
        # Whatever the storage (SQLite, Postgres) raises, the instance is not usable.
        report.problems.append(
            Problem("instance", EXIT_INSTANCE_UNAVAILABLE, f"cannot read the instance: {exc}")
        )
        return home
    section["reachable"] = True
    report.sections["daemon"] = {
        "max_heartbeat_age_seconds": max_heartbeat_age,
        "daemons": [asdict(beat) for beat in daemons],
    }
    report.sections["sensor"] = {"sensors": [asdict(sensor) for sensor in sensors]}
    report.sections["runs"] = {"partitions": [asdict(run) for run in runs]}
    report.problems += daemon_problems(daemons, max_age_seconds=max_heartbeat_age)
    report.problems += sensor_problems(sensors)
    report.problems += run_problems(runs)
    report.sections["cache_hit_rate"] = cache_hit_rate(runs)
    return home


def check_cache(report: Report, home: Path | None) -> None:
    """Size of the parse cache, and its hit rate in the partitions' last loads."""
    hit_rate = report.sections.pop("cache_hit_rate", None)
    section: dict[str, Any] = {"path": None, "entries": None, "bytes": None, "hit_rate": hit_rate}
    runs = report.sections.get("runs", {}).get("partitions", [])
    section["hits"] = sum(run["cache_hits"] or 0 for run in runs)
    section["misses"] = sum(run["cache_misses"] or 0 for run in runs)
    report.sections["cache"] = section
    if home is None:
        return
    path = default_cache_path(home)
    section.update(path=str(path), entries=0, bytes=0)
    if path.exists():  # opening a cache creates it: a missing one is simply empty
        cache = ParseCache(path)
        try:
            stats = cache.stats()
        finally:
            cache.close()
        section.update(entries=stats.entries, bytes=stats.bytes)


def check_flags(report: Report) -> None:
    """The feature flags the code location uses, and variables with invalid values."""
    settings = read_flags(os.environ)
    report.sections["flags"] = {name: asdict(setting) for name, setting in settings.items()}
    invalid = {
        setting.source: setting.invalid_value
        for setting in settings.values()
        if setting.invalid_value is not None
    }
    report.problems += flag_problems(invalid)


def build_report(*, max_heartbeat_age: float) -> Report:
    """Run every check; none stops the others."""
    report = Report()
    check_flags(report)
    check_neo4j(report)
    home = check_instance(report, max_heartbeat_age=max_heartbeat_age)
    check_cache(report, home)
    return report


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def _summary(report: Report) -> dict[str, str]:
    """One line of detail per check, for the table."""
    sections = report.sections
    lines = {}
    neo4j_section = sections["neo4j"]
    lines["neo4j"] = f"{neo4j_section['uri'] or '(NEO4J_URI unset)'}" + (
        f", schema: {len(neo4j_section['missing_schema'])} missing"
        if neo4j_section["reachable"]
        else ", not reachable"
    )
    lines["instance"] = sections["instance"]["dagster_home"] or "(DAGSTER_HOME unset)"
    if "daemon" in sections:
        lines["daemon"] = ", ".join(
            f"{beat['daemon_type']} {_age(beat['age_seconds'])} ago"
            if beat["age_seconds"] is not None
            else f"{beat['daemon_type']} never"
            for beat in sections["daemon"]["daemons"]
        )
        lines["sensor"] = ", ".join(
            f"{s['name']} {(s['status'] or 'never ticked').lower()}"
            + (
                f", last tick {s['last_tick_status']} {_age(s['last_tick_age_seconds'])} ago"
                if s["last_tick_status"]
                else ""
            )
            for s in sections["sensor"]["sensors"]
        )
        statuses = [run["status"] or "never run" for run in sections["runs"]["partitions"]]
        counts = {status: statuses.count(status) for status in sorted(set(statuses))}
        lines["runs"] = f"{len(statuses)} partitions: " + (
            ", ".join(f"{n} {status}" for status, n in counts.items()) or "none"
        )
    if "files" in sections:
        lines["files"] = f"{sections['files']['with_errors']} with errors"
    cache = sections["cache"]
    rate = cache["hit_rate"]
    lines["cache"] = (
        f"{cache['entries'] or 0:,} entries, {human_bytes(cache['bytes'] or 0)}; hit rate "
        + (
            f"{rate:.1%} ({cache['hits']} of {cache['hits'] + cache['misses']})"
            if rate is not None
            else "-"
        )
    )
    lines["flags"] = " ".join(
        f"{name}={on_off(flag['value'])}" + ("(invalid)" if flag["invalid_value"] else "")
        for name, flag in sections["flags"].items()
    )
    return lines


def render_table(report: Report) -> str:
    failing = {problem.check for problem in report.problems}
    lines = _summary(report)
    rows = [
        [
            check,
            "FAIL" if check in failing else ("ok" if check in lines else "-"),
            lines.get(check, "not checked"),
        ]
        for check in CHECKS
    ]
    parts = [format_table(["CHECK", "STATUS", "DETAIL"], rows)]
    partitions = report.sections.get("runs", {}).get("partitions", [])
    if partitions:
        run_rows = [
            [
                run["partition"],
                run["status"] or "never run",
                _age(run["age_seconds"]),
                run["run_id"],
                run["cache_hits"],
                run["cache_misses"],
            ]
            for run in partitions
        ]
        headers = ["PARTITION", "LAST RUN", "AGE", "RUN ID", "CACHE HITS", "CACHE MISSES"]
        parts.append(format_table(headers, run_rows))
    shown = report.sections.get("files", {}).get("shown", [])
    if shown:
        parts.append(
            "Files with errors:\n"
            + "\n".join(
                f"  {item['path']}:{item['line'] or '-'}: [{item['status']}] {item['message']}"
                for item in shown
            )
        )
    verdict = (
        "Healthy (exit code 0)."
        if not report.problems
        else (
            f"Unhealthy (exit code {report.exit_code}):\n"
            + "\n".join(f"  [{p.check}] {p.message}" for p in report.problems)
        )
    )
    parts.append(verdict)
    return "\n\n".join(parts)


def render_json(report: Report) -> str:
    payload = {
        "healthy": not report.problems,
        "exit_code": report.exit_code,
        "problems": [asdict(problem) for problem in report.problems],
        **report.sections,
    }
    return json.dumps(payload, indent=2, default=str)


@click.command("status")
@click.option(
    "--max-heartbeat-age",
    type=click.FloatRange(min=1),
    default=DEFAULT_MAX_HEARTBEAT_AGE_SECONDS,
    show_default=True,
    help="Seconds after which a daemon's last heartbeat counts as stale (daemons beat every 30 s).",
)
@format_option(what="The report")
def status_command(max_heartbeat_age: float, output_format: str) -> None:
    """Check the pipeline's health: Neo4j, the Dagster instance, daemon, sensor, last runs,
    files with errors, parse cache and flags.

    Reads NEO4J_URI/NEO4J_USER/NEO4J_PASSWORD, DAGSTER_HOME and the FEATURE_* variables, and
    changes nothing. Exits 0 when healthy, else with the code of the most fundamental problem:
    2 configuration, 3 Neo4j unreachable, 5 instance unreadable, 6 daemon, 7 sensor,
    4 Neo4j schema, 8 a partition's last run failed, 1 files with errors.
    """
    report = build_report(max_heartbeat_age=max_heartbeat_age)
    click.echo(render_json(report) if output_format == "json" else render_table(report))
    raise SystemExit(report.exit_code)
