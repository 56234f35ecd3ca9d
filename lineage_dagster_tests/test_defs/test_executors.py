"""The ingest job's executor: run config selects in-process, multiprocess or Celery;
LINEAGE_EXECUTOR picks the parallel default when the code location loads (a bad value is a clear
error); the worker config shipped for ``dagster-celery worker start`` matches the runs' Celery
settings; and step outputs go to LINEAGE_STEP_STORAGE_DIR."""

import gc
import json
import os
import re
import shlex
import subprocess
import sys

import dagster as dg
import pytest
import yaml
from dagster_celery.cli import get_validated_config

from lineage_dagster.definitions import pipeline_definitions
from lineage_dagster.defs.executors import (
    CELERY_SETTINGS,
    celery_config,
    execution_config,
    lineage_executor,
)
from lineage_dagster_tests.celery_helpers import REPO_ROOT, WORKER_YAML, worker_arguments


@pytest.fixture(autouse=True)
def code_location_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """Validating run config resolves the resources' EnvVars, so give them values."""
    for name, value in {
        "NEO4J_URI": "bolt://127.0.0.1:1",
        "NEO4J_USER": "neo4j",
        "NEO4J_PASSWORD": "unused",
        "LINEAGE_SQL_ROOT": str(tmp_path),
        "LINEAGE_CELERY_BROKER_URL": "redis://127.0.0.1:1/0",
    }.items():
        monkeypatch.setenv(name, value)


def _load_in_subprocess(env: dict[str, str], expression: str) -> subprocess.CompletedProcess:
    """Load the code location with ``env`` in a fresh interpreter and print ``expression``."""
    script = (
        "import json\n"
        "from lineage_dagster.definitions import defs, pipeline_definitions\n"
        "job = defs().resolve_job_def('ingest_sql_job')\n"
        f"print(json.dumps({expression}))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("parallel", "kind", "selected"),
    [
        (True, "multiprocess", "multiprocess"),
        (True, "celery", "celery"),
        (False, "celery", "in_process"),
    ],
)
def test_run_config_selects_the_executor(parallel: bool, kind: str, selected: str) -> None:
    config = execution_config(parallel=parallel, kind=kind)
    assert list(config["config"]) == [selected]
    job = pipeline_definitions().resolve_job_def("ingest_sql_job")
    assert dg.validate_run_config(job, {"execution": config})


def test_celery_urls_come_from_the_environment_never_from_run_config() -> None:
    config = celery_config()
    assert config["broker"] == {"env": "LINEAGE_CELERY_BROKER_URL"}
    assert config["backend"] == {"env": "LINEAGE_CELERY_BROKER_URL"}
    assert "redis://" not in json.dumps(config)


def test_lineage_executor_celery_makes_celery_the_launchpad_default(tmp_path) -> None:
    env = {"LINEAGE_EXECUTOR": "celery", "DAGSTER_HOME": str(tmp_path)}
    expression = "job.partitioned_config.get_run_config_for_partition_key('risk')['execution']"
    loaded = _load_in_subprocess(env, expression)
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout.splitlines()[-1]) == {"config": {"celery": celery_config()}}

    with_parallel_off = _load_in_subprocess({**env, "FEATURE_PARALLEL": "off"}, expression)
    assert json.loads(with_parallel_off.stdout.splitlines()[-1]) == {"config": {"in_process": {}}}


def test_a_separate_result_backend_has_its_own_variable(tmp_path) -> None:
    env = {
        "LINEAGE_EXECUTOR": "celery",
        "LINEAGE_CELERY_BACKEND_URL": "redis://127.0.0.1:2/1",
        "DAGSTER_HOME": str(tmp_path),
    }
    expression = (
        "job.partitioned_config.get_run_config_for_partition_key('risk')"
        "['execution']['config']['celery']['backend']"
    )
    loaded = _load_in_subprocess(env, expression)
    assert json.loads(loaded.stdout.splitlines()[-1]) == {"env": "LINEAGE_CELERY_BACKEND_URL"}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"LINEAGE_EXECUTOR": "dask"},
            "LINEAGE_EXECUTOR='dask' is not one of multiprocess, celery",
        ),
        (
            {"LINEAGE_EXECUTOR": "celery", "LINEAGE_CELERY_BROKER_URL": ""},
            "LINEAGE_EXECUTOR=celery needs LINEAGE_CELERY_BROKER_URL",
        ),
    ],
)
def test_a_bad_executor_setting_fails_the_load_clearly(env, message, tmp_path) -> None:
    loaded = _load_in_subprocess({**env, "DAGSTER_HOME": str(tmp_path)}, "1")
    assert loaded.returncode != 0
    assert message in loaded.stderr


def test_the_shipped_worker_config_matches_the_runs_celery_settings() -> None:
    """Workers and runs must agree (acknowledgement, prefetch, visibility timeout, broker)."""
    worker = yaml.safe_load(WORKER_YAML.read_text())["execution"]["config"]
    assert worker["config_source"] == CELERY_SETTINGS
    assert worker["broker"] == celery_config()["broker"]
    assert worker["backend"] == celery_config()["backend"]
    # dagster-celery's own validation, as `dagster-celery worker start -y` does it.
    validated = get_validated_config(str(WORKER_YAML))
    assert validated["broker"] == "redis://127.0.0.1:1/0"


def test_step_outputs_go_to_the_step_storage_folder(tmp_path) -> None:
    storage = tmp_path / "shared" / "steps"
    env = {"LINEAGE_STEP_STORAGE_DIR": str(storage), "DAGSTER_HOME": str(tmp_path)}
    loaded = _load_in_subprocess(env, "pipeline_definitions().resources['io_manager'].base_dir")
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout.splitlines()[-1]) == str(storage)


def test_the_documented_worker_command_is_the_one_the_tests_run() -> None:
    """docs/operations/SCALING.md starts workers as test_celery_integration.py does."""
    doc = (REPO_ROOT / "docs" / "operations" / "SCALING.md").read_text()
    block = re.search(r"^\s*(dagster-celery worker start .*?)\n\s*dagster-celery", doc, re.S | re.M)
    assert block is not None
    documented = shlex.split(block.group(1).replace("\\\n", " "))
    assert documented[0] == "dagster-celery"
    worker_yaml = "docs/operations/celery/celery-worker.yaml"
    expected = worker_arguments("lineage-$(hostname)", worker_yaml, "$(nproc)")
    assert documented[1:] == expected
    assert (REPO_ROOT / "docs" / "operations" / "celery" / "celery-worker.yaml").is_file()


@dg.op
def frozen_objects() -> int:
    """How many objects this step process inherited frozen from the forkserver."""
    return gc.get_freeze_count()


@dg.job(executor_def=lineage_executor)
def frozen_objects_job() -> None:
    frozen_objects()


def test_step_processes_inherit_the_forkservers_frozen_heap(tmp_path) -> None:
    """A step forked from the forkserver finds the preloaded modules frozen, so its collector
    never walks (and copies) them: that made each step start 0.2-0.3 s slower."""
    run_config = {"execution": execution_config(parallel=True, kind="multiprocess")}
    with (
        dg.instance_for_test(temp_dir=str(tmp_path)) as instance,
        dg.execute_job(
            dg.reconstructable(frozen_objects_job), instance=instance, run_config=run_config
        ) as result,
    ):
        assert result.success
        assert result.output_for_node("frozen_objects") > 100_000
