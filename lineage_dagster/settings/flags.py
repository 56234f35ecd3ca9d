"""The feature flags' names, their FEATURE_* variables and how values are read (no Dagster)."""

from __future__ import annotations

import os
from collections.abc import Mapping

FLAG_ENV_VARS: dict[str, str] = {
    "parse_cache": "FEATURE_PARSE_CACHE",
    "batching": "FEATURE_BATCHING",
    "neo4j_batch": "FEATURE_NEO4J_BATCH",
    "parallel": "FEATURE_PARALLEL",
    "metrics": "FEATURE_METRICS",
}
EXECUTOR_FLAG = "parallel"
"""The flag that is not resource config: it picks the run's executor."""

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_flag(value: str, *, name: str) -> bool:
    """Read an on/off flag value.

    >>> parse_flag(" Off ", name="FEATURE_BATCHING")
    False
    """
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"{name}={value!r} is not a flag value: use true/false, on/off, 1/0 or yes/no")


def flag_defaults(environ: Mapping[str, str] = os.environ) -> dict[str, tuple[bool, str]]:
    """Each flag's default and where it came from: ``default`` (on), or its variable.

    Raises:
        ValueError: Variables hold values that are not on/off; every bad one is named.
    """
    effective: dict[str, tuple[bool, str]] = {}
    errors = []
    for name, variable in FLAG_ENV_VARS.items():
        if not environ.get(variable, "").strip():
            effective[name] = (True, "default")
            continue
        try:
            effective[name] = (parse_flag(environ[variable], name=variable), variable)
        except ValueError as exc:
            errors.append(str(exc))
    if errors:
        raise ValueError("; ".join(errors))
    return effective
