"""Parse the files of the watched folder: one checked read, one hash, the content-keyed cache.

A file planned with a digest the cache knows is not read at all; otherwise it is read once
through :func:`~lineage_dagster.sources.files.read_source`, hashed once, and extracted from those
bytes. A file that cannot be read or decoded becomes a :class:`FileLineage` carrying its error,
so one broken file never stops the others.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lineage_dagster.parsing import (
    DEFAULT_MAX_BYTES,
    EXTRACTOR_VERSION,
    DialectMap,
    FileLineage,
    SqlFileError,
    StatementError,
    UnknownDialectError,
    extract_bytes,
)
from lineage_dagster.sources.files import read_source, sha256_bytes
from lineage_dagster.sources.parse_cache import ParseCache, cache_key


@dataclass
class SourceParser:
    """Extracts the lineage of files under ``root``, through ``cache`` when one is given.

    Args:
        root: The watched folder; files are named by their path relative to it.
        dialects: Folder prefix -> dialect (names already validated and canonical).
        default_dialect: The canonical dialect of files no prefix matches (``None``: generic).
        default_schema: Schema (or ``catalog.schema``) for unqualified table names.
        schema: Table -> columns, resolving ``SELECT *`` and unqualified columns.
        cache: The parse cache; ``None`` parses every file.
        max_bytes: Larger files fail with a clear error.
    """

    root: Path
    dialects: DialectMap = field(default_factory=lambda: DialectMap({}))
    default_dialect: str | None = None
    default_schema: str | None = None
    schema: Mapping[str, Any] | None = None
    cache: ParseCache | None = None
    max_bytes: int = DEFAULT_MAX_BYTES

    def __post_init__(self) -> None:
        # Settings that change extraction output are part of every cache key.
        self._options = sha256_bytes(
            json.dumps([self.default_schema, self.schema], sort_keys=True).encode()
        )[:16]

    def dialect_for(self, relative_path: str) -> str | None:
        """The dialect configured for a file: its longest folder prefix's, else the default."""
        return self.dialects.dialect_for(relative_path) or self.default_dialect

    def is_cached(self, relative_path: str, sha256: str) -> bool:
        """Whether the lineage of this content is in the cache (a parse would not read it)."""
        return self.cache is not None and self.cache.contains(
            self._key(sha256, self.dialect_for(relative_path))
        )

    def parse(
        self, relative_path: str, sha256: str = "", *, use_cache: bool = True
    ) -> tuple[FileLineage, bool]:
        """The lineage of one file, and whether it came from the cache.

        Args:
            relative_path: The file, relative to ``root``.
            sha256: The digest the file was planned with: a cached result for it is returned
                without reading the file.
            use_cache: ``False`` parses the file even when a cached result exists.

        Returns:
            The lineage (with ``error`` set when the file cannot be read or decoded) and whether
            it was a cache hit.
        """
        dialect = self.dialect_for(relative_path)
        cache = self.cache if use_cache else None
        if cache is not None and sha256:
            cached = cache.get(self._key(sha256, dialect), path=relative_path)
            if cached is not None:
                return cached, True
        try:
            data = read_source(self.root, relative_path, max_bytes=self.max_bytes)
        except SqlFileError as exc:
            return FileLineage.from_error(exc, dialect=dialect), False
        digest = sha256_bytes(data)
        if cache is not None and digest != sha256:  # changed since it was planned
            cached = cache.get(self._key(digest, dialect), path=relative_path)
            if cached is not None:
                return cached, True
        try:
            lineage = extract_bytes(
                data,
                path=relative_path,
                sha256=digest,
                dialect=dialect,
                default_schema=self.default_schema,
                schema=self.schema,
            )
        except SqlFileError as exc:
            return FileLineage.from_error(exc, dialect=dialect), False
        except UnknownDialectError as exc:  # a `-- dialect:` comment naming an unknown dialect
            return FileLineage(relative_path, "", dialect, (), StatementError(str(exc))), False
        if cache is not None:
            cache.put(self._key(digest, dialect), lineage)
        return lineage, False

    def _key(self, sha256: str, dialect: str | None) -> str:
        return cache_key(sha256, dialect, EXTRACTOR_VERSION, self._options)
