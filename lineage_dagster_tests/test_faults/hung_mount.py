"""A FUSE file system that behaves like a hung network mount, for the fault suite.

:func:`hung_mount` mounts it (``python -m lineage_dagster_tests.test_faults.hung_mount
MOUNTPOINT [--no-hangs]``) for the length of a ``with`` block. It serves ``answers.sql`` (read
normally), ``denied/`` (listing it is refused: a folder without read permission, even for root),
and unless ``--no-hangs``: ``hung.sql`` (every read blocks) and ``stuck/`` (listing it blocks).
Names and sizes always answer, as on a mount whose server stopped sending data; a process
reading ``hung.sql`` is stuck in the kernel, unkillable, until the server goes.
"""

import errno
import os
import shutil
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mfusepy as fuse

ANSWERS = b"INSERT INTO nfs.answers (x) SELECT x FROM stg.src;\n"
NEVER = threading.Event()


class HungMount(fuse.Operations):
    use_ns = True

    def __init__(self, hangs: bool) -> None:
        self.folders = {"/", "/denied", *(["/stuck"] if hangs else [])}
        self.files = {"/answers.sql", *(["/hung.sql"] if hangs else [])}

    def getattr(self, path: str, fh: int | None = None) -> dict[str, int]:
        if path in self.folders:
            return {"st_mode": stat.S_IFDIR | 0o755, "st_nlink": 2}
        if path in self.files:
            return {"st_mode": stat.S_IFREG | 0o644, "st_nlink": 1, "st_size": len(ANSWERS)}
        raise fuse.FuseOSError(errno.ENOENT)

    def readdir(self, path: str, fh: int) -> list[str]:
        if path == "/stuck":
            NEVER.wait()
        if path == "/denied":
            raise fuse.FuseOSError(errno.EACCES)
        return [".", "..", *(name[1:] for name in sorted(self.folders | self.files) if name != "/")]

    def open(self, path: str, flags: int) -> int:
        return 0

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        if path == "/hung.sql":
            NEVER.wait()
        return ANSWERS[offset : offset + size]


@contextmanager
def hung_mount(mountpoint: Path, *, hangs: bool = True) -> Iterator[Path]:
    """The file system mounted at ``mountpoint`` (created), until the block ends."""
    if not os.path.exists("/dev/fuse") or shutil.which("fusermount3") is None:
        raise RuntimeError("FUSE is needed: /dev/fuse and fusermount3 (Debian package fuse3)")
    mountpoint.mkdir()
    server = subprocess.Popen(
        [sys.executable, "-m", __name__, str(mountpoint), *([] if hangs else ["--no-hangs"])],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not os.path.ismount(mountpoint):
            if server.poll() is not None:
                raise RuntimeError(f"the FUSE server exited: {server.communicate()[1].decode()}")
            if time.monotonic() > deadline:
                raise RuntimeError("the FUSE mount did not appear within 30 s")
            time.sleep(0.1)
        yield mountpoint
    finally:
        # Killing the server aborts every request still waiting on it, and the mount goes.
        server.kill()
        server.wait()
        # A mount whose server is gone stays listed (ENOTCONN) until it is unmounted.
        subprocess.run(
            ["fusermount3", "-u", "-z", str(mountpoint)], check=False, capture_output=True
        )


if __name__ == "__main__":
    fuse.FUSE(HungMount(hangs="--no-hangs" not in sys.argv), sys.argv[1], foreground=True)
