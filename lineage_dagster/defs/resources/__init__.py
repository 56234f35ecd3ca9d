"""Resources of the code location: the watched folder, the parser and its cache, Neo4j, the
feature flags, the Pushgateway and the webserver (to reload the code location). Building one
never connects; steps open what they use."""

from lineage_dagster.defs.resources.feature_flags_resource import FeatureFlagsResource
from lineage_dagster.defs.resources.neo4j_resource import Neo4jResource
from lineage_dagster.defs.resources.pushgateway_resource import PushgatewayResource
from lineage_dagster.defs.resources.sql_parser_resource import SqlParserResource
from lineage_dagster.defs.resources.sql_source_resource import SqlSourceResource
from lineage_dagster.defs.resources.webserver_resource import DagsterWebserverResource

# Resource keys: each op's parameter of that name receives the resource.
SQL_SOURCE_KEY = "sql_source"
SQL_PARSER_KEY = "sql_parser"
NEO4J_KEY = "neo4j"
FEATURE_FLAGS_KEY = "feature_flags"
PROMETHEUS_KEY = "prometheus"
WEBSERVER_KEY = "webserver"

__all__ = [
    "FEATURE_FLAGS_KEY",
    "NEO4J_KEY",
    "PROMETHEUS_KEY",
    "SQL_PARSER_KEY",
    "SQL_SOURCE_KEY",
    "WEBSERVER_KEY",
    "DagsterWebserverResource",
    "FeatureFlagsResource",
    "Neo4jResource",
    "PushgatewayResource",
    "SqlParserResource",
    "SqlSourceResource",
]
