"""The ``dagster.yaml`` of the instances the commands create (``dev``'s and ``ingest``'s)."""

from pathlib import Path

CONFIG_HEADER = "# Written by lineage-dagster"
DAGSTER_YAML = f"""\
{CONFIG_HEADER}: a local instance on SQLite storage (edit it, or remove this line to keep
# your edits: without it the file is never rewritten).
telemetry:
  enabled: false
# No "Join the Dagster community" dialog over the first page.
nux:
  enabled: false
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
    one of ours from an earlier version (which is brought up to date)."""
    path.mkdir(parents=True, exist_ok=True)
    config = path / "dagster.yaml"
    if not config.exists() or (
        config.read_text().startswith(_OUR_HEADERS) and config.read_text() != DAGSTER_YAML
    ):
        config.write_text(DAGSTER_YAML)
    return path
