from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from lineage_dagster.defs.partitions import source_partitions_def
from lineage_dagster.defs.resources import Neo4jResource
from lineage_dagster.graph.load import get_failed_files

sql_files = dg.AssetSpec(
    key="sql_files",
    description="The SQL scripts of the watched folder (LINEAGE_SQL_ROOT), one partition per "
    "top-level folder. Watched by sql_folder_sensor; each ingest run records the folder as it "
    "read it.",
    partitions_def=source_partitions_def,
    group_name="lineage",
    kinds={"sql"},
)

lineage_graph = dg.AssetSpec(
    key="lineage_graph",
    deps=[sql_files],
    description="Table- and column-level lineage of those scripts in Neo4j. ingest_sql_job "
    "records a materialization per folder with what it loaded and which files failed.",
    partitions_def=source_partitions_def,
    group_name="lineage",
    kinds={"neo4j"},
)

EVERY_FILE_PARSED = "every_file_parsed"
"""The asset check on ``lineage_graph`` that fails while a file of the graph failed to parse."""
LISTED_FAILED_FILES = 200
"""Failed files listed in the check's metadata at most (all are counted)."""


def every_file_parsed_outcome(failed: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The check's verdict on the graph's ``failed`` files (``get_failed_files``), as keyword
    arguments of both ``dg.AssetCheckResult`` and ``dg.AssetCheckEvaluation``."""
    partitions = sorted({str(item["partition"]) for item in failed})
    return {
        "passed": not failed,
        "severity": dg.AssetCheckSeverity.ERROR,
        "description": (
            f"{len(failed)} file(s) of {', '.join(partitions)} failed to parse; their other "
            "statements are loaded. Fix them and the next run re-checks."
            if failed
            else "Every SQL file of the graph parsed."
        ),
        "metadata": {
            "files_failed": len(failed),
            "partitions": dg.MetadataValue.json(partitions),
            "failed_files": dg.MetadataValue.json(list(failed[:LISTED_FAILED_FILES])),
        },
    }


@dg.asset_check(
    asset=lineage_graph.key,
    name=EVERY_FILE_PARSED,
    description="Fails while any SQL file of the graph failed to parse, wholly or in part (its "
    "path, line and message are in the metadata). Every ingest run evaluates it.",
)
def every_file_parsed(neo4j: Neo4jResource) -> dg.AssetCheckResult:
    with neo4j.get_session() as session:
        failed = get_failed_files(session)
    return dg.AssetCheckResult(**every_file_parsed_outcome(failed))
