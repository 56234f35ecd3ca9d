"""Write extracted lineage into Neo4j: transform to rows, then load in UNWIND batches.

A batch of files is replaced inside one managed write transaction, so readers never see a
file's old and new lineage mixed, and a retried transaction (deadlock, leader switch) simply
runs again from the start.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lineage_dagster.files import FailedFile, partition_of
from lineage_dagster.graph import queries
from lineage_dagster.planning import LoadedFile

if TYPE_CHECKING:
    from neo4j import ManagedTransaction, Session

    from lineage_dagster.parsing.models import FileLineage

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 5_000

Row = dict[str, Any]


@dataclass(frozen=True)
class GraphRows:
    """The parameter rows for each MERGE query, derived from a batch of files."""

    files: list[Row] = field(default_factory=list)
    statements: list[Row] = field(default_factory=list)
    tables: list[Row] = field(default_factory=list)
    reads: list[Row] = field(default_factory=list)
    writes: list[Row] = field(default_factory=list)
    feeds: list[Row] = field(default_factory=list)
    columns: list[Row] = field(default_factory=list)
    derives_from: list[Row] = field(default_factory=list)

    def relationship_count(self) -> int:
        """Relationships the rows describe (CONTAINS and HAS_COLUMN included)."""
        return (
            len(self.statements)
            + len(self.reads)
            + len(self.writes)
            + len(self.feeds)
            + len(self.columns)
            + len(self.derives_from)
        )


@dataclass(frozen=True)
class LoadSummary:
    """What one call to :func:`sync_files` wrote."""

    files_loaded: int
    files_deleted: int
    statements: int
    tables: int
    relationships: int
    transactions: int


def graph_rows(lineage: FileLineage) -> int:
    """Roughly how many nodes and relationships a file's lineage writes: the unit that bounds a
    transaction's memory in Neo4j."""
    return 1 + sum(
        1
        + len(stmt.sources) * (1 + len(stmt.targets))
        + len(stmt.targets)
        + 2 * len(stmt.column_lineage)
        for stmt in lineage.statements
    )


def statement_id(path: str, index: int) -> str:
    """The graph key of a statement: its file path and 0-based index in that file."""
    return f"{path}#{index}"


def split_column(column: str) -> tuple[str, str]:
    """Split ``"schema.table.column"`` into its table name and column name."""
    table, _, name = column.rpartition(".")
    return table, name


def transform_lineage(
    files: Iterable[FileLineage],
    failed: Iterable[FailedFile] = (),
    *,
    extractor_version: str | None = None,
) -> GraphRows:
    """Turn extracted lineage (and files that failed whole) into sorted, de-duplicated rows.

    Rows are sorted by key so concurrent writers lock nodes in the same order (fewer deadlocks).
    """
    rows = GraphRows()
    tables: set[str] = set()
    columns: set[str] = set()
    reads: set[tuple[str, str]] = set()
    writes: set[tuple[str, str]] = set()
    feeds: set[tuple[str, str, str, str]] = set()
    derives: set[tuple[str, str, str, str, str]] = set()
    for lineage in files:
        path = _require_path(lineage)
        first_error = lineage.errors[0].error if lineage.errors else None
        rows.files.append(
            {
                "path": path,
                "partition": partition_of(path),
                "sha256": lineage.sha256,
                "dialect": lineage.dialect,
                "extractor_version": extractor_version,
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
                }
            )
            tables.update(stmt.sources, stmt.targets)
            reads.update((sid, table) for table in stmt.sources)
            writes.update((sid, table) for table in stmt.targets)
            feeds.update(
                (source, target, sid, path)
                for source in stmt.sources
                for target in stmt.targets
                if source != target
            )
            if not stmt.targets:
                continue  # a plain SELECT's columns name its result set, not a table
            for edge in stmt.column_lineage:
                columns.update((edge.source, edge.target))
                derives.add((edge.source, edge.target, edge.kind, sid, path))
    for failure in failed:
        rows.files.append(
            {
                "path": failure.path,
                "partition": partition_of(failure.path),
                "sha256": failure.sha256,
                "dialect": None,
                "extractor_version": extractor_version,
                "statement_count": 0,
                "error_count": 1,
                "status": "failed",
                "error_message": failure.message,
                "error_line": failure.line,
                "error_column": failure.column,
            }
        )
    for column in columns:
        tables.add(split_column(column)[0])
    rows.files.sort(key=lambda row: row["path"])
    rows.statements.sort(key=lambda row: row["id"])
    rows.tables.extend({"name": name} for name in sorted(tables))
    rows.reads.extend({"statement_id": s, "table": t} for s, t in sorted(reads))
    rows.writes.extend({"statement_id": s, "table": t} for s, t in sorted(writes))
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
    return rows


