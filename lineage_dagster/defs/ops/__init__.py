"""The ops of the ingest job: plan, parse, load; each thin over the Dagster-free packages."""
