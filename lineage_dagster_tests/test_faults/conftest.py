"""The fault suite's instance home and CLI environment, one of each per test."""

from pathlib import Path

import pytest

from lineage_dagster_tests.test_cli.cli_helpers import cli_env
from lineage_dagster_tests.test_faults.fault_helpers import dagster_home


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return dagster_home(tmp_path / "dagster_home")


@pytest.fixture
def env(neo4j_env, home: Path) -> dict[str, str]:
    return cli_env(neo4j_env, home)
