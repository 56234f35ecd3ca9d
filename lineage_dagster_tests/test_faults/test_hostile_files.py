"""Hostile entries in a watched folder, ingested by the real `lineage-dagster ingest` (the plan
and parse steps in their own processes) into the real Neo4j: a `.sql` link to a FIFO (reading
it would block for ever), a link to `/dev/zero` (endless), a symbolic link loop, a link to a
file outside the folder, and folders whose names hold a tab or a newline. The command finishes,
every other file loads, each hostile file is a failed file with its reason (outside paths never
printed), each odd folder is skipped with the right reason, and the summary counts files as the
FAILED column does."""

import json
import os
from pathlib import Path

import pytest

from lineage_dagster_tests.graph_helpers import sql_files
from lineage_dagster_tests.test_cli.cli_helpers import cli_env, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.faults]

GOOD = {
    "risk/a.sql": "INSERT INTO risk.a (x) SELECT x FROM stg.src;\n",
    "risk/b.sql": "INSERT INTO risk.b (x) SELECT x FROM risk.a;\n",
    # Two broken statements in one file: one failed file.
    "risk/broken.sql": "SELECT (1 + FROM risk.a;\nSELECT (2 + FROM risk.b;\n",
}


@pytest.fixture
def env(neo4j_env, tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    return cli_env(neo4j_env, home)


@pytest.fixture
def hostile_root(sql_root: Path, tmp_path: Path) -> Path:
    for relative, sql in GOOD.items():
        (sql_root / relative).parent.mkdir(parents=True, exist_ok=True)
        (sql_root / relative).write_text(sql)
    risk = sql_root / "risk"
    os.mkfifo(risk / "fifo")
    (risk / "pipe.sql").symlink_to(risk / "fifo")
    (risk / "zero.sql").symlink_to("/dev/zero")
    (risk / "loop.sql").symlink_to(risk / "loop.sql")
    secret = tmp_path / "secret-place"
    secret.mkdir()
    (secret / "outside.sql").write_text("SELECT 1;\n")
    (risk / "escape.sql").symlink_to(secret / "outside.sql")
    for odd in ("q1\tq2", "line\nbreak"):
        (sql_root / odd).mkdir()
        (sql_root / odd / "x.sql").write_text("SELECT 1;\n")
    return sql_root


def test_hostile_files_fail_alone_and_odd_folders_are_skipped_with_their_reason(
    hostile_root, env, empty_graph
):
    result = run_cli(["ingest", str(hostile_root), "--format", "json"], env, timeout=600)
    assert result.returncode == 1, result.stdout + result.stderr[-3000:]  # files failed
    for odd in ("q1\tq2", "line\nbreak"):
        assert (
            f"Skipping folder {odd!r}: its name contains a tab, newline or other control "
            "character" in result.stderr
        )
    [run] = json.loads(result.stdout)["runs"]
    assert run["partition"] == "risk" and run["status"] == "SUCCESS"
    failed = {item["path"]: item["message"] for item in run["failed_files"]}
    assert set(failed) == {
        "risk/broken.sql",
        "risk/pipe.sql",
        "risk/zero.sql",
        "risk/loop.sql",
        "risk/escape.sql",
    }
    assert "not a regular file" in failed["risk/pipe.sql"]
    assert "outside the watched folder" in failed["risk/zero.sql"]
    assert "cannot be resolved" in failed["risk/loop.sql"]
    assert "outside the watched folder" in failed["risk/escape.sql"]
    assert run["files_failed"] == 5
    assert "secret-place" not in result.stdout + result.stderr

    files = sql_files(empty_graph)
    assert {path: f["status"] for path, f in files.items()} == {
        "risk/a.sql": "ok",
        "risk/b.sql": "ok",
        "risk/broken.sql": "partial",  # its statements failed, not the file
        **dict.fromkeys(set(failed) - {"risk/broken.sql"}, "failed"),
    }
    assert "secret-place" not in json.dumps(files)

    # The table summary counts failed files as the FAILED column does (one per file, though
    # broken.sql has two failed statements).
    table = run_cli(["ingest", str(hostile_root), "--full-refresh"], env, timeout=600)
    assert table.returncode == 1, table.stdout + table.stderr[-3000:]
    assert "Failed files (5):" in table.stdout
    assert table.stdout.count("risk/broken.sql") == 2
