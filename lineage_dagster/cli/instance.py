"""The Dagster instance of the CLI commands: its dagster.yaml, and a console that keeps quiet."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import dagster as dg

INSTANCE_CONFIG_FILE = "dagster.yaml"
WRITTEN_BY = "# Written by lineage-dagster: a local instance on SQLite storage."
INSTANCE_CONFIG = f"""\
{WRITTEN_BY}
# Kept as it is once written: edit it freely, or delete it to get the current default back.
telemetry:
  enabled: false
# No "Join the Dagster community" dialog over the first page.
nux:
  enabled: false
# Dagster's own messages outside a run's loggers (each step process announcing itself) print at
# this level; the UI keeps every event whatever it is.
python_logs:
  python_log_level: INFO
run_queue:
  max_concurrent_runs: 2
  # One run per folder at a time: two runs replacing the same files could interleave.
  tag_concurrency_limits:
    - key: dagster/partition
      value:
        applyLimitPerUniqueValue: true
      limit: 1
"""
_EARLIER_HEADER = "# Written by `lineage-dagster dev`"


def prepare_dagster_home(path: Path) -> Path:
    """Create ``path`` with the instance config, unless it has one.

    Without a dagster.yaml, every command on a new DAGSTER_HOME prints Dagster's telemetry
    notice and "No dagster instance configuration file". The config ``lineage-dagster dev``
    wrote before it had ``python_logs`` is replaced; any other is kept.
    """
    path.mkdir(parents=True, exist_ok=True)
    config = path / INSTANCE_CONFIG_FILE
    if not config.exists() or config.read_text().startswith(_EARLIER_HEADER):
        config.write_text(INSTANCE_CONFIG)
    return path


def with_python_log_level(instance: dg.DagsterInstance, level: str) -> dg.DagsterInstance:
    """``instance`` with its python log level set to ``level``, for this process and every step
    process it starts (they open the instance from its reference, settings included).

    The multiprocess executor announces each step process at DEBUG through a logger that
    follows this setting and not the run's console logger config.
    """
    import dagster as dg

    ref = instance.get_ref()
    python_logs = dict(ref.settings.get("python_logs") or {})  # type: ignore[call-overload]
    python_logs["python_log_level"] = level
    return dg.DagsterInstance.from_ref(
        ref._replace(settings={**ref.settings, "python_logs": python_logs})
    )
