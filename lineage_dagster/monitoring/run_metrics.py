"""Prometheus metrics of ingest runs: their definitions and the samples a step pushes (no Dagster).

Every step of a run pushes one group to the Pushgateway, keyed by job, partition, step kind and
batch slot (see :func:`grouping_key`), so parallel steps and concurrent partitions never overwrite
each other. The Pushgateway keeps only the last push of a group and never adds pushes up, so a step
reads its group's previous values first and pushes cumulative counters and histograms
(:meth:`StepMetrics.merged_with`): ``rate()`` and ``histogram_quantile()`` then work across runs.
Gauges are replaced.

>>> step = parse_batch_metrics([], cache_hits=0, cache_misses=0, seconds=0.2)
>>> step.value("lineage_parse_batch_duration_seconds_count")
1.0
>>> step.merged_with(step.samples).value("lineage_parse_batch_duration_seconds_count")
2.0
"""

import math
import resource
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from lineage_dagster.parsing.models import Coverage, FileLineage

FILE_STATUSES = ("ok", "partial", "failed")
"""A file's outcome, as its ``SqlFile.status`` in the graph."""

MAX_SLOTS = 64
"""Batch slots per partition: batch ``i`` pushes to slot ``i % MAX_SLOTS``, bounding the groups."""

GROUP_LABELS = ("job", "partition", "step", "slot")
"""The Pushgateway grouping key; Prometheus keeps these labels with ``honor_labels: true``."""


