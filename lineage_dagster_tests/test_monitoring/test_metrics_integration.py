"""Run metrics end to end: the ingest job runs for real (real instance, multiprocess executor,
real Neo4j) with the ``metrics`` flag on, pushing to a real Pushgateway that a real Prometheus
scrapes. The gateway holds one group per step with values matching the runs (cumulative across a
cold and a warm run), every panel query of the Grafana dashboard returns data from Prometheus, and
with the flag off nothing reaches the gateway and the graph is the same."""

import json
import time
from collections import defaultdict
from pathlib import Path

import dagster as dg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from lineage_dagster_tests.graph_helpers import graph_snapshot
from lineage_dagster_tests.ingest_helpers import ingest
from lineage_dagster_tests.services import Prometheus, Pushgateway

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana" / "lineage_ingest.json"
JOB = "ingest_sql_job"
# Values a Grafana panel would substitute for its variables when it queries Prometheus.
GRAFANA_VARIABLES = {
    "$partition": ".*",
    "$__rate_interval": "5m",
    "$__interval": "15s",
    "$__range": "10m",
}
POLL_SECONDS = 90.0

LEDGER = "INSERT INTO metrics_a.ledger (id, amount) SELECT id, amount FROM raw.entries;\n"
BALANCES = (
    "CREATE TABLE metrics_a.balances AS\n"
    "SELECT id, SUM(amount) AS total FROM metrics_a.ledger GROUP BY id;\n"
)
# The second statement does not parse: the file loads as "partial".
PARTIAL = "INSERT INTO metrics_a.ok SELECT a FROM raw.src;\nSELECT (1 + FROM raw.nowhere;\n"
CORPUS = {
    "metrics_a/ledger.sql": LEDGER.encode(),
    "metrics_a/balances.sql": BALANCES.encode(),
    "metrics_a/partial.sql": PARTIAL.encode(),
    "metrics_a/binary.sql": b"SELECT \xff\xfe\x00 FROM x",  # not UTF-8: "failed"
    "metrics_b/gl.sql": b"INSERT INTO metrics_b.gl SELECT account FROM metrics_b.journal;\n",
}


def write_corpus(root: Path) -> Path:
    for relative, content in CORPUS.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(content)
    return root


def samples(text: str, **labels: str) -> dict[tuple[str, tuple], float]:
    """Samples of lineage_* metrics whose labels include ``labels``, summed over the groups."""
    found: dict[tuple[str, tuple], float] = defaultdict(float)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if not sample.name.startswith("lineage_"):
                continue
            if any(sample.labels.get(name) != value for name, value in labels.items()):
                continue
            own = tuple(
                sorted(
                    # Bucket bounds compare as numbers ("1" from the gateway is 1.0).
                    (name, str(float(value)) if name == "le" else value)
                    for name, value in sample.labels.items()
                    if name in ("status", "le")
                )
            )
            found[(sample.name, own)] += sample.value
    return dict(found)


