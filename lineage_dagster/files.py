"""List, hash and read the SQL files of a watched folder, safely (no Dagster here).

Partitions are the top-level folders of the watched root; files directly under it belong to
the ``_root`` partition. Paths are POSIX paths relative to the root: they name files in the
graph and in run metadata.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from lineage_dagster.constants import DEFAULT_MAX_FILE_BYTES, ROOT_PARTITION, SQL_SUFFIX


class SourceFileError(Exception):
    """A file of the watched folder cannot be read as SQL source."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


@dataclass(frozen=True)
class SourceFile:
    """A SQL file as seen when listing: its relative path, size, mtime and content digest."""

    path: str
    size: int
    mtime_ns: int
    sha256: str


@dataclass(frozen=True)
class FailedFile:
    """A file whose lineage could not be extracted at all, with where and why."""

    path: str
    message: str
    line: int | None = None
    column: int | None = None
    sha256: str | None = None


def partition_of(relative_path: str) -> str:
    """The partition a relative path belongs to.

    >>> partition_of("risk/var/daily.sql"), partition_of("adhoc.sql")
    ('risk', '_root')
    """
    parts = PurePosixPath(relative_path).parts
    return parts[0] if len(parts) > 1 else ROOT_PARTITION


def is_valid_partition_key(key: str) -> bool:
    """Whether ``key`` is usable as a Dagster partition key (UI selection breaks on ``,``/``|``)."""
    return bool(key) and "..." not in key and not any(c in key for c in ",|") and key.isprintable()


def iter_sql_paths(root: Path, partition: str | None = None) -> Iterator[Path]:
    """Yield the ``.sql`` files under ``root`` (or one partition of it), sorted, as real paths."""
    for entry in _sql_entries(root.resolve(), partition):
        yield Path(entry.path)


def _sql_entries(root: Path, partition: str | None) -> list[os.DirEntry[str]]:
    """The directory entries of the SQL files of a partition, sorted by path.

    ``os.scandir`` reuses what reading the directory already told (the entry type), which keeps
    a sensor tick over 10,000 files cheap; links are listed, never followed into directories.
    """
    if partition == ROOT_PARTITION:
        bases, recursive = [str(root)], False
    else:
        base = root if partition is None else root / partition
        if not base.is_dir():
            return []
        bases, recursive = [str(base)], True
    found: list[os.DirEntry[str]] = []
    while bases:
        with os.scandir(bases.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if recursive:
                        bases.append(entry.path)
                elif entry.name.lower().endswith(SQL_SUFFIX) and (
                    entry.is_symlink() or entry.is_file(follow_symlinks=False)
                ):
                    found.append(entry)
    found.sort(key=lambda entry: entry.path)
    return found


def relative_path(root: Path, path: Path) -> str:
    """``path`` relative to ``root`` as a POSIX string."""
    return path.relative_to(root.resolve()).as_posix()


def stat_file(root: Path, path: Path, *, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> os.stat_result:
    """Check that ``path`` is a regular file inside ``root`` within the size limit; return its stat.

    Raises:
        SourceFileError: The file is a symlink leaving the root, or too large.
    """
    rel = relative_path(root, path)
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise SourceFileError(rel, f"is a link to {resolved}, outside the watched folder; refused")
    info = resolved.stat()
    if info.st_size > max_bytes:
        raise SourceFileError(
            rel,
            f"is {info.st_size:,} bytes, over the limit of {max_bytes:,} bytes (max_file_bytes)",
        )
    return info


def read_source(root: Path, relative: str, *, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> bytes:
    """Read one file's bytes after the same safety checks as listing."""
    path = root.resolve() / relative
    stat_file(root, path, max_bytes=max_bytes)
    return path.read_bytes()


def list_partitions(root: Path) -> list[str]:
    """Top-level folders of ``root``, plus ``_root`` when SQL files lie directly in it."""
    root = root.resolve()
    partitions = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if any(_is_sql_file(p) for p in root.iterdir()):
        partitions.append(ROOT_PARTITION)
    return partitions


def stat_listing(root: Path, partition: str) -> list[tuple[str, int, int]]:
    """(relative path, size, mtime_ns) of each SQL file of a partition: cheap change detection."""
    root = root.resolve()
    prefix = len(str(root)) + 1
    listing = []
    for entry in _sql_entries(root, partition):
        try:
            info = entry.stat()
        except OSError:
            continue  # vanished (or a dangling link) since it was listed
        listing.append((entry.path[prefix:], info.st_size, info.st_mtime_ns))
    return listing


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def scan_files(
    root: Path, partition: str | None = None, *, max_bytes: int = DEFAULT_MAX_FILE_BYTES
) -> tuple[list[SourceFile], list[SourceFileError]]:
    """List and hash the SQL files of ``root`` (or one partition); unreadable ones are returned
    as errors instead of stopping the scan."""
    files: list[SourceFile] = []
    errors: list[SourceFileError] = []
    for path in iter_sql_paths(root, partition):
        rel = relative_path(root, path)
        try:
            info = stat_file(root, path, max_bytes=max_bytes)
            data = path.read_bytes()
        except SourceFileError as exc:
            errors.append(exc)
            continue
        except OSError as exc:
            errors.append(SourceFileError(rel, f"cannot be read: {exc.strerror or exc}"))
            continue
        files.append(SourceFile(rel, info.st_size, info.st_mtime_ns, sha256_bytes(data)))
    return files, errors


def _is_sql_file(path: Path) -> bool:
    return path.suffix.lower() == SQL_SUFFIX and (path.is_file() or path.is_symlink())
