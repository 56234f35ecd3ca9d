"""A FEATURE_* variable holding something else than on/off: the code location still loads (as
the webserver and the daemon load it), the flag falls back to its safe value (optimisations
off, metrics on), and the mistake is named in the load log, on the job's description, in a tag
every run carries and in the sensor's tick log."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lineage_dagster.settings.flags import FALLBACK_VALUES, FLAG_ENV_VARS, read_flags

DAGSTER = Path(sys.executable).with_name("dagster")
BAD = {"FEATURE_BATCHING": "flase", "FEATURE_METRICS": "maybe"}

# What the loaded definitions show, printed as JSON by a fresh interpreter (the flags are read
# once, when the code location is imported).
INSPECT = """
import json, logging, tempfile
import dagster as dg
from lineage_dagster.definitions import pipeline_definitions
from lineage_dagster.defs.resources import SqlParserResource, SqlSourceResource
from lineage_dagster.defs.sensors import sql_folder_sensor

defs = pipeline_definitions()
job = defs.resolve_job_def("ingest_sql_job")
# The launchpad's default for a partition, and the resource defaults a run without config gets.
launchpad = job.partitioned_config.get_run_config_for_partition_key("risk")
config = dg.validate_run_config(job, {"resources": {"sql_source": {"config": {"root": "."}}}})
with dg.instance_for_test() as instance, tempfile.TemporaryDirectory() as root:
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    with dg.build_sensor_context(
        instance=instance,
        resources={"sql_source": SqlSourceResource(root=root), "sql_parser": SqlParserResource()},
    ) as context:
        context.log.addHandler(handler)
        sql_folder_sensor(context)
print(json.dumps({
    "description": job.description,
    "tags": dict(job.tags),
    "flags": config["resources"]["feature_flags"]["config"],

    "executor": sorted(launchpad["execution"]["config"]),
    "sensor_log": [record.getMessage() for record in records],
}))
"""


def _environment(tmp_path: Path, flags: dict[str, str]) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("FEATURE_")}
    env.update(flags, DAGSTER_HOME=str(tmp_path))
    # No Neo4j: the load warns that it shows no table assets and goes on; the run config's
    # EnvVars only need to be set.
    env.update(NEO4J_URI="", NEO4J_USER="neo4j", NEO4J_PASSWORD="")
    return env


def test_an_invalid_value_falls_back_to_the_safe_value_and_is_named():
    settings = read_flags({"FEATURE_NEO4J_BATCH": "yes please", "FEATURE_PARSE_CACHE": "off"})
    assert settings["neo4j_batch"].value is FALLBACK_VALUES["neo4j_batch"] is False
    assert settings["neo4j_batch"].invalid_value == "yes please"
    assert settings["parse_cache"].invalid_value is None
    assert read_flags({"FEATURE_METRICS": "?"})["metrics"].value is True
    assert set(FALLBACK_VALUES) == set(FLAG_ENV_VARS)


@pytest.mark.integration
def test_the_code_location_loads_and_says_which_variable_is_invalid(tmp_path):
    result = subprocess.run(
        [str(DAGSTER), "definitions", "validate", "-m", "lineage_dagster.definitions"],
        env=_environment(tmp_path, BAD),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Validation successful for code location lineage_dagster.definitions" in output
    assert "FEATURE_BATCHING='flase' (batching falls back to off)" in output
    assert "FEATURE_METRICS='maybe' (metrics falls back to on)" in output


@pytest.mark.integration
def test_the_job_and_its_runs_show_the_warning_and_use_the_fallbacks(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", INSPECT],
        env=_environment(tmp_path, {**BAD, "FEATURE_PARALLEL": "2"}),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout.splitlines()[-1])
    assert shown["description"].startswith("WARNING: Invalid feature flag values: ")
    assert "FEATURE_PARALLEL='2' (parallel falls back to off)" in shown["description"]
    assert (
        shown["tags"]["lineage/invalid_flags"]
        == "FEATURE_BATCHING,FEATURE_PARALLEL,FEATURE_METRICS"
    )
    assert shown["flags"] == {
        "parse_cache": True,
        "batching": False,
        "neo4j_batch": True,
        "metrics": True,
    }
    assert shown["executor"] == ["in_process"]
    assert any("FEATURE_BATCHING='flase'" in line for line in shown["sensor_log"])


@pytest.mark.integration
def test_valid_values_leave_the_job_untouched(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", INSPECT],
        env=_environment(tmp_path, {"FEATURE_BATCHING": "off"}),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout.splitlines()[-1])
    assert not shown["description"].startswith("WARNING")
    assert "lineage/invalid_flags" not in shown["tags"]
    assert shown["flags"]["batching"] is False
    assert shown["executor"] == ["multiprocess"]
    assert not any("FEATURE_" in line for line in shown["sensor_log"])
