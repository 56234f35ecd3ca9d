import dagster as dg

from lineage_dagster.assets import lineage_graph, sql_files
from lineage_dagster.config import FeatureFlags
from lineage_dagster.constants import (
    ENV_NEO4J_PASSWORD,
    ENV_NEO4J_URI,
    ENV_NEO4J_USER,
    ENV_SQL_ROOT,
)
from lineage_dagster.jobs import ingest_sql_job
from lineage_dagster.resources import (
    MetricsResource,
    Neo4jResource,
    SqlParserResource,
    SqlSourceResource,
)
from lineage_dagster.sensors import sql_folder_sensor

defs = dg.Definitions(
    assets=[sql_files, lineage_graph],
    jobs=[ingest_sql_job],
    sensors=[sql_folder_sensor],
    resources={
        "neo4j": Neo4jResource(
            uri=dg.EnvVar(ENV_NEO4J_URI),
            user=dg.EnvVar(ENV_NEO4J_USER),
            password=dg.EnvVar(ENV_NEO4J_PASSWORD),
        ),
        "sql_source": SqlSourceResource(root=dg.EnvVar(ENV_SQL_ROOT)),
        "sql_parser": SqlParserResource(),
        "feature_flags": FeatureFlags(),
        "prometheus": MetricsResource(),
    },
)


def resolved_ingest_job() -> dg.JobDefinition:
    """The ingest job bound to this code location's resources.

    Scripts, the CLI and tests run it on a real instance with the multiprocess executor through
    ``dg.execute_job(dg.reconstructable(resolved_ingest_job), instance=...)``.
    """
    return defs.resolve_job_def(ingest_sql_job.name)
