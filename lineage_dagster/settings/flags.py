"""The feature flags' names, their FEATURE_* variables and how values are read (no Dagster)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

FLAG_ENV_VARS: dict[str, str] = {
    "parse_cache": "FEATURE_PARSE_CACHE",
    "batching": "FEATURE_BATCHING",
    "neo4j_batch": "FEATURE_NEO4J_BATCH",
    "parallel": "FEATURE_PARALLEL",
    "metrics": "FEATURE_METRICS",
}
EXECUTOR_FLAG = "parallel"
"""The flag that is not resource config: it picks the run's executor."""

FALLBACK_VALUES: dict[str, bool] = {
    "parse_cache": False,
    "batching": False,
    "neo4j_batch": False,
    "parallel": False,
    "metrics": True,
}
"""What a flag falls back to when its variable holds an invalid value: the optimisations off (the
plain path, same graph), metrics on (pushing never fails a run, and operators need the dashboard
most while something is being rolled back)."""

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


@dataclass(frozen=True)
class FlagSetting:
    """A flag's effective default, where it came from, and the rejected value if any."""

    value: bool
    source: str
    """``default`` or the ``FEATURE_*`` variable that set it."""
    invalid_value: str | None = None
    """The variable's value when it was not on/off (``value`` is then the fallback)."""


def read_flags(environ: Mapping[str, str] = os.environ) -> dict[str, FlagSetting]:
    """Each flag's default, never failing: an invalid value falls back to ``FALLBACK_VALUES``.

    The code location reads its flags this way, so a typo in one variable cannot take it down.

    >>> read_flags({"FEATURE_BATCHING": "flase"})["batching"]
    FlagSetting(value=False, source='FEATURE_BATCHING', invalid_value='flase')
    """
    settings = {}
    for name, variable in FLAG_ENV_VARS.items():
        raw = environ.get(variable, "")
        if not raw.strip():
            settings[name] = FlagSetting(True, "default")
            continue
        try:
            settings[name] = FlagSetting(parse_flag(raw, name=variable), variable)
        except ValueError:
            settings[name] = FlagSetting(FALLBACK_VALUES[name], variable, invalid_value=raw)
    return settings


def invalid_flags_message(settings: Mapping[str, FlagSetting]) -> str | None:
    """One sentence naming every invalid variable and the value used instead, or None.

    >>> message = invalid_flags_message(read_flags({"FEATURE_PARALLEL": "maybe"}))
    >>> "FEATURE_PARALLEL='maybe' (parallel falls back to off)" in message
    True
    """
    invalid = [
        f"{FLAG_ENV_VARS[name]}={setting.invalid_value!r} ({name} falls back to "
        f"{'on' if setting.value else 'off'})"
        for name, setting in settings.items()
        if setting.invalid_value is not None
    ]
    if not invalid:
        return None
    noun = "value" if len(invalid) == 1 else "values"
    return (
        f"Invalid feature flag {noun}: {', '.join(invalid)}; use true/false, on/off, 1/0 or yes/no"
    )
