"""The dashboard's queries give the right numbers: promtool evaluates them over synthetic series
shaped like the ones the runs push (one group per step), and compares the results exactly."""

import json
import subprocess
from pathlib import Path

import pytest

from lineage_dagster_tests.services import require_binary

pytestmark = pytest.mark.integration

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana" / "lineage_ingest.json"
VARIABLES = {"$partition": ".*", "$__rate_interval": "5m", "$__range": "10m"}


def group(partition: str, step: str, slot: int) -> str:
    return f'job="ingest_sql_job",partition="{partition}",step="{step}",slot="{slot}"'


RISK_0, RISK_1, RISK_LOAD = (
    group("risk", "parse", 0),
    group("risk", "parse", 1),
    group("risk", "load", 0),
)
FINANCE_0 = group("finance", "parse", 0)
# One sample a minute for ten minutes; "a+bxN" grows by b a minute. promtool compares exactly, so
# every rate is a power-of-two fraction (15 a minute is 0.25/s) and sums in any order are exact.
SERIES = {
    f'lineage_files_processed_total{{{RISK_0},status="ok"}}': "0+15x10",
    f'lineage_files_processed_total{{{RISK_1},status="ok"}}': "0+15x10",
    f'lineage_files_processed_total{{{RISK_0},status="partial"}}': "0+15x10",
    f'lineage_files_processed_total{{{RISK_1},status="failed"}}': "0+15x10",
    f"lineage_statements_total{{{RISK_0}}}": "0+30x10",
    f"lineage_parse_cache_hits_total{{{RISK_0}}}": "0+45x10",
    f"lineage_parse_cache_misses_total{{{RISK_0}}}": "0+15x10",
    f'lineage_parse_batch_duration_seconds_bucket{{{RISK_0},le="0.25"}}': "0+0x10",
    f'lineage_parse_batch_duration_seconds_bucket{{{RISK_0},le="0.5"}}': "0+15x10",
    f'lineage_parse_batch_duration_seconds_bucket{{{RISK_0},le="+Inf"}}': "0+15x10",
    f"lineage_neo4j_write_duration_seconds_sum{{{RISK_LOAD}}}": "0+15x10",
    f"lineage_neo4j_write_duration_seconds_count{{{RISK_LOAD}}}": "0+30x10",
    f"lineage_last_run_failed_files{{{RISK_LOAD}}}": "3 3 3 3 3 3 3 3 3 3 2",
    f"lineage_last_success_timestamp_seconds{{{RISK_LOAD}}}": "1700000000x10",
    # Worker pool: risk's run has both parse steps busy at 10 minutes (the second started at
    # 9), its load step idle, pool size 2; finance runs in process, its one step busy.
    f'lineage_step_processes_busy{{{RISK_0},executor="multiprocess"}}': "1x10",
    f'lineage_step_processes_busy{{{RISK_1},executor="multiprocess"}}': "0 0 0 0 0 0 0 0 0 1 1",
    f'lineage_step_processes_busy{{{RISK_LOAD},executor="multiprocess"}}': "0x10",
    f'lineage_step_processes_max{{{RISK_0},executor="multiprocess"}}': "2x10",
    f'lineage_step_processes_max{{{RISK_1},executor="multiprocess"}}': "2x10",
    f'lineage_step_processes_max{{{RISK_LOAD},executor="multiprocess"}}': "2x10",
    f'lineage_step_processes_busy{{{FINANCE_0},executor="in_process"}}': "1x10",
    f'lineage_step_processes_max{{{FINANCE_0},executor="in_process"}}': "1x10",
    f'lineage_target_columns_total{{{RISK_0},lineage="value",reason=""}}': "0+9x10",
    f'lineage_target_columns_total{{{RISK_1},lineage="value",reason=""}}': "0+3x10",
    f'lineage_target_columns_total{{{RISK_0},lineage="condition_only",reason=""}}': "0+2x10",
    f'lineage_target_columns_total{{{RISK_0},lineage="none",reason="no_schema"}}': "0+1x10",
    f'lineage_target_columns_total{{{RISK_1},lineage="none",reason="no_schema"}}': "0+1x10",
}
# Panel title, refId -> expected samples at 10 minutes.
EXPECTED = {
    ("Throughput: files parsed per second", "A"): [({"partition": "risk"}, 1.0)],
    ("Throughput: statements per second", "A"): [({"partition": "risk"}, 0.5)],
    ("Parse cache hit rate", "A"): [({}, 0.75)],
    # Every batch took between 0.25 s and 0.5 s: the median interpolates to the middle.
    ("Parse batch duration (p50 / p95 / p99)", "A"): [({}, 0.375)],
    ("Success vs failure: files by outcome", "A"): [
        ({"status": "ok"}, 0.5),
        ({"status": "partial"}, 0.25),
        ({"status": "failed"}, 0.25),
    ],
    ("Neo4j write transaction time", "C"): [({}, 0.5)],
    ("Failed files in the last run", "A"): [({"partition": "risk"}, 2)],
    ("Last successful ingest per partition", "A"): [({"partition": "risk"}, 1.7e12)],
    ("Worker pool: step processes busy", "A"): [
        ({"partition": "risk", "executor": "multiprocess"}, 2),
        ({"partition": "finance", "executor": "in_process"}, 1),
    ],
    ("Worker pool: step processes busy", "B"): [
        ({"partition": "risk", "executor": "multiprocess"}, 2),
        ({"partition": "finance", "executor": "in_process"}, 1),
    ],
    # 120 of 160 columns in the ten minutes; the rest by reason, summed over the steps.
    ("Target columns with value lineage", "A"): [({}, 0.75)],
    ("Target columns without value lineage, by reason", "A"): [
        ({"lineage": "condition_only"}, 20),
        ({"lineage": "none", "reason": "no_schema"}, 20),
    ],
}


def panel_queries() -> dict[tuple[str, str], str]:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = {}
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            for variable, value in VARIABLES.items():
                expr = expr.replace(variable, value)
            queries[(panel["title"], target["refId"])] = expr
    return queries


def test_panel_queries_compute_the_expected_values(tmp_path: Path):
    promtool = require_binary("promtool", "prometheus")
    queries = panel_queries()
    tests = [
        {
            "expr": queries[key],
            "eval_time": "10m",
            "exp_samples": [
                {
                    "labels": "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}",
                    "value": v,
                }
                for labels, v in samples
            ],
        }
        for key, samples in EXPECTED.items()
    ]
    spec = {
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in SERIES.items()],
                "promql_expr_test": tests,
            }
        ],
    }
    # JSON is YAML, which promtool reads.
    (tmp_path / "panels_test.yml").write_text(json.dumps(spec, indent=2))
    result = subprocess.run(
        [promtool, "test", "rules", "panels_test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
