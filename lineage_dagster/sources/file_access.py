"""The watched folder's file-system calls, made by a helper process and given up on after a
timeout (no Dagster here).

A read from a hung network mount blocks in the kernel, uninterruptibly: a thread stuck so would
keep its process from ever exiting (a run's step would never finish). So listings and reads run
in a small helper process (``python -m lineage_dagster.sources.file_access``) that answers one
request at a time over a pipe; the caller waits at most ``timeout_seconds``. When no answer
comes, the helper is killed and left behind (it goes once the mount answers), a new one serves
the next call, and calls for that path fail at once for :data:`RETRY_HUNG_AFTER_SECONDS`, so a
hung mount costs a sensor one timeout per few minutes, not one per tick.

Only the standard library is imported here: the helper starts in a few tens of milliseconds.
"""

from __future__ import annotations

import errno
import hashlib
import os
import pickle
import select
import stat
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any, BinaryIO

DEFAULT_READ_TIMEOUT_SECONDS = 30.0
"""How long one file's check and read, or one folder's listing, may take (read_timeout_seconds)."""
RETRY_HUNG_AFTER_SECONDS = 300.0
"""How long a path that timed out fails at once instead of being tried again."""
SQL_SUFFIX = ".sql"

_HEADER = struct.Struct("!Q")


class ReadRefused(Exception):
    """A file that is not read: ``kind`` is ``refused`` or ``too_large``; ``message`` says why."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(kind, message)
        self.kind, self.message = kind, message


# The helper's operations: plain values in and out, so they cross the pipe.


def _is_sql_entry(entry: os.DirEntry[str]) -> bool:
    return entry.name.lower().endswith(SQL_SUFFIX) and (
        entry.is_symlink() or entry.is_file(follow_symlinks=False)
    )


def top_level(root: str) -> tuple[list[str], bool]:
    """The folders directly in ``root`` (links and hidden ones left out), and whether SQL files
    lie directly in it. Entry types come from the listing itself: no folder is stat'ed."""
    with os.scandir(root) as entries:
        listed = list(entries)
    folders = [
        entry.name
        for entry in listed
        if entry.is_dir(follow_symlinks=False) and not entry.name.startswith(".")
    ]
    return folders, any(_is_sql_entry(entry) for entry in listed)


def is_walkable(folder: str) -> bool:
    """Whether ``folder`` is a folder, not a link to one."""
    return not os.path.islink(folder) and os.path.isdir(folder)


def list_folder(folder: str, recursive: bool) -> tuple[list[str], list[tuple[str, int, int]]]:
    """The sub-folders (when ``recursive``) of one folder, and its SQL files as (path, size,
    mtime_ns); a file that cannot be stat'ed (a dangling link) has size and mtime -1."""
    subfolders: list[str] = []
    found: list[tuple[str, int, int]] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if recursive:
                    subfolders.append(entry.path)
            elif _is_sql_entry(entry):
                try:
                    info = entry.stat()
                except OSError:  # reported when the file is read
                    found.append((entry.path, -1, -1))
                else:
                    found.append((entry.path, info.st_size, info.st_mtime_ns))
    return subfolders, found


