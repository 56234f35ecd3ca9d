import dagster as dg

from lineage_dagster.defs.partitions import source_partitions_def

sql_files = dg.AssetSpec(
    key="sql_files",
    description="The SQL scripts of the watched folder (LINEAGE_SQL_ROOT), one partition per "
    "top-level folder. Watched by sql_folder_sensor.",
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
