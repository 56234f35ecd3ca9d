"""The asset lineage view for real: `lineage-dagster dev` on a copy of the sample corpus ingests
it, the code location reloads, and a headless Chromium finds the sample's tables on the Lineage
page, a table's upstream tables, columns, column-lineage table and source link on its asset
page; then a SQL file changes, the sensor's run reloads the location, and the new table and its
edge show without restarting anything. Last, a backfill of every folder is launched and
completes.

The test takes the screenshots of docs/ui-guide.md (``SCREENSHOTS``): into its temporary folder,
and into ``docs/images/ui`` as well when ``UPDATE_DOCS_SCREENSHOTS=1``, which is how the guide's
pictures are kept current."""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from lineage_dagster.cli.dev import SAMPLE_CORPUS
from lineage_dagster.devstack.local_neo4j import find_free_port
from lineage_dagster.sources.files import list_partitions
from lineage_dagster_tests.test_cli.test_dev_command import (
    CHROMIUM_ARGS,
    RUNS_QUERY,
    _graphql,
    _wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "images" / "ui"
# The pictures of docs/ui-guide.md, in the order the test takes them.
SCREENSHOTS = (
    "lineage.png",
    "lineage_risk.png",
    "var_daily.png",
    "runs.png",
    "run.png",
    "launchpad.png",
    "lineage_after.png",
    "backfill.png",
)

ASSETS_QUERY = "{ assetNodes { assetKey { path } dependencyKeys { path } } }"
LAUNCH_BACKFILL = """
mutation ($partitions: [String!]!) {
  launchPartitionBackfill(backfillParams: {
    selector: {
      partitionSetName: "ingest_sql_job_partition_set",
      repositorySelector: {
        repositoryLocationName: "lineage_dagster", repositoryName: "__repository__"
      }
    },
    partitionNames: $partitions, fromFailure: false
  }) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}
"""
BACKFILL_STATUS = """
query ($id: String!) {
  partitionBackfillOrError(backfillId: $id) { ... on PartitionBackfill { status } }
}
"""
NEW_STATEMENT = """
INSERT INTO risk.var_history (book_id, var_99)
SELECT book_id, var_99 FROM risk.var_daily;
"""


def _asset_edges(port: int) -> set[tuple[str, str]]:
    """(upstream, downstream) pairs of the location's asset graph, keys joined by dots."""
    nodes = _graphql(port, ASSETS_QUERY)["assetNodes"]
    return {
        (".".join(dep["path"]), ".".join(node["assetKey"]["path"]))
        for node in nodes
        for dep in node["dependencyKeys"]
    }


def _successes(port: int, partition: str) -> int:
    runs = _graphql(port, RUNS_QUERY)["runsOrError"]["results"]
    return sum(
        1
        for run in runs
        if run["status"] == "SUCCESS"
        and {"key": "dagster/partition", "value": partition} in run["tags"]
    )


def _shoot(page: Page, folder: Path, name: str, *, full_page: bool = False) -> None:
    """Save a screenshot of docs/ui-guide.md, also into the docs when asked to refresh them."""
    assert name in SCREENSHOTS, name
    page.screenshot(path=str(folder / name), full_page=full_page)
    if os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1":
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(folder / name, DOCS_SCREENSHOTS / name)


def _open(page: Page, url: str, text: str) -> str:
    page.goto(url, wait_until="networkidle")
    page.get_by_text(text).first.wait_for(timeout=60_000)
    return page.inner_text("body")


def test_tables_columns_and_new_edges_show_in_the_ui(tmp_path: Path) -> None:
    sql_root = tmp_path / "sql"
    shutil.copytree(SAMPLE_CORPUS, sql_root)
    port, bolt_port, gateway_port, prometheus_port = (find_free_port() for _ in range(4))
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("NEO4J_", "LINEAGE_"))
    }
    env.update(LINEAGE_SENSOR_INTERVAL_SECONDS="3")
    shots = tmp_path / "screenshots"
    shots.mkdir()
    log_path = tmp_path / "dev.log"
    log = log_path.open("w")
    dev = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("lineage-dagster")),
            "dev",
            *("--sql-root", str(sql_root), "--state-dir", str(tmp_path / "state")),
            *("--port", str(port), "--neo4j-port", str(bolt_port)),
            *("--pushgateway-port", str(gateway_port), "--prometheus-port", str(prometheus_port)),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def alive() -> None:
        if dev.poll() is not None:
            raise AssertionError(f"dev exited with {dev.returncode}:\n{log_path.read_text()}")

    def edges() -> set[tuple[str, str]]:
        alive()
        try:
            return _asset_edges(port)
        except OSError:
            return set()

    ui = f"http://127.0.0.1:{port}"
    try:
        partitions = list_partitions(sql_root)
        _wait_for(
            lambda: edges() and all(_successes(port, p) for p in partitions),
            300,
            "a successful run per sample folder",
        )
        # Each run reloads the location once its load step changed the graph.
        expected = {
            ("risk.positions_enriched", "risk.var_daily"),
            ("risk.var_daily", "regulatory.capital_report"),
        }
        _wait_for(lambda: expected <= edges(), 120, f"the table edges {expected}")

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS
            )
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            # The Lineage page: one box per group (source folder), then a group's tables.
            groups = _open(page, f"{ui}/asset-groups", "regulatory")
            _shoot(page, shots, "lineage.png")
            assert {"finance", "lineage", "regulatory", "risk"} <= set(groups.split())
            risk = _open(page, f'{ui}/asset-groups~group:"risk"', "positions_enriched")
            _shoot(page, shots, "lineage_risk.png")
            for name in ("eod_prices", "scenario_shocks", "var_daily", "Source", "Postgres"):
                assert name in risk, name

            table = _open(page, f"{ui}/assets/risk/var_daily", "column_lineage")
            _shoot(page, shots, "var_daily.png", full_page=True)
            # Its edges (upstream and downstream assets), columns, column lineage and source.
            for key in (
                "risk/positions_enriched",
                "risk/scenario_shocks",
                "regulatory/capital_report",
            ):
                assert page.locator(f"a[href='/assets/{key}']").count() >= 1, key
            assert "book_id" in table and "var_99" in table
            assert "risk.scenario_shocks.shock" in table
            assert "INSERT at risk/var_daily.sql:13" in table
            source = page.locator("a[href$='risk/var_daily.sql:13']")
            assert source.count() >= 1, "no link to the SQL file and line"
            assert str(sql_root / "risk" / "var_daily.sql") in (
                source.first.get_attribute("href") or ""
            )

            # Runs: one per folder, started by the sensor; a run's page shows its steps.
            runs = _open(page, f"{ui}/runs", "ingest_sql_job")
            _shoot(page, shots, "runs.png")
            assert "Success" in runs or "SUCCESS" in runs
            risk_run = next(
                run["runId"]
                for run in _graphql(port, RUNS_QUERY)["runsOrError"]["results"]
                if run["status"] == "SUCCESS"
                and {"key": "dagster/partition", "value": "risk"} in run["tags"]
            )
            run_page = _open(page, f"{ui}/runs/{risk_run}", "load_lineage")
            _shoot(page, shots, "run.png")
            assert "plan_sql_files" in run_page and "parse_sql_batch" in run_page
            # The launchpad: the job's default run config names the feature flags.
            launchpad = _open(
                page,
                f"{ui}/locations/lineage_dagster/jobs/ingest_sql_job/playground",
                "feature_flags",
            )
            _shoot(page, shots, "launchpad.png")
            for flag in ("parse_cache", "batching", "neo4j_batch", "metrics"):
                assert flag in launchpad, flag

            with (sql_root / "risk" / "var_daily.sql").open("a") as sql:
                sql.write(NEW_STATEMENT)
            _wait_for(
                lambda: ("risk.var_daily", "risk.var_history") in edges(),
                180,
                "the sensor's run to add risk.var_daily -> risk.var_history",
            )
            history = _open(page, f"{ui}/assets/risk/var_history", "column_lineage")
            assert "risk.var_daily.var_99" in history
            assert page.locator("a[href='/assets/risk/var_daily']").count() >= 1
            assert "var_history" in _open(page, f'{ui}/asset-groups~group:"risk"', "var_history")
            _shoot(page, shots, "lineage_after.png")

            # A backfill: one run per folder, launched as the partitions page would.
            launched = _graphql(port, LAUNCH_BACKFILL, {"partitions": partitions})
            backfill_id = launched["launchPartitionBackfill"].get("backfillId")
            assert backfill_id, launched

            def backfill_status() -> str:
                status = _graphql(port, BACKFILL_STATUS, {"id": backfill_id})
                return status["partitionBackfillOrError"]["status"]

            status = _wait_for(
                lambda: (now := backfill_status()) not in ("REQUESTED", "CANCELING") and now,
                300,
                f"backfill {backfill_id} over {partitions} to finish",
            )
            assert status == "COMPLETED_SUCCESS", status
            backfill = _open(page, f"{ui}/runs/b/{backfill_id}", backfill_id)
            _shoot(page, shots, "backfill.png", full_page=True)
            assert f"{len(partitions)} partitions" in backfill
            browser.close()
        assert sorted(path.name for path in shots.iterdir()) == sorted(SCREENSHOTS)
        assert _successes(port, "risk") >= 2
    finally:
        dev.send_signal(signal.SIGTERM)
        dev.wait(120)
        log.close()
    assert dev.returncode == 0, log_path.read_text()[-3000:]
