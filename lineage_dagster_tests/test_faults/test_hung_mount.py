"""A hung network mount inside the watched folder, served by a real FUSE file system (see
``hung_mount.py``): one of its files never answers a read and one of its folders never answers
a listing. The real `lineage-dagster ingest` finishes, reports the hung file as failed and the
hung folder as unlistable (its files kept, not deleted), and loads everything else, the mount's
readable file included; the sensor's tick requests the runs without waiting on the mount twice.
"""

import json
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from lineage_dagster.defs.sensors import sql_folder_sensor
from lineage_dagster_tests.graph_helpers import sql_files
from lineage_dagster_tests.ingest_helpers import sensor_context
from lineage_dagster_tests.test_cli.cli_helpers import cli_env, run_cli
from lineage_dagster_tests.test_faults.hung_mount import hung_mount

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.faults]

READ_TIMEOUT_SECONDS = 2.0
GOOD = {
    "risk/a.sql": "INSERT INTO risk.a (x) SELECT x FROM stg.src;\n",
    "finance/gl.sql": "INSERT INTO finance.gl (x) SELECT x FROM risk.a;\n",
}


@pytest.fixture
def hung_root(sql_root: Path) -> Iterator[Path]:
    """``sql_root`` with GOOD files and the hung mount at ``risk/nfs``."""
    for relative, sql in GOOD.items():
        (sql_root / relative).parent.mkdir(parents=True, exist_ok=True)
        (sql_root / relative).write_text(sql)
    with hung_mount(sql_root / "risk" / "nfs"):
        yield sql_root


def test_ingest_reports_the_hung_file_and_folder_and_loads_the_rest(
    hung_root: Path, neo4j_env, home: Path, empty_graph
):
    env = cli_env(neo4j_env, home, LINEAGE_READ_TIMEOUT_SECONDS=str(READ_TIMEOUT_SECONDS))
    result = run_cli(["ingest", str(hung_root), "--format", "json"], env, timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr[-3000:]  # a file failed
    runs = {run["partition"]: run for run in json.loads(result.stdout)["runs"]}
    assert {key: run["status"] for key, run in runs.items()} == {
        "finance": "SUCCESS",
        "risk": "SUCCESS",
    }
    failed = {item["path"]: item["message"] for item in runs["risk"]["failed_files"]}
    assert list(failed) == ["risk/nfs/hung.sql"]
    assert (
        f"no answer from the file system within {READ_TIMEOUT_SECONDS:g} s"
        in failed["risk/nfs/hung.sql"]
    )
    assert "risk/nfs/stuck/: folder cannot be listed: no answer" in result.stderr
    assert {path: f["status"] for path, f in sql_files(empty_graph).items()} == {
        "finance/gl.sql": "ok",
        "risk/a.sql": "ok",
        "risk/nfs/answers.sql": "ok",
        "risk/nfs/hung.sql": "failed",
    }


def test_the_sensor_requests_runs_and_waits_on_the_mount_once(hung_root: Path):
    with dg.instance_for_test() as instance:
        with sensor_context(
            instance, hung_root, read_timeout_seconds=READ_TIMEOUT_SECONDS
        ) as context:
            first = sql_folder_sensor(context)
        assert isinstance(first, dg.SensorResult)
        assert sorted(str(r.partition_key) for r in first.run_requests or []) == [
            "finance",
            "risk",
        ]
        # The same folder again, as the next tick after a file elsewhere changed: the hung
        # file and folder fail at once instead of costing their timeouts again.
        (hung_root / "risk" / "a.sql").write_text("INSERT INTO risk.a (x) SELECT y FROM stg.src;\n")
        started = time.monotonic()
        with sensor_context(
            instance, hung_root, first.cursor, read_timeout_seconds=READ_TIMEOUT_SECONDS
        ) as context:
            second = sql_folder_sensor(context)
        assert time.monotonic() - started < READ_TIMEOUT_SECONDS
        assert isinstance(second, dg.SensorResult)
        assert [str(r.partition_key) for r in second.run_requests or []] == ["risk"]
