"""A persistent cache of extracted lineage, keyed by content, shared by all step processes.

Keys are (content sha256, requested dialect, extractor version, options digest); values are the
extracted lineage as JSON without the file path, so identical content under two paths is parsed
once. SQLite in WAL mode lets many step processes read and write the same file safely. ASTs are
never cached: re-parsing is faster than unpickling them.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson

from lineage_dagster.parsing.models import (
    ColumnEdge,
    FileLineage,
    StatementError,
    StatementLineage,
)

CACHE_FILE = Path("lineage") / "parse_cache.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS lineage (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    created_at REAL NOT NULL
) WITHOUT ROWID
"""


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
            )
            for stmt in data["statements"]
        ),
        error=StatementError(**data["error"]) if data.get("error") else None,
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
        self._connection.execute(_SCHEMA)

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

    def stats(self) -> CacheStats:
        (entries,) = self._connection.execute("SELECT count(*) FROM lineage").fetchone()
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*"))
        return CacheStats(path=str(self.path), entries=entries, bytes=size)

    def clear(self) -> int:
        """Delete every entry; return how many there were."""
        (entries,) = self._connection.execute("SELECT count(*) FROM lineage").fetchone()
        self._connection.execute("DELETE FROM lineage")
        self._connection.execute("VACUUM")
        return entries

    def close(self) -> None:
        self._connection.close()
