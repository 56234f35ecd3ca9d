"""The code location's settings, read from the environment once, when it loads.

These values must be fixed when definitions are built: the feature flags' defaults (a run's
resource config replaces the resource's whole config, so a rolled-back ``FEATURE_*`` value has to
be the schema default itself), the sensor's minimum interval, the executor a parallel run uses by
default, where steps hand their outputs on, and how long a file's read may take. This is the
only Dagster module that reads the environment at import; connections (``NEO4J_*``, the SQL
root) are read through ``dg.EnvVar`` when a run or tick starts.

An invalid ``FEATURE_*`` value never stops the code location from loading: the flag falls back
to its safe value (``settings.flags.FALLBACK_VALUES``) and ``FLAG_WARNING`` says so, in the load
log, on the job's page, as a tag of every run and in each sensor tick's log.
"""

import logging
import os

from lineage_dagster.settings.environment import (
    celery_backend_variable,
    executor_kind,
    read_timeout_seconds,
    sensor_interval_seconds,
    step_storage_dir,
)
from lineage_dagster.settings.flags import invalid_flags_message, read_flags
from lineage_dagster.sources.file_access import DEFAULT_READ_TIMEOUT_SECONDS

logger = logging.getLogger(__name__)

_FLAGS = read_flags(os.environ)

FLAG_DEFAULTS: dict[str, bool] = {name: setting.value for name, setting in _FLAGS.items()}
"""Each feature flag's default: its ``FEATURE_*`` variable when set, else on."""

INVALID_FLAG_VARIABLES: tuple[str, ...] = tuple(
    setting.source for setting in _FLAGS.values() if setting.invalid_value is not None
)
"""The ``FEATURE_*`` variables holding a value that is not on/off."""

FLAG_WARNING: str | None = invalid_flags_message(_FLAGS)
"""What is wrong with the ``FEATURE_*`` variables, or None when every value is valid."""
if FLAG_WARNING:
    logger.warning(FLAG_WARNING)

SENSOR_INTERVAL_SECONDS: int = sensor_interval_seconds(os.environ)
"""``LINEAGE_SENSOR_INTERVAL_SECONDS``, default 30."""

READ_TIMEOUT_SECONDS: float = read_timeout_seconds(os.environ, DEFAULT_READ_TIMEOUT_SECONDS)
"""``LINEAGE_READ_TIMEOUT_SECONDS``, default 30: a file or folder that does not answer in time
(a hung network mount) is reported as unreadable instead of blocking its run or the sensor."""

EXECUTOR_KIND: str = executor_kind(os.environ)
"""``LINEAGE_EXECUTOR``: ``multiprocess`` (default) or ``celery``; any run may choose another."""

CELERY_BACKEND_VARIABLE: str = celery_backend_variable(os.environ)
"""The variable holding the Celery result backend URL (its own, else the broker's)."""

STEP_STORAGE_DIR: str | None = step_storage_dir(os.environ)
"""``LINEAGE_STEP_STORAGE_DIR``: a folder every worker reaches; unset, the instance's storage."""
