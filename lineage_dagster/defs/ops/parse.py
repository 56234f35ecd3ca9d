import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import dagster as dg

from lineage_dagster.defs.resources import (
    FeatureFlagsResource,
    PushgatewayResource,
    SqlParserResource,
    SqlSourceResource,
)
from lineage_dagster.monitoring.run_metrics import StepMetrics, parse_batch_metrics, peak_rss_mb
from lineage_dagster.parsing.models import Coverage, FileLineage
from lineage_dagster.sources.planning import ParseBatch


@dataclass(frozen=True)
class ParsedBatch:
    """The lineage of one batch (files that failed whole carry their ``error``), cache counts."""

    lineage: tuple[FileLineage, ...] = ()
    cache_hits: int = 0
    cache_misses: int = 0
    parse_seconds: float = 0.0
    statements: int = 0

    @property
    def failed(self) -> tuple[FileLineage, ...]:
        """The files that could not be read or decoded at all."""
        return tuple(item for item in self.lineage if item.error is not None)

    def log_failures(self, context: dg.OpExecutionContext) -> None:
        """An error in the step's log for each file that failed, with its message."""
        for failure in self.failed:
            context.log.error(f"{failure.path}: {failure.error.message if failure.error else ''}")

    def metrics(self) -> StepMetrics:
        """The parse metrics of this batch (files, statements, cache hits, seconds)."""
        return parse_batch_metrics(
            self.lineage,
            cache_hits=self.cache_hits,
            cache_misses=self.cache_misses,
            seconds=self.parse_seconds,
        )


def cache_metadata(hits: int, misses: int, cache_on: bool) -> dict[str, int | str]:
    """The parse counts of step or run metadata: files parsed, and the cache's hits and misses
    only when the ``parse_cache`` flag let the cache answer (off, every file is parsed and no
    lookup misses)."""
    if not cache_on:
        return {"files_parsed": misses, "parse_cache": "off: every file to load was parsed"}
    return {"files_parsed": misses, "cache_hits": hits, "cache_misses": misses}


COVERAGE_FILES_SHOWN = 100
"""Files listed in a step's ``coverage_gaps`` metadata at most (those with the most gaps)."""


def coverage_metadata(lineage: Sequence[FileLineage]) -> dict[str, Any]:
    """Target columns with value lineage, only condition lineage and none (by reason), and the
    files with columns of no lineage: how much lineage is silently missing, and where."""
    coverages = [(item.path or "", item.coverage()) for item in lineage]
    total = sum((coverage for _, coverage in coverages), Coverage())
    gaps = sorted(
        ((path, c) for path, c in coverages if c.none),
        key=lambda pair: (-sum(n for _, n in pair[1].none), pair[0]),
    )
    return {
        "columns_value_lineage": total.value,
        "columns_condition_only": total.condition_only,
        "columns_no_lineage": sum(n for _, n in total.none),
        "columns_no_lineage_by_reason": dg.MetadataValue.json(dict(total.none)),
        "coverage_gaps": dg.MetadataValue.json(
            [{"path": path, **c.to_dict()} for path, c in gaps[:COVERAGE_FILES_SHOWN]]
        ),
    }


@dg.op
def parse_sql_batch(
    context: dg.OpExecutionContext,
    batch: ParseBatch,
    sql_source: SqlSourceResource,
    sql_parser: SqlParserResource,
    feature_flags: FeatureFlagsResource,
    prometheus: PushgatewayResource,
) -> ParsedBatch:
    """Extract the lineage of a batch of files; a broken file fails alone, with its position."""
    pushing = feature_flags.metrics
    tracking = (
        prometheus.step_running(context, step="parse", index=batch.index)
        if pushing
        else nullcontext(StepMetrics())
    )
    with tracking as step_metrics:
        parsed = _parse_batch(context, batch, sql_source, sql_parser, feature_flags)
        if pushing:
            step_metrics.include(parsed.metrics())
    return parsed


def parse_batch(
    batch: ParseBatch,
    sql_source: SqlSourceResource,
    sql_parser: SqlParserResource,
    *,
    use_cache: bool,
) -> ParsedBatch:
    """The lineage of a batch's files, through the parse cache when ``use_cache``."""
    started = time.perf_counter()
    parser = sql_parser.source_parser(sql_source, schema_digest=batch.schema)
    results = parser.parse_many(batch.files, use_cache=use_cache)
    lineage = [result for result, _hit in results]
    hits = sum(hit for _result, hit in results)
    return ParsedBatch(
        lineage=tuple(lineage),
        cache_hits=hits,
        cache_misses=sum(item.error is None for item in lineage) - hits,
        parse_seconds=time.perf_counter() - started,
        statements=sum(len(item.statements) for item in lineage),
    )


def _parse_batch(
    context: dg.OpExecutionContext,
    batch: ParseBatch,
    sql_source: SqlSourceResource,
    sql_parser: SqlParserResource,
    feature_flags: FeatureFlagsResource,
) -> ParsedBatch:
    parsed = parse_batch(batch, sql_source, sql_parser, use_cache=feature_flags.parse_cache)
    parsed.log_failures(context)
    context.add_output_metadata(
        {
            "files": len(batch.files),
            "statements": parsed.statements,
            "failed_files": len(parsed.failed),
            **cache_metadata(parsed.cache_hits, parsed.cache_misses, feature_flags.parse_cache),
            "parse_seconds": round(parsed.parse_seconds, 3),
            "peak_rss_mb": round(peak_rss_mb(), 1),
            **coverage_metadata(parsed.lineage),
        }
    )
    return parsed
