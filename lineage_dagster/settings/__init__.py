"""How lineage-dagster is configured from the outside: environment variables and feature flags
(no Dagster import here)."""
