"""The code location's settings, read from the environment once, when it loads.

These values must be fixed when definitions are built: the feature flags' defaults (a run's
resource config replaces the resource's whole config, so a rolled-back ``FEATURE_*`` value has to
be the schema default itself), the sensor's minimum interval, the executor a parallel run uses by
default, and where steps hand their outputs on. This is the only Dagster module that
reads the environment at import; connections (``NEO4J_*``, the SQL root) are read through
``dg.EnvVar`` when a run or tick starts.
"""

import os

from lineage_dagster.settings.environment import (
    celery_backend_variable,
    executor_kind,
    sensor_interval_seconds,
    step_storage_dir,
)
from lineage_dagster.settings.flags import flag_defaults

FLAG_DEFAULTS: dict[str, bool] = {
    name: value for name, (value, _source) in flag_defaults(os.environ).items()
}
"""Each feature flag's default: its ``FEATURE_*`` variable when set, else on."""

SENSOR_INTERVAL_SECONDS: int = sensor_interval_seconds(os.environ)
"""``LINEAGE_SENSOR_INTERVAL_SECONDS``, default 30."""

EXECUTOR_KIND: str = executor_kind(os.environ)
"""``LINEAGE_EXECUTOR``: ``multiprocess`` (default) or ``celery``; any run may choose another."""

CELERY_BACKEND_VARIABLE: str = celery_backend_variable(os.environ)
"""The variable holding the Celery result backend URL (its own, else the broker's)."""

STEP_STORAGE_DIR: str | None = step_storage_dir(os.environ)
"""``LINEAGE_STEP_STORAGE_DIR``: a folder every worker reaches; unset, the instance's storage."""
