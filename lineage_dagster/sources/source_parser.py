"""Parse the files of the watched folder: one checked read, one hash, the content-keyed cache.

A file planned with a digest the cache knows is not read at all; otherwise it is read once
through :func:`~lineage_dagster.sources.files.read_source`, hashed once, and extracted from those
bytes. A file that cannot be read or decoded becomes a :class:`FileLineage` carrying its error,
so one broken file never stops the others.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lineage_dagster.parsing import (
    DEFAULT_MAX_BYTES,
    EXTRACTOR_VERSION,
    DialectMap,
    FileLineage,
    LineageError,
    SchemaIndex,
    SqlFileError,
    StatementError,
    TableDeclaration,
    UnknownDialectError,
    extract_bytes,
)
from lineage_dagster.sources.corpus_schema import merge_declarations
from lineage_dagster.sources.files import SourceFile, read_source, sha256_bytes
from lineage_dagster.sources.parse_cache import ParseCache, cache_key


@dataclass
class SourceParser:
    """Extracts the lineage of files under ``root``, through ``cache`` when one is given.

    Args:
        root: The watched folder; files are named by their path relative to it.
        dialects: Folder prefix -> dialect (names already validated and canonical).
        default_dialect: The canonical dialect of files no prefix matches (``None``: generic).
        default_schema: Schema (or ``catalog.schema``) for unqualified table names.
        schema: Table -> columns, resolving ``SELECT *`` and unqualified columns: a mapping
            (normalised per file) or the folder's :class:`SchemaIndex` (see
            :meth:`corpus_schema`). Cached lineage extracted against an index is used only if
            every table it looked up still has the same columns.
        cache: The parse cache; ``None`` parses every file.
        max_bytes: Larger files fail with a clear error.
    """

    root: Path
    dialects: DialectMap = field(default_factory=lambda: DialectMap({}))
    default_dialect: str | None = None
    default_schema: str | None = None
    schema: Mapping[str, Any] | SchemaIndex | None = None
    cache: ParseCache | None = None
    max_bytes: int = DEFAULT_MAX_BYTES

    def __post_init__(self) -> None:
        # Settings that change extraction output are part of every cache key; an index is not:
        # each entry records what it looked up in it (see _valid).
        schema = "index" if isinstance(self.schema, SchemaIndex) else self.schema
        self._options = sha256_bytes(
            json.dumps([self.default_schema, schema], sort_keys=True).encode()
        )[:16]
        self._declarations_key = sha256_bytes(json.dumps([self.default_schema]).encode())[:16]

    def dialect_for(self, relative_path: str) -> str | None:
        """The dialect configured for a file: its longest folder prefix's, else the default."""
        return self.dialects.dialect_for(relative_path) or self.default_dialect

    def is_cached(self, relative_path: str, sha256: str) -> bool:
        """Whether the lineage of this content is in the cache (a parse would not read it)."""
        if self.cache is None:
            return False
        key = self._key(sha256, self.dialect_for(relative_path))
        if not isinstance(self.schema, SchemaIndex):
            return self.cache.contains(key)
        cached = self.cache.get(key)
        return cached is not None and self._valid(cached)

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
            if cached is not None and self._valid(cached):
                return cached, True
        try:
            data = read_source(self.root, relative_path, max_bytes=self.max_bytes)
        except SqlFileError as exc:
            return FileLineage.from_error(exc, dialect=dialect), False
        digest = sha256_bytes(data)
        if cache is not None and digest != sha256:  # changed since it was planned
            cached = cache.get(self._key(digest, dialect), path=relative_path)
            if cached is not None and self._valid(cached):
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

    def declarations(
        self, relative_path: str, sha256: str = "", *, use_cache: bool = True
    ) -> tuple[TableDeclaration, ...]:
        """The table declarations of one file (none when it cannot be read or parsed).

        They do not depend on any schema, so they are cached by content alone; a miss costs
        a table-level extraction of the file.
        """
        dialect = self.dialect_for(relative_path)
        cache = self.cache if use_cache else None
        key = cache_key(sha256, dialect, EXTRACTOR_VERSION, self._declarations_key)
        if cache is not None and sha256:
            cached = cache.get_declarations(key)
            if cached is not None:
                return cached
        try:
            data = read_source(self.root, relative_path, max_bytes=self.max_bytes)
            digest = sha256_bytes(data)
            found = extract_bytes(
                data,
                path=relative_path,
                sha256=digest,
                dialect=dialect,
                default_schema=self.default_schema,
                columns=False,
            ).declarations
        except (SqlFileError, LineageError):
            return ()
        if cache is not None:
            key = cache_key(digest, dialect, EXTRACTOR_VERSION, self._declarations_key)
            cache.put_declarations(key, found)
        return found

    def corpus_schema(
        self,
        files: Sequence[SourceFile],
        configured: Mapping[str, Sequence[str]] | None = None,
        *,
        use_cache: bool = True,
    ) -> SchemaIndex:
        """The schema that ``files`` (the whole watched folder) declare, with ``configured``
        tables (a catalog) taking precedence."""
        return merge_declarations(
            ((f.path, self.declarations(f.path, f.sha256, use_cache=use_cache)) for f in files),
            configured,
        )

    def _valid(self, cached: FileLineage) -> bool:
        """Whether cached lineage holds for the current schema."""
        schema = self.schema
        if not isinstance(schema, SchemaIndex):
            return True
        return schema.digest_of(cached.schema_tables) == cached.schema_digest

    def _key(self, sha256: str, dialect: str | None) -> str:
        return cache_key(sha256, dialect, EXTRACTOR_VERSION, self._options)
