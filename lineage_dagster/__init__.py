"""Table- and column-level lineage from folders of SQL into Neo4j, orchestrated by Dagster."""
