"""Ingest speed on Celery workers against the multiprocess executor, side by side in one run:
500 files of the benchmark generator (30% copies), all flags on, cold (empty parse cache, empty
graph), on a real Neo4j, a real Dagster instance and a real Redis, with

* the multiprocess executor (forkserver, two step processes at most);
* one Celery worker (``dagster-celery worker start``, concurrency 1);
* two Celery workers (concurrency 1 each), as on two machines.

On a two-core machine shared with Neo4j this shows Celery's overhead (a task per step through
Redis, each step opening the instance in a long-lived worker), not a speed-up: workers on more
machines add parse CPU, while every run still ends in one load step on one Neo4j.

Neo4j is warmed first by one untimed load of the same corpus. Run with
``pytest -m benchmark -s -k celery_benchmark``. Prints a table; asserts only that every
configuration built the same graph and that the two-worker runs used both workers.
"""

import os
import statistics
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from lineage_dagster.devstack.local_neo4j import find_free_port
from lineage_dagster.devstack.local_redis import run_redis
from lineage_dagster.sources.files import list_partitions
from lineage_dagster_tests.benchmarks.corpus import write_corpus
from lineage_dagster_tests.celery_helpers import celery_workers, step_workers, worker_yaml
from lineage_dagster_tests.graph_helpers import graph_snapshot, wipe_graph
from lineage_dagster_tests.ingest_helpers import IngestRun, ingest

pytestmark = [pytest.mark.benchmark, pytest.mark.integration]

FILES = 500
CONFIGURATIONS = (  # name, executor, Celery workers
    ("multiprocess", "multiprocess", []),
    ("Celery, 1 worker", "celery", ["worker-a"]),
    ("Celery, 2 workers", "celery", ["worker-a", "worker-b"]),
)


def _step_seconds(instance: dg.DagsterInstance, run_id: str, prefix: str) -> list[float]:
    """Start-to-success seconds of each step of the run whose key starts with ``prefix``."""
    starts: dict[str, float] = {}
    seconds = []
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or not str(event.step_key).startswith(prefix):
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            starts[str(event.step_key)] = entry.timestamp
        elif event.event_type == dg.DagsterEventType.STEP_SUCCESS:
            seconds.append(entry.timestamp - starts[str(event.step_key)])
    return seconds


def _ingest_all(
    instance: dg.DagsterInstance, source: Path, cache: Path, executor: str, storage: Path
) -> list[IngestRun]:
    """One run per partition of ``source``, one after the other."""
    runs = []
    for partition in list_partitions(source):
        run = ingest(
            instance,
            source,
            partition,
            executor=executor,
            step_storage_dir=storage,
            cache_path=cache,
        )
        assert run.success, run.step_failures
        runs.append(run)
    return runs


def test_celery_workers_vs_multiprocess(
    tmp_path: Path, neo4j_env, neo4j_driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "corpus"
    write_corpus(root, files=FILES, seed=0, copies=0.3)
    partitions = list_partitions(root)
    warm_up = tmp_path / "warm_up"
    write_corpus(warm_up, files=40, seed=99)
    rows, snapshots = [], {}
    # Untimed: one load of the whole corpus first, so Neo4j is as warm for the first
    # configuration as for the last (with a small warm-up only, its write time fell by two thirds
    # from the first configuration to the third, whatever the executor).
    home = tmp_path / "home_warm"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        _ingest_all(instance, root, tmp_path / "warm.sqlite", "multiprocess", tmp_path / "warm")
    wipe_graph(neo4j_driver)
    with run_redis(tmp_path / "redis", find_free_port()) as broker_url:
        monkeypatch.setenv("LINEAGE_CELERY_BROKER_URL", broker_url)
        for name, executor, names in CONFIGURATIONS:
            home = tmp_path / f"home_{len(rows)}"
            home.mkdir()
            storage = tmp_path / f"steps_{len(rows)}"
            env = {
                **os.environ,
                "DAGSTER_HOME": str(home),
                "LINEAGE_STEP_STORAGE_DIR": str(storage),
            }
            with (
                dg.instance_for_test(temp_dir=str(home)) as instance,
                celery_workers(names, config_yaml=worker_yaml(tmp_path), env=env, log_dir=tmp_path),
            ):
                # Untimed: Neo4j compiles its query plans, workers import and open the instance.
                warm_up_cache = tmp_path / f"warm_up_{len(rows)}.sqlite"
                _ingest_all(instance, warm_up, warm_up_cache, executor, storage)
                wipe_graph(neo4j_driver)
                started = time.perf_counter()
                cache = tmp_path / f"cache_{len(rows)}.sqlite"
                runs = _ingest_all(instance, root, cache, executor, storage)
                seconds = time.perf_counter() - started
                snapshots[name] = graph_snapshot(neo4j_driver)
                parse = [s for r in runs for s in _step_seconds(instance, r.run_id, "parse_sql_")]
                load = [s for r in runs for s in _step_seconds(instance, r.run_id, "load_lineage")]
                ran_on = {
                    worker.split("@")[0]
                    for r in runs
                    for step, worker in step_workers(instance, r.run_id)
                    if step.startswith("parse_sql_")
                }
            if names:
                assert ran_on == set(names), f"{name}: parse steps ran on {ran_on}"
            rows.append(
                {
                    "executor": name,
                    "seconds": round(seconds, 1),
                    "files/s": round(FILES / seconds, 1),
                    "parse steps": len(parse),
                    "parse step s (median)": round(statistics.median(parse), 2),
                    "load step s (total)": round(sum(load), 1),
                    "neo4j write s": round(
                        sum(r.load_metadata["neo4j_write_seconds"] for r in runs), 1
                    ),
                }
            )

    for name, snapshot in snapshots.items():
        assert snapshot == snapshots["multiprocess"], f"{name} built a different graph"
    table = pd.DataFrame(rows).set_index("executor")
    base = table.loc["multiprocess", "seconds"]
    table["vs multiprocess"] = (base / table["seconds"]).round(2)
    # What the executor changes: the run minus the Neo4j writes every executor does the same.
    table["s outside Neo4j writes"] = (table["seconds"] - table["neo4j write s"]).round(1)
    print(
        f"\nIngest of {FILES} files in {len(partitions)} partitions (one run each), all flags "
        f"on, cold, on {os.cpu_count()} cores shared with Neo4j and Redis"
    )
    print(table.to_string())
