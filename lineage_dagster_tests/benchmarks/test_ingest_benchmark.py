"""Ingest speed on a 1,000-file financial corpus (30% of files copies of others, as in real
repositories), side by side in one run on a real Dagster instance and a real Neo4j:

* all flags on, cold (empty parse cache, empty graph) and warm (every file a cache hit, graph
  wiped), against all flags off (the plain baseline path); partitions one after another;
* the extraction CPU time of the same corpus, so the pipeline's overhead is a ratio;
* the cache hit rate of the cold run, the Neo4j write rate of each, and the peak memory of
  the load steps (the step that holds a whole partition's lineage);
* all flags on, cold, through `lineage-dagster ingest` as users run it (its default number of
  runs at a time, each in its own process; its write rate and memory are not collected).

Neo4j first loads and wipes a small corpus untimed, so its query plans are compiled, as on a
server that has been running (a fresh database compiles each query shape on first use).

Run with ``pytest -m benchmark -s -k ingest_benchmark``. Prints a table; asserts only that every
configuration built the same graph."""

import json
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from lineage_dagster.parsing import extract_file, tune_gc_for_parsing
from lineage_dagster.sources.files import list_partitions
from lineage_dagster_tests.benchmarks.corpus import write_corpus
from lineage_dagster_tests.graph_helpers import count, graph_snapshot, wipe_graph
from lineage_dagster_tests.ingest_helpers import ingest
from lineage_dagster_tests.test_cli.cli_helpers import cli_env, run_cli

pytestmark = [pytest.mark.benchmark, pytest.mark.integration]

FILES = 1000
COPIES = 0.3
ALL_OFF = {"parse_cache": False, "batching": False, "neo4j_batch": False}
CLI_RUN = "all on, cold, ingest command"
RUNS = (  # name, flags, parallel; the warm run reuses the cache the cold run filled
    ("all on, cold", {}, True),
    ("all on, warm", {}, True),
    ("all off", ALL_OFF, False),
)


def _extraction_cpu_seconds(paths: list[Path]) -> float:
    """CPU time to extract every file once, as a parse step does it (collector tuned), best of
    two passes."""
    tune_gc_for_parsing()
    best = float("inf")
    for _ in range(2):
        started = time.process_time()
        for path in paths:
            extract_file(path)
        best = min(best, time.process_time() - started)
    return best


def _ingest_all(instance, root: Path, partitions: list[str], flags, parallel, cache) -> list:
    def one(partition: str) -> dict:
        run = ingest(instance, root, partition, flags=flags, parallel=parallel, cache_path=cache)
        assert run.success, run.step_failures
        return run.load_metadata

    return [one(partition) for partition in partitions]


