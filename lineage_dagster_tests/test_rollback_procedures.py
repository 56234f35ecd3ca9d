"""docs/operations/ROLLBACK_PROCEDURES.md cannot drift from the code: every command of its
shell blocks is parsed by the real command-line parser it names (lineage-dagster, dagster, pip)
or, for the reload, its GraphQL is validated against the webserver's schema; every FEATURE_*
value it mentions is one settings/flags.py accepts; every YAML block is run config that
ingest_sql_job's schema accepts; and the emergency settings give the flags the guide says."""

import json
import re
import shlex
import textwrap
from pathlib import Path

import click
import graphql
import pytest
import yaml
from click.testing import CliRunner

from lineage_dagster.cli import main as lineage_cli
from lineage_dagster.settings.flags import EXECUTOR_FLAG, FLAG_ENV_VARS, parse_flag

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "operations" / "ROLLBACK_PROCEDURES.md"
TEXT = GUIDE.read_text()
BLOCK = re.compile(r"^( *)```(\w+)\n(.*?)^\1```", re.MULTILINE | re.DOTALL)
BLOCKS = [(language, textwrap.dedent(body)) for _indent, language, body in BLOCK.findall(TEXT)]
LOCATION_NAME = yaml.safe_load((ROOT / "workspace.yaml").read_text())["load_from"][0][
    "python_module"
]["location_name"]


def _commands() -> list[list[str]]:
    """Each command line of the bash blocks, continuation lines joined, split as a shell does."""
    commands = []
    for language, body in BLOCKS:
        if language != "bash":
            continue
        for line in body.replace("\\\n", " ").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                commands.append(shlex.split(line, comments=True))
    return commands


COMMANDS = _commands()
RUN_CONFIGS = [yaml.safe_load(body) for language, body in BLOCKS if language == "yaml"]


def _assignments(words: list[str]) -> tuple[dict[str, str], list[str]]:
    """Leading ``NAME=value`` words (and ``export``'s), and the command after them."""
    if words[0] == "export":
        return dict(word.split("=", 1) for word in words[1:]), []
    env = {}
    while words and re.match(r"^[A-Z_]+=", words[0]):
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    return env, words


def _parse_with(group: click.Group, program: str, args: list[str]) -> None:
    """Let ``group`` parse ``args`` down to the subcommand, without running anything."""
    command: click.Command = group
    while isinstance(command, click.Group) and args and args[0] in command.commands:
        command = command.commands[args.pop(0)]
    assert not isinstance(command, click.Group), f"{program}: no subcommand in {args}"
    command.make_context(program, list(args))


def test_the_guide_has_commands_and_run_config():
    programs = {
        _assignments(list(words))[1][0] for words in COMMANDS if _assignments(list(words))[1]
    }
    assert {"lineage-dagster", "dagster", "curl", "pip"} <= programs
    assert len(RUN_CONFIGS) >= 5


@pytest.mark.parametrize("words", COMMANDS, ids=lambda words: " ".join(words)[:60])
def test_every_command_is_accepted_by_its_parser(words, tmp_path, monkeypatch):
    # Run from a checkout-like folder: the project's files, and a SQL folder named as the guide.
    for name in ("workspace.yaml", "constraints.txt", "lineage_dagster"):
        (tmp_path / name).symlink_to(ROOT / name)
    (tmp_path / "sql").mkdir()
    monkeypatch.chdir(tmp_path)
    env, command = _assignments(list(words))
    for name, value in env.items():
        assert name in FLAG_ENV_VARS.values(), f"unknown variable {name}"
        parse_flag(value, name=name)
    if not command:
        return
    if command[0] == "time":  # the measuring commands
        command = command[1:]
    program, args = command[0], command[1:]
    if program == "lineage-dagster":
        _parse_with(lineage_cli, program, args)
    elif program == "dagster":
        from dagster._cli import cli as dagster_cli

        _parse_with(dagster_cli, program, args)
        if "-w" in args:
            assert Path(args[args.index("-w") + 1]).is_file()
    elif program == "pip":
        _check_pip(args)
    elif program == "curl":
        _check_reload(args)
    else:
        pytest.fail(f"no check for {program!r}: add one")


def _check_pip(args: list[str]) -> None:
    from pip._internal.commands import create_command

    options, requirements = create_command(args[0]).parse_args(args[1:])
    assert all(Path(name).is_file() for name in options.constraints)
    releases = set(
        re.findall(r"^## \[(\d+\.\d+\.\d+)\]", (ROOT / "CHANGELOG.md").read_text(), re.M)
    )
    for requirement in requirements:
        name, version = requirement.split("==")
        assert name == "lineage-dagster" and version in releases, requirement


def _check_reload(args: list[str]) -> None:
    """The reload goes to the webserver's GraphQL endpoint and is a valid mutation there."""
    from dagster_graphql.schema import create_schema

    assert args[args.index("-X") + 1] == "POST"
    assert next(a for a in args if a.startswith("http")).endswith("/graphql")
    body = json.loads(args[args.index("-d") + 1])
    document = graphql.parse(body["query"])
    assert graphql.validate(create_schema().graphql_schema, document) == []
    assert f'repositoryLocationName: "{LOCATION_NAME}"' in body["query"]


@pytest.mark.parametrize("value", re.findall(r"\b(FEATURE_[A-Z_]+)=(\w+)", TEXT))
def test_every_feature_value_in_the_text_is_valid(value):
    name, raw = value
    assert name in FLAG_ENV_VARS.values()
    parse_flag(raw, name=name)


@pytest.mark.parametrize("run_config", RUN_CONFIGS, ids=lambda config: ",".join(config))
def test_every_run_config_snippet_is_valid_for_the_job(run_config, monkeypatch, tmp_path):
    import dagster as dg

    from lineage_dagster.definitions import resolved_ingest_job

    # The code location's EnvVars must be set for the resources to validate.
    for name, value in {"NEO4J_URI": "", "NEO4J_USER": "", "NEO4J_PASSWORD": ""}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LINEAGE_SQL_ROOT", str(tmp_path))
    validated = dg.validate_run_config(resolved_ingest_job(), run_config)
    flags = (run_config.get("resources") or {}).get("feature_flags")
    if flags:
        # A run's resource config replaces the whole resource: the guide sets every flag.
        resource_flags = set(FLAG_ENV_VARS) - {EXECUTOR_FLAG}
        assert set(flags["config"]) == resource_flags
        assert flags["config"]["metrics"] is True, "rollbacks keep metrics on"
    assert validated["resources"]["feature_flags"]["config"]


def test_the_emergency_settings_turn_the_optimisations_off_and_keep_metrics_on():
    (export,) = [words for words in COMMANDS if words[0] == "export" and len(words) > 4]
    env, _ = _assignments(list(export))
    assert set(env) == set(FLAG_ENV_VARS.values())
    result = CliRunner().invoke(lineage_cli, ["flags", "--format", "json"], env=env)
    assert result.exit_code == 0, result.output
    flags = json.loads(result.output)
    assert {name: flag["value"] for name, flag in flags.items()} == {
        "parse_cache": False,
        "batching": False,
        "neo4j_batch": False,
        "parallel": False,
        "metrics": True,
    }
    assert {flag["source"] for flag in flags.values()} == set(FLAG_ENV_VARS.values())


def test_the_runbook_emergency_example_keeps_metrics_on():
    runbook = (ROOT / "docs" / "runbook.md").read_text()
    assert "FEATURE_METRICS=false" not in runbook and "FEATURE_METRICS=off" not in runbook
    assert "ROLLBACK_PROCEDURES.md" in runbook
