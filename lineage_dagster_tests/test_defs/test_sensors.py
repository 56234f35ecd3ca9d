"""The folder sensor: one run per source folder with added, changed or deleted files, none on a
quiet tick or a mere touch, new folders become partitions in the same tick, replays dedupe by
run_key, and files still being written wait for the next tick."""

import json
import os
from pathlib import Path

import dagster as dg
import pytest

from lineage_dagster.definitions import defs
from lineage_dagster.defs import sensors
from lineage_dagster.defs.sensors import sql_folder_sensor
from lineage_dagster.sources.parse_cache import ParseCache, default_cache_path
from lineage_dagster_tests.ingest_helpers import sensor_context
from lineage_dagster_tests.test_faults.hung_mount import hung_mount


@pytest.fixture
def tree(sql_root: Path) -> Path:
    (sql_root / "risk").mkdir()
    (sql_root / "risk" / "var.sql").write_text("INSERT INTO r.v SELECT * FROM t.p")
    (sql_root / "finance").mkdir()
    (sql_root / "finance" / "gl.sql").write_text("INSERT INTO f.gl SELECT * FROM f.j")
    (sql_root / "adhoc.sql").write_text("SELECT 1")
    return sql_root


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def tick(instance: dg.DagsterInstance, root: Path, cursor: str | None = None):
    with sensor_context(instance, root, cursor) as context:
        result = sql_folder_sensor(context)
    if isinstance(result, dg.SensorResult) and result.dynamic_partitions_requests:
        for request in result.dynamic_partitions_requests:
            instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
    return result


def partitions(result) -> list[str]:
    return sorted(request.partition_key for request in result.run_requests)


def test_first_tick_requests_every_folder_and_adds_partitions(instance, tree, monkeypatch):
    result = tick(instance, tree)
    assert partitions(result) == ["_root", "finance", "risk"]
    assert sorted(result.dynamic_partitions_requests[0].partition_keys) == [
        "_root",
        "finance",
        "risk",
    ]
    assert set(json.loads(result.cursor)) == {"_root", "finance", "risk"}
    for name, value in {
        "NEO4J_URI": "bolt://x:1",
        "NEO4J_USER": "u",
        "NEO4J_PASSWORD": "p",
        "LINEAGE_SQL_ROOT": str(tree),
    }.items():
        monkeypatch.setenv(name, value)
    job = defs().resolve_job_def("ingest_sql_job")
    for request in result.run_requests:
        assert request.partition_key in request.run_key
        assert dg.validate_run_config(job, request.run_config)


def test_a_new_extractor_version_reingests_every_folder_once(instance, tree, monkeypatch):
    first = tick(instance, tree)
    assert isinstance(tick(instance, tree, first.cursor), dg.SkipReason)
    monkeypatch.setattr(sensors, "EXTRACTOR_VERSION", "99.0.0")
    upgraded = tick(instance, tree, first.cursor)
    assert partitions(upgraded) == ["_root", "finance", "risk"]
    assert {r.run_key for r in upgraded.run_requests}.isdisjoint(
        {r.run_key for r in first.run_requests}
    )
    assert isinstance(tick(instance, tree, upgraded.cursor), dg.SkipReason)


def test_quiet_tick_and_touch_request_nothing(instance, tree):
    first = tick(instance, tree)
    quiet = tick(instance, tree, first.cursor)
    assert isinstance(quiet, dg.SkipReason)
    assert "3 folders" in quiet.skip_message
    var = tree / "risk" / "var.sql"
    os.utime(var, ns=(var.stat().st_atime_ns, var.stat().st_mtime_ns + 10**9))
    touched = tick(instance, tree, first.cursor)
    assert isinstance(touched, dg.SensorResult)  # the cursor moves on ...
    assert not touched.run_requests  # ... but the content is the same: no run
    assert touched.cursor != first.cursor
    assert isinstance(tick(instance, tree, touched.cursor), dg.SkipReason)


def test_changes_request_exactly_the_changed_folders(instance, tree):
    first = tick(instance, tree)
    (tree / "risk" / "var.sql").write_text("INSERT INTO r.v SELECT * FROM t.q")
    (tree / "finance" / "gl.sql").unlink()
    (tree / "trading").mkdir()
    (tree / "trading" / "pos.sql").write_text("SELECT 2")
    result = tick(instance, tree, first.cursor)
    assert partitions(result) == ["finance", "risk", "trading"]
    assert result.dynamic_partitions_requests[0].partition_keys == ["trading"]
    old_keys = {r.partition_key: r.run_key for r in first.run_requests}
    for request in result.run_requests:
        assert request.run_key != old_keys.get(request.partition_key)


