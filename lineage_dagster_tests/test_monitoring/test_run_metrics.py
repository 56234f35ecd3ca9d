"""Run metrics without real services: the samples each step produces, how pushes add up, the
exposition the Pushgateway receives, and PushgatewayResource against no gateway, a gateway that is
down and a fake gateway that records what it is sent."""

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from lineage_dagster.defs.resources import PushgatewayResource
from lineage_dagster.devstack.local_neo4j import find_free_port
from lineage_dagster.monitoring import run_metrics as metrics
from lineage_dagster.monitoring.run_metrics import (
    CACHE_HITS,
    LAST_SUCCESS,
    METRICS,
    STATEMENTS,
    StepMetrics,
    group_samples,
    grouping_key,
    load_metrics,
    parse_batch_metrics,
)
from lineage_dagster.parsing import extract_lineage
from lineage_dagster.parsing.models import FileLineage, StatementError, StatementLineage

OK = FileLineage("p/ok.sql", "a" * 64, None, (StatementLineage(0, 1, "insert"),))
PARTIAL = FileLineage(
    "p/partial.sql",
    "b" * 64,
    None,
    (
        StatementLineage(0, 1, "insert"),
        StatementLineage(1, 2, "unknown", error=StatementError("bad", 2, 5)),
    ),
)
FAILED = FileLineage("p/binary.sql", "", None, (), StatementError("not UTF-8"))


def test_a_parse_batch_counts_files_by_outcome_and_its_statements():
    step = parse_batch_metrics([OK, PARTIAL, FAILED], cache_hits=1, cache_misses=1, seconds=0.3)
    assert {
        status: step.value("lineage_files_processed_total", status=status)
        for status in ("ok", "partial", "failed")
    } == {"ok": 1, "partial": 1, "failed": 1}
    assert step.value("lineage_statements_total") == 3
    assert step.value("lineage_parse_cache_hits_total") == 1
    assert step.value("lineage_parse_cache_misses_total") == 1
    assert step.value("lineage_parse_batch_files_bucket", le="2") == 0
    assert step.value("lineage_parse_batch_files_bucket", le="5") == 1
    assert step.value("lineage_parse_batch_files_bucket", le="+Inf") == 1
    assert step.value("lineage_parse_batch_duration_seconds_bucket", le="0.25") == 0
    assert step.value("lineage_parse_batch_duration_seconds_bucket", le="0.5") == 1
    assert step.value("lineage_parse_batch_duration_seconds_sum") == pytest.approx(0.3)


def test_an_empty_batch_still_creates_every_outcome_series():
    step = parse_batch_metrics([], cache_hits=0, cache_misses=0, seconds=0.0)
    names = {(name, labels) for name, labels in step.samples}
    for status in ("ok", "partial", "failed"):
        assert ("lineage_files_processed_total", (("status", status),)) in names


def test_load_metrics_time_each_write_transaction():
    step = load_metrics(
        write_seconds=[0.02, 0.3, 4.0], relationships=12, files_deleted=2, failed_files=1
    )
    assert step.value("lineage_neo4j_write_duration_seconds_count") == 3
    assert step.value("lineage_neo4j_write_duration_seconds_bucket", le="0.5") == 2
    assert step.value("lineage_neo4j_relationships_written_total") == 12
    assert step.value("lineage_files_deleted_total") == 2
    assert step.value("lineage_last_run_failed_files") == 1
    assert step.value("lineage_last_success_timestamp_seconds") > 1.7e9


