"""``lineage-dagster flags``: the effective feature flags and where each value comes from."""

import json
import os
from collections.abc import Mapping, Sequence
from types import ModuleType

import click

EXIT_USAGE = 2


class UsageExit(click.ClickException):
    """A configuration mistake the user must fix: prints ``Error: ...`` and exits with 2."""

    exit_code = EXIT_USAGE


def load_config() -> ModuleType:
    """``lineage_dagster.config``, imported on first use.

    Importing it reads the FEATURE_* variables and raises on a bad value; imported late, that
    becomes a usage error of the commands that need flags, not a traceback of every command.

    Raises:
        UsageExit: A FEATURE_* variable holds a value that is not on/off.
    """
    try:
        import lineage_dagster.config as config
    except ValueError as exc:
        raise UsageExit(str(exc)) from None
    return config


def effective_flags(environ: Mapping[str, str] = os.environ) -> dict[str, tuple[bool, str]]:
    """Each flag's value and source (``default`` or its ``FEATURE_*`` variable).

    Raises:
        UsageExit: A variable holds a value that is not on/off; every bad one is named.
    """
    config = load_config()
    try:
        return config.flag_defaults(environ)
    except ValueError:
        errors = []
        for variable in config.FLAG_ENV_VARS.values():
            try:
                config.flag_defaults({variable: environ.get(variable, "")})
            except ValueError as exc:
                errors.append(str(exc))
        raise UsageExit("; ".join(errors)) from None


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Left-aligned columns separated by two spaces, for terminal output.

    >>> print(format_table(["A", "BB"], [["x", 1], ["yyy", None]]))
    A    BB
    x    1
    yyy  -
    """
    cells = [[str(h) for h in headers]] + [["-" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )


def on_off(value: bool) -> str:
    return "on" if value else "off"


@click.command("flags")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Output as an aligned table or as JSON.",
)
def flags_command(output_format: str) -> None:
    """Print the effective feature flags, each with its value and source.

    A flag comes from its FEATURE_* variable when that is set (true/false, on/off, 1/0,
    yes/no), else from the built-in default. `parallel` picks the executor of a run
    (multiprocess when on, in-process when off). Exits with 2 when a variable holds a bad value.
    """
    flags = effective_flags()
    variables = load_config().FLAG_ENV_VARS
    if output_format == "json":
        payload = {
            name: {"value": value, "source": source, "variable": variables[name]}
            for name, (value, source) in flags.items()
        }
        click.echo(json.dumps(payload, indent=2))
        return
    rows = [[name, on_off(value), source] for name, (value, source) in flags.items()]
    click.echo(format_table(["FLAG", "VALUE", "SOURCE"], rows))
