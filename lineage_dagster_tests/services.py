"""A real Prometheus Pushgateway and a real Prometheus for the metrics tests.

Both run from the Debian packages' binaries (``prometheus-pushgateway``, ``prometheus``) in the
foreground, on free loopback ports, with their storage in a temporary folder; Prometheus scrapes
the gateway every second with ``honor_labels``. A missing binary fails the tests that need it.
"""

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lineage_dagster.local_neo4j import find_free_port

PROMETHEUS_CONFIG = """\
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: pushgateway
    honor_labels: true
    static_configs:
      - targets: ["{target}"]
"""
START_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class Pushgateway:
    url: str

    def metrics_text(self) -> str:
        """Everything the gateway exposes, in the text format Prometheus scrapes."""
        return http_get(f"{self.url}/metrics")

    def groups(self) -> list[dict[str, str]]:
        """The grouping labels of every pushed group, sorted."""
        data = json.loads(http_get(f"{self.url}/api/v1/metrics"))["data"]
        return sorted((group["labels"] for group in data), key=lambda g: sorted(g.items()))

    def wipe(self) -> None:
        """Delete every group (admin API)."""
        request = urllib.request.Request(f"{self.url}/api/v1/admin/wipe", method="PUT")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()


@dataclass(frozen=True)
class Prometheus:
    url: str

    def query(self, promql: str) -> list[dict[str, Any]]:
        """The result of an instant query; raises if Prometheus rejects it."""
        body = json.loads(
            http_get(f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}")
        )
        if body.get("status") != "success":
            raise AssertionError(f"Prometheus rejected {promql!r}: {body}")
        return body["data"]["result"]


def require_binary(name: str, package: str) -> str:
    """The binary's path; fail (never skip) with how to install it when it is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"`{name}` is not installed, so the metrics tests cannot start a real service. "
            f"Install the Debian package `{package}` (`make test` does this when run as root).",
            pytrace=False,
        )
    return path


@contextmanager
def run_pushgateway(workdir: Path) -> Iterator[Pushgateway]:
    """Start a Pushgateway on a free loopback port; stop it on exit."""
    binary = require_binary("prometheus-pushgateway", "prometheus-pushgateway")
    address = f"127.0.0.1:{find_free_port()}"
    command = [
        binary,
        f"--web.listen-address={address}",
        f"--persistence.file={workdir / 'pushgateway.data'}",
        "--web.enable-admin-api",
    ]
    with _service(command, workdir / "pushgateway.log", f"http://{address}") as url:
        yield Pushgateway(url)


@contextmanager
def run_prometheus(workdir: Path, scrape_target: str) -> Iterator[Prometheus]:
    """Start Prometheus on a free loopback port, scraping ``scrape_target`` (host:port)."""
    binary = require_binary("prometheus", "prometheus")
    config = workdir / "prometheus.yml"
    config.write_text(PROMETHEUS_CONFIG.format(target=scrape_target))
    address = f"127.0.0.1:{find_free_port()}"
    command = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address={address}",
    ]
    with _service(command, workdir / "prometheus.log", f"http://{address}") as url:
        yield Prometheus(url)


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


def _wait_ready(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"{Path(process.args[0]).name} exited with {process.returncode}:\n"
                f"{log.read_text()[-2000:]}",
                pytrace=False,
            )
        try:
            http_get(f"{url}/-/ready")
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"{url} was not ready after {START_TIMEOUT_SECONDS:.0f} s", pytrace=False)


def http_get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()
