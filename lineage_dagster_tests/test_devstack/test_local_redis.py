"""The throwaway Redis: it answers on its port while the context is open, is gone after, and a
missing binary is a clear error naming the Debian package."""

from pathlib import Path

import pytest

from lineage_dagster.devstack import local_redis
from lineage_dagster.devstack.local_neo4j import find_free_port, port_in_use
from lineage_dagster.devstack.local_prometheus import LocalServiceError


@pytest.mark.integration
def test_redis_runs_only_inside_the_context(tmp_path: Path) -> None:
    port = find_free_port()
    with local_redis.run_redis(tmp_path / "redis", port) as url:
        assert url == f"redis://127.0.0.1:{port}/0"
        assert local_redis.ping(port)
    assert not port_in_use(port)
    assert not local_redis.ping(port)


def test_a_missing_redis_server_names_its_package(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with (
        pytest.raises(LocalServiceError, match="Debian package `redis-server`"),
        local_redis.run_redis(tmp_path / "redis", find_free_port()),
    ):
        pass
