"""Decide what an ingest run does: which files changed, and how to batch them (no Dagster)."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from lineage_dagster.parsing import SchemaIndex
from lineage_dagster.sources.files import SourceFile


@dataclass(frozen=True)
class LoadedFile:
    """What the graph holds for a file: the digest and extractor version it was loaded with,
    the tables its extraction looked up in the schema and the digest of what they gave."""

    path: str
    sha256: str | None
    extractor_version: str | None
    schema_tables: tuple[str, ...] = ()
    schema_digest: str = ""


@dataclass(frozen=True)
class FileChanges:
    """The files of one partition to (re)load and to remove."""

    to_load: tuple[SourceFile, ...]
    deleted: tuple[str, ...]
    unchanged: int


@dataclass(frozen=True)
class ParseBatch:
    """The files one parse step handles, with the digests they were planned with."""

    index: int
    files: tuple[SourceFile, ...]
    size: int
    schema: str = ""
    """The digest of the schema to extract against, kept in the parse cache (``""``: none)."""

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(file.path for file in self.files)

    @property
    def mapping_key(self) -> str:
        return f"batch_{self.index:04d}"


def diff_files(
    current: Sequence[SourceFile],
    loaded: Mapping[str, LoadedFile],
    *,
    extractor_version: str,
    full_refresh: bool = False,
    unreadable: Iterable[str] = (),
    schema: SchemaIndex | None = None,
) -> FileChanges:
    """Compare the folder with the graph: new or changed files load, vanished ones are deleted.

    With ``schema``, an unchanged file also loads again when a table its extraction looked up
    has other columns in ``schema`` than it had then (a DDL file elsewhere changed).

    Files listed in ``unreadable`` still exist (they failed a safety check), so they are not
    deleted: they load again and record their error. An entry ending in ``/`` is a folder that
    could not be listed: the files the graph holds under it are kept as they are.
    """
    unlisted = tuple(path for path in unreadable if path.endswith("/"))
    present = {file.path for file in current} | set(unreadable)
    present |= {path for path in loaded if unlisted and path.startswith(unlisted)}
    to_load = tuple(
        file
        for file in current
        if full_refresh
        or (previous := loaded.get(file.path)) is None
        or previous.sha256 != file.sha256
        or previous.extractor_version != extractor_version
        or (
            schema is not None
            and schema.digest_of(previous.schema_tables) != previous.schema_digest
        )
    )
    deleted = tuple(sorted(path for path in loaded if path not in present))
    return FileChanges(to_load=to_load, deleted=deleted, unchanged=len(current) - len(to_load))


def plan_batches(files: Sequence[SourceFile], batch_count: int) -> list[ParseBatch]:
    """Split ``files`` into at most ``batch_count`` batches of balanced total size.

    Largest file first into the lightest batch (LPT scheduling); paths are sorted within a
    batch so the plan is deterministic.

    >>> files = [SourceFile(p, s, 0, "") for p, s in [("a", 9), ("b", 5), ("c", 4), ("d", 1)]]
    >>> [(b.paths, b.size) for b in plan_batches(files, 2)]
    [(('a', 'd'), 10), (('b', 'c'), 9)]
    """
    if not files:
        return []
    count = max(1, min(batch_count, len(files)))
    heap: list[tuple[int, int, list[SourceFile]]] = [(0, index, []) for index in range(count)]
    for file in sorted(files, key=lambda f: (-f.size, f.path)):
        size, index, members = heapq.heappop(heap)
        members.append(file)
        heapq.heappush(heap, (size + file.size, index, members))
    batches = sorted(heap, key=lambda item: item[1])
    return [
        ParseBatch(index=index, files=tuple(sorted(members, key=lambda f: f.path)), size=size)
        for size, index, members in batches
        if members
    ]


def plan_parse_batches(
    files: Sequence[SourceFile], *, max_batches: int, min_batch_bytes: int
) -> list[ParseBatch]:
    """The parse steps of a run: ``files`` in size-balanced batches of at least
    ``min_batch_bytes``, at most ``max_batches`` of them.

    A step process costs a fraction of a second to start, so a small partition gets one or two
    batches, not one per worker slot. Files with the same content go to the same batch, after
    the first of them, so it is parsed once and the others are cache hits. (Files whose lineage
    is cached are not planned here: the load step reads them from the cache.)

    >>> files = [SourceFile(p, 400, 0, p) for p in "abcd"]
    >>> [b.paths for b in plan_parse_batches(files, max_batches=6, min_batch_bytes=800)]
    [('a', 'c'), ('b', 'd')]
    """
    copies: dict[str, list[SourceFile]] = {}
    for file in files:
        copies.setdefault(file.sha256 or file.path, []).append(file)
    firsts = [group[0] for group in copies.values()]
    total = sum(file.size for file in firsts)
    count = min(max_batches, max(1, -(-total // max(1, min_batch_bytes))))
    return [
        replace(
            batch,
            files=tuple(f for first in batch.files for f in copies[first.sha256 or first.path]),
        )
        for batch in plan_batches(firsts, count)
    ]


def group_by_size(sizes: Sequence[int], *, max_items: int, max_size: int) -> list[range]:
    """Consecutive groups of at most ``max_items`` items and ``max_size`` total size.

    An item larger than ``max_size`` forms a group of its own (a file is never split).

    >>> group_by_size([5, 5, 5, 20, 1, 1], max_items=3, max_size=10)
    [range(0, 2), range(2, 3), range(3, 4), range(4, 6)]
    """
    groups: list[range] = []
    start, total = 0, 0
    for index, size in enumerate(sizes):
        if index > start and (index - start >= max_items or total + size > max_size):
            groups.append(range(start, index))
            start, total = index, 0
        total += size
    if start < len(sizes):
        groups.append(range(start, len(sizes)))
    return groups
