"""The README's main command for real: `lineage-dagster dev` starts its own Neo4j and `dagster dev`
on 127.0.0.1, the sensor ingests its copy of the sample corpus, the runs show in the Dagster UI
(read by a headless Chromium) and the lineage in Neo4j; SIGTERM stops everything it started. Its
redirected output is plain text without Dagster's DEBUG lines, warnings and notices."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import neo4j
import pytest
from playwright.sync_api import sync_playwright

from lineage_dagster.cli.dev import SAMPLE_CORPUS
from lineage_dagster.devstack.local_neo4j import find_free_port
from lineage_dagster.sources.files import list_partitions

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RUNS_QUERY = """
{ runsOrError { ... on Runs { results { runId status jobName tags { key value } } } } }
"""


def _graphql(port: int, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["data"]


def _processes_mentioning(text: str) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if text.encode() in (proc / "cmdline").read_bytes():
                    pids.append(int(proc.name))
            except OSError:
                continue
    return pids


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"Timed out after {timeout:.0f} s waiting for {what}")


def test_dev_command_ingests_the_sample_and_stops_cleanly(tmp_path: Path):
    state = tmp_path / "state"
    port, bolt_port, gateway_port, prometheus_port = (find_free_port() for _ in range(4))
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("NEO4J_", "LINEAGE_PUSHGATEWAY", "LINEAGE_SQL_ROOT"))
    }
    env.update(LINEAGE_SENSOR_INTERVAL_SECONDS="3")
    log = (tmp_path / "dev.log").open("w")

    def log_text() -> str:
        return (tmp_path / "dev.log").read_text(errors="replace")[-3000:]

    dev = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("lineage-dagster")),
            "dev",
            "--state-dir",
            str(state),
            "--port",
            str(port),
            "--neo4j-port",
            str(bolt_port),
            "--pushgateway-port",
            str(gateway_port),
            "--prometheus-port",
            str(prometheus_port),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        partitions = set(list_partitions(SAMPLE_CORPUS))

        def finished_runs():
            if dev.poll() is not None:  # died: fail now, with its output, not after the timeout
                raise AssertionError(f"dev exited with {dev.returncode}:\n{log_text()}")
            try:
                runs = _graphql(port, RUNS_QUERY)["runsOrError"]["results"]
            except OSError:
                return None
            done = {
                tag["value"]: run["status"]
                for run in runs
                for tag in run["tags"]
                if tag["key"] == "dagster/partition" and run["status"] in {"SUCCESS", "FAILURE"}
            }
            return done if set(done) == partitions else None

        statuses = _wait_for(finished_runs, 300, "one finished run per sample folder")
        assert statuses == dict.fromkeys(partitions, "SUCCESS")

        password = (state / "neo4j" / ".password").read_text().strip()
        # The banner's export line gives a second shell everything the CLI needs, but never
        # the password itself.
        full_log = (tmp_path / "dev.log").read_text(errors="replace")
        # It watches a copy of the sample under the state folder, not the shipped files.
        assert f"Watching:   {state / 'sql'}\n" in full_log
        exports = next(line for line in full_log.splitlines() if "export NEO4J_URI=" in line)
        assert f"DAGSTER_HOME={state / 'dagster_home'}" in exports
        assert f"LINEAGE_PUSHGATEWAY_URL=http://127.0.0.1:{gateway_port}" in exports
        assert f"NEO4J_PASSWORD=$(cat {state / 'neo4j' / '.password'})" in exports
        assert password not in full_log
        # The runs print their ops' messages, not every Dagster event (the UI keeps those):
        # no DEBUG line, not even the step processes announcing themselves.
        assert " - DEBUG - " not in full_log
        assert " - INFO - ingest_sql_job - " in full_log
        # Redirected output is plain text, without Dagster's start-up warnings and notices, and
        # the daemon's routine lines (one per sensor tick) stay in the UI.
        assert "\x1b[" not in full_log
        for unwanted in (
            "SupersessionWarning",
            "No dagster instance configuration file",
            "Telemetry:",
            "setuptools",
            "dagster.daemon.SensorDaemon - INFO",
        ):
            assert unwanted not in full_log, unwanted
        with neo4j.GraphDatabase.driver(
            f"bolt://127.0.0.1:{bolt_port}", auth=("neo4j", password)
        ) as driver:
            records, _, _ = driver.execute_query(
                "MATCH (f:SqlFile) RETURN f.path AS path, f.status AS status"
            )
            files = {record["path"]: record["status"] for record in records}
            records, _, _ = driver.execute_query(
                "MATCH (a:Table)-[:FEEDS]->(b:Table) RETURN a.name AS a, b.name AS b"
            )
            edges = {(record["a"], record["b"]) for record in records}
        sample_files = {
            p.relative_to(SAMPLE_CORPUS).as_posix() for p in SAMPLE_CORPUS.rglob("*.sql")
        }
        assert files == dict.fromkeys(sample_files, "ok")
        # Lineage crosses folders: risk's output feeds the regulatory report.
        assert ("risk.positions_enriched", "risk.var_daily") in edges
        assert ("risk.var_daily", "regulatory.capital_report") in edges

        # The runs pushed their metrics; the local Prometheus scrapes them every few seconds.
        seen: list[float] = []

        def all_files_counted() -> bool:
            query = urllib.parse.urlencode({"query": "sum(lineage_files_processed_total)"})
            url = f"http://127.0.0.1:{prometheus_port}/api/v1/query?{query}"
            with urllib.request.urlopen(url, timeout=10) as response:
                result = json.loads(response.read())["data"]["result"]
            seen.append(float(result[0]["value"][1]) if result else 0.0)
            return seen[-1] >= len(sample_files)

        _wait_for(all_files_counted, 90, f"Prometheus to count {len(sample_files)} files")
        assert seen[-1] == len(sample_files)

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium"),
                args=CHROMIUM_ARGS,  # Playwright gives each launch a fresh temporary profile
            )
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/runs", wait_until="networkidle")
            page.get_by_text("ingest_sql_job").first.wait_for(timeout=30_000)
            text = page.inner_text("body")
            page.screenshot(path=str(tmp_path / "runs.png"))
            # The lineage graph asset, fed by the folder's SQL files. (The catalog's list also
            # holds every table now, too long to find them in its first screen.)
            page.goto(f"http://127.0.0.1:{port}/assets/lineage_graph", wait_until="networkidle")
            page.get_by_text("sql_files").first.wait_for(timeout=30_000)
            assets_text = page.inner_text("body")
            upstream_links = page.locator("a[href='/assets/sql_files']").count()
            page.screenshot(path=str(tmp_path / "assets.png"))
            browser.close()
        assert "sql_files" in assets_text and upstream_links >= 1
        assert text.count("Success") >= len(partitions)
        assert "Failure" not in text
    finally:
        started = time.monotonic()
        dev.send_signal(signal.SIGTERM)
        dev.wait(120)
        log.close()
    assert dev.returncode == 0, (tmp_path / "dev.log").read_text()[-3000:]
    stopped_after = time.monotonic() - started
    _wait_for(lambda: not _processes_mentioning(str(state)), 30, "every started process to end")
    print(f"dev command stopped everything in {stopped_after:.1f} s")
