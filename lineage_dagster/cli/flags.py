"""``lineage-dagster flags``: the effective feature flags and where each value comes from."""

import json
import os
from collections.abc import Mapping

import click

from lineage_dagster.cli.output import UsageExit, format_option, format_table, on_off
from lineage_dagster.settings.flags import FLAG_ENV_VARS, flag_defaults


def effective_flags(environ: Mapping[str, str] = os.environ) -> dict[str, tuple[bool, str]]:
    """Each flag's value and source (``default`` or its ``FEATURE_*`` variable).

    Raises:
        UsageExit: A variable holds a value that is not on/off; every bad one is named.
    """
    try:
        return flag_defaults(environ)
    except ValueError as exc:
        raise UsageExit(str(exc)) from None


@click.command("flags")
@format_option()
def flags_command(output_format: str) -> None:
    """Print the effective feature flags, each with its value and source.

    A flag comes from its FEATURE_* variable when that is set (true/false, on/off, 1/0,
    yes/no), else from the built-in default. `parallel` picks the executor of a run
    (multiprocess when on, in-process when off). Exits with 2 when a variable holds a bad value.
    """
    flags = effective_flags()
    if output_format == "json":
        payload = {
            name: {"value": value, "source": source, "variable": FLAG_ENV_VARS[name]}
            for name, (value, source) in flags.items()
        }
        click.echo(json.dumps(payload, indent=2))
        return
    rows = [[name, on_off(value), source] for name, (value, source) in flags.items()]
    click.echo(format_table(["FLAG", "VALUE", "SOURCE"], rows))
