"""A file whose lineage does not fit in one Neo4j transaction fails alone: on a real Neo4j with a
small transaction memory limit, a dense file is recorded as failed with the reason, every other
file of the load is written, and the driver never retries the transaction that cannot fit."""

import logging
import secrets
from collections.abc import Iterator
from dataclasses import replace

import neo4j
import pytest

from lineage_dagster.devstack.local_neo4j import LocalNeo4j, find_free_port
from lineage_dagster.graph.driver import open_driver
from lineage_dagster.graph.load import ensure_constraints, load_files
from lineage_dagster.parsing import FileLineage, extract_lineage
from lineage_dagster_tests.graph_helpers import feeds, sql_files

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.faults]

DENSE = "\n".join(
    f"INSERT INTO mart.t{i % 40} (a, b, c) SELECT x.a{i}, y.b, SUM(x.c) FROM raw.x{i} x "
    f"JOIN raw.y{i % 7} y ON x.k = y.k WHERE x.d > 1 GROUP BY x.a{i}, y.b;"
    for i in range(3000)
)


def _file(path: str, sql: str) -> FileLineage:
    return replace(extract_lineage(sql), path=path)


@pytest.fixture(scope="module")
def small_neo4j(tmp_path_factory: pytest.TempPathFactory) -> Iterator[neo4j.Driver]:
    """A Neo4j whose transactions may use 10 MiB (the dense file needs more)."""
    password = secrets.token_urlsafe(12)
    home = tmp_path_factory.mktemp("neo4j_small")
    with (
        LocalNeo4j(home, port=find_free_port(), password=password, transaction_max_mb=10) as server,
        open_driver(server.uri, server.user, password) as driver,
    ):
        yield driver


def test_a_file_too_large_for_a_transaction_fails_alone(small_neo4j, caplog):
    files = [
        _file("risk/a.sql", "INSERT INTO risk.var SELECT book, pnl FROM stg.pnl"),
        _file("risk/dense.sql", DENSE),
        _file("risk/z.sql", "INSERT INTO risk.limits SELECT desk FROM ref.desks"),
    ]
    with small_neo4j.session() as session, caplog.at_level(logging.WARNING):
        ensure_constraints(session)
        # Generous groups, so the dense file starts in one transaction with the others.
        report = load_files(session, files, rows_per_transaction=10_000_000)
    loaded = sql_files(small_neo4j)
    assert loaded["risk/dense.sql"]["status"] == "failed"
    assert "does not fit in one Neo4j transaction" in loaded["risk/dense.sql"]["error_message"]
    assert (loaded["risk/a.sql"]["status"], loaded["risk/z.sql"]["status"]) == ("ok", "ok")
    assert feeds(small_neo4j) == {("stg.pnl", "risk.var"), ("ref.desks", "risk.limits")}
    assert [f["path"] for f in report.failed_files] == ["risk/dense.sql"]
    assert report.files_loaded == 3
    assert not [r for r in caplog.records if "will be retried" in r.getMessage()]
