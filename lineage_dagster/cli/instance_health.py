"""What the Dagster instance of DAGSTER_HOME knows about the pipeline, read through Dagster's
instance API only (heartbeats, sensor states and ticks, run records, materializations): the
status command never loads the code location nor starts anything."""

from collections.abc import Sequence
from pathlib import Path

import dagster as dg

from lineage_dagster.cli.health import DaemonBeat, LastRun, SensorState

LINEAGE_GRAPH_KEY = dg.AssetKey("lineage_graph")


def open_instance(home: Path) -> dg.DagsterInstance:
    """The instance whose ``dagster.yaml`` (or SQLite storage) lives in ``home``.

    Raises:
        FileNotFoundError: ``home`` is not a folder (nothing is created).
    """
    if not home.is_dir():
        raise FileNotFoundError(f"DAGSTER_HOME={home} is not a folder")
    return dg.DagsterInstance.from_config(str(home))


def read_daemons(instance: dg.DagsterInstance, now: float) -> list[DaemonBeat]:
    """The last heartbeat of every daemon this instance requires (sensor, backfill, ...)."""
    heartbeats = instance.get_daemon_heartbeats()
    beats = []
    for daemon_type in instance.get_required_daemon_types():
        beat = heartbeats.get(daemon_type)
        if beat is None:
            beats.append(DaemonBeat(daemon_type, None))
            continue
        errors = tuple(error.message.strip() for error in beat.errors or ())
        beats.append(DaemonBeat(daemon_type, max(0.0, now - beat.timestamp), errors))
    return beats


def read_sensors(
    instance: dg.DagsterInstance, names: Sequence[str], now: float
) -> list[SensorState]:
    """The stored state and last tick of each named sensor (any code location of the instance)."""
    states = {
        state.name: state
        for state in instance.all_instigator_state()
        if state.instigator_type.value == "SENSOR" and state.name in names
    }
    sensors = []
    for name in names:
        state = states.get(name)
        if state is None:
            sensors.append(SensorState(name, None))
            continue
        ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=1)
        tick = ticks[0] if ticks else None
        sensors.append(
            SensorState(
                name,
                state.status.value,
                last_tick_status=tick.status.value if tick else None,
                last_tick_age_seconds=max(0.0, now - tick.timestamp) if tick else None,
                last_tick_error=tick.error.message.strip() if tick and tick.error else None,
            )
        )
    return sensors


def read_last_runs(
    instance: dg.DagsterInstance, *, job_name: str, partitions_name: str, now: float
) -> list[LastRun]:
    """Each partition's latest run of ``job_name`` and the cache counts of its latest load."""
    runs = []
    for partition in sorted(instance.get_dynamic_partitions(partitions_name)):
        records = instance.get_run_records(
            filters=dg.RunsFilter(job_name=job_name, tags={"dagster/partition": partition}),
            limit=1,
        )
        loads = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=LINEAGE_GRAPH_KEY, asset_partitions=[partition]),
            limit=1,
        ).records
        metadata = loads[0].asset_materialization.metadata if loads else {}  # type: ignore[union-attr]
        hits, misses = metadata.get("cache_hits"), metadata.get("cache_misses")
        if not records:
            runs.append(LastRun(partition))
            continue
        record = records[0]
        since = record.end_time or record.start_time or record.create_timestamp.timestamp()
        runs.append(
            LastRun(
                partition,
                run_id=record.dagster_run.run_id,
                status=record.dagster_run.status.value,
                age_seconds=max(0.0, now - since),
                cache_hits=int(hits.value) if hits is not None else None,  # type: ignore[arg-type]
                cache_misses=int(misses.value) if misses is not None else None,  # type: ignore[arg-type]
            )
        )
    return runs
