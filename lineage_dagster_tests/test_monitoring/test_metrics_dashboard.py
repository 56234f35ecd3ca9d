"""The Grafana dashboard and the metrics reference, checked without services: the dashboard is
importable (uid, a Prometheus datasource variable, every panel bound to it, a valid grid), its
queries use only metrics the runs push, and docs/metrics.md describes every metric."""

import json
import re
from pathlib import Path

import pytest

from lineage_dagster.monitoring.run_metrics import METRICS

DOCS = Path(__file__).resolve().parents[2] / "docs"
DASHBOARD = json.loads((DOCS / "grafana" / "lineage_ingest.json").read_text())
PANELS = DASHBOARD["panels"]
SAMPLE_NAMES = {name for spec in METRICS for name in spec.sample_names}
GATEWAY_METRICS = {"push_time_seconds", "push_failure_time_seconds"}


def test_the_dashboard_keeps_the_seed_uid_and_has_a_prometheus_datasource_variable():
    assert DASHBOARD["uid"] == "financial-lineage-ingestion"
    variables = {variable["name"]: variable for variable in DASHBOARD["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["partition"]["datasource"]["uid"] == "${datasource}"


def test_every_panel_queries_prometheus_through_the_variable():
    assert len(PANELS) >= 10
    assert len({panel["id"] for panel in PANELS}) == len(PANELS)
    for panel in PANELS:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"
            assert target["expr"].strip()
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24 and grid["w"] > 0 and grid["h"] > 0


def test_panels_do_not_overlap():
    cells = set()
    for panel in PANELS:
        grid = panel["gridPos"]
        own = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & own, panel["title"]
        cells |= own


@pytest.mark.parametrize("panel", PANELS, ids=lambda panel: panel["title"])
def test_panel_queries_use_only_pushed_metrics(panel):
    for target in panel["targets"]:
        names = set(re.findall(r"\b(lineage_[a-z0-9_]+|push_[a-z_]+)\b", target["expr"]))
        assert names, target["expr"]
        assert names <= SAMPLE_NAMES | GATEWAY_METRICS, target["expr"]


def test_the_dashboard_covers_the_seed_panels():
    queries = " ".join(target["expr"] for panel in PANELS for target in panel["targets"])
    for needed in (
        "rate(lineage_files_processed_total",
        "rate(lineage_statements_total",
        "lineage_parse_cache_hits_total",
        "histogram_quantile(0.99, sum by (le) (rate(lineage_parse_batch_duration_seconds_bucket",
        "lineage_parse_batch_files_bucket",
        "sum by (status)",
        "lineage_neo4j_write_duration_seconds",
        "lineage_last_run_failed_files",
        "lineage_last_success_timestamp_seconds",
        "sum by (partition, executor) (lineage_step_processes_busy",
        "lineage_step_processes_max",
    ):
        assert needed in queries
    assert any(panel["type"] == "heatmap" for panel in PANELS)


def test_the_cache_hit_rate_is_a_gauge_red_below_the_20_percent_target():
    (panel,) = [panel for panel in PANELS if "lineage_parse_cache_hits_total" in str(panel)]
    assert panel["type"] == "gauge"
    defaults = panel["fieldConfig"]["defaults"]
    assert (defaults["unit"], defaults["min"], defaults["max"]) == ("percentunit", 0, 1)
    assert defaults["thresholds"] == {
        "mode": "absolute",
        "steps": [{"color": "red", "value": None}, {"color": "green", "value": 0.2}],
    }
    assert panel["options"]["showThresholdMarkers"] is True


def test_the_worker_pool_panel_shows_busy_step_processes_against_the_pool_size():
    (panel,) = [panel for panel in PANELS if "lineage_step_processes_busy" in str(panel)]
    exprs = [target["expr"] for target in panel["targets"]]
    assert any(expr.startswith("sum by (partition, executor)") for expr in exprs)
    assert any("lineage_step_processes_max" in expr for expr in exprs)
    assert all('partition=~"$partition"' in expr for expr in exprs)


@pytest.mark.parametrize("spec", METRICS, ids=lambda spec: spec.name)
def test_the_reference_describes_every_metric(spec):
    reference = (DOCS / "metrics.md").read_text()
    assert f"| `{spec.name}` | {spec.kind} |" in reference
    assert "honor_labels: true" in reference
