"""Write extracted lineage into Neo4j: transform to rows, then load in UNWIND batches.

A batch of files is replaced inside one managed write transaction, so readers never see a
file's old and new lineage mixed, and a retried transaction (deadlock, leader switch) simply
runs again from the start.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import neo4j

from lineage_dagster.graph import queries
from lineage_dagster.parsing.dialects import has_struct_fields
from lineage_dagster.parsing.models import FileLineage, StatementError
from lineage_dagster.parsing.names import canonical_name, field_parents, split_column
from lineage_dagster.sources.files import partition_of
from lineage_dagster.sources.planning import LoadedFile, group_by_size

if TYPE_CHECKING:
    from neo4j import ManagedTransaction, Session

    from lineage_dagster.parsing.models import ColumnEdge, StatementLineage
    from lineage_dagster.parsing.schema import SchemaIndex

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 5_000
DEFAULT_FILES_PER_TRANSACTION = 200
DEFAULT_ROWS_PER_TRANSACTION = 100_000

Row = dict[str, Any]


@dataclass(frozen=True)
class GraphRows:
    """The parameter rows for each MERGE query, derived from a batch of files."""

    files: list[Row] = field(default_factory=list)
    statements: list[Row] = field(default_factory=list)
    """One per statement, with the tables it ``reads`` and ``writes``."""
    tables: list[Row] = field(default_factory=list)
    feeds: list[Row] = field(default_factory=list)
    columns: list[Row] = field(default_factory=list)
    statement_columns: list[Row] = field(default_factory=list)
    """One per statement with column lineage: the columns it ``writes`` and ``filters`` on."""
    derives_from: list[Row] = field(default_factory=list)
    fields: list[Row] = field(default_factory=list)
    """One per struct field column read: the ``field`` and the column or field that holds it."""

    def relationship_count(self) -> int:
        """Relationships the rows describe (CONTAINS, READS, WRITES, FEEDS, WRITES_COLUMN,
        FILTERS_ON, DERIVES_FROM, FIELD_OF)."""
        return (
            sum(1 + len(row["reads"]) + len(row["writes"]) for row in self.statements)
            + len(self.feeds)
            + sum(len(row["writes"]) + len(row["filters"]) for row in self.statement_columns)
            + len(self.derives_from)
            + len(self.fields)
        )


@dataclass(frozen=True)
class LoadSummary:
    """What one call to :func:`sync_files` (one transaction) wrote."""

    files_loaded: int
    files_deleted: int
    statements: int
    tables: int
    relationships: int
    query_seconds: dict[str, float] = field(default_factory=dict)
    """Seconds spent in each step of the transaction (``delete``, ``statements``, ...)."""


@dataclass(frozen=True)
class LoadReport:
    """What :func:`load_files` wrote, in how many transactions, and which files failed."""

    files_loaded: int = 0
    files_deleted: int = 0
    statements: int = 0
    relationships: int = 0
    transactions: int = 0
    write_seconds: tuple[float, ...] = ()
    query_seconds: dict[str, float] = field(default_factory=dict)
    """Seconds per step of the transactions, summed over them."""
    failed_files: tuple[dict[str, Any], ...] = ()
    """Each file or statement that failed: ``{path, line, column, message}``."""
    wall_seconds: float = 0.0
    """Seconds from the first transaction's start to the last one's end."""

    @property
    def files_failed(self) -> int:
        return len({failure["path"] for failure in self.failed_files})

    @classmethod
    def combine(cls, reports: Sequence[LoadReport], wall_seconds: float) -> LoadReport:
        """One report for loads that ran side by side in ``wall_seconds``."""
        return cls(
            files_loaded=sum(r.files_loaded for r in reports),
            files_deleted=sum(r.files_deleted for r in reports),
            statements=sum(r.statements for r in reports),
            relationships=sum(r.relationships for r in reports),
            transactions=sum(r.transactions for r in reports),
            write_seconds=tuple(t for r in reports for t in r.write_seconds),
            query_seconds={
                step: sum(r.query_seconds.get(step, 0.0) for r in reports)
                for step in dict.fromkeys(k for r in reports for k in r.query_seconds)
            },
            failed_files=tuple(
                sorted(
                    (f for r in reports for f in r.failed_files),
                    key=lambda f: (f["path"], f["line"] or 0),
                )
            ),
            wall_seconds=wall_seconds,
        )


def write_size(lineage: FileLineage) -> int:
    """Roughly how many nodes and relationships a file's lineage writes: the unit that bounds a
    transaction's memory in Neo4j."""
    return 1 + sum(_statement_write_size(stmt) for stmt in lineage.statements)


