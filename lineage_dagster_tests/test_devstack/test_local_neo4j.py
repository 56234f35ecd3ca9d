"""The project's own Neo4j launcher: it starts with auth on, refuses wrong passwords, keeps its
data across restarts, applies its login again to a deleted store, stops on SIGTERM without
leaving a process, and explains missing tools."""

import os
import secrets
import shutil
from pathlib import Path

import neo4j
import pytest

from lineage_dagster.devstack import local_neo4j
from lineage_dagster.devstack.local_neo4j import (
    LocalNeo4j,
    Neo4jLauncherError,
    find_free_port,
    local_password,
    read_pid,
)


@pytest.mark.faults
@pytest.mark.integration
@pytest.mark.slow
def test_start_auth_restart_and_stop(tmp_path: Path):
    password = secrets.token_urlsafe(12)
    home = tmp_path / "db"
    server = LocalNeo4j(home, port=find_free_port(), password=password).start()
    pid = server.process.pid
    try:
        assert read_pid(home) == pid
        assert home.stat().st_mode & 0o077 == 0  # store and credentials: the owner's alone
        with neo4j.GraphDatabase.driver(server.uri, auth=("neo4j", password)) as driver:
            driver.execute_query("CREATE (:Marker {value: 42})")
        with (
            pytest.raises(neo4j.exceptions.AuthError),
            neo4j.GraphDatabase.driver(server.uri, auth=("neo4j", "wrong-password")) as driver,
        ):
            driver.verify_connectivity()
        with pytest.raises(Neo4jLauncherError, match="already runs"):
            LocalNeo4j(home, port=find_free_port(), password=password).start()
    finally:
        server.stop()
    assert not Path(f"/proc/{pid}").exists()
    assert read_pid(home) is None
    assert "STOPPED" in server.log_path.read_text()

    # The data directory persists: a restart (same password) sees the earlier write.
    with (
        LocalNeo4j(home, port=find_free_port(), password=password) as again,
        neo4j.GraphDatabase.driver(again.uri, auth=("neo4j", password)) as driver,
    ):
        records, _, _ = driver.execute_query("MATCH (m:Marker) RETURN m.value AS v")
    assert [record["v"] for record in records] == [42]

    # A new NEO4J_PASSWORD takes over on the next start (applied before Bolt opens).
    new_password = secrets.token_urlsafe(12)
    with LocalNeo4j(home, port=find_free_port(), password=new_password) as changed:
        with neo4j.GraphDatabase.driver(changed.uri, auth=("neo4j", new_password)) as driver:
            driver.verify_connectivity()
        with (
            pytest.raises(neo4j.exceptions.AuthError),
            neo4j.GraphDatabase.driver(changed.uri, auth=("neo4j", password)) as driver,
        ):
            driver.verify_connectivity()


@pytest.mark.integration
@pytest.mark.slow
def test_a_deleted_store_gets_the_login_again(tmp_path: Path):
    """Deleting ``data/`` is how a user wipes the local graph: the next start must not keep the
    old fingerprint and leave the new store with Neo4j's default login."""
    password = secrets.token_urlsafe(12)
    home = tmp_path / "db"
    with (
        LocalNeo4j(home, port=find_free_port(), password=password) as server,
        neo4j.GraphDatabase.driver(server.uri, auth=("neo4j", password)) as driver,
    ):
        driver.execute_query("CREATE (:Marker)")
    shutil.rmtree(home / "data")
    with (
        LocalNeo4j(home, port=find_free_port(), password=password) as again,
        neo4j.GraphDatabase.driver(again.uri, auth=("neo4j", password)) as driver,
    ):
        records, _, _ = driver.execute_query("MATCH (m:Marker) RETURN count(m) AS n")
    assert records[0]["n"] == 0  # a new, empty store, opened with the same login


def test_port_in_use_is_a_clear_error(tmp_path: Path):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(Neo4jLauncherError, match=f"Port {port} .* already in use"):
            LocalNeo4j(tmp_path, port=port).start()


def test_missing_java_is_one_clear_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no java, no mvn
    with pytest.raises(Neo4jLauncherError, match=r"`java` was not found on PATH: install"):
        local_neo4j.build_launcher()


def test_missing_maven_is_reported_when_a_build_is_needed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    launcher = tmp_path / "launcher"
    (launcher / "src").mkdir(parents=True)
    (launcher / "pom.xml").write_text("<project/>")
    java = tmp_path / "bin" / "java"
    java.parent.mkdir()
    java.write_text("#!/bin/sh\n")
    java.chmod(0o755)
    monkeypatch.setenv("PATH", str(java.parent))
    with pytest.raises(Neo4jLauncherError, match=r"`mvn` was not found on PATH: install Maven"):
        local_neo4j.build_launcher(launcher)


@pytest.mark.faults
def test_local_password_is_generated_once_and_private(tmp_path: Path):
    first = local_password(tmp_path / "home")
    assert len(first) >= 16
    assert local_password(tmp_path / "home") == first
    assert oct(os.stat(tmp_path / "home" / ".password").st_mode & 0o777) == "0o600"
