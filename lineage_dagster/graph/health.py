"""Health of the lineage graph: the schema every MERGE relies on, and the files that failed to
parse (no Dagster).

>>> required_schema_names()[:2]
('sql_file_path', 'statement_id')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lineage_dagster.graph import queries

if TYPE_CHECKING:
    from neo4j import ManagedTransaction, Session

_CREATED_NAME = re.compile(r"^CREATE (?:CONSTRAINT|INDEX) (\w+) ")


def required_schema_names() -> tuple[str, ...]:
    """The constraints and indexes ``graph.load.ensure_constraints`` creates, by name."""
    return tuple(
        match.group(1)
        for statement in queries.SCHEMA_STATEMENTS
        if (match := _CREATED_NAME.match(statement))
    )


def get_missing_schema(session: Session) -> tuple[str, ...]:
    """The required constraints and indexes the database lacks (or whose index is not online).

    They are created by the first ingest run; without them every MERGE scans its label.
    """

    def read(tx: ManagedTransaction) -> set[str]:
        constraints = {record["name"] for record in tx.run(queries.SCHEMA_CONSTRAINT_NAMES)}
        indexes = {record["name"] for record in tx.run(queries.SCHEMA_ONLINE_INDEX_NAMES)}
        return constraints | indexes

    present = session.execute_read(read)
    return tuple(name for name in required_schema_names() if name not in present)


@dataclass(frozen=True)
class FilesWithErrors:
    """How many files the graph records as ``partial`` or ``failed``, and the first of them by
    path (each a mapping of path, partition, status, line and message)."""

    total: int
    files: tuple[dict[str, Any], ...]


def get_files_with_errors(session: Session, *, limit: int = 20) -> FilesWithErrors:
    """The files whose last load recorded a parse error, whole (``failed``) or in part."""
    record = session.execute_read(
        lambda tx: tx.run(queries.FILES_WITH_ERRORS, limit=limit).single(strict=True)
    )
    return FilesWithErrors(record["total"], tuple(dict(item) for item in record["files"]))