def test_pushes_to_one_group_add_up_counters_and_histograms_and_replace_gauges():
    first = StepMetrics()
    first.inc(CACHE_HITS, 2)
    first.observe(metrics.PARSE_BATCH_FILES, 3)
    first.set(LAST_SUCCESS, 100)
    first.set(metrics.LAST_RUN_FAILED_FILES, 4)
    second = StepMetrics()
    second.inc(CACHE_HITS, 5)
    second.observe(metrics.PARSE_BATCH_FILES, 30)
    second.set(LAST_SUCCESS, 200)
    merged = second.merged_with(first.samples)
    assert merged.value("lineage_parse_cache_hits_total") == 7
    assert merged.value("lineage_parse_batch_files_count") == 2
    assert merged.value("lineage_parse_batch_files_sum") == 33
    assert merged.value("lineage_parse_batch_files_bucket", le="5") == 1
    assert merged.value("lineage_parse_batch_files_bucket", le="50") == 2
    assert merged.value("lineage_last_success_timestamp_seconds") == 200
    # A gauge this push did not set keeps its previous value.
    assert merged.value("lineage_last_run_failed_files") == 4


def test_the_exposition_has_prometheus_types_and_reads_back_exactly():
    step = parse_batch_metrics([OK, FAILED], cache_hits=0, cache_misses=1, seconds=1.5)
    text = generate_latest(step.registry()).decode()
    types = {family.name: family.type for family in text_string_to_metric_families(text)}
    assert types["lineage_files_processed"] == "counter"
    assert types["lineage_parse_batch_duration_seconds"] == "histogram"
    assert "# TYPE lineage_files_processed_total counter" in text
    assert "_created" not in text
    assert group_samples(text, {}) == step.samples


def test_group_samples_reads_only_its_group_with_go_style_bounds():
    group = {"job": "ingest_sql_job", **grouping_key("risk", "parse", 1)}
    labels = 'job="ingest_sql_job",partition="risk",step="parse",slot="1",instance=""'
    other = 'job="ingest_sql_job",partition="risk",step="parse",slot="2",instance=""'
    text = (
        "# TYPE lineage_parse_batch_files histogram\n"
        f'lineage_parse_batch_files_bucket{{{labels},le="1"}} 4\n'
        f'lineage_parse_batch_files_bucket{{{other},le="1"}} 9\n'
        f"lineage_parse_batch_files_count{{{labels}}} 4\n"
        "# TYPE push_time_seconds gauge\n"
        f"push_time_seconds{{{labels}}} 1.7e9\n"
    )
    assert group_samples(text, group) == {
        ("lineage_parse_batch_files_bucket", (("le", "1.0"),)): 4.0,
        ("lineage_parse_batch_files_count", ()): 4.0,
    }


def test_batch_slots_are_bounded():
    slots = {grouping_key("risk", "parse", index)["slot"] for index in range(5_000)}
    assert len(slots) == metrics.MAX_SLOTS
    assert grouping_key("risk", "parse", 3) != grouping_key("risk", "parse", 4)


@pytest.mark.parametrize("spec", METRICS, ids=lambda spec: spec.name)
def test_metric_names_follow_prometheus_conventions(spec: metrics.MetricSpec):
    assert spec.name.startswith("lineage_")
    assert spec.name.endswith("_total") == (spec.kind == "counter")
    if "duration" in spec.name or "timestamp" in spec.name:
        assert spec.name.endswith("_seconds")
    assert not set(spec.labels) & set(metrics.GROUP_LABELS)


# PushgatewayResource, in a one-op job.


@dg.op
def push_two_batches(context: dg.OpExecutionContext, prometheus: PushgatewayResource) -> list[bool]:
    step = StepMetrics()
    step.inc(STATEMENTS, 3)
    return [prometheus.push(context, step, step="parse", index=index) for index in (0, 1)]


@dg.job(partitions_def=dg.StaticPartitionsDefinition(["risk"]))
def push_job() -> None:
    push_two_batches()


def run_push_job(resource: PushgatewayResource) -> tuple[list[bool], list[str]]:
    """Whether each push reached the gateway, and the warnings the run logged."""
    with dg.instance_for_test() as instance:
        result = push_job.execute_in_process(
            partition_key="risk", resources={"prometheus": resource}, instance=instance
        )
        assert result.success
        warnings = [
            entry.user_message
            for entry in instance.all_logs(result.run_id)
            if entry.level == logging.WARNING and "etrics" in entry.user_message
        ]
        return result.output_for_node("push_two_batches"), warnings


