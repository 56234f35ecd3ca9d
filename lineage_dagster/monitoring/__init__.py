"""Prometheus metrics of ingest runs (no Dagster import here)."""
