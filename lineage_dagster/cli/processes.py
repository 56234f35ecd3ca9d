"""Start, watch and stop the child processes of the CLI commands."""

import contextlib
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from types import FrameType


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def interrupt_on_sigterm() -> None:
    """Treat SIGTERM like Ctrl-C, so `finally` blocks stop what the command started."""
    signal.signal(signal.SIGTERM, _interrupt)


def wait_for_http(url: str, process: subprocess.Popen, timeout: float = 120.0) -> None:
    """Wait until ``url`` answers 200, failing early if ``process`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"The process serving {url} exited with code {process.returncode}")
        with (
            contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError),
            urllib.request.urlopen(url, timeout=2) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


def stop_process_group(process: subprocess.Popen, timeout: float = 20.0) -> None:
    """Stop ``process`` and every process of the group it leads.

    The leader gets SIGTERM first and shuts its own children down (``dagster dev`` stops its
    webserver, daemon and code servers); whatever is left after ``timeout`` is killed.
    """
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
