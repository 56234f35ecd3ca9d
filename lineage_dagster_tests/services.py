"""A real Prometheus Pushgateway and a real Prometheus for the metrics tests.

Both run from the Debian packages' binaries on free loopback ports, with their storage in a
temporary folder; Prometheus scrapes the gateway every second with ``honor_labels``. A missing
binary fails the tests that need it.
"""

import json
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lineage_dagster.devstack.local_neo4j import find_free_port
from lineage_dagster.devstack.local_prometheus import (
    LocalServiceError,
    find_binary,
    run_prometheus,
    run_pushgateway,
)


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


@contextmanager
def pushgateway_service(workdir: Path) -> Iterator[Pushgateway]:
    """A Pushgateway (admin API on, for wiping) on a free loopback port."""
    with _failing_on_error(), run_pushgateway(workdir, find_free_port(), admin_api=True) as url:
        yield Pushgateway(url)


@contextmanager
def prometheus_service(workdir: Path, scrape_target: str) -> Iterator[Prometheus]:
    """A Prometheus on a free loopback port scraping ``scrape_target`` every second."""
    with (
        _failing_on_error(),
        run_prometheus(workdir, find_free_port(), scrape_target, scrape_interval="1s") as url,
    ):
        yield Prometheus(url)


def require_binary(name: str, package: str) -> str:
    """The binary's path; fail (never skip) with how to install it when it is missing."""
    with _failing_on_error():
        return find_binary(name, package)


@contextmanager
def _failing_on_error() -> Iterator[None]:
    """A service that is missing or does not start fails the test (never skips it)."""
    try:
        yield
    except LocalServiceError as exc:
        pytest.fail(str(exc), pytrace=False)


def http_get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()
