"""The watched folder of SQL files (no Dagster import here): listing, the one checked reader,
hashing, what changed since the last load, batches, and cache-aware parsing."""
