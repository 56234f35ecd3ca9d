"""docs/operations/DEPLOYMENT_GUIDE.md cannot drift from the code: every fenced block is a shell
command, a YAML excerpt of a shipped file, or the announcement template. Each command's program
exists and accepts every long option the guide gives it (its ``--help`` lists it); the paths,
users, unit names and URLs it names are those of the shipped profile; the ``lineage-dagster``
commands it runs are real subcommands. The shipped files themselves run in
test_production_profile.py."""

import json
import re
import shlex
import subprocess
import sys
from importlib.metadata import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from lineage_dagster.devstack.local_postgres import postgres_bin_dir
from lineage_dagster_tests.production_profile import (
    ENV_FILE,
    INSTALL_DIR,
    PROFILE_DIR,
    REPO_ROOT,
    STATE_DIR,
    UNITS,
    WEBSERVER_PATHS,
    read_env_file,
    service_settings,
)

GUIDE = REPO_ROOT / "docs" / "operations" / "DEPLOYMENT_GUIDE.md"
FENCE = re.compile(r"^( *)```(\w*)\n(.*?)^\1```", re.M | re.S)
VENV_BIN = Path(sys.executable).parent
UNIT_NAMES = {unit.stem for unit in UNITS.values()}
ENVIRONMENT_FILE = service_settings(UNITS["daemon"])["EnvironmentFile"]
SERVICE_USER = service_settings(UNITS["daemon"])["User"]
DAGSTER_HOME = read_env_file()["DAGSTER_HOME"]


def _blocks(language: str) -> list[str]:
    return [
        "\n".join(line[len(indent) :] for line in body.splitlines())
        for indent, lang, body in FENCE.findall(GUIDE.read_text())
        if lang == language
    ]


def _commands() -> list[list[str]]:
    commands = []
    for block in _blocks("bash"):
        for line in block.splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                assert not line.rstrip().endswith("\\"), "one command per line, please"
                commands.append(shlex.split(line, comments=True))
    return commands


def _without_sudo(words: list[str]) -> list[str]:
    if words[0] == "sudo":
        words = words[1:]
        if words[0] == "-u":
            words = words[2:]
    return words


