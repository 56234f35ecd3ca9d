"""``lineage-dagster lineage``: what feeds a table or column, and what it feeds, from Neo4j.

Exit codes: 0 with an answer (possibly empty), 1 when the table or column is not in the graph
(close matches are suggested) or matches several that differ only in case (they are listed),
2 for usage errors (bad options, NEO4J_URI unset or unusable), 3 when Neo4j cannot be reached
or refuses the credentials.
"""

import json
from collections.abc import Callable
from dataclasses import asdict

import click
import neo4j

from lineage_dagster.cli.connection import Neo4jUnavailable, connect
from lineage_dagster.cli.output import UsageExit, format_option, format_table
from lineage_dagster.graph.read import (
    MAX_DEPTH,
    AmbiguousNameError,
    Direction,
    Lineage,
    UnknownNameError,
    get_column_lineage,
    get_table_lineage,
)


def read_lineage(
    name: str,
    column: str | None,
    *,
    direction: Direction,
    max_depth: int | None,
    conditions: bool = False,
) -> Lineage:
    """Walk the lineage graph of the Neo4j named by NEO4J_URI/NEO4J_USER/NEO4J_PASSWORD."""
    # A read has nothing to wait for: fail fast when the server is down.
    driver = connect("the lineage graph", retry_seconds=5.0)
    try:
        with driver.session() as session:
            if column is None:
                return get_table_lineage(session, name, direction=direction, max_depth=max_depth)
            return get_column_lineage(
                session,
                name,
                column,
                direction=direction,
                max_depth=max_depth,
                conditions=conditions,
            )
    except (UnknownNameError, AmbiguousNameError) as exc:
        raise click.ClickException(str(exc)) from None
    except (neo4j.exceptions.ServiceUnavailable, neo4j.exceptions.AuthError, OSError) as exc:
        raise Neo4jUnavailable(f"Cannot read the lineage graph: {exc}") from None
    finally:
        driver.close()


def render_lineage(lineage: Lineage) -> str:
    """The walk as text: a heading line, then one row per edge reaching each node."""
    noun = lineage.level
    heading = f"{lineage.direction.capitalize()} of {lineage.level} {lineage.start}: "
    if not lineage.nodes:
        text = heading + f"no {noun}s"
    else:
        farthest = max(node.distance for node in lineage.nodes)
        headers = ["DISTANCE", lineage.level.upper(), "EDGE"]
        headers += ["KIND"] if lineage.level == "column" else []
        headers += ["FILE:LINE", "STATEMENT"]
        rows = []
        for node in lineage.nodes:
            for edge in node.edges:
                row = [node.distance, node.name, f"{edge.source} -> {edge.target}"]
                row += [edge.kind] if lineage.level == "column" else []
                where = None if edge.file is None else f"{edge.file}:{edge.line or '?'}"
                rows.append([*row, where, edge.statement_id])
        reach = f"{_count(len(lineage.nodes), noun)}, up to {_count(farthest, 'hop')} away"
        text = heading + reach + "\n"
        text += format_table(headers, rows)
    if lineage.truncated:
        text += f"\n(more lineage lies beyond depth {lineage.max_depth}; raise --depth)"
    return text


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _lineage_options(function: Callable[..., None]) -> Callable[..., None]:
    function = format_option()(function)
    function = click.option(
        "--depth",
        type=click.IntRange(1, MAX_DEPTH),
        default=None,
        help=f"Hops to follow. Default: all (at most {MAX_DEPTH}).",
    )(function)
    function = click.option(
        "--conditions",
        is_flag=True,
        help="With --column: also follow the columns that filter, join or group the rows "
        "(edge kind condition), not only those that carry values.",
    )(function)
    function = click.option(
        "--column",
        "-c",
        default=None,
        help="Follow this column of NAME (column-level lineage) instead of the table.",
    )(function)
    return click.argument("name")(function)


def _run(
    direction: Direction,
    name: str,
    column: str | None,
    conditions: bool,
    depth: int | None,
    output_format: str,
) -> None:
    if conditions and column is None:
        raise UsageExit("--conditions applies to column lineage: add --column COLUMN")
    lineage = read_lineage(
        name, column, direction=direction, max_depth=depth, conditions=conditions
    )
    if output_format == "json":
        click.echo(json.dumps(asdict(lineage), indent=2))
    else:
        click.echo(render_lineage(lineage))


@click.group("lineage")
def lineage_command() -> None:
    """Query the lineage graph: what feeds a table or column, and what it feeds.

    NAME is a table (e.g. risk.exposure) in any case: RISK.EXPOSURE finds it too, whichever
    dialect wrote it; quote a part whose case matters (raw."Fx"). Add --column for the lineage
    of one of its columns. Neo4j is reached through NEO4J_URI, NEO4J_USER and NEO4J_PASSWORD.

    \b
    Exit codes:
      0  answered (possibly with no tables)
      1  unknown or ambiguous table or column; matches are listed
      2  usage error, or NEO4J_URI unset or unusable
      3  Neo4j unreachable or credentials refused
    """


@lineage_command.command("upstream")
@_lineage_options
def upstream_command(
    name: str, column: str | None, conditions: bool, depth: int | None, output_format: str
) -> None:
    """The tables (or columns) NAME is built from, transitively, with the files producing them.

    Column lineage follows the columns that carry values; --conditions adds those that only
    filter, join or group the rows.
    """
    _run("upstream", name, column, conditions, depth, output_format)


@lineage_command.command("downstream")
@_lineage_options
def downstream_command(
    name: str, column: str | None, conditions: bool, depth: int | None, output_format: str
) -> None:
    """The tables (or columns) built from NAME, transitively: what breaks if it changes.

    Column lineage follows values; --conditions adds the columns whose rows NAME's column
    filters, joins or groups.
    """
    _run("downstream", name, column, conditions, depth, output_format)
