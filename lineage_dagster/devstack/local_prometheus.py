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
from collections.abc import Iterator
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
def _service(command: list[str], log: Path, url: str) -> Iterator[str]:
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait_ready(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    name = Path(str(process.args[0] if isinstance(process.args, list) else process.args)).name
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LocalServiceError(
                f"{name} exited with {process.returncode}:\n"
                f"{log.read_text(errors='replace')[-2000:]}"
            )
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
                response.read()
            return
        except OSError:
            time.sleep(0.1)
    raise LocalServiceError(f"{url} was not ready after {START_TIMEOUT_SECONDS:.0f} s")
