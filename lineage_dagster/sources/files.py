"""List, hash and read the SQL files of a watched folder, safely (no Dagster here).

Partitions are the top-level folders of the watched root; files directly under it belong to
the ``_root`` partition. Paths are POSIX paths relative to the root: they name files in the
graph and in run metadata.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from lineage_dagster.parsing import DEFAULT_MAX_BYTES, SqlFileError, SqlFileTooLargeError

ROOT_PARTITION = "_root"
"""The partition of the files directly in the watched root."""
SQL_SUFFIX = ".sql"


@dataclass(frozen=True)
class SourceFile:
    """A SQL file as seen when listing: its relative path, size, mtime and content digest."""

    path: str
    size: int
    mtime_ns: int
    sha256: str


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


def _sql_entries(
    root: Path, partition: str | None
) -> tuple[list[os.DirEntry[str]], list[tuple[str, OSError]]]:
    """The directory entries of the SQL files of a partition, sorted by path, and the folders
    that could not be listed (with why).

    ``os.scandir`` reuses what reading the directory already told (the entry type), which keeps
    a sensor tick over 10,000 files cheap; links are listed, never followed into directories, and
    a partition that is itself a link is not walked.
    """
    if partition == ROOT_PARTITION:
        bases, recursive = [str(root)], False
    else:
        base = root if partition is None else root / partition
        if base.is_symlink() or not base.is_dir():
            return [], []
        bases, recursive = [str(base)], True
    found: list[os.DirEntry[str]] = []
    unreadable: list[tuple[str, OSError]] = []
    while bases:
        folder = bases.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        if recursive:
                            bases.append(entry.path)
                    elif entry.name.lower().endswith(SQL_SUFFIX) and (
                        entry.is_symlink() or entry.is_file(follow_symlinks=False)
                    ):
                        found.append(entry)
        except OSError as exc:  # e.g. a folder without read permission: the others still count
            unreadable.append((folder, exc))
    found.sort(key=lambda entry: entry.path)
    return found, unreadable


def relative_path(root: Path, path: Path) -> str:
    """``path`` relative to ``root`` as a POSIX string."""
    return path.relative_to(root.resolve()).as_posix()


def stat_file(root: Path, path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> os.stat_result:
    """Check that ``path`` is a file inside ``root`` within the size limit; return its stat.

    Only regular files are read: a FIFO would block a reader forever and a device never ends.

    Raises:
        SqlFileError: The file is a link leaving the root or going round in a loop, not a
            regular file, or cannot be read; the path in the error is relative to the root.
        SqlFileTooLargeError: The file is larger than ``max_bytes``.
    """
    rel = relative_path(root, path)
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symbolic link loop
        raise SqlFileError(rel, f"cannot be resolved: {exc}") from exc
    if not resolved.is_relative_to(root.resolve()):
        raise SqlFileError(rel, "is a link to a file outside the watched folder; refused")
    try:
        info = resolved.stat()
    except OSError as exc:
        raise SqlFileError(rel, f"cannot be read: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(info.st_mode):
        raise SqlFileError(rel, "is not a regular file (a FIFO, device or socket); refused")
    if info.st_size > max_bytes:
        raise SqlFileTooLargeError(
            rel,
            f"is {info.st_size:,} bytes, over the limit of {max_bytes:,} bytes (max_file_bytes)",
        )
    return info


def read_source(root: Path, relative: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Read one file's bytes after the safety checks of :func:`stat_file`.

    This is the one reader of the watched folder: the planning scan, the parse steps and the
    sensor all read through it.

    Raises:
        SqlFileError: As :func:`stat_file`, or the file vanished or cannot be read.
    """
    path = root.resolve() / relative
    stat_file(root, path, max_bytes=max_bytes)
    try:
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise SqlFileError(relative, f"cannot be read: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:  # grew since it was checked
        raise SqlFileTooLargeError(
            relative, f"is over the limit of {max_bytes:,} bytes (max_file_bytes)"
        )
    return data


def list_partitions(root: Path) -> list[str]:
    """Top-level folders of ``root``, plus ``_root`` when SQL files lie directly in it.

    A top-level link to a folder is not a partition: it would walk files outside the root.
    """
    root = root.resolve()
    partitions = sorted(
        p.name
        for p in root.iterdir()
        if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")
    )
    if any(_is_sql_file(p) for p in root.iterdir()):
        partitions.append(ROOT_PARTITION)
    return partitions


def stat_listing(root: Path, partition: str) -> list[tuple[str, int, int]]:
    """(relative path, size, mtime_ns) of each SQL file of a partition: cheap change detection."""
    root = root.resolve()
    prefix = len(str(root)) + 1
    listing = []
    entries, _unreadable = _sql_entries(root, partition)
    for entry in entries:
        try:
            info = entry.stat()
        except OSError:
            continue  # vanished (or a dangling link) since it was listed
        listing.append((entry.path[prefix:], info.st_size, info.st_mtime_ns))
    return listing


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def scan_files(
    root: Path, partition: str | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> tuple[list[SourceFile], list[SqlFileError]]:
    """List and hash the SQL files of ``root`` (or one partition); unreadable files and folders
    are returned as errors instead of stopping the scan.

    A folder's error has its relative path with a trailing ``/``: its files are unknown, not
    deleted (see :func:`~lineage_dagster.sources.planning.diff_files`).
    """
    root = root.resolve()
    files: list[SourceFile] = []
    entries, unreadable = _sql_entries(root, partition)
    errors = [
        SqlFileError(
            relative_path(root, Path(folder)) + "/",
            f"folder cannot be listed: {exc.strerror or exc}",
        )
        for folder, exc in unreadable
    ]
    for path in (Path(entry.path) for entry in entries):
        rel = relative_path(root, path)
        try:
            data = read_source(root, rel, max_bytes=max_bytes)
            info = path.stat()
        except SqlFileError as exc:
            errors.append(exc)
            continue
        except OSError as exc:  # vanished between reading and the stat
            errors.append(SqlFileError(rel, f"cannot be read: {exc.strerror or exc}"))
            continue
        files.append(SourceFile(rel, len(data), info.st_mtime_ns, sha256_bytes(data)))
    return files, errors


def _is_sql_file(path: Path) -> bool:
    return path.suffix.lower() == SQL_SUFFIX and (path.is_file() or path.is_symlink())
