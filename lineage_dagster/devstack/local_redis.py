"""Run a throwaway Redis on loopback, as the Celery broker and result backend (no Dagster here).

It comes from the Debian package's binary (``redis-server``) and runs in the foreground with its
working folder in ``workdir``, without persistence: a broker for tests and local trials, not a
production Redis (which needs a password in the URL, persistence and monitoring).
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lineage_dagster.devstack.local_prometheus import LocalServiceError, find_binary

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
    log = workdir / "redis.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait_for_pong(port, process, log)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def ping(port: int) -> bool:
    """Whether a Redis on 127.0.0.1:``port`` answers PING."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _wait_for_pong(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LocalServiceError(
                f"redis-server exited with {process.returncode}:\n"
                f"{log.read_text(errors='replace')[-2000:]}"
            )
        if ping(port):
            return
        time.sleep(0.05)
    raise LocalServiceError(f"redis-server did not answer on port {port} in time")
