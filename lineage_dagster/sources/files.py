"""List, hash and read the SQL files of a watched folder, safely (no Dagster here).

Partitions are the top-level folders of the watched root; files directly under it belong to
the ``_root`` partition. Paths are POSIX paths relative to the root: they name files in the
graph and in run metadata.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from lineage_dagster.parsing import (
    DEFAULT_MAX_BYTES,
    SqlFileError,
    SqlFileTimeoutError,
    SqlFileTooLargeError,
)
from lineage_dagster.sources import file_access
from lineage_dagster.sources.file_access import DEFAULT_READ_TIMEOUT_SECONDS, ReadRefused

ROOT_PARTITION = "_root"
"""The partition of the files directly in the watched root."""


@dataclass(frozen=True)
class SourceFile:
    """A SQL file as seen when listing: its relative path, size, mtime and content digest."""

    path: str
    size: int
    mtime_ns: int
    sha256: str
    error: str = ""
    """Why the file could not be read when listed (then it has no digest)."""


def partition_of(relative_path: str) -> str:
    """The partition a relative path belongs to.

    >>> partition_of("risk/var/daily.sql"), partition_of("adhoc.sql")
    ('risk', '_root')
    """
    parts = PurePosixPath(relative_path).parts
    return parts[0] if len(parts) > 1 else ROOT_PARTITION


def partition_key_problem(key: str) -> str | None:
    r"""Why ``key`` cannot be a Dagster partition key, or ``None`` when it can (``,`` and ``|``
    break the UI's partition selection; ``...`` and control characters are refused by Dagster).

    >>> partition_key_problem("risk") is None
    True
    >>> partition_key_problem("q1\tq2")
    'its name contains a tab, newline or other control character'
    """
    if not key:
        return "its name is empty"
    if not key.isprintable():
        return "its name contains a tab, newline or other control character"
    for part in (",", "|", "..."):
        if part in key:
            return f"partition keys cannot contain {part!r}"
    return None


def is_valid_partition_key(key: str) -> bool:
    """Whether ``key`` is usable as a Dagster partition key."""
    return partition_key_problem(key) is None


def split_partitions(root: Path) -> tuple[list[str], list[str]]:
    """The partitions of ``root``: those usable as partition keys, and the folders skipped.

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> for name in ("risk", "a,b"): (root / name).mkdir()
    >>> split_partitions(root)
    (['risk'], ['a,b'])
    """
    partitions = list_partitions(root)
    usable = [key for key in partitions if is_valid_partition_key(key)]
    return usable, [key for key in partitions if key not in usable]


def _sql_listing(
    root: Path, partition: str | None, timeout_seconds: float
) -> tuple[list[tuple[str, int, int]], list[tuple[str, OSError]]]:
    """(path, size, mtime_ns) of the SQL files of a partition, sorted by path, and the folders
    that could not be listed (with why); a file that cannot be stat'ed has size and mtime -1.

    Links are listed, never followed into directories, and a partition that is itself a link
    is not walked. Each folder is listed within the timeout: a hung mount is one unreadable
    folder, not a hung scan.
    """
    if partition == ROOT_PARTITION:
        bases, recursive = [str(root)], False
    else:
        base = str(root if partition is None else root / partition)
        try:
            walkable = file_access.call(
                "is_walkable", base, timeout_seconds=timeout_seconds, path=base
            )
        except OSError as exc:
            return [], [(base, exc)]
        if not walkable:
            return [], []
        bases, recursive = [base], True
    found: list[tuple[str, int, int]] = []
    unreadable: list[tuple[str, OSError]] = []
    while bases:
        folder = bases.pop()
        try:
            subfolders, files = file_access.call(
                "list_folder", folder, recursive, timeout_seconds=timeout_seconds, path=folder
            )
        except OSError as exc:  # no read permission, or no answer: the others still count
            unreadable.append((folder, exc))
            continue
        bases.extend(subfolders)
        found.extend(files)
    found.sort()
    return found, unreadable


def relative_path(root: Path, path: Path) -> str:
    """``path`` relative to ``root`` as a POSIX string."""
    return path.relative_to(root.resolve()).as_posix()


def _file_error(relative: str, exc: Exception) -> SqlFileError:
    """The error naming ``relative`` for what the helper answered about it."""
    if isinstance(exc, ReadRefused):
        error = SqlFileTooLargeError if exc.kind == "too_large" else SqlFileError
        return error(relative, exc.message)
    if isinstance(exc, TimeoutError):
        return SqlFileTimeoutError(relative, f"cannot be read: {exc} (a hung network mount?)")
    return SqlFileError(relative, f"cannot be read: {getattr(exc, 'strerror', None) or exc}")


def read_source(
    root: Path,
    relative: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout_seconds: float = DEFAULT_READ_TIMEOUT_SECONDS,
) -> bytes:
    """Read one file of the watched folder, safely.

    The planning scan, the parse steps and the sensor read the watched folder through this and
    its many-files forms, :func:`read_sources` and :func:`hash_sources`. Only regular files
    inside ``root`` (links included) within ``max_bytes`` are read, by a helper process, and a
    file whose check and read take longer than ``timeout_seconds`` (a hung network mount) is
    given up on (see :mod:`~lineage_dagster.sources.file_access`).

    Raises:
        SqlFileError: The file is a link leaving the root or going round in a loop, not a
            regular file, vanished or cannot be read; the path in the error is relative to the
            root.
        SqlFileTooLargeError: The file is larger than ``max_bytes``.
        SqlFileTimeoutError: The check and read took longer than ``timeout_seconds``.
    """
    read = read_sources(root, [relative], max_bytes=max_bytes, timeout_seconds=timeout_seconds)
    data = read[relative]
    if isinstance(data, SqlFileError):
        raise data
    return data


FileDigest = tuple[str, int, int]
"""A file's sha256, size and mtime_ns."""


def hash_sources(
    root: Path,
    relatives: list[str],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout_seconds: float = DEFAULT_READ_TIMEOUT_SECONDS,
    deadline: float | None = None,
) -> dict[str, FileDigest | SqlFileError | None]:
    """Each file's digest, size and mtime_ns, read as :func:`read_source` reads it (in one
    streamed request; the bytes stay in the helper process), or its error. A file not read by
    ``deadline`` (``time.monotonic()``) maps to ``None``."""
    return _read_many(root, relatives, max_bytes, timeout_seconds, deadline, digest_only=True)


def read_sources(
    root: Path,
    relatives: list[str],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout_seconds: float = DEFAULT_READ_TIMEOUT_SECONDS,
) -> dict[str, bytes | SqlFileError]:
    """Each file's bytes, read as :func:`read_source` reads it (in one streamed request), or
    its error."""
    read = _read_many(root, relatives, max_bytes, timeout_seconds, None, digest_only=False)
    return {
        relative: value if isinstance(value, SqlFileError) else value[0]
        for relative, value in read.items()
        if value is not None
    }


def _read_many(
    root: Path,
    relatives: list[str],
    max_bytes: int,
    timeout_seconds: float,
    deadline: float | None,
    *,
    digest_only: bool,
) -> dict[str, Any]:
    root_text = str(root.resolve())
    replies = file_access.read_files(
        root_text,
        relatives,
        max_bytes,
        digest_only,
        timeout_seconds=timeout_seconds,
        deadline=deadline,
    )
    results: dict[str, Any] = {}
    for relative, reply in replies.items():
        if reply is None:
            results[relative] = None
        else:
            answered, value = reply
            results[relative] = value if answered else _file_error(relative, value)
    return results


def list_partitions(
    root: Path, *, timeout_seconds: float = DEFAULT_READ_TIMEOUT_SECONDS
) -> list[str]:
    """Top-level folders of ``root``, plus ``_root`` when SQL files lie directly in it.

    A top-level link to a folder is not a partition: it would walk files outside the root.

    Raises:
        OSError: ``root`` cannot be listed, or gives no answer within the timeout.
    """
    root_text = str(root.resolve())
    folders, has_files = file_access.call(
        "top_level", root_text, timeout_seconds=timeout_seconds, path=root_text
    )
    return sorted(folders) + ([ROOT_PARTITION] if has_files else [])


def stat_listing(
    root: Path, partition: str, *, timeout_seconds: float = DEFAULT_READ_TIMEOUT_SECONDS
) -> list[tuple[str, int, int]]:
    """(relative path, size, mtime_ns) of each SQL file of a partition: cheap change detection."""
    root = root.resolve()
    prefix = len(str(root)) + 1
    listing, _unreadable = _sql_listing(root, partition, timeout_seconds)
    return [(path[prefix:], size, mtime) for path, size, mtime in listing if size >= 0]


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def scan_files(
    root: Path,
    partition: str | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout_seconds: float = DEFAULT_READ_TIMEOUT_SECONDS,
) -> tuple[list[SourceFile], list[SqlFileError]]:
    """List and hash the SQL files of ``root`` (or one partition); unreadable files and folders
    are returned as errors instead of stopping the scan.

    A folder's error has its relative path with a trailing ``/``: its files are unknown, not
    deleted (see :func:`~lineage_dagster.sources.planning.diff_files`).
    """
    root = root.resolve()
    prefix = len(str(root)) + 1
    files: list[SourceFile] = []
    listing, unreadable = _sql_listing(root, partition, timeout_seconds)
    errors = [
        SqlFileError(
            relative_path(root, Path(folder)) + "/",
            f"folder cannot be listed: {exc.strerror or exc}",
        )
        for folder, exc in unreadable
    ]
    relatives = [path[prefix:] for path, _size, _mtime in listing]
    for relative, read in hash_sources(
        root, relatives, max_bytes=max_bytes, timeout_seconds=timeout_seconds
    ).items():
        if isinstance(read, SqlFileError):
            errors.append(read)
        elif read is not None:
            files.append(SourceFile(relative, read[1], read[2], read[0]))
    return files, errors
