"""Ingest speed on a 1,000-file financial corpus: cold (empty cache) and warm (every file a cache
hit) with all feature flags on vs. all off, side by side in one run, on a real Dagster instance
and a real Neo4j. Run with ``pytest -m benchmark -s -k ingest``. Prints seconds and ratios;
asserts only that every configuration built the same graph."""

import time
from pathlib import Path

import dagster as dg
import pytest

from lineage_dagster.sources.files import list_partitions
from lineage_dagster_tests.benchmarks.corpus import write_corpus
from lineage_dagster_tests.graph_helpers import count, graph_snapshot, wipe_graph
from lineage_dagster_tests.ingest_helpers import ingest

pytestmark = [pytest.mark.benchmark, pytest.mark.integration]

FILES = 1000
CONFIGS = {
    "all on": ({}, True),
    "all off": ({"parse_cache": False, "batching": False, "neo4j_batch": False}, False),
}


def test_ingest_cold_and_warm_all_flags_on_vs_off(tmp_path: Path, neo4j_env, neo4j_driver):
    root = tmp_path / "corpus"
    write_corpus(root, files=FILES, seed=0)
    partitions = list_partitions(root)
    home = tmp_path / "dagster_home"
    home.mkdir()
    timings: dict[tuple[str, str], float] = {}
    snapshots = {}
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        for name, (flags, parallel) in CONFIGS.items():
            cache = tmp_path / f"cache-{name.replace(' ', '_')}.sqlite"
            for phase in ("cold", "warm"):
                wipe_graph(neo4j_driver)
                started = time.perf_counter()
                for partition in partitions:
                    run = ingest(
                        instance, root, partition, flags=flags, parallel=parallel, cache_path=cache
                    )
                    assert run.success, run.step_failures
                timings[(name, phase)] = time.perf_counter() - started
                snapshots[(name, phase)] = graph_snapshot(neo4j_driver)
        tables = count(neo4j_driver, "(:Table)")

    baseline = snapshots[("all on", "cold")]
    assert tables > 0
    for key, snapshot in snapshots.items():
        assert snapshot == baseline, f"{key} built a different graph"

    off_cold = timings[("all off", "cold")]
    print(
        f"\nIngest of {FILES} files in {len(partitions)} partitions ({tables} tables), "
        "seconds for all partitions:"
    )
    print(f"{'flags':<10}{'cold':>10}{'warm':>10}{'cold/warm':>12}{'speed-up vs all-off cold':>28}")
    for name in CONFIGS:
        cold, warm = timings[(name, "cold")], timings[(name, "warm")]
        print(
            f"{name:<10}{cold:>10.1f}{warm:>10.1f}{cold / warm:>12.2f}"
            f"{off_cold / cold:>16.2f} / {off_cold / warm:.2f}"
        )
