"""The environment variables lineage-dagster reads, and how their values are read.

Nothing here reads the environment at import: callers pass ``os.environ`` (or a mapping of
their own in tests) when they need a value.
"""

from __future__ import annotations

from collections.abc import Mapping

ENV_SQL_ROOT = "LINEAGE_SQL_ROOT"
ENV_NEO4J_URI = "NEO4J_URI"
ENV_NEO4J_USER = "NEO4J_USER"
ENV_NEO4J_PASSWORD = "NEO4J_PASSWORD"
ENV_PUSHGATEWAY_URL = "LINEAGE_PUSHGATEWAY_URL"
ENV_WEBSERVER_URL = "LINEAGE_WEBSERVER_URL"
ENV_SENSOR_INTERVAL = "LINEAGE_SENSOR_INTERVAL_SECONDS"
ENV_DAGSTER_HOME = "DAGSTER_HOME"

DEFAULT_NEO4J_USER = "neo4j"
DEFAULT_SENSOR_INTERVAL_SECONDS = 30


def sensor_interval_seconds(environ: Mapping[str, str]) -> int:
    """Minimum seconds between two ticks of the folder sensor.

    >>> sensor_interval_seconds({}), sensor_interval_seconds({ENV_SENSOR_INTERVAL: " 5 "})
    (30, 5)

    Raises:
        ValueError: The variable is set to something other than a positive whole number.
    """
    value = environ.get(ENV_SENSOR_INTERVAL, "").strip()
    if not value:
        return DEFAULT_SENSOR_INTERVAL_SECONDS
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{ENV_SENSOR_INTERVAL}={value!r} is not a positive number of seconds")
    return int(value)
