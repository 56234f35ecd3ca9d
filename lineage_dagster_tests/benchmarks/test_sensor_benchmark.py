"""Sensor tick cost on 10,000 files: the first tick (hash everything), a quiet tick (stat only)
and a tick after one file changed, measured in one run. Run with
``pytest -m benchmark -s -k sensor``. Prints milliseconds; asserts only the requested runs."""

import statistics
import time
from pathlib import Path

import dagster as dg
import pytest

from lineage_dagster.defs.sensors import sql_folder_sensor
from lineage_dagster_tests.ingest_helpers import sensor_context

pytestmark = pytest.mark.benchmark

FOLDERS = 20
FILES_PER_FOLDER = 500


def _tick(instance, root: Path, cursor):
    with sensor_context(instance, root, cursor) as context:
        started = time.perf_counter()
        result = sql_folder_sensor(context)
    return result, (time.perf_counter() - started) * 1000


def test_sensor_tick_on_10000_files(tmp_path: Path):
    root = tmp_path / "sql"
    for folder in range(FOLDERS):
        directory = root / f"system_{folder:02d}"
        directory.mkdir(parents=True)
        for number in range(FILES_PER_FOLDER):
            (directory / f"report_{number:04d}.sql").write_text(
                f"INSERT INTO s{folder}.t{number} SELECT a, b, c FROM s{folder}.src{number % 7};\n"
                * 20
            )
    with dg.instance_for_test() as instance:
        first, first_ms = _tick(instance, root, None)
        assert len(first.run_requests) == FOLDERS
        quiet_ms = []
        for _ in range(5):
            quiet, elapsed = _tick(instance, root, first.cursor)
            assert isinstance(quiet, dg.SkipReason)
            quiet_ms.append(elapsed)
        (root / "system_07" / "report_0042.sql").write_text("SELECT 1;\n")
        changed, changed_ms = _tick(instance, root, first.cursor)
        assert [r.partition_key for r in changed.run_requests] == ["system_07"]
    print(
        f"\nSensor on {FOLDERS * FILES_PER_FOLDER} files in {FOLDERS} folders "
        f"(cursor {len(first.cursor)} bytes):"
    )
    print(f"  first tick (hash all): {first_ms:8.0f} ms")
    print(f"  quiet tick (median 5): {statistics.median(quiet_ms):8.0f} ms")
    print(f"  one file changed:      {changed_ms:8.0f} ms")
