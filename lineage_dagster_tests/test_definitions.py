"""The code location loads: one Definitions, every job and sensor resolves, and the launchpad
default of the ingest job selects the executor the ``parallel`` flag means."""

import json
import os
import subprocess
import sys

import dagster as dg
import pytest

from lineage_dagster.definitions import defs
from lineage_dagster.defs.executors import PRELOAD_MODULES, execution_config


@pytest.fixture(autouse=True)
def code_location_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """Validating run config resolves the resources' EnvVars, so give them values."""
    for name, value in {
        "NEO4J_URI": "bolt://127.0.0.1:1",
        "NEO4J_USER": "neo4j",
        "NEO4J_PASSWORD": "unused",
        "LINEAGE_SQL_ROOT": str(tmp_path),
    }.items():
        monkeypatch.setenv(name, value)


def test_definitions_resolve():
    job = defs().resolve_job_def("ingest_sql_job")
    assert job.partitions_def is not None
    sensor = defs().resolve_sensor_def("sql_folder_sensor")
    assert sensor.job_name == "ingest_sql_job"
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert set(defs().resources) >= {"neo4j", "sql_source", "sql_parser", "feature_flags"}
    graph = defs().resolve_asset_graph()
    lineage = graph.get(dg.AssetKey("lineage_graph"))
    assert lineage.parent_keys == {dg.AssetKey("sql_files")}
    assert lineage.partitions_def == job.partitions_def


def test_launchpad_default_is_multiprocess_forkserver_with_preloads():
    job = defs().resolve_job_def("ingest_sql_job")
    config = job.partitioned_config.get_run_config_for_partition_key("risk")
    multiprocess = config["execution"]["config"]["multiprocess"]
    assert multiprocess["start_method"]["forkserver"]["preload_modules"] == PRELOAD_MODULES
    assert multiprocess["max_concurrent"] >= 1
    assert dg.validate_run_config(job, config)


def test_parallel_off_selects_the_in_process_executor(tmp_path):
    """FEATURE_PARALLEL=false when the code location loads makes in-process the default."""
    script = (
        "import json\n"
        "from lineage_dagster.definitions import defs\n"
        "job = defs().resolve_job_def('ingest_sql_job')\n"
        "config = job.partitioned_config.get_run_config_for_partition_key('risk')\n"
        "print(json.dumps(config['execution']))\n"
    )
    env = {**os.environ, "FEATURE_PARALLEL": "false", "DAGSTER_HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out.splitlines()[-1]) == {"config": {"in_process": {}}}
    job = defs().resolve_job_def("ingest_sql_job")
    assert dg.validate_run_config(job, {"execution": execution_config(parallel=False)})


def test_preloaded_modules_import_and_the_last_freezes_them():
    """As the forkserver does it, in a fresh interpreter: freezing this one would be a side
    effect on the tests."""
    script = (
        "import gc, importlib, sys\n"
        f"for name in {PRELOAD_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "print(gc.get_freeze_count())\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert PRELOAD_MODULES[-1] == "lineage_dagster.defs.freeze_preloaded"
    assert int(out.stdout.splitlines()[-1]) > 100_000


def test_feature_flags_are_editable_resource_config():
    job = defs().resolve_job_def("ingest_sql_job")
    flags = {"parse_cache": False, "batching": False, "neo4j_batch": False, "metrics": False}
    assert dg.validate_run_config(job, {"resources": {"feature_flags": {"config": flags}}})
