import dagster as dg

SOURCE_PARTITIONS_NAME = "sql_sources"

source_partitions_def = dg.DynamicPartitionsDefinition(name=SOURCE_PARTITIONS_NAME)
"""One partition per top-level folder of the watched root (``_root`` for files directly in it)."""
