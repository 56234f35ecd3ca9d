"""The ingest job on Celery: a real Redis as broker and result backend, two worker processes with
their own node names (as on two machines) started with ``dagster-celery worker start`` and the
shipped worker config, a real Neo4j and a real Dagster instance shared by all of them.

* Every partition of a multi-folder corpus ingested on Celery: the parse steps ran on both
  workers (as the run's event log tells) and the graph equals the multiprocess executor's.
* A worker SIGKILLed while it runs a parse step: the run still ends, within a bounded wait,
  because the step's task goes back to the queue and the other worker runs it; no run is left
  STARTED, and ingesting again converges on the multiprocess executor's graph.
"""

import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import neo4j
import pytest

from lineage_dagster.devstack.local_neo4j import find_free_port
from lineage_dagster.devstack.local_redis import run_redis
from lineage_dagster.sources.files import list_partitions
from lineage_dagster_tests.benchmarks.corpus import write_corpus
from lineage_dagster_tests.celery_helpers import (
    CeleryWorker,
    celery_workers,
    step_workers,
    worker_yaml,
)
from lineage_dagster_tests.conftest import Neo4jServer
from lineage_dagster_tests.graph_helpers import graph_snapshot, wipe_graph
from lineage_dagster_tests.ingest_helpers import ingest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WORKERS = ["worker-a", "worker-b"]
VISIBILITY_TIMEOUT_SECONDS = 120
"""How long a dead worker's task waits before it is delivered again (shipped: 3600). It must
exceed the longest step, or a step still running is delivered to a second worker too: at 20 s the
load step of the bulk partition ran twice on a busy two-core machine."""
RUN_DEADLINE_SECONDS = 300
BULK = "bulk"
"""A partition of 300 files in two parse batches, so a parse step lasts long enough to be
killed while it runs."""
SEVERAL_BATCHES = {"min_batch_bytes": 1}
TWO_BATCHES = {"min_batch_bytes": 1, "batches_per_worker": 1}
TERMINAL = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four source-system folders and root files (150 files), plus the ``bulk`` folder."""
    root = tmp_path_factory.mktemp("corpus")
    write_corpus(root, files=150, seed=11)
    (root / BULK).mkdir()
    for source in write_corpus(tmp_path_factory.mktemp("generated"), files=300, seed=12):
        (root / BULK / source.name).write_bytes(source.read_bytes())
    return root


@pytest.fixture(scope="module")
def multiprocess_graph(
    corpus: Path, tmp_path_factory: pytest.TempPathFactory, neo4j_env: Neo4jServer, neo4j_driver
) -> dict[str, object]:
    """The graph the multiprocess executor builds from every partition of the corpus."""
    wipe_graph(neo4j_driver)
    home = tmp_path_factory.mktemp("multiprocess_home")
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        for partition in list_partitions(corpus):
            plan = TWO_BATCHES if partition == BULK else SEVERAL_BATCHES
            run = ingest(instance, corpus, partition, plan=plan)
            assert run.success, run.step_failures
    return graph_snapshot(neo4j_driver)


@pytest.fixture
def broker_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A Redis of this test's own; the run (this process) reads its URL from the environment."""
    with run_redis(tmp_path / "redis", find_free_port()) as url:
        monkeypatch.setenv("LINEAGE_CELERY_BROKER_URL", url)
        yield url


