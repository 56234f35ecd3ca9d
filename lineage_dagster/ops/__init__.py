"""Thin ops of the ingest job: plan (ingest), parse and load."""
