"""The Dagster layer: assets, the ingest job and its ops, the folder sensor, resources.

Thin by design: every op and the sensor call the Dagster-free packages (``sources``,
``parsing``, ``graph``, ``monitoring``) and only report, configure and schedule.
"""