@contextmanager
def celery_deployment(
    tmp_path: Path, broker_url: str, *, visibility_timeout: int | None = None
) -> Iterator[tuple[dg.DagsterInstance, Path, dict[str, CeleryWorker]]]:
    """A fresh instance, a step storage folder and two workers sharing both, configured by the
    shipped worker config (with ``visibility_timeout`` instead of its own when given)."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    storage = tmp_path / "step_storage"
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "LINEAGE_STEP_STORAGE_DIR": str(storage),
        "LINEAGE_CELERY_BROKER_URL": broker_url,
    }
    config = worker_yaml(tmp_path, visibility_timeout=visibility_timeout)
    with (
        dg.instance_for_test(temp_dir=str(home)) as instance,
        celery_workers(WORKERS, config_yaml=config, env=env, log_dir=tmp_path) as workers,
    ):
        yield instance, storage, workers


@contextmanager
def deadline(seconds: float, what: str) -> Iterator[None]:
    """Interrupt the block (SIGINT, which the run's executor handles) if it lasts too long."""
    expired = threading.Event()

    def interrupt() -> None:
        expired.set()
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(seconds, interrupt)
    timer.start()
    try:
        yield
    except (KeyboardInterrupt, dg.DagsterExecutionInterruptedError):
        if not expired.is_set():
            raise
    finally:
        timer.cancel()
    if expired.is_set():
        pytest.fail(f"{what} did not end within {seconds:.0f} s")


def node(worker_node: str) -> str:
    """``worker-a@host`` -> ``worker-a``."""
    return worker_node.split("@")[0]


def test_parse_steps_run_on_both_workers_and_build_the_multiprocess_graph(
    corpus: Path,
    multiprocess_graph: dict[str, object],
    neo4j_driver: neo4j.Driver,
    broker_url: str,
    tmp_path: Path,
) -> None:
    wipe_graph(neo4j_driver)
    executed: list[tuple[str, str]] = []
    with celery_deployment(tmp_path, broker_url) as (instance, storage, _workers):
        for partition in list_partitions(corpus):
            plan = TWO_BATCHES if partition == BULK else SEVERAL_BATCHES
            with deadline(RUN_DEADLINE_SECONDS, f"the Celery run of {partition}"):
                run = ingest(
                    instance,
                    corpus,
                    partition,
                    executor="celery",
                    step_storage_dir=storage,
                    plan=plan,
                )
            assert run.success, run.step_failures
            executed += step_workers(instance, run.run_id)
        # Every step's output went through the shared folder, not the instance's own storage.
        assert any(storage.rglob("parse_sql_batch*"))

    parse_workers = {node(worker) for step, worker in executed if step.startswith("parse_sql_")}
    assert parse_workers == set(WORKERS)
    assert {"plan_sql_files", "load_lineage"} <= {step for step, _worker in executed}
    assert graph_snapshot(neo4j_driver) == multiprocess_graph


def test_a_worker_killed_mid_run_leaves_a_finished_run_and_a_converging_graph(
    corpus: Path,
    multiprocess_graph: dict[str, object],
    neo4j_driver: neo4j.Driver,
    broker_url: str,
    tmp_path: Path,
) -> None:
    wipe_graph(neo4j_driver)
    with (
        celery_deployment(tmp_path, broker_url, visibility_timeout=VISIBILITY_TIMEOUT_SECONDS) as (
            instance,
            storage,
            workers,
        ),
        ThreadPoolExecutor(1) as pool,
    ):
        killer = pool.submit(_kill_the_first_parse_steps_worker, instance, workers)
        started = time.monotonic()
        with deadline(RUN_DEADLINE_SECONDS, "the run that lost a worker"):
            run = ingest(
                instance,
                corpus,
                BULK,
                executor="celery",
                step_storage_dir=storage,
                plan=TWO_BATCHES,
                raise_on_error=False,
            )
        seconds = time.monotonic() - started
        killed_step, killed_worker = killer.result(timeout=5)
        assert not workers[node(killed_worker)].alive
        (survivor,) = set(WORKERS) - {node(killed_worker)}

        assert {r.status for r in instance.get_runs()} <= TERMINAL
        # The killed step's task went back to the queue and the surviving worker ran it.
        executed = step_workers(instance, run.run_id)
        assert (killed_step, killed_worker) in executed
        assert killed_step in {step for step, worker in executed if node(worker) == survivor}
        assert run.success, run.step_failures
        assert seconds >= VISIBILITY_TIMEOUT_SECONDS

        # Ingesting everything again (the survivor alone) converges on the same graph.
        for partition in list_partitions(corpus):
            with deadline(RUN_DEADLINE_SECONDS, f"the re-run of {partition}"):
                again = ingest(
                    instance, corpus, partition, executor="celery", step_storage_dir=storage
                )
            assert again.success, again.step_failures
        assert {r.status for r in instance.get_runs()} <= TERMINAL
    assert graph_snapshot(neo4j_driver) == multiprocess_graph


def _kill_the_first_parse_steps_worker(
    instance: dg.DagsterInstance, workers: dict[str, CeleryWorker], timeout: float = 120.0
) -> tuple[str, str]:
    """Wait until a worker starts a parse step of the instance's first run, SIGKILL that worker
    (its whole process group) and return (step key, worker node name)."""
    deadline_at = time.monotonic() + timeout
    while time.monotonic() < deadline_at:
        records = instance.get_run_records(limit=1)
        if records:
            for step, worker in step_workers(instance, records[0].dagster_run.run_id):
                if step.startswith("parse_sql_"):
                    workers[node(worker)].kill()
                    return step, worker
        time.sleep(0.05)
    raise AssertionError(f"No parse step started on a worker within {timeout:.0f} s")
