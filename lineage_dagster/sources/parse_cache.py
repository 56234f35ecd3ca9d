"""A persistent cache of extracted lineage, keyed by content, shared by all step processes.

Keys are (content sha256, requested dialect, extractor version, options digest); values are the
extracted lineage as JSON without the file path, so identical content under two paths is parsed
once. SQLite in WAL mode lets many step processes read and write the same file safely. ASTs are
never cached: re-parsing is faster than unpickling them.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson

from lineage_dagster.parsing.models import (
    ColumnEdge,
    FileLineage,
    StatementError,
    StatementLineage,
    TableDeclaration,
)
from lineage_dagster.parsing.schema import SchemaIndex

CACHE_FILE = Path("lineage") / "parse_cache.sqlite"

_TABLES = (
    """CREATE TABLE IF NOT EXISTS lineage (
    key TEXT PRIMARY KEY, value BLOB NOT NULL, created_at REAL NOT NULL) WITHOUT ROWID""",
    # The table declarations of a file content (see SourceParser.declarations).
    """CREATE TABLE IF NOT EXISTS declarations (
    key TEXT PRIMARY KEY, value BLOB NOT NULL, created_at REAL NOT NULL) WITHOUT ROWID""",
    # The schema a run's parse steps extract against, by its digest.
    """CREATE TABLE IF NOT EXISTS schemas (
    digest TEXT PRIMARY KEY, value BLOB NOT NULL, created_at REAL NOT NULL) WITHOUT ROWID""",
    # Partitions holding files extracted against other columns than the schema now gives: the
    # sensor requests a run for each (see mark_stale).
    """CREATE TABLE IF NOT EXISTS stale_partitions (
    partition TEXT PRIMARY KEY, schema TEXT NOT NULL, created_at REAL NOT NULL) WITHOUT ROWID""",
)
SCHEMAS_KEPT = 20
"""Schemas kept in the cache: enough for the runs in flight, however many partitions run."""


@dataclass(frozen=True)
class CacheStats:
    """Size of the cache on disk."""

    path: str
    entries: int
    bytes: int


def default_cache_path(dagster_home: Path) -> Path:
    """Where the parse cache lives for a Dagster instance whose root is ``dagster_home``."""
    return dagster_home / CACHE_FILE


def cache_key(sha256: str, dialect: str | None, extractor_version: str, options: str = "") -> str:
    """The cache key of one file content under one set of extraction settings."""
    return f"{sha256}:{dialect or ''}:{extractor_version}:{options}"


def lineage_from_dict(data: dict[str, Any]) -> FileLineage:
    """Rebuild a :class:`FileLineage` from its ``to_dict()`` form."""
    return FileLineage(
        path=data.get("path"),
        sha256=data["sha256"],
        dialect=data.get("dialect"),
        statements=tuple(
            StatementLineage(
                index=stmt["index"],
                line=stmt["line"],
                kind=stmt["kind"],
                sources=tuple(stmt["sources"]),
                targets=tuple(stmt["targets"]),
                column_lineage=tuple(ColumnEdge(**edge) for edge in stmt["column_lineage"]),
                error=StatementError(**stmt["error"]) if stmt["error"] else None,
                gaps=tuple((target, reason) for target, reason in stmt.get("gaps", ())),
            )
            for stmt in data["statements"]
        ),
        error=StatementError(**data["error"]) if data.get("error") else None,
        declarations=tuple(
            TableDeclaration(
                item["table"],
                tuple(item["columns"]),
                item["complete"],
                item.get("like"),
                item.get("added", False),
            )
            for item in data.get("declarations", ())
        ),
        schema_tables=tuple(data.get("schema_tables", ())),
        schema_digest=data.get("schema_digest", ""),
    )


class ParseCache:
    """Lineage cached in one SQLite file.

    >>> import tempfile
    >>> cache = ParseCache(Path(tempfile.mkdtemp()) / "cache.sqlite")
    >>> cache.get("k") is None
    True
    >>> cache.put("k", FileLineage(path="a.sql", sha256="ab", dialect=None))
    >>> cache.get("k", path="b.sql").path
    'b.sql'
    """

    def __init__(self, path: Path, *, timeout_seconds: float = 30.0) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(path, timeout=timeout_seconds, isolation_level=None)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=NORMAL")
        for statement in _TABLES:
            self._connection.execute(statement)

    def get(self, key: str, *, path: str | None = None) -> FileLineage | None:
        """The cached lineage for ``key``, carrying ``path``, or None."""
        row = self._connection.execute("SELECT value FROM lineage WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        return replace(lineage_from_dict(orjson.loads(row[0])), path=path)

    def contains(self, key: str) -> bool:
        """Whether ``key`` has an entry."""
        row = self._connection.execute("SELECT 1 FROM lineage WHERE key = ?", (key,)).fetchone()
        return row is not None

    def put(self, key: str, lineage: FileLineage) -> None:
        """Store ``lineage`` (without its path) under ``key``."""
        value = orjson.dumps(replace(lineage, path=None).to_dict())
        self._connection.execute(
            "INSERT OR REPLACE INTO lineage (key, value, created_at) VALUES (?, ?, ?)",
            (key, value, time.time()),
        )

    def get_declarations(self, key: str) -> tuple[TableDeclaration, ...] | None:
        """The table declarations cached for ``key``, or None."""
        row = self._connection.execute(
            "SELECT value FROM declarations WHERE key = ?", (key,)
        ).fetchone()
        if row is None:
            return None
        return tuple(
            TableDeclaration(table, tuple(columns), complete, like, added)
            for table, columns, complete, like, added in orjson.loads(row[0])
        )

    def put_declarations(self, key: str, declarations: tuple[TableDeclaration, ...]) -> None:
        """Store the table declarations of one file content."""
        value = orjson.dumps(
            [[d.table, d.columns, d.complete, d.like, d.added] for d in declarations]
        )
        self._connection.execute(
            "INSERT OR REPLACE INTO declarations (key, value, created_at) VALUES (?, ?, ?)",
            (key, value, time.time()),
        )

    def put_schema(self, schema: SchemaIndex) -> str:
        """Keep ``schema`` under its digest (the most recent ones only); return the digest."""
        now = time.time()
        with self._connection:
            self._connection.execute("BEGIN IMMEDIATE")
            self._connection.execute(
                "INSERT OR REPLACE INTO schemas (digest, value, created_at) VALUES (?, ?, ?)",
                (schema.digest, orjson.dumps(schema.entries), now),
            )
            self._connection.execute(
                "DELETE FROM schemas WHERE digest NOT IN "
                "(SELECT digest FROM schemas ORDER BY created_at DESC LIMIT ?)",
                (SCHEMAS_KEPT,),
            )
        return schema.digest

    def latest_schema(self) -> SchemaIndex | None:
        """The schema kept last, or None."""
        row = self._connection.execute(
            "SELECT value FROM schemas ORDER BY created_at DESC LIMIT 1"
        ).fetchone()
        return SchemaIndex(orjson.loads(row[0])) if row is not None else None

    def mark_stale(self, partitions: Iterable[str], schema: str) -> None:
        """Record that ``partitions`` must be extracted again against the schema ``schema``."""
        now = time.time()
        self._connection.executemany(
            "INSERT OR REPLACE INTO stale_partitions (partition, schema, created_at) "
            "VALUES (?, ?, ?)",
            [(partition, schema, now) for partition in partitions],
        )

    def stale_partitions(self) -> dict[str, str]:
        """Partition -> digest of the schema its files must be extracted against again."""
        rows = self._connection.execute("SELECT partition, schema FROM stale_partitions")
        return dict(rows.fetchall())

    def clear_stale(self, partition: str) -> None:
        """A run of ``partition`` is planning against the current schema."""
        self._connection.execute("DELETE FROM stale_partitions WHERE partition = ?", (partition,))

    def get_schema(self, digest: str) -> SchemaIndex | None:
        """The schema kept under ``digest``, or None."""
        row = self._connection.execute(
            "SELECT value FROM schemas WHERE digest = ?", (digest,)
        ).fetchone()
        return SchemaIndex(orjson.loads(row[0])) if row is not None else None

    def stats(self) -> CacheStats:
        (entries,) = self._connection.execute("SELECT count(*) FROM lineage").fetchone()
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*"))
        return CacheStats(path=str(self.path), entries=entries, bytes=size)

    def clear(self) -> int:
        """Delete every entry; return how many there were."""
        (entries,) = self._connection.execute("SELECT count(*) FROM lineage").fetchone()
        self._connection.execute("DELETE FROM lineage")
        self._connection.execute("DELETE FROM declarations")
        self._connection.execute("VACUUM")
        return entries

    def close(self) -> None:
        self._connection.close()
