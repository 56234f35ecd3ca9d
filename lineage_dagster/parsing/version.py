"""The version of the extraction logic, part of every parse-cache key."""

EXTRACTOR_VERSION = "1.8.0"
"""Bump whenever the output of ``extract_lineage`` may change for the same input.

The ingestion pipeline caches extracted lineage keyed on (content sha256, dialect,
EXTRACTOR_VERSION), so a stale version would serve outdated lineage.
"""