def _statement_write_size(stmt: StatementLineage) -> int:
    values = sum(edge.kind != "condition" for edge in stmt.column_lineage)
    conditions = len(stmt.column_lineage) - values
    # A value edge brings a column node, its WRITES_COLUMN and itself; condition edges are
    # mostly folded into one FILTERS_ON per source column (see _statement_columns).
    return (
        1
        + len(stmt.sources) * (1 + len(stmt.targets))
        + len(stmt.targets)
        + 3 * values
        + (conditions // 4)
    )


def statement_id(path: str, index: int) -> str:
    """The graph key of a statement: its file path and 0-based index in that file."""
    return f"{path}#{index}"


def transform_lineage(
    files: Iterable[FileLineage], *, extractor_version: str | None = None
) -> GraphRows:
    """Turn extracted lineage into sorted, de-duplicated rows.

    A file that failed whole (``error`` set) becomes a ``SqlFile`` recording its error. Tables
    and columns are keyed by :func:`~lineage_dagster.parsing.names.canonical_name` of the names
    the extractor gave for the file's dialect, so one table written in Snowflake (``FINANCE.GL``)
    and read in T-SQL (``finance.gl``) is one node; a table row keeps the smallest spelling as
    written (``written``), the same whatever order files load in.

    Rows are sorted by key so concurrent writers lock nodes in the same order (fewer deadlocks).
    """
    rows = GraphRows()
    tables: dict[str, str] = {}  # key -> the smallest spelling as written
    columns: set[str] = set()
    feeds: set[tuple[str, str, str, str]] = set()
    derives: set[tuple[str, str, str, str, str]] = set()
    fields: set[tuple[str, str]] = set()
    keys: dict[str | None, dict[str, str]] = {}  # dialect -> name -> key
    for lineage in files:
        path = _require_path(lineage)
        if lineage.error is not None:
            rows.files.append(_failed_file_row(path, lineage.error, extractor_version))
            continue
        key_of = _KeyOf(lineage.dialect, keys.setdefault(lineage.dialect, {}))
        struct_fields = has_struct_fields(lineage.dialect)
        first_error = lineage.errors[0].error if lineage.errors else None
        rows.files.append(
            {
                "path": path,
                "partition": partition_of(path),
                "sha256": lineage.sha256,
                "dialect": lineage.dialect,
                "extractor_version": extractor_version,
                "schema_tables": list(lineage.schema_tables),
                "schema_digest": lineage.schema_digest,
                "statement_count": len(lineage.statements),
                "error_count": len(lineage.errors),
                "status": "partial" if lineage.errors else "ok",
                "error_message": first_error.message if first_error else None,
                "error_line": first_error.line if first_error else None,
                "error_column": first_error.column if first_error else None,
            }
        )
        for stmt in lineage.statements:
            sid = statement_id(path, stmt.index)
            error = stmt.error
            sources = [key_of(name) for name in stmt.sources]
            targets = [key_of(name) for name in stmt.targets]
            for key, name in zip((*sources, *targets), (*stmt.sources, *stmt.targets), strict=True):
                spelling = tables.get(key)
                if spelling is None or name < spelling:
                    tables[key] = name
            rows.statements.append(
                {
                    "id": sid,
                    "path": path,
                    "index": stmt.index,
                    "line": stmt.line,
                    "kind": stmt.kind,
                    "error_message": error.message if error else None,
                    "error_line": error.line if error else None,
                    "error_column": error.column if error else None,
                    "reads": sorted(set(sources)),
                    "writes": sorted(set(targets)),
                }
            )
            feeds.update(
                (source, target, sid, path)
                for source in sources
                for target in targets
                if source != target
            )
            if not stmt.targets or not stmt.column_lineage:
                continue  # a plain SELECT's columns name its result set, not a table
            written, filters, edges = _statement_columns(stmt.column_lineage, key_of)
            rows.statement_columns.append(
                {"statement_id": sid, "writes": sorted(written), "filters": sorted(filters)}
            )
            columns.update(written, filters)
            columns.update(source for source, _target, _kind in edges)
            derives.update((source, target, kind, sid, path) for source, target, kind in edges)
            if struct_fields:
                fields.update(_field_rows(stmt.column_lineage, key_of))
    for field_key, parent in fields:
        columns.update((field_key, parent))
    table_keys = set(tables).union(split_column(column)[0] for column in columns)
    rows.files.sort(key=lambda row: row["path"])
    rows.statements.sort(key=lambda row: row["id"])
    rows.tables.extend({"name": key, "written": tables.get(key)} for key in sorted(table_keys))
    rows.statement_columns.sort(key=lambda row: row["statement_id"])
    rows.feeds.extend(
        {"source": s, "target": t, "statement_id": sid, "file": f} for s, t, sid, f in sorted(feeds)
    )
    rows.columns.extend(
        {"id": c, "table": split_column(c)[0], "name": split_column(c)[1]} for c in sorted(columns)
    )
    rows.derives_from.extend(
        {"source": s, "target": t, "kind": k, "statement_id": sid, "file": f}
        for s, t, k, sid, f in sorted(derives)
    )
    rows.fields.extend({"field": f, "parent": p} for f, p in sorted(fields))
    return rows


def _field_rows(
    edges: Iterable[ColumnEdge], key_of: Callable[[str], str]
) -> Iterator[tuple[str, str]]:
    """Each struct field column a statement reads (``t."widget.asset.id"``, a quoted name
    holding a field path), with the field or column holding it, up to the root column."""
    for edge in edges:
        if '"' in edge.source:
            for name, parent in field_parents(edge.source):
                yield key_of(name), key_of(parent)


class _KeyOf:
    """The graph key of a name the extractor gave in one dialect, remembered (a file's names
    repeat in its column edges)."""

    __slots__ = ("dialect", "keys")

    def __init__(self, dialect: str | None, keys: dict[str, str]) -> None:
        self.dialect = dialect
        self.keys = keys

    def __call__(self, name: str) -> str:
        key = self.keys.get(name)
        if key is None:
            key = self.keys[name] = canonical_name(name, self.dialect)
        return key


def _statement_columns(
    edges: Iterable[ColumnEdge], key_of: Callable[[str], str]
) -> tuple[set[str], set[str], set[tuple[str, str, str]]]:
    """The columns a statement writes, the columns its conditions read, and the DERIVES_FROM
    edges to store.

    A condition (a filter, join or grouping column) limits the rows of every column the
    statement writes, so the extractor gives each an edge to every target column, except where
    the statement already derives that target's value from it. Those edges are implied by
    ``WRITES_COLUMN`` x ``FILTERS_ON`` and are not stored; a statement whose condition edges are
    not exactly that product keeps them as explicit ``condition`` edges instead, so no
    lineage is ever lost.
    """
    unique = dict.fromkeys((key_of(edge.source), key_of(edge.target), edge.kind) for edge in edges)
    written = {target for _source, target, _kind in unique}
    values = {(s, t, k) for s, t, k in unique if k != "condition"}
    conditions = {(s, t) for s, t, k in unique if k == "condition"}
    filters = {source for source, _target in conditions}
    derived = {(s, t) for s, t, _kind in values}
    implied = {(s, t) for s in filters for t in written if (s, t) not in derived}
    if implied == conditions:
        return written, filters, values
    return written, set(), set(unique)


def _failed_file_row(path: str, error: StatementError, extractor_version: str | None) -> Row:
    # No digest: a file that could not be read is tried again by the next run.
    return {
        "path": path,
        "partition": partition_of(path),
        "sha256": None,
        "dialect": None,
        "extractor_version": extractor_version,
        "schema_tables": [],
        "schema_digest": "",
        "statement_count": 0,
        "error_count": 1,
        "status": "failed",
        "error_message": error.message,
        "error_line": error.line,
        "error_column": error.column,
    }


def failed_files(lineage: Iterable[FileLineage]) -> list[dict[str, Any]]:
    """Every file that failed whole and every statement that failed, with its position."""
    return [
        {"path": item.path, "line": error.line, "column": error.column, "message": error.message}
        for item in lineage
        for error in (
            [item.error]
            if item.error is not None
            else [stmt.error for stmt in item.statements if stmt.error is not None]
        )
    ]


def load_files(
    session: Session,
    lineage: Sequence[FileLineage],
    deleted_paths: Sequence[str] = (),
    *,
    extractor_version: str | None = None,
    files_per_transaction: int = DEFAULT_FILES_PER_TRANSACTION,
    rows_per_transaction: int = DEFAULT_ROWS_PER_TRANSACTION,
    batch_size: int = DEFAULT_BATCH_SIZE,
    rows_per_query: int | None = None,
) -> LoadReport:
    """Replace the lineage of many files and remove that of ``deleted_paths``, in bounded
    transactions.

    Files are grouped (in path order) into transactions of at most ``files_per_transaction``
    files and ``rows_per_transaction`` nodes and relationships, so each stays within Neo4j's
    transaction memory; a larger file gets a transaction of its own (a file is never split).
    Deleted files travel in groups of their own. Each group is atomic, and planning compares
    the folder with the graph, so a re-run after a failure converges on the same graph.

    A group that Neo4j cannot hold in one transaction's memory is split in halves until the
    file that does not fit is alone; that file is then recorded as failed (its ``SqlFile`` says
    why) and every other file still loads.
    """
    items = sorted(lineage, key=lambda item: item.path or "")
    groups: list[tuple[Sequence[FileLineage], Sequence[str]]] = [
        ([items[i] for i in group], [])
        for group in group_by_size(
            [write_size(item) for item in items],
            max_items=files_per_transaction,
            max_size=rows_per_transaction,
        )
    ]
    groups += [
        ([], deleted_paths[i : i + files_per_transaction])
        for i in range(0, len(deleted_paths), files_per_transaction)
    ]
    summaries: list[LoadSummary] = []
    seconds: list[float] = []
    written: list[FileLineage] = []
    started_all = time.perf_counter()

    def sync(files: Sequence[FileLineage], deleted: Sequence[str]) -> None:
        started = time.perf_counter()
        try:
            summary = sync_files(
                session,
                files,
                deleted_paths=deleted,
                extractor_version=extractor_version,
                batch_size=batch_size,
                rows_per_query=rows_per_query,
            )
        except TransactionTooLargeError as exc:
            # Groups hold files or deletions, never both: halve whichever this one holds.
            if len(files) > 1:
                sync(files[: len(files) // 2], [])
                sync(files[len(files) // 2 :], [])
                return
            if len(deleted) > 1:
                sync([], deleted[: len(deleted) // 2])
                sync([], deleted[len(deleted) // 2 :])
                return
            if not files or files[0].error is not None:
                raise  # a deletion or an error record alone does not fit: nothing smaller exists
            logger.warning("%s does not fit in one transaction: %s", files[0].path, exc)
            sync([_too_large(files[0], exc)], [])
            return
        summaries.append(summary)
        seconds.append(time.perf_counter() - started)
        written.extend(files)

    for files, deleted in groups:
        sync(files, deleted)
    return LoadReport(
        files_loaded=sum(s.files_loaded for s in summaries),
        files_deleted=sum(s.files_deleted for s in summaries),
        statements=sum(s.statements for s in summaries),
        relationships=sum(s.relationships for s in summaries),
        transactions=len(summaries),
        write_seconds=tuple(seconds),
        query_seconds={
            step: sum(summary.query_seconds.get(step, 0.0) for summary in summaries)
            for step in dict.fromkeys(k for summary in summaries for k in summary.query_seconds)
        },
        failed_files=tuple(failed_files(sorted(written, key=lambda item: item.path or ""))),
        wall_seconds=time.perf_counter() - started_all,
    )


_CLEANUP_RETRIES = 3
"""Loads of a part that meet a concurrent clean-up (:class:`ConcurrentCleanupError`) at most."""


def load_files_concurrently(
    open_session: Callable[[], AbstractContextManager[Session]],
    lineage: Sequence[FileLineage],
    deleted_paths: Sequence[str] = (),
    *,
    transactions: int = 2,
    files_per_transaction: int = DEFAULT_FILES_PER_TRANSACTION,
    **options: Any,
) -> LoadReport:
    """:func:`load_files` with up to ``transactions`` write transactions at a time, each on a
    session of its own: Neo4j runs one transaction's queries on one core, so a second keeps
    another busy (a fifth to a third less wall time on 2 cores, see docs/performance.md).

    Files are split in path order into parts of at most ``files_per_transaction``, and smaller
    when that gives fewer parts than ``transactions``; each part is loaded by
    :func:`load_files` (so each file stays atomic, and a file too large for a transaction
    still fails alone). Rows are sorted by key in every transaction, so concurrent ones take
    locks in the same order; a deadlock Neo4j still detects is retried by the driver. The
    first error stops the parts not yet started and is raised; what was committed stays, and
    a re-run converges on the same graph.
    """
    if transactions <= 1:
        with open_session() as session:
            return load_files(
                session,
                lineage,
                deleted_paths,
                files_per_transaction=files_per_transaction,
                **options,
            )
    started = time.perf_counter()
    items = sorted(lineage, key=lambda item: item.path or "")
    size = max(1, min(files_per_transaction, -(-len(items) // transactions)))
    parts: list[tuple[Sequence[FileLineage], Sequence[str]]] = [
        (items[i : i + size], ()) for i in range(0, len(items), size)
    ]
    if deleted_paths:
        parts.append(((), deleted_paths))

    def load_once(part: tuple[Sequence[FileLineage], Sequence[str]]) -> LoadReport:
        with open_session() as session:
            return load_files(
                session, part[0], part[1], files_per_transaction=files_per_transaction, **options
            )

    def load(part: tuple[Sequence[FileLineage], Sequence[str]]) -> LoadReport:
        for _ in range(_CLEANUP_RETRIES - 1):
            try:
                return load_once(part)
            except ConcurrentCleanupError:
                continue  # the other transaction removed a node this one had merged: again
        return load_once(part)

    if len(parts) <= 1:
        return LoadReport.combine([load(part) for part in parts], time.perf_counter() - started)
    with ThreadPoolExecutor(max_workers=transactions, thread_name_prefix="neo4j-load") as pool:
        futures = [pool.submit(load, part) for part in parts]
        try:
            reports = [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return LoadReport.combine(reports, time.perf_counter() - started)


class ConcurrentCleanupError(Exception):
    """A concurrent transaction (the load step's other one, or a run of another folder) removed a
    table or column this load links to, after this load's MERGE found it: the transaction is
    rolled back instead of losing those edges, and a retry creates the nodes again."""


class TransactionTooLargeError(Exception):
    """The lineage written in one transaction exceeds Neo4j's transaction memory
    (``db.memory.transaction.max`` or the heap): retrying the same transaction cannot help."""


# Neo4j classifies running out of transaction memory as transient; for the same transaction it
# never is, so the driver must not spend its retry time on it.
_OUT_OF_MEMORY_CODES = frozenset({"Neo.TransientError.General.MemoryPoolOutOfMemoryError"})


def _too_large(lineage: FileLineage, error: TransactionTooLargeError) -> FileLineage:
    """A file whose lineage did not fit in a transaction, as a failed file that says so."""
    message = (
        f"its lineage ({write_size(lineage):,} nodes and relationships) does not fit in one Neo4j "
        f"transaction ({error}); split the script, or give the server more transaction memory "
        "(db.memory.transaction.max, heap)"
    )
    return FileLineage(lineage.path, lineage.sha256, lineage.dialect, (), StatementError(message))


def ensure_constraints(session: Session) -> None:
    """Create the constraints and indexes every MERGE relies on, and bring a graph written by an
    earlier version to the current model (both idempotent)."""
    for statement in queries.SCHEMA_STATEMENTS:
        # Managed transactions, so the driver retries them through a short outage.
        session.execute_write(_run_schema_statement, statement)
    if session.execute_read(lambda tx: tx.run(queries.OLD_MODEL_PRESENT).single(strict=True)[0]):
        logger.warning(
            "Moving the lineage graph to the current model (HAS_COLUMN -> WRITES_COLUMN)"
        )
        # CALL ... IN TRANSACTIONS runs only in auto-commit transactions.
        session.run(queries.MIGRATE_WRITES_COLUMN).consume()
        session.run(queries.MIGRATE_DROP_HAS_COLUMN).consume()


def _run_schema_statement(tx: ManagedTransaction, statement: str) -> None:
    tx.run(statement).consume()


def get_stale_partitions(session: Session, partition: str, schema: SchemaIndex) -> set[str]:
    """The partitions other than ``partition`` holding a file that looked up a table whose
    columns in ``schema`` differ from those it was extracted against."""
    records = session.execute_read(
        lambda tx: list(tx.run(queries.GET_SCHEMA_READERS, partition=partition))
    )
    return {
        record["partition"]
        for record in records
        if schema.digest_of(record["schema_tables"]) != (record["schema_digest"] or "")
    }


def get_loaded_files(session: Session, partition: str) -> dict[str, LoadedFile]:
    """The files of ``partition`` the graph holds, by path."""
    records = session.execute_read(
        lambda tx: list(tx.run(queries.GET_LOADED_FILES, partition=partition))
    )
    return {
        record["path"]: LoadedFile(
            record["path"],
            record["sha256"],
            record["extractor_version"],
            tuple(record["schema_tables"] or ()),
            record["schema_digest"] or "",
        )
        for record in records
    }


def get_failed_files(session: Session) -> list[dict[str, Any]]:
    """Every file of the graph that failed to parse, wholly or in part, ordered by path: its
    ``path``, ``partition``, ``status`` (``failed`` or ``partial``), first error ``line`` and
    ``message``."""
    records = session.execute_read(lambda tx: list(tx.run(queries.GET_FAILED_FILES)))
    return [record.data() for record in records]


def sync_files(
    session: Session,
    lineage: Sequence[FileLineage],
    *,
    deleted_paths: Sequence[str] = (),
    extractor_version: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    rows_per_query: int | None = None,
) -> LoadSummary:
    """Replace the lineage of ``lineage``'s files and remove that of ``deleted_paths``.

    Everything happens in one managed write transaction, retried by the driver on transient
    errors, so the graph holds either the old or the new lineage of these files, never a mix.
    Every relationship the rows describe must be created: if a concurrent transaction removed
    an end node after this one merged it, the transaction is rolled back with
    :class:`ConcurrentCleanupError` (a retry merges the node again).

    Args:
        session: An open Neo4j session.
        lineage: The files to (re)load, each with a path relative to the watched root; a file
            that failed whole (``error`` set) loses its old lineage and its ``SqlFile`` node
            records the error.
        deleted_paths: Files that no longer exist; their lineage is removed.
        extractor_version: Recorded on each ``SqlFile`` so a new extractor re-parses it.
        batch_size: Rows per ``UNWIND`` query.
        rows_per_query: Cap on rows per query; ``1`` sends one query per node or relationship
            (the plain baseline path). Defaults to ``batch_size``.

    Returns:
        Counts of what was written.
    """
    rows = transform_lineage(lineage, extractor_version=extractor_version)
    expected = rows.relationship_count()
    chunk = rows_per_query or batch_size
    replaced = [row["path"] for row in rows.files]
    deleted = sorted(set(deleted_paths) - set(replaced))

    seconds: dict[str, float] = {}

    def work(tx: ManagedTransaction) -> None:
        try:
            write(tx)
        except neo4j.exceptions.TransientError as exc:
            if exc.code in _OUT_OF_MEMORY_CODES:
                # Not a Neo4j error any more, so the driver rolls back without retrying.
                raise TransactionTooLargeError(exc.message) from exc
            raise

    def write(tx: ManagedTransaction) -> None:
        seconds.clear()  # a retried transaction starts over
        clock = time.perf_counter()
        stale_tables, stale_columns = _delete_lineage(tx, [*replaced, *deleted], chunk)
        if deleted:
            tx.run(queries.DELETE_FILES, paths=deleted).consume()
        clock = _lap(seconds, "delete", clock)
        created = 0
        for step, query, query_rows in (
            ("files", queries.MERGE_FILES, rows.files),
            ("tables", queries.MERGE_TABLES, rows.tables),
            ("statements", queries.CREATE_STATEMENTS, rows.statements),
            ("feeds", queries.CREATE_FEEDS, rows.feeds),
            ("columns", queries.MERGE_COLUMNS, rows.columns),
            ("statement_columns", queries.CREATE_STATEMENT_COLUMNS, rows.statement_columns),
            ("derives_from", queries.CREATE_DERIVES_FROM, rows.derives_from),
            ("fields", queries.MERGE_FIELD_OF, rows.fields),
        ):
            for part in _chunks(query_rows, chunk):
                result = tx.run(query, rows=part)
                record = result.single()
                created += record["created"] if record is not None else 0
            clock = _lap(seconds, step, clock)
        if created != expected:
            # Only a concurrent transaction can remove a table or column between this one's
            # MERGE and its CREATE: its clean-up of what its files no longer use (the load
            # step's other transaction, or a run of another folder). Rolled back, to retry.
            raise ConcurrentCleanupError(
                f"{expected - created} of {expected} relationships found no end node: a "
                "concurrent transaction removed tables or columns they link to; rolled back, to "
                "retry"
            )
        _clean_up(tx, stale_tables, stale_columns, chunk)
        _lap(seconds, "cleanup", clock)

    session.execute_write(work)
    logger.debug("Loaded %d files, removed %d", len(replaced), len(deleted))
    return LoadSummary(
        files_loaded=len(replaced),
        files_deleted=len(deleted),
        statements=len(rows.statements),
        tables=len(rows.tables),
        relationships=rows.relationship_count(),
        query_seconds=dict(seconds),
    )


def _clean_up(tx: ManagedTransaction, tables: set[str], columns: set[str], chunk: int) -> None:
    """Remove the ``tables`` and ``columns`` no statement uses any more (a removed field column
    makes the column holding it a candidate too)."""
    while columns:
        parents: set[str] = set()
        for ids in _chunks(sorted(columns), chunk):
            result = tx.run(queries.CLEANUP_COLUMNS, ids=ids)
            parents.update(record["parent"] for record in result if record["parent"])
        columns = parents
    for names in _chunks(sorted(tables), chunk):
        tx.run(queries.CLEANUP_TABLES, names=names).consume()


def _lap(seconds: dict[str, float], step: str, started: float) -> float:
    now = time.perf_counter()
    seconds[step] = seconds.get(step, 0.0) + now - started
    return now


def _delete_lineage(
    tx: ManagedTransaction, paths: list[str], chunk: int
) -> tuple[set[str], set[str]]:
    """Delete the statements and lineage edges of ``paths``; return tables/columns to re-check.

    Edges are found from the files' statements, so they go first, then the statements.
    """
    tables: set[str] = set()
    columns: set[str] = set()
    for part in _chunks(paths, chunk):
        tx.run(queries.DELETE_FEEDS, paths=part).consume()
        columns.update(r["column"] for r in tx.run(queries.DELETE_DERIVES_FROM, paths=part))
        for record in tx.run(queries.DELETE_STATEMENTS, paths=part):
            tables.update(record["tables"])
            columns.update(record["columns"])
    tables.update(split_column(column)[0] for column in columns)
    return tables, columns


def _chunks(rows: Sequence[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(rows), size):
        yield list(rows[start : start + size])


def _require_path(lineage: FileLineage) -> str:
    if not lineage.path:
        raise ValueError("Lineage loaded into the graph needs the path of its file")
    return lineage.path
