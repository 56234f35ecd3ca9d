"""Read the shipped production profile (docs/operations/production) the way its consumers do:
the env file as systemd's EnvironmentFile, the units' [Service] settings, and the ``env:`` values
of dagster.yaml and workspace.yaml."""

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
PROFILE_DIR = REPO_ROOT / "docs" / "operations" / "production"
ENV_FILE = PROFILE_DIR / "lineage-dagster.env.example"
UNITS = {
    "code-server": PROFILE_DIR / "lineage-dagster-code-server.service",
    "daemon": PROFILE_DIR / "lineage-dagster-daemon.service",
    "webserver": PROFILE_DIR / "lineage-dagster-webserver.service",
}
INSTALL_DIR = "/opt/lineage-dagster/.venv/bin"
"""Where the units expect the virtualenv's commands."""
STATE_DIR = "/var/lib/lineage-dagster"
"""The units' working directory."""
WEBSERVER_PATHS = ("/server_info", "/graphql")
"""The webserver endpoints the profile test requests (the guide may send operators to these)."""

_VARIABLE = re.compile(r"\$\{(\w+)\}")


def read_env_file(path: Path = ENV_FILE) -> dict[str, str]:
    """``KEY=value`` lines as systemd's EnvironmentFile reads them (comments, blanks skipped)."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def service_settings(unit: Path) -> dict[str, str]:
    """The ``[Service]`` section of a unit file, one value per key."""
    settings: dict[str, str] = {}
    section = None
    for line in unit.read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings[key] = value
    return settings


def unit_variables(unit: Path) -> set[str]:
    """The ``${VAR}`` names a unit's settings use."""
    return set(_VARIABLE.findall(unit.read_text()))


def exec_start(unit: Path, environ: dict[str, str], install_dir: Path) -> list[str]:
    """The unit's ExecStart as systemd runs it: split, ``${VAR}`` replaced from ``environ``, and
    the install directory mapped to ``install_dir`` (this test's virtualenv)."""
    words = shlex.split(service_settings(unit)["ExecStart"])
    expanded = [_VARIABLE.sub(lambda match: environ[match.group(1)], word) for word in words]
    return [word.replace(INSTALL_DIR, str(install_dir), 1) for word in expanded]


def yaml_env_variables(path: Path) -> set[str]:
    """The variables a Dagster YAML file reads through ``env:`` values."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if set(node) == {"env"}:
                found.add(node["env"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load(path.read_text()))
    return found