def test_replayed_tick_gives_the_same_run_keys(instance, tree):
    first = tick(instance, tree)
    (tree / "risk" / "var.sql").write_text("changed")
    once = tick(instance, tree, first.cursor)
    again = tick(instance, tree, first.cursor)
    assert [r.run_key for r in once.run_requests] == [r.run_key for r in again.run_requests]
    # A change back to old content reuses the old key, which Dagster will not launch twice.
    (tree / "risk" / "var.sql").write_text("INSERT INTO r.v SELECT * FROM t.p")
    back = tick(instance, tree, once.cursor)
    assert [r.run_key for r in back.run_requests] == [
        r.run_key for r in first.run_requests if r.partition_key == "risk"
    ]


def test_a_vanished_folder_gets_one_run_to_remove_its_lineage(instance, tree):
    first = tick(instance, tree)
    (tree / "finance" / "gl.sql").unlink()
    (tree / "finance").rmdir()
    result = tick(instance, tree, first.cursor)
    assert partitions(result) == ["finance"]
    assert isinstance(tick(instance, tree, result.cursor), dg.SkipReason)


def test_files_still_being_written_wait_for_the_next_tick(instance, tree, monkeypatch):
    first = tick(instance, tree)
    (tree / "risk" / "var.sql").write_text("partial conte")
    real = sensors.stat_listing
    growing = {"calls": 0}

    def changing_listing(root, partition, **limits):
        listing = real(root, partition, **limits)
        if partition == "risk":
            growing["calls"] += 1
            listing = [(p, size + growing["calls"], m) for p, size, m in listing]
        return listing

    monkeypatch.setattr(sensors, "stat_listing", changing_listing)
    waiting = tick(instance, tree, first.cursor)
    assert isinstance(waiting, dg.SkipReason)
    monkeypatch.setattr(sensors, "stat_listing", real)
    settled = tick(instance, tree, first.cursor)
    assert partitions(settled) == ["risk"]


@pytest.mark.faults
def test_invalid_folder_names_are_skipped(instance, tree):
    (tree / "a,b").mkdir()
    (tree / "a,b" / "x.sql").write_text("SELECT 1")
    result = tick(instance, tree)
    assert "a,b" not in partitions(result)
    assert partitions(result) == ["_root", "finance", "risk"]


def test_missing_root_is_a_skip_with_the_path(instance, tmp_path):
    result = tick(instance, tmp_path / "nowhere")
    assert isinstance(result, dg.SkipReason)
    assert "nowhere" in result.skip_message


@pytest.mark.faults
def test_special_files_and_unlistable_folders_never_stop_a_tick(instance, tree, tmp_path):
    """A link to a FIFO (which would block a reader), a link to a device outside the folder and
    a folder that cannot be listed (on a real FUSE mount): the tick still completes and
    requests runs."""
    os.mkfifo(tmp_path / "fifo")
    (tree / "risk" / "pipe.sql").symlink_to(tmp_path / "fifo")
    (tree / "risk" / "zero.sql").symlink_to("/dev/zero")
    with hung_mount(tree / "finance" / "nfs", hangs=False):  # its denied/ cannot be listed
        result = tick(instance, tree)
    assert partitions(result) == ["_root", "finance", "risk"]


def test_a_folder_marked_stale_by_another_folders_run_gets_a_run(instance, tree):
    first = tick(instance, tree)
    quiet = tick(instance, tree, first.cursor)
    assert isinstance(quiet, dg.SkipReason)
    # A run of finance changed a table that a file of risk had read (see plan_sql_files).
    cache = ParseCache(default_cache_path(Path(instance.root_directory)))
    cache.mark_stale(["risk", "gone"], "abcdef0123456789ff")
    cache.close()
    result = tick(instance, tree, first.cursor)
    assert partitions(result) == ["risk"]  # a folder that no longer exists gets none
    (request,) = result.run_requests
    assert request.run_key == "risk:schema:abcdef0123456789"
    assert request.tags["lineage/reason"] == "schema"
