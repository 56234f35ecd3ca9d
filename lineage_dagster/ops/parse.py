import time
from dataclasses import dataclass

import dagster as dg

from lineage_dagster.config import FeatureFlags
from lineage_dagster.files import FailedFile, SourceFileError
from lineage_dagster.metrics import parse_batch_metrics
from lineage_dagster.parsing.errors import LineageError
from lineage_dagster.parsing.models import FileLineage
from lineage_dagster.planning import ParseBatch
from lineage_dagster.resources import MetricsResource, SqlParserResource, SqlSourceResource


@dataclass(frozen=True)
class ParsedBatch:
    """The lineage of one batch, the files that failed whole, and cache counts."""

    lineage: tuple[FileLineage, ...] = ()
    failed: tuple[FailedFile, ...] = ()
    cache_hits: int = 0
    cache_misses: int = 0
    parse_seconds: float = 0.0
    statements: int = 0


@dg.op
def parse_sql_batch(
    context: dg.OpExecutionContext,
    batch: ParseBatch,
    sql_source: SqlSourceResource,
    sql_parser: SqlParserResource,
    feature_flags: FeatureFlags,
    prometheus: MetricsResource,
) -> ParsedBatch:
    """Extract the lineage of a batch of files; a broken file fails alone, with its position."""
    started = time.perf_counter()
    lineage: list[FileLineage] = []
    failed: list[FailedFile] = []
    hits = 0
    for path in batch.paths:
        try:
            result, hit = sql_parser.parse_file(
                sql_source.root_path,
                path,
                use_cache=feature_flags.parse_cache,
                max_bytes=sql_source.max_file_bytes,
            )
        except SourceFileError as exc:
            failed.append(FailedFile(path, exc.message))
        except LineageError as exc:
            failed.append(
                FailedFile(
                    path,
                    getattr(exc, "message", str(exc)),
                    getattr(exc, "line", None),
                    getattr(exc, "column", None),
                )
            )
        except OSError as exc:
            failed.append(FailedFile(path, f"cannot be read: {exc.strerror or exc}"))
        else:
            hits += hit
            lineage.append(result)
    for failure in failed:
        context.log.error(f"{failure.path}: {failure.message}")
    parsed = ParsedBatch(
        lineage=tuple(lineage),
        failed=tuple(failed),
        cache_hits=hits,
        cache_misses=len(lineage) - hits,
        parse_seconds=time.perf_counter() - started,
        statements=sum(len(item.statements) for item in lineage),
    )
    context.add_output_metadata(
        {
            "files": len(batch.paths),
            "statements": parsed.statements,
            "failed_files": len(failed),
            "cache_hits": parsed.cache_hits,
            "cache_misses": parsed.cache_misses,
            "parse_seconds": round(parsed.parse_seconds, 3),
        }
    )
    if feature_flags.metrics:
        metrics = parse_batch_metrics(
            lineage,
            failed,
            cache_hits=parsed.cache_hits,
            cache_misses=parsed.cache_misses,
            seconds=parsed.parse_seconds,
        )
        prometheus.push(context, metrics, step="parse", index=batch.index)
    return parsed
