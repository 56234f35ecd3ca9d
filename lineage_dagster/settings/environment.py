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
ENV_EXECUTOR = "LINEAGE_EXECUTOR"
ENV_CELERY_BROKER_URL = "LINEAGE_CELERY_BROKER_URL"
ENV_CELERY_BACKEND_URL = "LINEAGE_CELERY_BACKEND_URL"
ENV_STEP_STORAGE_DIR = "LINEAGE_STEP_STORAGE_DIR"
ENV_READ_TIMEOUT = "LINEAGE_READ_TIMEOUT_SECONDS"

DEFAULT_NEO4J_USER = "neo4j"
DEFAULT_SENSOR_INTERVAL_SECONDS = 30
EXECUTOR_KINDS = ("multiprocess", "celery")
"""What ``LINEAGE_EXECUTOR`` may name: where a parallel run's steps execute by default."""


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


def read_timeout_seconds(environ: Mapping[str, str], default: float) -> float:
    """Seconds one SQL file's read (or one folder's listing) may take before it is given up on.

    >>> read_timeout_seconds({}, 30.0), read_timeout_seconds({ENV_READ_TIMEOUT: "2.5"}, 30.0)
    (30.0, 2.5)

    Raises:
        ValueError: The variable is set to something other than a positive number.
    """
    value = environ.get(ENV_READ_TIMEOUT, "").strip()
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise ValueError(f"{ENV_READ_TIMEOUT}={value!r} is not a positive number of seconds")
    return seconds


def executor_kind(environ: Mapping[str, str]) -> str:
    """The executor a parallel run uses by default: ``multiprocess`` (one machine) or ``celery``.

    >>> executor_kind({}), executor_kind({
    ...     ENV_EXECUTOR: "Celery", ENV_CELERY_BROKER_URL: "redis://broker:6379/0"})
    ('multiprocess', 'celery')

    Raises:
        ValueError: The variable names another executor, or ``celery`` without a broker URL.
    """
    kind = environ.get(ENV_EXECUTOR, "").strip().lower() or EXECUTOR_KINDS[0]
    if kind not in EXECUTOR_KINDS:
        raise ValueError(f"{ENV_EXECUTOR}={kind!r} is not one of {', '.join(EXECUTOR_KINDS)}")
    if kind == "celery" and not environ.get(ENV_CELERY_BROKER_URL, "").strip():
        raise ValueError(
            f"{ENV_EXECUTOR}=celery needs {ENV_CELERY_BROKER_URL} (e.g. redis://host:6379/0)"
        )
    return kind


def celery_backend_variable(environ: Mapping[str, str]) -> str:
    """The variable holding the Celery result backend's URL: its own, else the broker's.

    >>> celery_backend_variable({}), celery_backend_variable({ENV_CELERY_BACKEND_URL: "rpc://"})
    ('LINEAGE_CELERY_BROKER_URL', 'LINEAGE_CELERY_BACKEND_URL')
    """
    return ENV_CELERY_BACKEND_URL if environ.get(ENV_CELERY_BACKEND_URL) else ENV_CELERY_BROKER_URL


def step_storage_dir(environ: Mapping[str, str]) -> str | None:
    """``LINEAGE_STEP_STORAGE_DIR``: where steps hand their outputs on (None: the instance's).

    >>> step_storage_dir({}), step_storage_dir({ENV_STEP_STORAGE_DIR: "/mnt/lineage/steps"})
    (None, '/mnt/lineage/steps')
    """
    return environ.get(ENV_STEP_STORAGE_DIR, "").strip() or None