def value(found: dict[tuple[str, tuple], float], name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def push_requests(gateway: Pushgateway) -> float:
    """Push requests the gateway has served (PUT, POST, DELETE), from its own metrics."""
    total = 0.0
    for family in text_string_to_metric_families(gateway.metrics_text()):
        for sample in family.samples:
            if sample.name == "pushgateway_http_requests_total" and sample.labels.get("method") in (
                "put",
                "post",
                "delete",
            ):
                total += sample.value
    return total


def wait_for(prometheus: Prometheus, promql: str) -> None:
    """Poll until the query returns a result (Prometheus scrapes the gateway every second)."""
    deadline = time.monotonic() + POLL_SECONDS
    while not prometheus.query(promql):
        assert time.monotonic() < deadline, f"Prometheus never answered {promql}"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def metric_runs(tmp_path_factory, neo4j_env, neo4j_driver, pushgateway, prometheus):
    """A cold then a warm (full refresh, all cached) run of metrics_a, and one of metrics_b.

    Prometheus scrapes the gateway before the first run and has seen the cold run's values
    before the warm one starts, so it sees the counters grow between the runs.
    """
    neo4j_driver.execute_query("MATCH (n) DETACH DELETE n")
    pushgateway.wipe()
    home = tmp_path_factory.mktemp("dagster_home")
    root = write_corpus(tmp_path_factory.mktemp("sql"))
    cache = home / "cache.sqlite"
    on = {"metrics": True}
    one_file_per_batch = {"min_batch_bytes": 1}  # several parse steps, each its own group
    wait_for(prometheus, 'up{job="pushgateway"} == 1')
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        cold = ingest(
            instance,
            root,
            "metrics_a",
            flags=on,
            cache_path=cache,
            metrics_gateway=pushgateway.url,
            plan=one_file_per_batch,
        )
        after_cold = pushgateway.metrics_text()
        wait_for(prometheus, 'sum(lineage_files_processed_total{partition="metrics_a"}) == 4')
        warm = ingest(
            instance,
            root,
            "metrics_a",
            flags=on,
            cache_path=cache,
            full_refresh=True,
            metrics_gateway=pushgateway.url,
            plan=one_file_per_batch,
        )
        after_warm = pushgateway.metrics_text()
        other = ingest(
            instance, root, "metrics_b", flags=on, cache_path=cache, metrics_gateway=pushgateway.url
        )
        final = pushgateway.metrics_text()
    assert cold.success and warm.success and other.success
    return {
        "cold": cold,
        "warm": warm,
        "other": other,
        "after_cold": after_cold,
        "after_warm": after_warm,
        "final": final,
        "groups": pushgateway.groups(),
        "finished": time.time(),
    }


def test_the_gateway_holds_one_group_per_step(metric_runs):
    groups = {
        (group["partition"], group["step"], group["slot"])
        for group in metric_runs["groups"]
        if group.get("job") == JOB
    }
    parse_slots = {
        slot for partition, step, slot in groups if (partition, step) == ("metrics_a", "parse")
    }
    # Two workers, three batches each, four files: one batch per file, one slot per batch.
    assert parse_slots == {"0", "1", "2", "3"}
    assert ("metrics_a", "load", "0") in groups
    assert ("metrics_b", "load", "0") in groups
    assert {partition for partition, _, _ in groups} == {"metrics_a", "metrics_b"}


def test_a_cold_run_counts_every_file_of_the_corpus(metric_runs):
    found = samples(metric_runs["after_cold"], partition="metrics_a")
    files = {
        status: value(found, "lineage_files_processed_total", status=status)
        for status in ("ok", "partial", "failed")
    }
    assert files == {"ok": 2, "partial": 1, "failed": 1}
    assert value(found, "lineage_parse_cache_misses_total") == 3
    assert value(found, "lineage_parse_cache_hits_total") == 0
    # ledger 1 + balances 1 + partial 2 (one of them failed)
    assert value(found, "lineage_statements_total") == 4
    assert value(found, "lineage_parse_batch_duration_seconds_count") == 4
    assert value(found, "lineage_parse_batch_files_sum") == 4
    assert value(found, "lineage_parse_batch_files_bucket", le="1.0") == 4
    load = metric_runs["cold"].load_metadata
    assert value(found, "lineage_neo4j_relationships_written_total") == load["relationships"] > 0
    assert value(found, "lineage_neo4j_write_duration_seconds_count") == load["transactions"]
    assert value(found, "lineage_last_run_failed_files") == load["files_failed"] == 2
    assert 0 < value(found, "lineage_last_success_timestamp_seconds") <= metric_runs["finished"]


def test_a_warm_run_adds_cache_hits_to_the_same_groups(metric_runs):
    cold = samples(metric_runs["after_cold"], partition="metrics_a")
    warm = samples(metric_runs["after_warm"], partition="metrics_a")
    assert value(warm, "lineage_parse_cache_hits_total") == 3
    assert value(warm, "lineage_parse_cache_misses_total") == 3
    assert value(warm, "lineage_files_processed_total", status="ok") == 4
    # The warm run's three cached files travel in one batch, the unreadable one in its own.
    assert value(warm, "lineage_parse_batch_duration_seconds_count") == 4 + 2
    assert value(warm, "lineage_neo4j_relationships_written_total") == 2 * value(
        cold, "lineage_neo4j_relationships_written_total"
    )
    # Gauges are replaced, not added up.
    assert value(warm, "lineage_last_run_failed_files") == 2
    assert value(warm, "lineage_last_success_timestamp_seconds") >= value(
        cold, "lineage_last_success_timestamp_seconds"
    )


def pool_gauges(text: str, partition: str) -> dict[tuple[str, str, str], float]:
    """(metric, step, executor) -> value of the worker-pool gauges of one partition's groups."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("lineage_step_processes_") and (
                sample.labels.get("partition") == partition
            ):
                key = (sample.name, sample.labels["step"], sample.labels["executor"])
                found[key] = max(found.get(key, 0.0), sample.value)
    return found


def test_steps_leave_the_worker_pool_idle_with_its_size(metric_runs):
    # Multiprocess runs, max_concurrent 2: every group ends idle, with the pool size.
    assert pool_gauges(metric_runs["after_cold"], "metrics_a") == {
        ("lineage_step_processes_busy", "parse", "multiprocess"): 0.0,
        ("lineage_step_processes_max", "parse", "multiprocess"): 2.0,
        ("lineage_step_processes_busy", "load", "multiprocess"): 0.0,
        ("lineage_step_processes_max", "load", "multiprocess"): 2.0,
    }


def test_partitions_keep_their_own_series(metric_runs):
    assert samples(metric_runs["after_warm"], partition="metrics_b") == {}
    other = samples(metric_runs["final"], partition="metrics_b")
    assert value(other, "lineage_files_processed_total", status="ok") == 1
    assert value(other, "lineage_last_run_failed_files") == 0
    # The metrics_b run left metrics_a's series as they were.
    assert samples(metric_runs["final"], partition="metrics_a") == samples(
        metric_runs["after_warm"], partition="metrics_a"
    )


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) for every target of every panel, variables substituted."""
    dashboard = json.loads(DASHBOARD.read_text())
    queries = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable, replacement in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, replacement)
            assert "$" not in expr, f"unsubstituted variable in {panel['title']!r}: {expr}"
            queries.append((panel["title"], expr))
    return queries