def ensure_constraints(session: Session) -> None:
    """Create the uniqueness constraints and edge indexes every MERGE relies on (idempotent)."""
    for statement in queries.SCHEMA_STATEMENTS:
        # Managed transactions, so the driver retries them through a short outage.
        session.execute_write(lambda tx, query=statement: tx.run(query).consume())


def get_loaded_files(session: Session, partition: str) -> dict[str, LoadedFile]:
    """The files of ``partition`` the graph holds, by path."""
    records = session.execute_read(
        lambda tx: list(tx.run(queries.GET_LOADED_FILES, partition=partition))
    )
    return {
        record["path"]: LoadedFile(record["path"], record["sha256"], record["extractor_version"])
        for record in records
    }


def sync_files(
    session: Session,
    lineage: Sequence[FileLineage],
    *,
    failed: Sequence[FailedFile] = (),
    deleted_paths: Sequence[str] = (),
    extractor_version: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    rows_per_query: int | None = None,
) -> LoadSummary:
    """Replace the lineage of ``lineage``'s files and remove that of ``deleted_paths``.

    Everything happens in one managed write transaction, retried by the driver on transient
    errors, so the graph holds either the old or the new lineage of these files, never a mix.

    Args:
        session: An open Neo4j session.
        lineage: The files to (re)load, each with a path relative to the watched root.
        failed: Files whose lineage could not be extracted: their old lineage is removed and
            their ``SqlFile`` node records the error.
        deleted_paths: Files that no longer exist; their lineage is removed.
        extractor_version: Recorded on each ``SqlFile`` so a new extractor re-parses it.
        batch_size: Rows per ``UNWIND`` query.
        rows_per_query: Cap on rows per query; ``1`` sends one query per node or relationship
            (the plain baseline path). Defaults to ``batch_size``.

    Returns:
        Counts of what was written.
    """
    rows = transform_lineage(lineage, failed, extractor_version=extractor_version)
    chunk = rows_per_query or batch_size
    replaced = [row["path"] for row in rows.files]
    deleted = sorted(set(deleted_paths) - set(replaced))

    def work(tx: ManagedTransaction) -> None:
        stale_tables, stale_columns = _delete_lineage(tx, [*replaced, *deleted], chunk)
        if deleted:
            tx.run(queries.DELETE_FILES, paths=deleted).consume()
        for query, query_rows in (
            (queries.MERGE_FILES, rows.files),
            (queries.MERGE_TABLES, rows.tables),
            (queries.CREATE_STATEMENTS, rows.statements),
            (queries.CREATE_READS, rows.reads),
            (queries.CREATE_WRITES, rows.writes),
            (queries.CREATE_FEEDS, rows.feeds),
            (queries.MERGE_COLUMNS, rows.columns),
            (queries.CREATE_DERIVES_FROM, rows.derives_from),
        ):
            for part in _chunks(query_rows, chunk):
                tx.run(query, rows=part).consume()
        for ids in _chunks(sorted(stale_columns), chunk):
            tx.run(queries.CLEANUP_COLUMNS, ids=ids).consume()
        for names in _chunks(sorted(stale_tables), chunk):
            tx.run(queries.CLEANUP_TABLES, names=names).consume()

    session.execute_write(work)
    logger.debug("Loaded %d files, removed %d", len(replaced), len(deleted))
    return LoadSummary(
        files_loaded=len(replaced),
        files_deleted=len(deleted),
        statements=len(rows.statements),
        tables=len(rows.tables),
        relationships=rows.relationship_count(),
        transactions=1,
    )


def _delete_lineage(
    tx: ManagedTransaction, paths: list[str], chunk: int
) -> tuple[set[str], set[str]]:
    """Delete the statements and lineage edges of ``paths``; return tables/columns to re-check."""
    tables: set[str] = set()
    columns: set[str] = set()
    for part in _chunks(paths, chunk):
        for record in tx.run(queries.DELETE_STATEMENTS, paths=part):
            tables.update(record["tables"])
        tx.run(queries.DELETE_FEEDS, paths=part).consume()
        for record in tx.run(queries.DELETE_DERIVES_FROM, paths=part):
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