def read_file(
    root: str, relative: str, max_bytes: int, digest_only: bool
) -> tuple[bytes | str, int, int]:
    """One file's bytes (or their sha256 when ``digest_only``), size and mtime_ns.

    Only regular files inside ``root`` within ``max_bytes`` are read: a link leaving the root
    is refused, a FIFO would block a reader forever and a device never ends.

    Raises:
        ReadRefused: Why the file is not read.
    """
    path = os.path.join(root, relative)
    try:
        resolved = os.path.realpath(path, strict=True)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ReadRefused("refused", f"cannot be resolved: {exc}") from None
        raise ReadRefused("refused", f"cannot be read: {exc.strerror or exc}") from None
    if os.path.commonpath([resolved, root]) != root:
        raise ReadRefused("refused", "is a link to a file outside the watched folder; refused")
    try:
        info = os.stat(resolved)
        if not stat.S_ISREG(info.st_mode):
            raise ReadRefused(
                "refused", "is not a regular file (a FIFO, device or socket); refused"
            )
        if info.st_size > max_bytes:
            raise ReadRefused(
                "too_large",
                f"is {info.st_size:,} bytes, over the limit of {max_bytes:,} bytes "
                "(max_file_bytes)",
            )
        with open(resolved, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise ReadRefused("refused", f"cannot be read: {exc.strerror or exc}") from None
    if len(data) > max_bytes:  # grew since it was checked
        raise ReadRefused("too_large", f"is over the limit of {max_bytes:,} bytes (max_file_bytes)")
    if digest_only:
        return hashlib.sha256(data).hexdigest(), len(data), info.st_mtime_ns
    return data, len(data), info.st_mtime_ns


_OPERATIONS = {f.__name__: f for f in (top_level, is_walkable, list_folder, read_file)}
READ_FILES = "read_files"
"""The streamed request: ``read_file`` for each of many files, one reply per file."""

Reply = tuple[bool, Any]
"""``(True, value)``, or ``(False, the error)``."""


def _answer(name: str, *args: Any) -> Reply:
    try:
        return True, _OPERATIONS[name](*args)
    except (OSError, ReadRefused) as exc:
        return False, exc
    except Exception as exc:  # any other failure is the caller's OSError
        return False, OSError(f"{type(exc).__name__}: {exc}")


def _serve(requests: BinaryIO, replies: BinaryIO) -> None:
    """The helper's loop: answer each request until the caller closes the pipe."""
    while header := requests.read(_HEADER.size):
        name, args = pickle.loads(requests.read(_HEADER.unpack(header)[0]))
        answers: Iterator[Reply]
        if name == READ_FILES:
            root, relatives, *options = args
            answers = (_answer("read_file", root, relative, *options) for relative in relatives)
        else:
            answers = iter([_answer(name, *args)])
        for answer in answers:
            data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
            replies.write(_HEADER.pack(len(data)))
            replies.write(data)
            replies.flush()


# The caller's side.


class _Helper:
    """One helper process and its pipes."""

    def __init__(self) -> None:
        # The package's folder first on its path: found however the caller found it.
        package_parent = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
        path = os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            [sys.executable, "-m", __name__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
            env={**os.environ, "PYTHONPATH": path},
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.requests, self.replies = self.process.stdin, self.process.stdout

    def send(self, name: str, args: tuple[Any, ...]) -> None:
        request = pickle.dumps((name, args), protocol=pickle.HIGHEST_PROTOCOL)
        self.requests.write(_HEADER.pack(len(request)) + request)

    def receive(self, wait_until: float) -> Reply:
        """The next reply; :class:`TimeoutError` when none has come by ``wait_until``."""
        (size,) = _HEADER.unpack(self._receive(_HEADER.size, wait_until))
        reply: Reply = pickle.loads(self._receive(size, wait_until))
        return reply

    def _receive(self, size: int, wait_until: float) -> bytes:
        chunks, missing = [], size
        fd = self.replies.fileno()
        while missing:
            remaining = wait_until - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise TimeoutError
            chunk = os.read(fd, min(missing, 1 << 20))
            if not chunk:
                raise OSError("the file-access helper process exited")
            chunks.append(chunk)
            missing -= len(chunk)
        return b"".join(chunks)

    def abandon(self) -> None:
        """Kill the helper without waiting: one stuck on a hung mount only goes once it
        answers."""
        self.process.kill()
        self.requests.close()
        self.replies.close()


_lock = threading.Lock()
_helper: _Helper | None = None
_hung_at: dict[str, float] = {}
"""Path -> ``time.monotonic()`` when a call for it timed out."""


def _reset_after_fork() -> None:
    """A forked child starts its own helper; its copies of the parent's pipes close with the
    objects, which leaves the parent's helper alone."""
    global _lock, _helper
    _lock, _helper = threading.Lock(), None


os.register_at_fork(after_in_child=_reset_after_fork)


def _recent_hang(path: str) -> TimeoutError | None:
    """The error for ``path`` when a call for it timed out less than the retry time ago."""
    hung_at = _hung_at.get(path)
    if hung_at is None:
        return None
    if time.monotonic() - hung_at >= RETRY_HUNG_AFTER_SECONDS:
        del _hung_at[path]
        return None
    return TimeoutError(
        f"no answer from the file system {time.monotonic() - hung_at:.0f} s ago; "
        f"tried again once {RETRY_HUNG_AFTER_SECONDS:g} s have passed"
    )


def _send(name: str, args: tuple[Any, ...]) -> None:
    """Send a request to the helper, starting one if needed.

    Raises:
        OSError: The helper cannot be started or has died (it is replaced on the next call).
    """
    global _helper
    if _helper is None:
        _helper = _Helper()
    try:
        _helper.send(name, args)
    except OSError:
        _helper.abandon()
        _helper = None
        raise


def _receive(path: str, timeout_seconds: float, deadline: float | None = None) -> Reply | None:
    """The helper's next reply, about ``path``; ``None`` when ``deadline`` came first.

    Raises:
        TimeoutError: No reply within ``timeout_seconds`` (the helper is abandoned).
        OSError: The helper died (it is replaced on the next call).
    """
    global _helper
    assert _helper is not None
    limit = time.monotonic() + timeout_seconds
    cut_short = deadline is not None and deadline < limit
    try:
        return _helper.receive(limit if deadline is None else min(limit, deadline))
    except TimeoutError:
        _helper.abandon()
        _helper = None
        if cut_short:
            return None
        _hung_at[path] = time.monotonic()
        raise TimeoutError(f"no answer from the file system within {timeout_seconds:g} s") from None
    except OSError:
        _helper.abandon()
        _helper = None
        raise


def call(name: str, *args: Any, timeout_seconds: float, path: str) -> Any:
    """The helper's answer to ``name(*args)`` about ``path``; its error raised here.

    Raises:
        TimeoutError: No answer within ``timeout_seconds``, or a call for ``path`` timed out
            less than :data:`RETRY_HUNG_AFTER_SECONDS` ago.
        ReadRefused: From :func:`read_file`.
        OSError: The file system's error, or the helper process died.
    """
    if error := _recent_hang(path):
        raise error
    with _lock:
        _send(name, args)
        reply = _receive(path, timeout_seconds)
    assert reply is not None  # no deadline
    answered, value = reply
    if answered:
        return value
    raise value


def read_files(
    root: str,
    relatives: list[str],
    max_bytes: int,
    digest_only: bool,
    *,
    timeout_seconds: float,
    deadline: float | None = None,
) -> dict[str, Reply | None]:
    """:func:`read_file` of each file in one streamed request, each within the timeout: a
    file that times out is an error and the files after it go to a new helper. A file not read
    by ``deadline`` (``time.monotonic()``) maps to ``None``."""
    replies: dict[str, Reply | None] = {}
    pending = []
    for relative in relatives:
        if error := _recent_hang(os.path.join(root, relative)):
            replies[relative] = (False, error)
        else:
            pending.append(relative)
    with _lock:
        while pending and (deadline is None or time.monotonic() < deadline):
            try:
                _send(READ_FILES, (root, pending, max_bytes, digest_only))
            except OSError as exc:  # the helper died: this file fails, the rest go on
                replies[pending[0]], pending = (False, exc), pending[1:]
                continue
            for index, relative in enumerate(pending):
                try:
                    reply = _receive(os.path.join(root, relative), timeout_seconds, deadline)
                except OSError as exc:  # timed out, or the helper died: go on after this file
                    replies[relative], pending = (False, exc), pending[index + 1 :]
                    break
                if reply is None:  # the deadline came
                    pending = []
                    break
                replies[relative] = reply
            else:
                pending = []
    return {relative: replies.get(relative) for relative in relatives}


if __name__ == "__main__":
    # Serve from the module under its own name, so the errors it sends unpickle in the caller.
    from lineage_dagster.sources import file_access

    file_access._serve(sys.stdin.buffer, sys.stdout.buffer)
