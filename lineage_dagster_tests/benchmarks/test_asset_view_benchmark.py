"""Code-location load time of the asset view, side by side at 500 and 5,000 generated tables
(~10 columns each) in a real Neo4j: reading the catalog, building the AssetSpecs and the
repository, the snapshot the code server sends the webserver, the whole initial load, and the
rebuild from the kept catalog (what a run worker does); then the Lineage page's render time in
a real webserver and headless Chromium. Run with ``pytest -m benchmark -s -k asset_view``;
prints figures, asserts only what must hold."""

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import neo4j
import pandas as pd
import pytest
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster._utils.test.definitions import (
    scoped_definitions_load_context,
    scoped_reconstruction_metadata,
)
from dagster_shared.serdes import serialize_value
from playwright.sync_api import sync_playwright

from lineage_dagster.definitions import defs
from lineage_dagster.defs.warehouse import CATALOG_STATE_KEY, warehouse_asset_specs
from lineage_dagster.devstack.local_neo4j import find_free_port
from lineage_dagster.graph.catalog import catalog_to_json, get_catalog
from lineage_dagster.graph.load import ensure_constraints, load_files
from lineage_dagster.parsing import ColumnEdge, FileLineage, StatementLineage
from lineage_dagster_tests.conftest import Neo4jServer
from lineage_dagster_tests.graph_helpers import wipe_graph
from lineage_dagster_tests.test_cli.test_dev_command import CHROMIUM_ARGS, _graphql, _wait_for

pytestmark = [pytest.mark.benchmark, pytest.mark.integration]

SIZES = (500, 5000)
COLUMNS = 10
FOLDERS = ("finance", "risk", "regulatory", "treasury", "ops")


def warehouse(tables: int) -> list[FileLineage]:
    """A fifth of the tables are sources; every other table is written by one file of its
    folder from two earlier tables (the one ``sources`` places before it, so every source is
    read, and one of the 50 before it), each column copied from one and computed from the
    other."""
    sources = tables // 5
    names = [f"{FOLDERS[i % len(FOLDERS)]}.table_{i:05d}" for i in range(tables)]
    files = []
    for i in range(sources, tables):
        nearby = random.Random(i).randrange(max(i - 50, i - sources + 1), i)
        upstream = (names[i - sources], names[nearby])
        edges = tuple(
            edge
            for c in range(COLUMNS)
            for edge in (
                ColumnEdge(f"{upstream[0]}.col_{c}", f"{names[i]}.col_{c}", "direct"),
                ColumnEdge(f"{upstream[1]}.col_{c}", f"{names[i]}.col_{c}", "expression"),
            )
        )
        statement = StatementLineage(0, 2, "INSERT", upstream, (names[i],), edges)
        folder = names[i].split(".")[0]
        files.append(FileLineage(f"{folder}/t{i:05d}.sql", f"{i:064x}", "postgres", (statement,)))
    return files


def _timed(action: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = action()
    return value, time.perf_counter() - started


def _load_warehouse(driver: neo4j.Driver, tables: int) -> None:
    wipe_graph(driver)
    with driver.session() as session:
        ensure_constraints(session)
        load_files(session, warehouse(tables), [], extractor_version="benchmark")


def _measure(driver: neo4j.Driver, tables: int) -> dict[str, float]:
    _load_warehouse(driver, tables)
    with driver.session() as session:
        catalog, read = _timed(lambda: get_catalog(session))
    assert len(catalog.tables) == tables
    assert sum(len(t.columns) for t in catalog.tables) == tables * COLUMNS
    specs, build = _timed(lambda: warehouse_asset_specs(catalog))
    repository, resolve = _timed(lambda: dg.Definitions(assets=specs).get_repository_def())
    _, snapshot = _timed(lambda: serialize_value(RepositorySnap.from_def(repository)))

    def initial_load() -> dg.Definitions:
        with scoped_definitions_load_context():
            return defs()

    loaded, load = _timed(initial_load)
    assert len(loaded.resolve_asset_graph().get_all_asset_keys()) == tables + 2
    state = catalog_to_json(catalog)

    def rebuild() -> dg.Definitions:
        with scoped_reconstruction_metadata({CATALOG_STATE_KEY: state}):
            return defs()

    _, reconstruct = _timed(rebuild)
    return {
        "read catalog (s)": read,
        "build specs (s)": build,
        "repository (s)": resolve,
        "snapshot (s)": snapshot,
        "defs() initial load (s)": load,
        "defs() rebuild from kept catalog (s)": reconstruct,
        "kept catalog (MB)": len(state) / 1e6,
    }


def test_code_location_load_time(neo4j_driver: neo4j.Driver, neo4j_env: Neo4jServer) -> None:
    assert os.environ["NEO4J_URI"] == neo4j_env.uri
    figures = {f"{size} tables": _measure(neo4j_driver, size) for size in SIZES}
    wipe_graph(neo4j_driver)
    table = pd.DataFrame(figures)
    print("\nAsset view: code-location load (seconds, one run each)\n" + table.round(3).to_string())
    # The bound: 5,000 tables and 50,000 columns load the code location in 10 s or less.
    assert figures["5000 tables"]["defs() initial load (s)"] <= 10


def _render_times(tables: int, home: Path) -> dict[str, float]:
    """Start a real webserver on the loaded graph, then time in Chromium, from navigation to
    the awaited text: the Lineage page (its groups), the largest group's graph, a table's page."""
    port = find_free_port()
    log = (home / "webserver.log").open("w")
    webserver = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("dagster-webserver")),
            *("-h", "127.0.0.1", "-p", str(port), "-m", "lineage_dagster.definitions"),
        ],
        env={**os.environ, "DAGSTER_HOME": str(home)},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def asset_count() -> int:
        try:
            return len(_graphql(port, "{ assetNodes { id } }")["assetNodes"])
        except OSError:
            return 0

    try:
        _, start = _timed(lambda: _wait_for(lambda: asset_count() == tables + 2, 300, "assets"))
        ui = f"http://127.0.0.1:{port}"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS
            )
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(f"{ui}/locations", wait_until="networkidle")  # the app's code, cached

            def rendered(url: str, text: str) -> float:
                def visit() -> None:
                    page.goto(url)
                    page.get_by_text(text).first.wait_for(timeout=300_000)

                return _timed(visit)[1]

            figures = {
                "webserver up, all assets served (s)": start,
                "Lineage page, groups shown (s)": rendered(f"{ui}/asset-groups", FOLDERS[-1]),
                f"group {FOLDERS[1]!r} graph shown (s)": rendered(
                    f'{ui}/asset-groups~group:"{FOLDERS[1]}"', "table_"
                ),
                "table page shown (s)": rendered(
                    f"{ui}/assets/{FOLDERS[1]}/table_{tables - 4:05d}", "col_0"
                ),
            }
            browser.close()
        return figures
    finally:
        os.killpg(webserver.pid, signal.SIGTERM)
        webserver.wait(60)
        log.close()


def test_lineage_page_render_time(
    neo4j_driver: neo4j.Driver, neo4j_env: Neo4jServer, tmp_path: Path
) -> None:
    figures = {}
    for size in SIZES:
        _load_warehouse(neo4j_driver, size)
        home = tmp_path / f"home_{size}"
        home.mkdir()
        figures[f"{size} tables"] = _render_times(size, home)
    wipe_graph(neo4j_driver)
    table = pd.DataFrame(figures)
    title = "Asset view: Lineage page in Chromium (seconds, one run each)"
    print(f"\n{title}\n{table.round(2).to_string()}")