def test_ingest_all_flags_on_vs_off(tmp_path: Path, neo4j_env, neo4j_driver) -> None:
    root = tmp_path / "corpus"
    paths = write_corpus(root, files=FILES, seed=0, copies=COPIES)
    partitions = list_partitions(root)
    extraction = _extraction_cpu_seconds(paths)
    home = tmp_path / "dagster_home"
    home.mkdir()
    rows, snapshots = [], {}
    warm_up = tmp_path / "warm_up"
    write_corpus(warm_up, files=40, seed=99)
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        _ingest_all(instance, warm_up, list_partitions(warm_up), {}, True, tmp_path / "w.sqlite")
        for name, flags, parallel in RUNS:
            cache = tmp_path / ("cache.sqlite" if name.startswith("all on") else "unused.sqlite")
            wipe_graph(neo4j_driver)
            started = time.perf_counter()
            loads = _ingest_all(instance, root, partitions, flags, parallel, cache)
            seconds = time.perf_counter() - started
            snapshots[name] = graph_snapshot(neo4j_driver)
            # With parse_cache off the cache is not asked: no hits, every file parsed.
            hits = sum(load.get("cache_hits", 0) for load in loads)
            misses = sum(load["files_parsed"] for load in loads)
            written = sum(load["relationships"] for load in loads)
            write_seconds = sum(load["neo4j_write_seconds"] for load in loads)
            rows.append(
                {
                    "run": name,
                    "seconds": round(seconds, 1),
                    "files/s": round(FILES / seconds),
                    "x extraction CPU": round(seconds / extraction, 1),
                    "cache hit rate": f"{hits / max(1, hits + misses):.0%}",
                    "relationships": written,
                    "Neo4j write s": round(write_seconds, 1),
                    "relationships/s": round(written / write_seconds),
                    "load step peak MB": max(load["peak_rss_mb"] for load in loads),
                }
            )
        tables = count(neo4j_driver, "(:Table)")
    # What a user runs: the command (its default number of runs at a time), each run in its own
    # process, paying the command's own start.
    wipe_graph(neo4j_driver)
    cli_home = tmp_path / "cli_home"  # its own (empty) parse cache
    cli_home.mkdir()
    started = time.perf_counter()
    result = run_cli(["ingest", str(root), "--format", "json"], cli_env(neo4j_env, cli_home))
    seconds = time.perf_counter() - started
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    snapshots[CLI_RUN] = graph_snapshot(neo4j_driver)
    cli_runs = json.loads(result.stdout)["runs"]
    hits = sum(run["cache_hits"] for run in cli_runs)
    rows.append(
        {
            "run": CLI_RUN,
            "seconds": round(seconds, 1),
            "files/s": round(FILES / seconds),
            "x extraction CPU": round(seconds / extraction, 1),
            "cache hit rate": f"{hits / FILES:.0%}",
            "relationships": count(neo4j_driver, "()-[]->()"),
        }
    )

    assert tables > 0
    for name, snapshot in snapshots.items():
        assert snapshot == snapshots["all on, cold"], f"{name} built a different graph"
    table = pd.DataFrame(rows).set_index("run")
    off = table.loc["all off", "seconds"]
    table["speed-up vs all off"] = (off / table["seconds"]).round(1)
    print(
        f"\nIngest of {FILES} files ({COPIES:.0%} copies) in {len(partitions)} partitions, "
        f"{tables} tables; extraction alone: {extraction:.2f} CPU-s"
    )
    print(table.to_string())


def test_one_changed_file_in_a_250_file_folder(tmp_path: Path, neo4j_env, neo4j_driver) -> None:
    """How soon one edited file's lineage is in Neo4j: from the run's start to the end of its
    load step (three edits, each a run of its own)."""
    root = tmp_path / "corpus"
    (root / "risk").mkdir(parents=True)
    paths = []
    for source in write_corpus(tmp_path / "generated", files=250, seed=3):
        paths.append(root / "risk" / source.name)
        paths[-1].write_bytes(source.read_bytes())
    home = tmp_path / "dagster_home"
    home.mkdir()
    wipe_graph(neo4j_driver)
    latencies = []
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        cache = tmp_path / "cache.sqlite"
        assert ingest(instance, root, "risk", cache_path=cache).success
        for edit in range(3):
            changed = paths[edit * 7]
            changed.write_text(changed.read_text() + f"\nINSERT INTO risk.edit_{edit} SELECT 1;\n")
            run = ingest(instance, root, "risk", cache_path=cache)
            assert run.success and run.load_metadata["files_loaded"] == 1
            stamps = {
                (event.step_key, event.dagster_event_type): event.timestamp
                for event in instance.all_logs(run.run_id)
                if event.dagster_event_type is not None
            }
            started = stamps[(None, dg.DagsterEventType.RUN_START)]
            loaded = stamps[("load_lineage", dg.DagsterEventType.STEP_SUCCESS)]
            latencies.append(loaded - started)
            assert count(neo4j_driver, f"(:Table {{name: 'risk.edit_{edit}'}})") == 1
    print(
        f"\nOne changed file in a {len(paths)}-file folder: lineage in Neo4j "
        + ", ".join(f"{s:.2f} s" for s in latencies)
        + " after its run started"
    )
