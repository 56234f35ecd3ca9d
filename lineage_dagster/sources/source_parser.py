"""Parse the files of the watched folder: one checked read, one hash, the content-keyed cache.

A file planned with a digest the cache knows is not read at all; otherwise it is read once
through :func:`~lineage_dagster.sources.files.read_sources` (many files per request), hashed
once, and extracted from those bytes. A file that cannot be read or decoded becomes a
:class:`FileLineage` carrying its error, so one broken file never stops the others.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
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
    extract_declarations,
)
from lineage_dagster.sources.corpus_schema import merge_declarations
from lineage_dagster.sources.file_access import DEFAULT_READ_TIMEOUT_SECONDS
from lineage_dagster.sources.files import SourceFile, read_sources, sha256_bytes
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
        read_timeout_seconds: A file whose read takes longer fails with a clear error.
    """

    root: Path
    dialects: DialectMap = field(default_factory=lambda: DialectMap({}))
    default_dialect: str | None = None
    default_schema: str | None = None
    schema: Mapping[str, Any] | SchemaIndex | None = None
    cache: ParseCache | None = None
    max_bytes: int = DEFAULT_MAX_BYTES
    read_timeout_seconds: float = DEFAULT_READ_TIMEOUT_SECONDS

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
        [result] = self.parse_many([SourceFile(relative_path, 0, 0, sha256)], use_cache=use_cache)
        return result

    def parse_many(
        self, files: Sequence[SourceFile], *, use_cache: bool = True
    ) -> list[tuple[FileLineage, bool]]:
        """:meth:`parse` of each file (a file with an ``error`` is that error); the files not
        in the cache are read in streamed requests (see :meth:`_read_all`)."""
        cache = self.cache if use_cache else None
        results: dict[str, tuple[FileLineage, bool]] = {}
        to_read: list[SourceFile] = []
        for file in files:
            dialect = self.dialect_for(file.path)
            if file.error:  # unreadable when it was listed: not read again
                error = SqlFileError(file.path, file.error)
                results[file.path] = FileLineage.from_error(error, dialect=dialect), False
            elif (cached := self._cached(cache, file.sha256, dialect, file.path)) is not None:
                results[file.path] = cached, True
            else:
                to_read.append(file)
        for file, data in self._read_all(to_read):
            results[file.path] = self._parse_read(file, data, cache)
        return [results[file.path] for file in files]

    def _cached(
        self, cache: ParseCache | None, sha256: str, dialect: str | None, path: str
    ) -> FileLineage | None:
        if cache is None or not sha256:
            return None
        cached = cache.get(self._key(sha256, dialect), path=path)
        return cached if cached is not None and self._valid(cached) else None

    def _parse_read(
        self, file: SourceFile, data: bytes | SqlFileError, cache: ParseCache | None
    ) -> tuple[FileLineage, bool]:
        """The lineage of a file's bytes, as read (or its read error)."""
        dialect = self.dialect_for(file.path)
        if isinstance(data, SqlFileError):
            return FileLineage.from_error(data, dialect=dialect), False
        digest = sha256_bytes(data)
        if digest != file.sha256:  # changed since it was planned
            cached = self._cached(cache, digest, dialect, file.path)
            if cached is not None:
                return cached, True
        try:
            lineage = extract_bytes(
                data,
                path=file.path,
                sha256=digest,
                dialect=dialect,
                default_schema=self.default_schema,
                schema=self.schema,
            )
        except SqlFileError as exc:
            return FileLineage.from_error(exc, dialect=dialect), False
        except UnknownDialectError as exc:  # a `-- dialect:` comment naming an unknown dialect
            return FileLineage(file.path, "", dialect, (), StatementError(str(exc))), False
        if cache is not None:
            cache.put(self._key(digest, dialect), lineage)
        return lineage, False

    def declarations(
        self, relative_path: str, sha256: str = "", *, use_cache: bool = True
    ) -> tuple[TableDeclaration, ...]:
        """The table declarations of one file (none when it cannot be read or parsed).

        They do not depend on any schema, so they are cached by content alone; a miss costs
        a parse of the file's declaring statements (:func:`extract_declarations`).
        """
        file = SourceFile(relative_path, 0, 0, sha256)
        return self.declarations_many([file], use_cache=use_cache)[0]

    def declarations_many(
        self, files: Sequence[SourceFile], *, use_cache: bool = True
    ) -> list[tuple[TableDeclaration, ...]]:
        """:meth:`declarations` of each file; the cache misses are read in streamed requests."""
        cache = self.cache if use_cache else None
        found: dict[str, tuple[TableDeclaration, ...]] = {}
        to_read: list[SourceFile] = []
        for file in files:
            key = self._declarations_cache_key(file.sha256, file.path)
            cached = cache.get_declarations(key) if cache is not None and file.sha256 else None
            if cached is not None:
                found[file.path] = cached
            else:
                to_read.append(file)
        for file, data in self._read_all(to_read):
            found[file.path] = self._declarations_read(file.path, data, cache)
        return [found[file.path] for file in files]

    def _read_all(
        self, files: Sequence[SourceFile]
    ) -> Iterator[tuple[SourceFile, bytes | SqlFileError]]:
        """Each file with its bytes (or read error), read in streamed requests of up to
        :data:`READ_CHUNK_BYTES`, so a parse never holds more than that of files at once."""
        for chunk in _chunks(files, READ_CHUNK_BYTES):
            contents = read_sources(
                self.root,
                [file.path for file in chunk],
                max_bytes=self.max_bytes,
                timeout_seconds=self.read_timeout_seconds,
            )
            for file in chunk:
                yield file, contents[file.path]

    def _declarations_cache_key(self, sha256: str, path: str) -> str:
        return cache_key(sha256, self.dialect_for(path), EXTRACTOR_VERSION, self._declarations_key)

    def _declarations_read(
        self, path: str, data: bytes | SqlFileError, cache: ParseCache | None
    ) -> tuple[TableDeclaration, ...]:
        if isinstance(data, SqlFileError):
            return ()
        digest = sha256_bytes(data)
        try:
            declared = extract_declarations(
                data,
                path=path,
                sha256=digest,
                dialect=self.dialect_for(path),
                default_schema=self.default_schema,
            )
        except LineageError:
            return ()
        if cache is not None:
            cache.put_declarations(self._declarations_cache_key(digest, path), declared)
        return declared

    def corpus_schema(
        self,
        files: Sequence[SourceFile],
        configured: Mapping[str, Sequence[str]] | None = None,
        *,
        use_cache: bool = True,
    ) -> SchemaIndex:
        """The schema that ``files`` (the whole watched folder) declare, with ``configured``
        tables (a catalog) taking precedence."""
        declared = self.declarations_many(files, use_cache=use_cache)
        return merge_declarations(
            zip((file.path for file in files), declared, strict=True), configured
        )

    def _valid(self, cached: FileLineage) -> bool:
        """Whether cached lineage holds for the current schema."""
        schema = self.schema
        if not isinstance(schema, SchemaIndex):
            return True
        return schema.digest_of(cached.schema_tables) == cached.schema_digest

    def _key(self, sha256: str, dialect: str | None) -> str:
        return cache_key(sha256, dialect, EXTRACTOR_VERSION, self._options)


READ_CHUNK_BYTES = 32 * 1024 * 1024
"""The most bytes of files a parse reads ahead (as listed; at least one file per read)."""


def _chunks(files: Sequence[SourceFile], max_bytes: int) -> Iterator[list[SourceFile]]:
    """``files`` in order, in runs of at most ``max_bytes`` (by listed size), none empty."""
    chunk: list[SourceFile] = []
    size = 0
    for file in files:
        if chunk and size + file.size > max_bytes:
            yield chunk
            chunk, size = [], 0
        chunk.append(file)
        size += file.size
    if chunk:
        yield chunk
