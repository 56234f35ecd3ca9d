"""The code location: one ``Definitions`` entry point (``defs``) holding every asset, job,
sensor and resource.

``defs`` is loaded lazily (``@dg.definitions``) because its table assets come from the lineage
graph: Dagster calls it when the code location loads or reloads, and rebuilds it from the
catalog kept with the location in run workers and step processes (see ``defs/warehouse.py``).
The pipeline itself (assets, job, sensor, resources) never depends on Neo4j being reachable.
"""

import dagster as dg

from lineage_dagster.defs.assets import every_file_parsed, lineage_graph, sql_files
from lineage_dagster.defs.jobs import ingest_sql_job
from lineage_dagster.defs.resources import (
    FEATURE_FLAGS_KEY,
    NEO4J_KEY,
    PROMETHEUS_KEY,
    SQL_PARSER_KEY,
    SQL_SOURCE_KEY,
    WEBSERVER_KEY,
    DagsterWebserverResource,
    FeatureFlagsResource,
    Neo4jResource,
    PushgatewayResource,
    SqlParserResource,
    SqlSourceResource,
)
from lineage_dagster.defs.sensors import sql_folder_sensor
from lineage_dagster.defs.settings import STEP_STORAGE_DIR
from lineage_dagster.defs.warehouse import warehouse_definitions
from lineage_dagster.settings.environment import (
    ENV_NEO4J_PASSWORD,
    ENV_NEO4J_URI,
    ENV_NEO4J_USER,
    ENV_SQL_ROOT,
)


def pipeline_definitions() -> dg.Definitions:
    """The ingest pipeline alone: its assets, job, sensor and resources (no Neo4j at load)."""
    return dg.Definitions(
        assets=[sql_files, lineage_graph],
        asset_checks=[every_file_parsed],
        jobs=[ingest_sql_job],
        sensors=[sql_folder_sensor],
        resources={
            NEO4J_KEY: Neo4jResource(
                uri=dg.EnvVar(ENV_NEO4J_URI),
                user=dg.EnvVar(ENV_NEO4J_USER),
                password=dg.EnvVar(ENV_NEO4J_PASSWORD),
            ),
            SQL_SOURCE_KEY: SqlSourceResource(root=dg.EnvVar(ENV_SQL_ROOT)),
            SQL_PARSER_KEY: SqlParserResource(),
            FEATURE_FLAGS_KEY: FeatureFlagsResource(),
            PROMETHEUS_KEY: PushgatewayResource(),
            WEBSERVER_KEY: DagsterWebserverResource(),
            # Step outputs (parse batches, lineage) are pickled files, so a step on another
            # process or machine reads its inputs: LINEAGE_STEP_STORAGE_DIR must be a folder
            # every Celery worker reaches; unset, the instance's storage folder (one machine).
            "io_manager": dg.FilesystemIOManager(base_dir=STEP_STORAGE_DIR),
        },
    )


@dg.definitions
def defs() -> dg.Definitions:
    """The code location: the pipeline, plus one external asset per table of the graph."""
    pipeline = pipeline_definitions()
    reserved = frozenset(key.to_user_string() for key in (sql_files.key, lineage_graph.key))
    return dg.Definitions.merge(pipeline, warehouse_definitions(reserved))


def resolved_ingest_job() -> dg.JobDefinition:
    """The ingest job bound to this code location's resources.

    Scripts, the CLI and tests run it on a real instance with the multiprocess executor through
    ``dg.execute_job(dg.reconstructable(resolved_ingest_job), instance=...)``.
    """
    # The job needs none of the table assets, so step processes never read the catalog.
    return pipeline_definitions().resolve_job_def(ingest_sql_job.name)
