import hashlib
import json
import time
import warnings
from pathlib import Path

import dagster as dg

from lineage_dagster.defs.jobs import ingest_sql_job
from lineage_dagster.defs.partitions import SOURCE_PARTITIONS_NAME, source_partitions_def
from lineage_dagster.defs.resources import SqlParserResource, SqlSourceResource
from lineage_dagster.defs.settings import FLAG_WARNING, SENSOR_INTERVAL_SECONDS
from lineage_dagster.parsing import SqlFileError, SqlFileTimeoutError
from lineage_dagster.parsing.version import EXTRACTOR_VERSION
from lineage_dagster.sources.files import (
    hash_sources,
    partition_key_problem,
    split_partitions,
    stat_listing,
)
from lineage_dagster.sources.parse_cache import ParseCache

# dagster 1.13's @sensor hands SensorDefinition its beta `owners` parameter even when unset, which
# printed a BetaWarning in every process that loads the code location.
warnings.filterwarnings(
    "ignore", message="Parameter `owners` of initializer `SensorDefinition", category=dg.BetaWarning
)


SENSOR_READ_BUDGET_SECONDS = 30.0
"""How long one tick may spend reading files (Dagster gives a sensor tick 60 s)."""


def _digest(items: list) -> str:
    return hashlib.sha256(json.dumps(items, separators=(",", ":")).encode()).hexdigest()


def _content_digest(
    sql_source: SqlSourceResource, partition: str, read_deadline: float
) -> tuple[str, int] | None:
    """Digest of the partition's file contents, or None while a file is still being written.

    A file whose size or mtime changes between the listing before and after hashing is still
    being written: the partition waits for the next tick. Files are read until
    ``read_deadline`` (``time.monotonic()``): after it, a file counts by its size and mtime, and
    the run reads it (a hung mount must not make the tick overrun its timeout).
    """
    root, timeout = sql_source.root_path, sql_source.read_timeout_seconds
    before = stat_listing(root, partition, timeout_seconds=timeout)
    digests = hash_sources(
        root,
        [path for path, _size, _mtime in before],
        max_bytes=sql_source.max_file_bytes,
        timeout_seconds=timeout,
        deadline=read_deadline,
    )
    states = []
    for path, size, mtime in before:
        read = digests[path]
        if read is None or isinstance(read, SqlFileTimeoutError):
            states.append([path, f"unread:{size}:{mtime}"])
        elif isinstance(read, SqlFileError):
            # Refused (too large, a link leaving the folder) or gone: the run reports it.
            states.append([path, f"unreadable:{size}:{read.message}"])
        else:
            states.append([path, read[0]])
    if stat_listing(root, partition, timeout_seconds=timeout) != before:
        return None
    return _digest([EXTRACTOR_VERSION, states]), len(states)


def _stale_partitions(
    context: dg.SensorEvaluationContext, sql_parser: SqlParserResource
) -> dict[str, str]:
    """Partitions a plan step marked for re-extraction (the folder's schema changed)."""
    if not sql_parser.corpus_schema:
        return {}
    path = sql_parser.cache_file(Path(context.instance.root_directory))
    if not path.exists():
        return {}
    cache = ParseCache(path)
    try:
        return cache.stale_partitions()
    finally:
        cache.close()


@dg.sensor(
    job=ingest_sql_job,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Watches the SQL folder and starts one ingest run per source folder whose files "
    "were added, changed or deleted.",
)
def sql_folder_sensor(
    context: dg.SensorEvaluationContext,
    sql_source: SqlSourceResource,
    sql_parser: SqlParserResource,
) -> dg.SensorResult | dg.SkipReason:
    """List and hash files only (parsing happens in the run); request runs for changed folders,
    and for folders whose files read a table whose columns a run of another folder changed.

    The cursor maps each partition to ``[stat digest, content digest]``: a quiet tick only stats
    files, and content is hashed only where sizes or mtimes moved. Both digests include the
    extractor version, so a new extractor re-ingests every folder once (its lineage, and the
    graph's table keys, may differ for unchanged files).
    """
    if FLAG_WARNING:
        context.log.warning(FLAG_WARNING)
    root = sql_source.root_path
    if not root.is_dir():
        return dg.SkipReason(f"The SQL folder {root} does not exist")
    started = time.perf_counter()
    read_deadline = time.monotonic() + SENSOR_READ_BUDGET_SECONDS
    cursor: dict[str, list[str]] = json.loads(context.cursor) if context.cursor else {}
    partitions, invalid = split_partitions(root)
    for key in invalid:
        context.log.warning(f"Folder {key!r} is skipped: {partition_key_problem(key)}")
    # Folders that vanished keep their partition: one more run removes their lineage.
    candidates = sorted({*partitions, *cursor} - set(invalid))
    new_cursor = dict(cursor)
    run_requests = []
    waiting = []
    for partition in candidates:
        listing = stat_listing(root, partition, timeout_seconds=sql_source.read_timeout_seconds)
        stat_digest = _digest([EXTRACTOR_VERSION, listing])
        previous = cursor.get(partition)
        if previous and previous[0] == stat_digest:
            continue
        content = _content_digest(sql_source, partition, read_deadline)
        if content is None:
            waiting.append(partition)
            continue
        content_digest, file_count = content
        new_cursor[partition] = [stat_digest, content_digest]
        if previous and previous[1] == content_digest:
            continue  # touched, not changed
        run_requests.append(
            dg.RunRequest(
                run_key=f"{partition}:{content_digest[:16]}",
                partition_key=partition,
                tags={"lineage/files": str(file_count)},
            )
        )
    requested = {request.partition_key for request in run_requests}
    for partition, schema in sorted(_stale_partitions(context, sql_parser).items()):
        if partition not in requested and partition in partitions:
            run_requests.append(
                dg.RunRequest(
                    run_key=f"{partition}:schema:{schema[:16]}",
                    partition_key=partition,
                    tags={"lineage/reason": "schema"},
                )
            )
    known = set(context.instance.get_dynamic_partitions(SOURCE_PARTITIONS_NAME))
    new_partitions = sorted({str(request.partition_key) for request in run_requests} - known)
    elapsed = time.perf_counter() - started
    if waiting:
        context.log.info(f"Files still being written in {waiting}; they wait for the next tick")
    cursor_text = json.dumps(new_cursor, separators=(",", ":"), sort_keys=True)
    if not run_requests:
        skip = dg.SkipReason(
            f"No SQL file added, changed or deleted in {len(candidates)} folders of {root} "
            f"({elapsed * 1000:.0f} ms)"
        )
        if new_cursor == cursor:
            return skip
        # Files were touched but not changed: remember their new stats so they are not re-hashed.
        return dg.SensorResult(skip_reason=skip, cursor=cursor_text)
    context.log.info(
        f"Requesting runs for {[r.partition_key for r in run_requests]} ({elapsed * 1000:.0f} ms)"
    )
    return dg.SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=(
            [source_partitions_def.build_add_request(new_partitions)] if new_partitions else []
        ),
        cursor=cursor_text,
    )
