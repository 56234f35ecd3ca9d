"""The code location's settings, read from the environment once, when it loads.

Two values must be fixed when definitions are built: the feature flags' defaults (a run's resource
config replaces the resource's whole config, so a rolled-back ``FEATURE_*`` value has to be the
schema default itself) and the sensor's minimum interval. This is the only Dagster module that
reads the environment at import; connections (``NEO4J_*``, the SQL root) are read through
``dg.EnvVar`` when a run or tick starts.
"""

import os

from lineage_dagster.settings.environment import sensor_interval_seconds
from lineage_dagster.settings.flags import flag_defaults

FLAG_DEFAULTS: dict[str, bool] = {
    name: value for name, (value, _source) in flag_defaults(os.environ).items()
}
"""Each feature flag's default: its ``FEATURE_*`` variable when set, else on."""

SENSOR_INTERVAL_SECONDS: int = sensor_interval_seconds(os.environ)
"""``LINEAGE_SENSOR_INTERVAL_SECONDS``, default 30."""
