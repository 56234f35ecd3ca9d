"""``lineage-dagster neo4j``: run the project's embedded Neo4j by hand."""

import os
from pathlib import Path

import click

from lineage_dagster.cli.processes import interrupt_on_sigterm
from lineage_dagster.devstack.local_neo4j import (
    PASSWORD_FILE,
    LocalNeo4j,
    Neo4jLauncherError,
    local_password,
    read_pid,
)

DEFAULT_HOME = Path(".lineage") / "neo4j"


@click.group("neo4j")
def neo4j_command() -> None:
    """Start or stop the local embedded Neo4j."""


@neo4j_command.command("start")
@click.option(
    "--home",
    type=click.Path(path_type=Path),
    default=DEFAULT_HOME,
    show_default=True,
    help="Folder of the Neo4j data, logs and password.",
)
@click.option("--port", type=int, default=7687, show_default=True, help="Bolt port on 127.0.0.1.")
def start_command(home: Path, port: int) -> None:
    """Run Neo4j in the foreground until Ctrl-C (password: NEO4J_PASSWORD or generated)."""
    user = os.environ.get("NEO4J_USER") or "neo4j"
    password = os.environ.get("NEO4J_PASSWORD")
    source = "NEO4J_PASSWORD"
    if not password:
        password = local_password(home)
        source = f"the file {home.resolve() / PASSWORD_FILE}"
    server = LocalNeo4j(home, port=port, user=user, password=password)
    # Before starting: a signal while Neo4j starts must stop it too (it runs in its own session).
    interrupt_on_sigterm()
    try:
        server.start()
        click.echo(f"Neo4j ready on {server.uri} (user {user}); Ctrl-C stops it.")
        click.echo(f"Password: {source}")
        assert server.process is not None
        server.process.wait()
    except Neo4jLauncherError as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        click.echo("Neo4j stopped.")


@neo4j_command.command("stop")
@click.option("--home", type=click.Path(path_type=Path), default=DEFAULT_HOME, show_default=True)
def stop_command(home: Path) -> None:
    """Stop the Neo4j whose data is in HOME (by the PID it recorded)."""
    pid = read_pid(home)
    if pid is None:
        raise click.ClickException(f"No local Neo4j runs with data in {home}")
    LocalNeo4j(home).stop()
    click.echo(f"Stopped Neo4j (pid {pid}).")
