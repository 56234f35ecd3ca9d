from lineage_dagster.resources.metrics_resource import MetricsResource
from lineage_dagster.resources.neo4j_resource import Neo4jResource
from lineage_dagster.resources.sql_parser_resource import SqlParserResource
from lineage_dagster.resources.sql_source_resource import SqlSourceResource

__all__ = ["MetricsResource", "Neo4jResource", "SqlParserResource", "SqlSourceResource"]
