"""The Dagster instance of the CLI commands (``dev``'s and ``ingest``'s): its dagster.yaml, and a
console that keeps quiet."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import dagster as dg

CONFIG_HEADER = "# Written by lineage-dagster"
DAGSTER_YAML = f"""\
{CONFIG_HEADER}: a local instance on SQLite storage (edit it, or remove this line to keep
# your edits: without it the file is never rewritten).
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
# A run whose process died (killed, out of memory) is marked failed by the daemon's run
# monitoring within a poll interval, instead of staying STARTED and blocking its folder.
run_launcher:
  module: lineage_dagster.defs.run_launcher
  class: LocalRunLauncher
run_monitoring:
  enabled: true
  poll_interval_seconds: 15
  max_resume_run_attempts: 0
"""
# Headers of earlier versions of the file, rewritten like the current one.
_OUR_HEADERS = (CONFIG_HEADER, "# Written by `lineage-dagster dev`")


def prepare_dagster_home(path: Path) -> Path:
    """Create a DAGSTER_HOME with the project's dagster.yaml; an existing file is kept, unless
    one of ours from an earlier version (which is brought up to date).

    Without a dagster.yaml, every command on a new DAGSTER_HOME prints Dagster's telemetry
    notice and "No dagster instance configuration file".
    """
    path.mkdir(parents=True, exist_ok=True)
    config = path / "dagster.yaml"
    if not config.exists() or (
        config.read_text().startswith(_OUR_HEADERS) and config.read_text() != DAGSTER_YAML
    ):
        config.write_text(DAGSTER_YAML)
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
