"""10,000 files of the benchmark corpus (30% copies) ingested cold by the real command, as a
user runs it: `lineage-dagster ingest` with every flag on, an empty parse cache and an empty
graph, as many runs at a time as its default allows. Prints wall time, files per second, and
the peak memory of each kind of step process (from the runs' step metadata); asserts only
that every file loaded.

Run with ``pytest -m "benchmark and slow" -s -k ten_thousand`` (it takes several minutes)."""

import json
import time
from collections import defaultdict
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from lineage_dagster_tests.benchmarks.corpus import write_corpus
from lineage_dagster_tests.graph_helpers import count, wipe_graph
from lineage_dagster_tests.test_cli.cli_helpers import cli_env, run_cli

pytestmark = [pytest.mark.benchmark, pytest.mark.slow, pytest.mark.integration]

FILES = 10_000


def _peak_memory_by_step(home: Path, run_ids: list[str]) -> dict[str, float]:
    """The largest ``peak_rss_mb`` each step kind (plan, parse, load) reported in the runs."""
    peaks: dict[str, float] = defaultdict(float)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for run_id in run_ids:
            records = instance.get_records_for_run(
                run_id, of_type=dg.DagsterEventType.STEP_OUTPUT, limit=100_000
            ).records
            for record in records:
                event = record.event_log_entry.dagster_event
                assert event is not None and event.step_key is not None
                metadata = event.step_output_data.metadata
                if "peak_rss_mb" in metadata:
                    kind = event.step_key.split("[")[0]
                    peaks[kind] = max(peaks[kind], float(metadata["peak_rss_mb"].value))
    return dict(peaks)


def test_ten_thousand_files_cold(tmp_path: Path, neo4j_env, neo4j_driver) -> None:
    root = tmp_path / "corpus"
    write_corpus(root, files=FILES, seed=0, copies=0.3)
    home = tmp_path / "dagster_home"
    home.mkdir()
    wipe_graph(neo4j_driver)
    started = time.perf_counter()
    env = cli_env(neo4j_env, home)
    result = run_cli(["ingest", str(root), "--format", "json"], env, timeout=7200)
    seconds = time.perf_counter() - started
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    runs = json.loads(result.stdout)["runs"]
    loaded = sum(run["files_loaded"] for run in runs)
    assert loaded == FILES
    hits = sum(run["cache_hits"] for run in runs)
    peaks = _peak_memory_by_step(home, [run["run_id"] for run in runs])
    figures = {
        "files": FILES,
        "partitions": len(runs),
        "seconds": round(seconds, 1),
        "files/s": round(FILES / seconds),
        "cold cache hit rate": f"{hits / FILES:.0%}",
        "relationships": count(neo4j_driver, "()-[]->()"),
        **{f"{kind} peak MB": round(peak) for kind, peak in sorted(peaks.items())},
    }
    print(f"\nCold ingest of {FILES:,} files by `lineage-dagster ingest`")
    print(pd.Series(figures).to_string())