def _help_text(program: str, *subcommand: str) -> str:
    # curl's plain --help lists only its most used options.
    subcommand = (*subcommand, "--help", *(["all"] if program == "curl" else []))
    result = subprocess.run(
        [_resolve(program), *subcommand], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"{program} {' '.join(subcommand)}: {result.stderr}"
    return result.stdout + result.stderr


def _resolve(program: str) -> str:
    """The program as this machine has it: the test virtualenv for the install directory's,
    PostgreSQL's bin folder for its client tools, else PATH."""
    if program.startswith(INSTALL_DIR):
        return str(VENV_BIN / Path(program).name)
    if program in {"createuser", "createdb", "psql"}:
        return str(postgres_bin_dir() / program)
    return program


def _long_options(words: list[str]) -> list[str]:
    return [word.split("=", 1)[0] for word in words if word.startswith("--")]


def _check_options(words: list[str], help_text: str) -> None:
    for option in _long_options(words):
        assert re.search(rf"{re.escape(option)}\b", help_text), f"{words[0]}: no option {option}"


def _check_lineage_dagster(arguments: list[str]) -> None:
    subcommand = [word for word in arguments if not word.startswith("-")][:2]
    help_text = _help_text(str(VENV_BIN / "lineage-dagster"), *subcommand)
    _check_options(arguments, help_text)


def _check_install(words: list[str]) -> None:
    with_values = {"--owner", "--group", "--mode"}
    values = {i + 1 for i, word in enumerate(words) if word in with_values}
    paths = [w for i, w in enumerate(words[1:], 1) if not w.startswith("-") and i not in values]
    if "-d" in words:
        assert paths == [DAGSTER_HOME]
        return
    owners = {words[i + 1] for i, word in enumerate(words) if word in {"--owner", "--group"}}
    assert owners <= {"root", SERVICE_USER}
    sources, destination = paths[:-1], paths[-1]
    for source in sources:
        assert (REPO_ROOT / source).is_file(), f"{source} is not a shipped file"
        assert (REPO_ROOT / source).parent == PROFILE_DIR
    names = {Path(source).name for source in sources}
    if names <= {"dagster.yaml", "workspace.yaml"}:
        assert destination.rstrip("/") == DAGSTER_HOME
    elif names == {ENV_FILE.name}:
        assert destination == ENVIRONMENT_FILE
    else:
        assert names == {unit.name for unit in UNITS.values()}, "install every unit"
        assert destination == "/etc/systemd/system/"


def _check_command(words: list[str]) -> None:
    words = _without_sudo(words)
    program = words[0]
    if program == "systemctl":
        action, *units = [word for word in words[1:] if not word.startswith("-")]
        assert action in {"daemon-reload", "enable", "restart", "status"}
        assert set(units) <= UNIT_NAMES and (units or action == "daemon-reload")
    elif program == "systemd-run":
        settings = dict(
            word.split("=", 1) for word in words if word.startswith("--") and "=" in word
        )
        assert settings.get("--uid") == SERVICE_USER
        assert settings.get("--property") == f"EnvironmentFile={ENVIRONMENT_FILE}"
        command = [word for word in words[1:] if not word.startswith("--")]
        assert command[0] == f"{INSTALL_DIR}/lineage-dagster"
        _check_lineage_dagster(command[1:])
    elif program == "install":
        _check_install(words)
    elif program == "useradd":
        home = words[words.index("--home-dir") + 1]
        assert home == STATE_DIR and words[-1] == SERVICE_USER
    elif program == "curl":
        url = urlparse(words[-1])
        env = read_env_file()
        assert url.netloc == f"{env['LINEAGE_WEBSERVER_HOST']}:{env['LINEAGE_WEBSERVER_PORT']}"
        assert url.path in WEBSERVER_PATHS, f"{url.path} is not requested by the profile test"
    elif program == "python3":
        assert words[1:3] == ["-m", "venv"] and words[3] == str(Path(INSTALL_DIR).parent)
        return
    elif program.endswith("/pip"):
        assert program == f"{INSTALL_DIR}/pip"
        assert words[-1] == ".[prod]"
        assert "prod" in (metadata("lineage-dagster").get_all("Provides-Extra") or [])
        assert (REPO_ROOT / words[words.index("--constraint") + 1]).is_file()
        _check_options(words, _help_text(_resolve(program), "install"))
        return
    _check_options(words, _help_text(program))


def _contains(tree: Any, excerpt: dict) -> bool:
    """Whether some mapping in ``tree`` holds every key of ``excerpt`` with the same value."""
    if isinstance(tree, dict):
        if all(key in tree and tree[key] == value for key, value in excerpt.items()):
            return True
        return any(_contains(value, excerpt) for value in tree.values())
    if isinstance(tree, list):
        return any(_contains(value, excerpt) for value in tree)
    return False


def test_guide_has_only_checked_blocks():
    languages = {lang for _indent, lang, _body in FENCE.findall(GUIDE.read_text())}
    assert languages == {"bash", "yaml", "text"}


@pytest.mark.parametrize("words", _commands(), ids=lambda words: " ".join(words)[:60])
def test_guide_command(words: list[str]):
    _check_command(words)


@pytest.mark.parametrize("excerpt", _blocks("yaml"))
def test_guide_yaml_is_an_excerpt_of_a_shipped_file(excerpt: str):
    shipped = [yaml.safe_load(path.read_text()) for path in PROFILE_DIR.glob("*.yaml")]
    assert any(_contains(tree, yaml.safe_load(excerpt)) for tree in shipped)


def test_guide_names_the_dashboard_panels():
    dashboard = json.loads((REPO_ROOT / "docs" / "grafana" / "lineage_ingest.json").read_text())
    panels = {panel["title"] for panel in dashboard["panels"]}
    named = set(re.findall(r"\*\*([^*]+)\*\*", GUIDE.read_text()))
    stages = GUIDE.read_text().split("## 5. Staged enablement timeline")[1].split("\n## ")[0]
    named_in_stages = set(re.findall(r"\*\*([^*]+)\*\*", stages))
    assert named_in_stages <= panels, "a stage names a panel the dashboard does not have"
    assert panels <= named, "a dashboard panel the guide never mentions"