@dataclass(frozen=True)
class MetricSpec:
    """One metric family: its exposed name, type, help text, sample labels and buckets."""

    name: str
    kind: str
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()

    @property
    def cumulative(self) -> bool:
        """Whether pushes add up (counters, histograms) rather than replace (gauges)."""
        return self.kind in ("counter", "histogram")

    @property
    def sample_names(self) -> tuple[str, ...]:
        if self.kind == "histogram":
            return (f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count")
        return (self.name,)


FILES_PROCESSED = MetricSpec(
    "lineage_files_processed_total",
    "counter",
    "SQL files parsed, by outcome (ok, partial: some statements failed, failed: nothing parsed).",
    ("status",),
)
STATEMENTS = MetricSpec(
    "lineage_statements_total", "counter", "SQL statements extracted from parsed files."
)
CACHE_HITS = MetricSpec(
    "lineage_parse_cache_hits_total",
    "counter",
    "Files whose lineage came from the parse cache (unchanged content).",
)
CACHE_MISSES = MetricSpec(
    "lineage_parse_cache_misses_total", "counter", "Files parsed because the cache missed."
)
PARSE_BATCH_DURATION = MetricSpec(
    "lineage_parse_batch_duration_seconds",
    "histogram",
    "Time to parse one batch of files (one parse step).",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)
PARSE_BATCH_FILES = MetricSpec(
    "lineage_parse_batch_files",
    "histogram",
    "Files in one parse batch.",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000),
)
TARGET_COLUMNS = MetricSpec(
    "lineage_target_columns_total",
    "counter",
    "Target columns of parsed statements by lineage (value, condition_only, none) and, for "
    "none, why (no_schema, unresolved_column, no_column_read, unsupported, unparsed).",
    ("lineage", "reason"),
)
NEO4J_WRITE_DURATION = MetricSpec(
    "lineage_neo4j_write_duration_seconds",
    "histogram",
    "Time of one Neo4j write transaction (a group of files replaced whole).",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
NEO4J_RELATIONSHIPS = MetricSpec(
    "lineage_neo4j_relationships_written_total",
    "counter",
    "Relationships written to Neo4j (CONTAINS, READS, WRITES, FEEDS, WRITES_COLUMN, FILTERS_ON, "
    "DERIVES_FROM).",
)
FILES_DELETED = MetricSpec(
    "lineage_files_deleted_total", "counter", "Files whose lineage was removed from the graph."
)
LAST_RUN_FAILED_FILES = MetricSpec(
    "lineage_last_run_failed_files",
    "gauge",
    "Files of the partition's last successful run that failed whole or in part.",
)
LAST_SUCCESS = MetricSpec(
    "lineage_last_success_timestamp_seconds",
    "gauge",
    "Unix time at which the partition's lineage was last loaded successfully.",
)

STEP_PROCESSES_BUSY = MetricSpec(
    "lineage_step_processes_busy",
    "gauge",
    "1 while this step runs, 0 once it is done; summed per partition: the run's busy step "
    "processes.",
    ("executor",),
)
STEP_PROCESSES_MAX = MetricSpec(
    "lineage_step_processes_max",
    "gauge",
    "Step processes the run may use at once (max_concurrent; 1 in process).",
    ("executor",),
)

METRICS: tuple[MetricSpec, ...] = (
    FILES_PROCESSED,
    STATEMENTS,
    CACHE_HITS,
    CACHE_MISSES,
    PARSE_BATCH_DURATION,
    PARSE_BATCH_FILES,
    TARGET_COLUMNS,
    NEO4J_WRITE_DURATION,
    NEO4J_RELATIONSHIPS,
    FILES_DELETED,
    LAST_RUN_FAILED_FILES,
    LAST_SUCCESS,
    STEP_PROCESSES_BUSY,
    STEP_PROCESSES_MAX,
)
_BY_SAMPLE = {name: spec for spec in METRICS for name in spec.sample_names}

SampleKey = tuple[str, tuple[tuple[str, str], ...]]
"""A sample's name and its sorted labels (grouping labels excluded)."""


def grouping_key(partition: str, step: str, index: int = 0) -> dict[str, str]:
    """The Pushgateway group (besides ``job``) of one step of one partition.

    >>> grouping_key("risk", "parse", 70)
    {'partition': 'risk', 'step': 'parse', 'slot': '6'}
    """
    return {"partition": partition, "step": step, "slot": str(index % MAX_SLOTS)}


@dataclass
class StepMetrics:
    """The samples one step pushes as its group."""

    samples: dict[SampleKey, float] = field(default_factory=dict)

    def inc(self, spec: MetricSpec, amount: float = 1.0, **labels: str) -> None:
        """Add ``amount`` to a counter (``0`` still creates the series)."""
        self._add(spec.name, labels, amount)

    def set(self, spec: MetricSpec, value: float, **labels: str) -> None:
        """Set a gauge."""
        self.samples[_key(spec.name, labels)] = float(value)

    def observe(self, spec: MetricSpec, value: float, **labels: str) -> None:
        """Record one observation in a histogram (every bucket exists, even when empty)."""
        for bound in (*spec.buckets, math.inf):
            self._add(f"{spec.name}_bucket", {**labels, "le": str(bound)}, value <= bound)
        self._add(f"{spec.name}_sum", labels, value)
        self._add(f"{spec.name}_count", labels, 1)

    def value(self, sample: str, **labels: str) -> float:
        """One sample's value; 0 when absent."""
        return self.samples.get(_key(sample, labels), 0.0)

    def merged_with(self, previous: Mapping[SampleKey, float]) -> "StepMetrics":
        """These samples on top of a group's previous ones: counters and histograms add up; a
        gauge this step sets replaces every previous series of its family (so a series whose
        labels changed, e.g. another executor, does not linger); gauges it does not set stay.

        >>> old = step_busy_metrics(StepPool("multiprocess", 4), busy=False).samples
        >>> new = step_busy_metrics(StepPool("in_process", 1), busy=True).merged_with(old)
        >>> sorted(dict(labels)["executor"] for _name, labels in new.samples)
        ['in_process', 'in_process']
        """
        replaced = {key[0] for key in self.samples if not _BY_SAMPLE[key[0]].cumulative}
        merged = {key: value for key, value in previous.items() if key[0] not in replaced}
        for key, value in self.samples.items():
            spec = _BY_SAMPLE[key[0]]
            merged[key] = merged.get(key, 0.0) + value if spec.cumulative else value
        return StepMetrics(merged)

    def include(self, other: "StepMetrics") -> None:
        """Take over another measurement's samples (series this one does not hold)."""
        self.samples.update(other.samples)

    def registry(self) -> CollectorRegistry:
        """A registry exposing these samples, e.g. to push."""
        registry = CollectorRegistry(auto_describe=True)
        registry.register(self.collector())
        return registry

    def collector(self) -> Collector:
        """A collector exposing these samples (register it on an existing registry)."""
        return _SamplesCollector(dict(self.samples))

    def _add(self, sample: str, labels: Mapping[str, str], amount: float) -> None:
        key = _key(sample, labels)
        self.samples[key] = self.samples.get(key, 0.0) + float(amount)


class _SamplesCollector(Collector):
    def __init__(self, samples: Mapping[SampleKey, float]) -> None:
        self._samples = samples

    def collect(self) -> Iterable[Metric]:
        families: dict[str, Metric] = {}
        for (sample, labels), value in sorted(self._samples.items()):
            spec = _BY_SAMPLE[sample]
            if spec.name not in families:
                # prometheus_client appends ``_total`` to counter families itself.
                name = spec.name.removesuffix("_total") if spec.kind == "counter" else spec.name
                families[spec.name] = Metric(name, spec.help, spec.kind)
            families[spec.name].add_sample(sample, dict(labels), value)
        return list(families.values())

    def describe(self) -> Iterable[Metric]:
        return []


def parse_batch_metrics(
    lineage: Sequence[FileLineage],
    *,
    cache_hits: int,
    cache_misses: int,
    seconds: float,
) -> StepMetrics:
    """The metrics of one parse step: files by outcome, statements, cache use and duration.

    >>> from lineage_dagster.parsing import StatementError
    >>> failed = FileLineage("a.sql", "", None, (), StatementError("bad"))
    >>> step = parse_batch_metrics([failed], cache_hits=0, cache_misses=0, seconds=0.01)
    >>> step.value("lineage_files_processed_total", status="failed")
    1.0
    """
    step = StepMetrics()
    statuses = [item.status for item in lineage]
    for status in FILE_STATUSES:
        step.inc(FILES_PROCESSED, statuses.count(status), status=status)
    step.inc(STATEMENTS, sum(len(item.statements) for item in lineage))
    step.inc(CACHE_HITS, cache_hits)
    step.inc(CACHE_MISSES, cache_misses)
    step.observe(PARSE_BATCH_DURATION, seconds)
    step.observe(PARSE_BATCH_FILES, len(statuses))
    coverage = sum((item.coverage() for item in lineage), Coverage())
    step.inc(TARGET_COLUMNS, coverage.value, lineage="value", reason="")
    step.inc(TARGET_COLUMNS, coverage.condition_only, lineage="condition_only", reason="")
    for reason, count in coverage.none:
        step.inc(TARGET_COLUMNS, count, lineage="none", reason=reason)
    return step


def load_metrics(
    *,
    write_seconds: Sequence[float],
    relationships: int,
    files_deleted: int,
    failed_files: int,
    finished_at: float | None = None,
) -> StepMetrics:
    """The metrics of a successful load step: Neo4j writes, deletions, failures, success time.

    >>> step = load_metrics(write_seconds=[0.5, 1.5], relationships=7, files_deleted=0,
    ...                     failed_files=1, finished_at=1700000000.0)
    >>> step.value("lineage_neo4j_write_duration_seconds_sum"), step.value(
    ...     "lineage_last_success_timestamp_seconds")
    (2.0, 1700000000.0)
    """
    step = StepMetrics()
    for seconds in write_seconds:
        step.observe(NEO4J_WRITE_DURATION, seconds)
    step.inc(NEO4J_RELATIONSHIPS, relationships)
    step.inc(FILES_DELETED, files_deleted)
    step.set(LAST_RUN_FAILED_FILES, failed_files)
    step.set(LAST_SUCCESS, time.time() if finished_at is None else finished_at)
    return step


@dataclass(frozen=True)
class StepPool:
    """The executor of a run and how many step processes it may run at once."""

    executor: str
    """``multiprocess`` or ``in_process``."""
    size: int


def step_pool(run_config: Mapping[str, Any], cpu_count: int) -> StepPool:
    """The executor a run's config selects for the default ``multi_or_in_process_executor``
    (multiprocess unless ``in_process`` is chosen; ``max_concurrent`` defaults to the CPUs).

    >>> step_pool({"execution": {"config": {"in_process": {}}}}, 8)
    StepPool(executor='in_process', size=1)
    >>> step_pool({"execution": {"config": {"multiprocess": {"max_concurrent": 2}}}}, 8)
    StepPool(executor='multiprocess', size=2)
    >>> step_pool({}, 8)
    StepPool(executor='multiprocess', size=8)
    """
    chosen = (run_config.get("execution") or {}).get("config") or {}
    if "in_process" in chosen:
        return StepPool("in_process", 1)
    multiprocess = chosen.get("multiprocess") or {}
    return StepPool("multiprocess", int(multiprocess.get("max_concurrent") or cpu_count))


def step_busy_metrics(pool: StepPool, *, busy: bool) -> StepMetrics:
    """The worker-pool gauges a step pushes when it starts (``busy``) and when it ends.

    >>> step = step_busy_metrics(StepPool("multiprocess", 4), busy=True)
    >>> step.value("lineage_step_processes_busy", executor="multiprocess")
    1.0
    """
    step = StepMetrics()
    step.set(STEP_PROCESSES_BUSY, 1 if busy else 0, executor=pool.executor)
    step.set(STEP_PROCESSES_MAX, pool.size, executor=pool.executor)
    return step


def peak_rss_mb() -> float:
    """The peak resident memory of this process so far, in MiB (Linux reports KiB).

    >>> peak_rss_mb() > 0
    True
    """
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def group_samples(exposition: str, group: Mapping[str, str]) -> dict[SampleKey, float]:
    """The samples of this module's metrics in one group of a Pushgateway's ``/metrics`` text.

    >>> text = (
    ...     '# TYPE lineage_statements_total counter\\n'
    ...     'lineage_statements_total{instance="",job="j",partition="p",step="parse",slot="0"} 3\\n'
    ...     'lineage_statements_total{instance="",job="j",partition="q",step="parse",slot="0"} 9\\n'
    ... )
    >>> group_samples(text, {"job": "j", "partition": "p", "step": "parse", "slot": "0"})
    {('lineage_statements_total', ()): 3.0}
    """
    found: dict[SampleKey, float] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name not in _BY_SAMPLE:
                continue
            if any(sample.labels.get(name) != value for name, value in group.items()):
                continue
            labels = {
                name: value
                for name, value in sample.labels.items()
                if name not in group and name != "instance"
            }
            found[_key(sample.name, labels)] = float(sample.value)
    return found


def _key(sample: str, labels: Mapping[str, str]) -> SampleKey:
    # The Pushgateway prints bucket bounds as Go does ("1", not "1.0"): compare them as numbers.
    normalized = {
        name: floatToGoString(float(value)) if name == "le" else str(value)
        for name, value in labels.items()
    }
    return sample, tuple(sorted(normalized.items()))
