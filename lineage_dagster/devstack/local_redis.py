"""Run a throwaway Redis on loopback, as the Celery broker and result backend (no Dagster here).

It comes from the Debian package's binary (``redis-server``) and runs in the foreground with its
working folder in ``workdir``, without persistence: a broker for tests and local trials, not a
production Redis (which needs a password in the URL, persistence and monitoring).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lineage_dagster.devstack.local_prometheus import find_binary, run_service

START_TIMEOUT_SECONDS = 30.0


@contextmanager
def run_redis(workdir: Path, port: int) -> Iterator[str]:
    """Run ``redis-server`` on 127.0.0.1:``port``; yield its URL (database 0), stop it on exit.

    Example:
        >>> with run_redis(Path("/tmp/redis"), 6390) as url:  # doctest: +SKIP
        ...     url
        'redis://127.0.0.1:6390/0'
    """
    binary = find_binary("redis-server", "redis-server")
    workdir.mkdir(parents=True, exist_ok=True)
    command = [
        binary,
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--dir",
        str(workdir),
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
    ]
    ready = run_service(
        command,
        workdir / "redis.log",
        lambda: ping(port),
        what=f"redis-server on port {port}",
        timeout=START_TIMEOUT_SECONDS,
    )
    with ready:
        yield f"redis://127.0.0.1:{port}/0"


def ping(port: int) -> bool:
    """Whether a Redis on 127.0.0.1:``port`` answers PING."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False
