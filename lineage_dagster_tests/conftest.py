"""Shared fixtures: a real Neo4j for the integration tests, started once per test session.

When NEO4J_URI is set the tests use that server (with NEO4J_USER / NEO4J_PASSWORD); otherwise
they start the project's own embedded Neo4j on a free port with auth on and a fresh password.
A service that cannot start fails the tests that need it; nothing is skipped.
"""

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import neo4j
import pytest

from lineage_dagster.devstack.local_neo4j import LocalNeo4j, find_free_port
from lineage_dagster.graph.driver import open_driver
from lineage_dagster_tests.graph_helpers import wipe_graph
from lineage_dagster_tests.services import (
    Prometheus,
    Pushgateway,
    prometheus_service,
    pushgateway_service,
)


@dataclass(frozen=True)
class Neo4jServer:
    uri: str
    user: str
    password: str


@pytest.fixture(scope="session")
def neo4j_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Neo4jServer]:
    if os.environ.get("NEO4J_URI"):
        yield Neo4jServer(
            os.environ["NEO4J_URI"],
            os.environ.get("NEO4J_USER", "neo4j"),
            os.environ.get("NEO4J_PASSWORD", ""),
        )
        return
    password = secrets.token_urlsafe(16)
    home = tmp_path_factory.mktemp("neo4j")
    with LocalNeo4j(home, port=find_free_port(), password=password) as server:
        yield Neo4jServer(server.uri, server.user, password)


@pytest.fixture(scope="session")
def neo4j_env(neo4j_server: Neo4jServer) -> Iterator[Neo4jServer]:
    """Export the server's coordinates, as the code location's EnvVars read them.

    Set for the whole session (not per test) because step processes of the multiprocess
    executor inherit the environment of the forkserver, which starts once.
    """
    names = {
        "NEO4J_URI": neo4j_server.uri,
        "NEO4J_USER": neo4j_server.user,
        "NEO4J_PASSWORD": neo4j_server.password,
    }
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(names)
    yield neo4j_server
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def neo4j_driver(neo4j_server: Neo4jServer) -> Iterator[neo4j.Driver]:
    driver = open_driver(neo4j_server.uri, neo4j_server.user, neo4j_server.password)
    driver.verify_connectivity()
    yield driver
    driver.close()


@pytest.fixture
def empty_graph(neo4j_driver: neo4j.Driver) -> neo4j.Driver:
    """The driver, on a graph wiped before the test."""
    wipe_graph(neo4j_driver)
    return neo4j_driver


@pytest.fixture
def ingest_instance(tmp_path: Path, neo4j_env: Neo4jServer) -> Iterator[dg.DagsterInstance]:
    """A real Dagster instance on disk (SQLite), as step processes of the multiprocess
    executor need, with the Neo4j coordinates exported for the code location."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        yield instance


@pytest.fixture
def sql_root(tmp_path: Path) -> Path:
    root = tmp_path / "sql"
    root.mkdir()
    return root


# Metrics: a real Pushgateway and a real Prometheus scraping it, started once per session.
@pytest.fixture(scope="session")
def pushgateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pushgateway]:
    with pushgateway_service(tmp_path_factory.mktemp("pushgateway")) as gateway:
        yield gateway


@pytest.fixture(scope="session")
def prometheus(
    tmp_path_factory: pytest.TempPathFactory, pushgateway: Pushgateway
) -> Iterator[Prometheus]:
    target = pushgateway.url.removeprefix("http://")
    with prometheus_service(tmp_path_factory.mktemp("prometheus"), target) as server:
        yield server


@pytest.fixture
def postgres_home() -> Iterator[Path]:
    """A fresh folder for a LocalPostgres cluster. Not under pytest's private tmp folders: as
    root the cluster runs as the ``postgres`` user, who must be able to reach it."""
    home = Path(tempfile.mkdtemp(prefix="lineage-postgres-"))
    yield home
    shutil.rmtree(home, ignore_errors=True)