def test_every_dashboard_query_returns_data(metric_runs, prometheus: Prometheus):
    queries = dashboard_queries()
    pending = dict.fromkeys(queries)
    # The warm run re-parsed every file, so the files-per-second panel shows a positive rate.
    throughput = next(expr for title, expr in queries if title.startswith("Throughput: files"))
    positive = False
    deadline = time.monotonic() + POLL_SECONDS
    # Scrapes arrive every second; rate() needs two of them after the pushes.
    while (pending or not positive) and time.monotonic() < deadline:
        for query in list(pending):
            if prometheus.query(query[1]):
                del pending[query]
        positive = any(float(r["value"][1]) > 0 for r in prometheus.query(throughput))
        if pending or not positive:
            time.sleep(1)
    assert not pending, f"panel queries without data: {list(pending)}"
    assert positive, f"no positive rate from {throughput}"


def test_with_metrics_off_nothing_is_pushed_and_the_graph_is_the_same(
    tmp_path, neo4j_env, neo4j_driver, pushgateway
):
    root = write_corpus(tmp_path / "sql")
    snapshots = {}
    for metrics in (False, True):
        neo4j_driver.execute_query("MATCH (n) DETACH DELETE n")
        home = tmp_path / f"home-{metrics}"
        home.mkdir()
        with dg.instance_for_test(temp_dir=str(home)) as instance:
            before = push_requests(pushgateway)
            groups_before = pushgateway.groups()
            run = ingest(
                instance,
                root,
                "metrics_a",
                flags={"metrics": metrics},
                cache_path=tmp_path / f"cache-{metrics}.sqlite",
                metrics_gateway=pushgateway.url,
            )
            assert run.success
            if not metrics:
                assert push_requests(pushgateway) == before
                assert pushgateway.groups() == groups_before
            else:
                assert push_requests(pushgateway) > before
        snapshots[metrics] = graph_snapshot(neo4j_driver)
    assert snapshots[False] == snapshots[True]
    assert "metrics_a/ledger.sql" in json.dumps(snapshots[True], default=str)


def test_each_step_pushes_busy_when_it_starts_and_idle_when_it_ends(
    tmp_path, neo4j_env, neo4j_driver, pushgateway
):
    """One parse step and the load step, in process: four pushes, two per step."""
    root = write_corpus(tmp_path / "sql")
    one_parse_step = {"min_batch_bytes": 1, "workers": 1, "batches_per_worker": 1}
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        before = push_requests(pushgateway)
        run = ingest(
            instance,
            root,
            "metrics_b",
            flags={"metrics": True},
            parallel=False,
            full_refresh=True,
            cache_path=tmp_path / "cache.sqlite",
            metrics_gateway=pushgateway.url,
            plan=one_parse_step,
        )
    assert run.success
    assert push_requests(pushgateway) - before == 4
    assert pool_gauges(pushgateway.metrics_text(), "metrics_b") == {
        ("lineage_step_processes_busy", "parse", "in_process"): 0.0,
        ("lineage_step_processes_max", "parse", "in_process"): 1.0,
        ("lineage_step_processes_busy", "load", "in_process"): 0.0,
        ("lineage_step_processes_max", "load", "in_process"): 1.0,
    }
