"""Run a Prometheus Pushgateway and a Prometheus scraping it, on loopback (no Dagster here).

Both come from the Debian packages' binaries (``prometheus-pushgateway``, ``prometheus``) and run
in the foreground with their state in a folder of ours; Prometheus scrapes the gateway with
``honor_labels`` so the runs' grouping labels (job, partition, step, slot) are kept.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

PROMETHEUS_CONFIG = """\
global:
  scrape_interval: {interval}
  evaluation_interval: {interval}
scrape_configs:
  - job_name: pushgateway
    honor_labels: true
    static_configs:
      - targets: ["{target}"]
"""
START_TIMEOUT_SECONDS = 60.0


class LocalServiceError(RuntimeError):
    """A local metrics service is missing or did not start."""


def find_binary(name: str, package: str) -> str:
    """The path of ``name``, or a clear error naming the Debian package that provides it."""
    path = shutil.which(name)
    if path is None:
        raise LocalServiceError(
            f"`{name}` is not installed: install the Debian package `{package}` "
            "(`make test` and `make dev` do this when run as root)."
        )
    return path


@contextmanager
def run_pushgateway(workdir: Path, port: int, *, admin_api: bool = False) -> Iterator[str]:
    """Run a Pushgateway on 127.0.0.1:``port``; yield its URL, stop it on exit."""
    binary = find_binary("prometheus-pushgateway", "prometheus-pushgateway")
    workdir.mkdir(parents=True, exist_ok=True)
    command = [
        binary,
        f"--web.listen-address=127.0.0.1:{port}",
        f"--persistence.file={workdir / 'pushgateway.data'}",
    ]
    if admin_api:
        command.append("--web.enable-admin-api")
    with _service(command, workdir / "pushgateway.log", f"http://127.0.0.1:{port}") as url:
        yield url


@contextmanager
def run_prometheus(
    workdir: Path, port: int, scrape_target: str, *, scrape_interval: str = "5s"
) -> Iterator[str]:
    """Run Prometheus on 127.0.0.1:``port`` scraping ``scrape_target`` (host:port)."""
    binary = find_binary("prometheus", "prometheus")
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    config.write_text(PROMETHEUS_CONFIG.format(interval=scrape_interval, target=scrape_target))
    command = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with _service(command, workdir / "prometheus.log", f"http://127.0.0.1:{port}") as url:
        yield url


@contextmanager
def run_service(
    command: list[str],
    log: Path,
    ready: Callable[[], bool],
    *,
    what: str,
    timeout: float = START_TIMEOUT_SECONDS,
) -> Iterator[None]:
    """Run ``command`` in its own session, its output in ``log``, until ``ready()`` holds (a
    ``LocalServiceError`` with the log's end if it exits first or ``timeout`` passes); stop it
    on exit."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            if process.poll() is not None:
                raise LocalServiceError(
                    f"{Path(command[0]).name} exited with {process.returncode}:\n"
                    f"{log.read_text(errors='replace')[-2000:]}"
                )
            if time.monotonic() > deadline:
                raise LocalServiceError(f"{what} was not ready after {timeout:.0f} s")
            time.sleep(0.1)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def _service(command: list[str], log: Path, url: str) -> Iterator[str]:
    with run_service(command, log, lambda: _answers(f"{url}/-/ready"), what=url):
        yield url


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            response.read()
        return True
    except OSError:
        return False
