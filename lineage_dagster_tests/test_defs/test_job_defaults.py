"""The ingest job's defaults as the launchpad shows them: before a partition is chosen (the run
config schema's defaults) and once one is (the partition's run config, also what sensors and
backfills launch), all five feature flags are there, `parallel` as the executor block, and both
follow the FEATURE_* variables. With `parse_cache` off, run metadata counts files parsed and no
cache misses."""

import json
import os
import subprocess
import sys

import dagster as dg
import pytest
import yaml
from dagster._core.snap.snap_to_yaml import default_values_yaml_from_type_snap

from lineage_dagster.defs.ops.parse import cache_metadata

FLAGS = ("parse_cache", "batching", "neo4j_batch", "metrics")

SHOW_DEFAULTS = """
import json, sys
from dagster._core.snap.snap_to_yaml import default_values_yaml_from_type_snap
from lineage_dagster.definitions import resolved_ingest_job
job = resolved_ingest_job()
snap = job.get_job_snapshot()
schema = snap.config_schema_snapshot
root = schema.get_config_snap(snap.mode_def_snaps[0].root_config_key)
print(json.dumps({
    "no_partition": default_values_yaml_from_type_snap(schema, root),
    "partition": job.partitioned_config.get_run_config_for_partition_key("risk"),
}))
"""


def _defaults(**env: str) -> tuple[dict, dict]:
    """The launchpad's config without and with a partition, from a fresh code location."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FEATURE_")}
    result = subprocess.run(
        [sys.executable, "-c", SHOW_DEFAULTS],
        env={**clean, "LINEAGE_SQL_ROOT": "/nonexistent", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    shown = json.loads(result.stdout)
    return yaml.safe_load(shown["no_partition"]), shown["partition"]


@pytest.mark.parametrize(
    ("env", "executor", "batching"),
    [
        ({}, "multiprocess", True),
        ({"FEATURE_PARALLEL": "off", "FEATURE_BATCHING": "off"}, "in_process", False),
    ],
)
def test_every_flag_is_in_the_launchpad_with_and_without_a_partition(env, executor, batching):
    no_partition, partition = _defaults(**env)
    for config in (no_partition, partition):
        flags = config["resources"]["feature_flags"]["config"]
        assert set(flags) == set(FLAGS)
        assert flags["batching"] is batching
    assert list(partition["execution"]["config"]) == [executor]
    # Without a partition the launchpad drops empty blocks: in_process shows as no executor.
    shown = no_partition.get("execution", {}).get("config", {})
    assert list(shown) == ([executor] if executor == "multiprocess" else [])


def test_the_partition_default_is_a_valid_run_config(monkeypatch: pytest.MonkeyPatch):
    for name in ("LINEAGE_SQL_ROOT", "NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD"):
        monkeypatch.setenv(name, "unused")
    from lineage_dagster.definitions import resolved_ingest_job

    job = resolved_ingest_job()
    config = job.partitioned_config.get_run_config_for_partition_key("finance")
    dg.validate_run_config(job, config)
    # The schema's own default (no partition) is the same executor.
    snap = job.get_job_snapshot()
    schema = snap.config_schema_snapshot
    root = schema.get_config_snap(snap.mode_def_snaps[0].root_config_key)
    shown = yaml.safe_load(default_values_yaml_from_type_snap(schema, root))
    assert shown["execution"] == config["execution"]


def test_cache_counts_only_when_the_cache_was_asked():
    assert cache_metadata(3, 2, True) == {"files_parsed": 2, "cache_hits": 3, "cache_misses": 2}
    off = cache_metadata(0, 5, False)
    assert off["files_parsed"] == 5
    assert "cache_misses" not in off and "cache_hits" not in off
    assert off["parse_cache"].startswith("off")
