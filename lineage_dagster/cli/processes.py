"""Start, watch and stop the child processes of the CLI commands."""

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from types import FrameType

import psutil

# Exit code of a command stopped by SIGINT, SIGTERM or SIGHUP (128 + SIGINT, as shells report
# Ctrl-C).
EXIT_INTERRUPTED = 130
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _as_sigint(signum: int, frame: FrameType | None) -> None:
    """Handle a signal as the current SIGINT handler does (Dagster swaps that handler while it
    executes a run, to stop the run's steps cleanly)."""
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signum, frame)
    else:
        raise KeyboardInterrupt


def interrupt_on_sigterm() -> None:
    """Treat SIGTERM and SIGHUP (closed terminal) like Ctrl-C, so `finally` blocks stop what the
    command started. SIGHUP ignored at start (``nohup``) stays ignored; SIGINT ignored at start
    (a background job of a script: ``nohup make dev &``) is handled again, else the child
    processes inherit the ignored SIGINT, and ``dagster dev``, which maps SIGTERM onto SIGINT,
    would ignore SIGTERM too and never run its shutdown."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, _as_sigint)


def die_with_parent(parent_pid: int) -> None:
    """Have the kernel send this process SIGTERM when its parent process ends, even by SIGKILL
    (Linux's PR_SET_PDEATHSIG; elsewhere a no-op), and send it now if it already has."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), signal.SIGTERM)


def stop_descendants(timeout: float = 10.0) -> None:
    """Terminate every process this one started, directly or not, killing those left after
    ``timeout`` seconds."""
    stop_processes(psutil.Process().children(recursive=True), timeout)


def stop_processes(processes: Iterable[psutil.Process], timeout: float = 10.0) -> None:
    """SIGTERM ``processes``, then SIGKILL whatever is left after ``timeout`` seconds."""
    processes = list(processes)
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.terminate()
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(alive, timeout=timeout)


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
    webserver and daemon); then the rest of the group gets SIGTERM at once (``dagster dev``'s
    code servers would otherwise wait for their heartbeat to time out, up to 45 s); whatever is
    left after ``timeout`` is killed.
    """
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _group_alive(pgid: int) -> bool:
    """Whether a live process (not a zombie waiting for a parent to reap it) is in group
    ``pgid``."""
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                return True
    return False
