"""`lineage-dagster flags` in-process with CliRunner: built-in defaults, FEATURE_* overrides with
their source, JSON output, and bad values failing with exit 2 and the variable's name; then the
real executable in a fresh process, where a bad variable must not break the CLI on import."""

import json
import os
import subprocess

import pytest
from click.testing import CliRunner

from lineage_dagster.cli import main
from lineage_dagster.cli.output import format_table
from lineage_dagster.settings.flags import FLAG_ENV_VARS
from lineage_dagster_tests.test_cli.cli_helpers import CLI

NO_FLAGS: dict[str, str | None] = dict.fromkeys(FLAG_ENV_VARS.values())


def invoke(*args: str, **env: str):
    return CliRunner().invoke(main, ["flags", *args], env={**NO_FLAGS, **env})


def test_defaults_are_all_on_from_the_built_in_default():
    result = invoke("--format", "json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert list(payload) == ["parse_cache", "batching", "neo4j_batch", "parallel", "metrics"]
    assert {name: (f["value"], f["source"]) for name, f in payload.items()} == dict.fromkeys(
        payload, (True, "default")
    )


def test_variables_override_and_are_named_as_the_source():
    result = invoke("--format", "json", FEATURE_PARALLEL="off", FEATURE_PARSE_CACHE="0")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["parallel"] == {
        "value": False,
        "source": "FEATURE_PARALLEL",
        "variable": "FEATURE_PARALLEL",
    }
    assert (payload["parse_cache"]["value"], payload["parse_cache"]["source"]) == (
        False,
        "FEATURE_PARSE_CACHE",
    )
    assert (payload["batching"]["value"], payload["batching"]["source"]) == (True, "default")


def test_table_output_has_one_row_per_flag():
    result = invoke(FEATURE_METRICS="no", FEATURE_BATCHING="yes")
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.output.splitlines()]
    assert rows == [
        ["FLAG", "VALUE", "SOURCE"],
        ["parse_cache", "on", "default"],
        ["batching", "on", "FEATURE_BATCHING"],
        ["neo4j_batch", "on", "default"],
        ["parallel", "on", "default"],
        ["metrics", "off", "FEATURE_METRICS"],
    ]


@pytest.mark.parametrize("output_format", ["table", "json"])
def test_bad_values_name_every_bad_variable_and_exit_2(output_format):
    result = invoke("--format", output_format, FEATURE_PARALLEL="maybe", FEATURE_NEO4J_BATCH="2")
    assert result.exit_code == 2
    assert "FEATURE_PARALLEL='maybe'" in result.output
    assert "FEATURE_NEO4J_BATCH='2'" in result.output
    assert "FEATURE_BATCHING" not in result.output


def test_blank_variable_means_the_default():
    result = invoke("--format", "json", FEATURE_PARALLEL="  ")
    assert json.loads(result.output)["parallel"]["source"] == "default"


def test_format_table_aligns_columns_and_shows_missing_values_as_dashes():
    assert format_table(["A", "LONG"], [["xyz", None], ["b", 12345]]).splitlines() == [
        "A    LONG",
        "xyz  -",
        "b    12345",
    ]


def test_the_real_executable_reports_a_bad_variable_without_a_traceback():
    # Importing the flags' config reads FEATURE_*; in a fresh process that must still end as a
    # usage error of `flags`, while commands that need no flags keep working.
    env = {**os.environ, "FEATURE_PARALLEL": "maybe"}
    flags = subprocess.run([str(CLI), "flags"], env=env, capture_output=True, text=True)
    assert flags.returncode == 2
    assert "FEATURE_PARALLEL='maybe'" in flags.stderr
    assert "Traceback" not in flags.stderr
    other = subprocess.run([str(CLI), "lineage", "--help"], env=env, capture_output=True, text=True)
    assert other.returncode == 0, other.stderr