class FakeGateway:
    """Answers GET /metrics with ``previous`` and records every PUT (path, body)."""

    def __init__(self, previous: str = "") -> None:
        self.previous = previous
        self.puts: list[tuple[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = fake.previous.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_PUT(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                fake.puts.append((self.path, self.rfile.read(length).decode()))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def fake_gateway() -> Iterator[FakeGateway]:
    previous = (
        "# TYPE lineage_statements_total counter\n"
        'lineage_statements_total{instance="",job="push_job",partition="risk",'
        'slot="1",step="parse"} 10\n'
    )
    gateway = FakeGateway(previous)
    thread = threading.Thread(target=gateway.server.serve_forever, daemon=True)
    thread.start()
    yield gateway
    gateway.server.shutdown()
    gateway.server.server_close()


def test_each_batch_pushes_its_own_group_with_cumulative_values(fake_gateway: FakeGateway):
    pushed, warnings = run_push_job(PushgatewayResource(gateway=fake_gateway.url))
    assert pushed == [True, True]
    assert warnings == []
    paths = [path for path, _ in fake_gateway.puts]
    assert paths == [
        "/metrics/job/push_job/partition/risk/slot/0/step/parse",
        "/metrics/job/push_job/partition/risk/slot/1/step/parse",
    ]
    bodies = [group_samples(body, {}) for _, body in fake_gateway.puts]
    assert [body[("lineage_statements_total", ())] for body in bodies] == [3.0, 13.0]


def test_the_gateway_url_is_read_from_the_environment_when_the_step_runs(
    fake_gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("LINEAGE_PUSHGATEWAY_URL", fake_gateway.url)
    pushed, _ = run_push_job(PushgatewayResource())
    assert pushed == [True, True]
    assert len(fake_gateway.puts) == 2


def test_without_a_gateway_the_run_carries_on_with_one_warning(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("LINEAGE_PUSHGATEWAY_URL", raising=False)
    pushed, warnings = run_push_job(PushgatewayResource())
    assert pushed == [False, False]
    assert len(warnings) == 1
    assert "LINEAGE_PUSHGATEWAY_URL" in warnings[0]


def test_a_gateway_that_is_down_costs_one_warning_and_no_failure():
    closed = f"http://127.0.0.1:{find_free_port()}"
    pushed, warnings = run_push_job(PushgatewayResource(gateway=closed, timeout_seconds=1))
    assert pushed == [False, False]
    assert len(warnings) == 1
    assert closed in warnings[0]


def test_a_gateway_that_rejects_the_push_costs_one_warning(fake_gateway: FakeGateway):
    fake_gateway.previous = "this is { not the text format"
    pushed, warnings = run_push_job(PushgatewayResource(gateway=fake_gateway.url))
    assert pushed == [False, False]
    assert len(warnings) == 1
    assert fake_gateway.puts == []


def test_a_parse_batch_counts_target_columns_by_lineage_and_reason():
    lineage = extract_lineage(
        "INSERT INTO t (a, b, c) SELECT x, 1, y FROM s JOIN u ON s.k = u.k;\n"
        "INSERT INTO v (a) SELECT q FROM w",
        conditions=False,
    )
    step = parse_batch_metrics([lineage], cache_hits=0, cache_misses=1, seconds=0.1)
    assert step.value("lineage_target_columns_total", lineage="value", reason="") == 1
    assert step.value("lineage_target_columns_total", lineage="condition_only", reason="") == 0
    assert step.value("lineage_target_columns_total", lineage="none", reason="no_schema") == 2
    assert step.value("lineage_target_columns_total", lineage="none", reason="no_column_read") == 1
