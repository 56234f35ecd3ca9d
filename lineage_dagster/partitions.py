import dagster as dg

from lineage_dagster.constants import SOURCE_PARTITIONS_NAME

source_partitions_def = dg.DynamicPartitionsDefinition(name=SOURCE_PARTITIONS_NAME)
"""One partition per top-level folder of the watched root (``_root`` for files directly in it)."""
