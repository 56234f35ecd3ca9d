"""The throwaway PostgreSQL of the production-profile tests: created on a free port, it takes the
password over TCP and refuses a wrong one, keeps its data across a restart, stops without leaving
its server behind, and explains a missing installation."""

import secrets
from pathlib import Path

import psycopg2
import pytest

from lineage_dagster.devstack import local_postgres
from lineage_dagster.devstack.local_neo4j import find_free_port, port_in_use
from lineage_dagster.devstack.local_postgres import LocalPostgres, LocalPostgresError


def _connect(server: LocalPostgres, password: str):
    return psycopg2.connect(
        host=server.host,
        port=server.port,
        user=server.user,
        password=password,
        dbname=server.database,
    )


@pytest.mark.integration
@pytest.mark.slow
def test_start_password_restart_and_stop(postgres_home: Path):
    password = secrets.token_urlsafe(12)
    server = LocalPostgres(postgres_home, port=find_free_port(), password=password).start()
    try:
        pid = server.server_pid()
        assert pid is not None
        with _connect(server, password) as connection, connection.cursor() as cursor:
            cursor.execute("CREATE TABLE marker (value int); INSERT INTO marker VALUES (42)")
        with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
            _connect(server, "wrong-password")
        server.stop()
        assert server.server_pid() is None
        assert not port_in_use(server.port)

        server.start()
        with _connect(server, password) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT value FROM marker")
            assert cursor.fetchall() == [(42,)]
    finally:
        server.stop()
    assert server.server_pid() is None
    assert not port_in_use(server.port)


def test_missing_postgres_names_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setattr(local_postgres.shutil, "which", lambda name: None)
    monkeypatch.setattr(local_postgres, "DEBIAN_BIN_DIRS", str(tmp_path / "*" / "bin"))
    with pytest.raises(LocalPostgresError, match="Debian package `postgresql`"):
        local_postgres.postgres_bin_dir()
