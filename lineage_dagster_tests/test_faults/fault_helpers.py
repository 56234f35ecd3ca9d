"""Shared pieces of the fault suite: a corpus whose load lasts long enough to be interrupted,
waiting on a CLI run's steps through its instance, process trees, and the convergence check."""

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import neo4j
import psutil

from lineage_dagster.cli.instance import CONFIG_HEADER, DAGSTER_YAML
from lineage_dagster.parsing import extract_lineage
from lineage_dagster_tests.graph_helpers import feeds, sql_files
from lineage_dagster_tests.test_cli.cli_helpers import duplicates, run_cli

IN_PROGRESS = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]


def dense_corpus(
    root: Path, folders: list[str], *, files: int = 60, statements: int = 8
) -> dict[str, str]:
    """Files whose load takes a few seconds: enough to be stopped in the middle."""
    corpus = {}
    columns = ", ".join(f"c{j}" for j in range(8))
    values = ", ".join(f"a.c{j} + b.c{j}" for j in range(8))
    for folder in folders:
        for i in range(files):
            corpus[f"{folder}/f{i:03d}.sql"] = "".join(
                f"INSERT INTO {folder}.t{i}_{k} ({columns})\nSELECT {values}\n"
                f"FROM stg.s{k % 5} AS a JOIN ref.r{i % 3} AS b ON a.id = b.id "
                "WHERE a.d > b.d;\n"
                for k in range(statements)
            )
    for relative, sql in corpus.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(sql)
    return corpus


def dagster_home(path: Path) -> Path:
    """An instance with the project's config, run monitoring polling every second (without the
    header line, so ingest keeps the file as it is)."""
    path.mkdir()
    config = DAGSTER_YAML.replace(CONFIG_HEADER, "# Test instance").replace(
        "poll_interval_seconds: 15", "poll_interval_seconds: 1"
    )
    assert "poll_interval_seconds: 1\n" in config
    (path / "dagster.yaml").write_text(config)
    return path


def open_instance(home: Path) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(home))


def runs(home: Path) -> dict[str, dg.DagsterRun]:
    with open_instance(home) as instance:
        return {run.run_id: run for run in instance.get_runs()}


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"Timed out after {timeout:.0f} s waiting for {what}")


def load_step_pids(home: Path, process: subprocess.Popen, runs: int = 1) -> list[int]:
    """Wait until ``runs`` runs in progress are in their load step (their step processes write
    to Neo4j); return those step processes' PIDs."""

    def loading() -> list[int]:
        if process.poll() is not None:
            raise AssertionError(f"ingest exited early: {process.communicate()}")
        with open_instance(home) as instance:
            pids = [
                entry.dagster_event.pid
                for run in instance.get_runs(dg.RunsFilter(statuses=IN_PROGRESS))
                for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START)
                if entry.step_key == "load_lineage" and entry.dagster_event is not None
            ]
        return pids if len(pids) >= runs else []

    return wait_for(loading, 300, f"{runs} run(s) to start loading")


def process_tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def assert_all_gone(tree: list[psutil.Process], timeout: float) -> None:
    psutil.wait_procs(tree, timeout=timeout)
    alive = [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not alive, [" ".join(p.cmdline())[:200] for p in alive]


def assert_converges(
    corpus: Path, files: dict[str, str], env: dict[str, str], driver: neo4j.Driver, home: Path
) -> None:
    """The next ingest loads everything: the graph of a clean ingest, nothing duplicated, and
    no run of the instance left in progress."""
    result = run_cli(["ingest", str(corpus)], env)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    loaded = sql_files(driver)
    assert loaded.keys() == files.keys()
    assert {f["status"] for f in loaded.values()} == {"ok"}
    expected = {
        (source, target)
        for sql in files.values()
        for statement in extract_lineage(sql).statements
        for source in statement.sources
        for target in statement.targets
    }
    assert feeds(driver) == expected
    assert not any(duplicates(driver).values()), duplicates(driver)
    assert [run.run_id for run in runs(home).values() if run.status in IN_PROGRESS] == []
