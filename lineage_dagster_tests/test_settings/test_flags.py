"""Feature flags: defaults, environment overrides for emergency rollback, and bad values."""

import pytest

from lineage_dagster.settings.flags import flag_defaults, parse_flag


def test_all_flags_default_on():
    assert flag_defaults({}) == {
        name: (True, "default")
        for name in ("parse_cache", "batching", "neo4j_batch", "parallel", "metrics")
    }


def test_environment_overrides_defaults():
    env = {"FEATURE_PARSE_CACHE": "false", "FEATURE_PARALLEL": "off", "FEATURE_METRICS": " 1 "}
    effective = flag_defaults(env)
    assert effective["parse_cache"] == (False, "FEATURE_PARSE_CACHE")
    assert effective["parallel"] == (False, "FEATURE_PARALLEL")
    assert effective["metrics"] == (True, "FEATURE_METRICS")
    assert effective["batching"] == (True, "default")


def test_bad_flag_values_name_the_variable():
    with pytest.raises(ValueError, match="FEATURE_BATCHING='maybe' is not a flag value"):
        flag_defaults({"FEATURE_BATCHING": "maybe"})
    assert parse_flag("YES", name="x") is True


def test_variables_set_the_defaults_a_partial_run_config_keeps(tmp_path):
    """Run config replaces a resource's whole config, so the FEATURE_* variables must be the
    schema defaults themselves: a run that sets one flag keeps the rolled-back others."""
    import subprocess
    import sys

    script = (
        "import dagster as dg\n"
        "from lineage_dagster.defs.resources import FeatureFlagsResource\n"
        "@dg.op\n"
        "def show(feature_flags: FeatureFlagsResource):\n"
        "    print('FLAGS', feature_flags.parse_cache, feature_flags.batching)\n"
        "@dg.job(resource_defs={'feature_flags': FeatureFlagsResource()})\n"
        "def flags_job():\n"
        "    show()\n"
        "flags_job.execute_in_process(run_config={'resources': {'feature_flags': "
        "{'config': {'parse_cache': False}}}})\n"
    )
    env = {"FEATURE_BATCHING": "off", "PATH": "/usr/bin:/bin", "DAGSTER_HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert "FLAGS False False" in out


def test_pipeline_and_parse_command_share_the_file_size_limit():
    from lineage_dagster.defs.resources import SqlSourceResource
    from lineage_dagster.parsing import DEFAULT_MAX_BYTES

    assert SqlSourceResource(root=".").max_file_bytes == DEFAULT_MAX_BYTES
