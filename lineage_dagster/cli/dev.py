"""``lineage-dagster dev``: Neo4j, the Dagster UI and a first ingest of the sample corpus."""

import os
import subprocess
import sys
from pathlib import Path

import click

from lineage_dagster.cli.processes import interrupt_on_sigterm, stop_process_group, wait_for_http
from lineage_dagster.constants import ENV_SQL_ROOT
from lineage_dagster.local_neo4j import LocalNeo4j, Neo4jLauncherError, local_password

SAMPLE_CORPUS = Path(__file__).resolve().parent.parent / "sample_corpus"
DAGSTER_YAML = """\
# Written by `lineage-dagster dev`: a local instance on SQLite storage.
telemetry:
  enabled: false
run_queue:
  max_concurrent_runs: 2
  # One run per folder at a time: two runs replacing the same files could interleave.
  tag_concurrency_limits:
    - key: dagster/partition
      value:
        applyLimitPerUniqueValue: true
      limit: 1
"""


def prepare_dagster_home(path: Path) -> Path:
    """Create a project-local DAGSTER_HOME with its dagster.yaml, keeping an existing one."""
    path.mkdir(parents=True, exist_ok=True)
    config = path / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    return path


@click.command("dev")
@click.option(
    "--sql-root",
    type=click.Path(file_okay=False, path_type=Path),
    default=SAMPLE_CORPUS,
    show_default="the shipped sample corpus",
    envvar=ENV_SQL_ROOT,
    help="Folder of SQL files to watch and ingest (LINEAGE_SQL_ROOT).",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".lineage"),
    show_default=True,
    help="Where the local Neo4j data and DAGSTER_HOME live.",
)
@click.option("--port", type=int, default=3000, show_default=True, help="Dagster UI port.")
@click.option(
    "--neo4j-port",
    type=int,
    default=7687,
    show_default=True,
    help="Bolt port of the local Neo4j (ignored when NEO4J_URI is set).",
)
def dev_command(sql_root: Path, state_dir: Path, port: int, neo4j_port: int) -> None:
    """Start Neo4j (unless NEO4J_URI is set) and `dagster dev` on 127.0.0.1; Ctrl-C stops both.

    The ingest sensor is on, so the SQL folder is ingested right away and again on every change.
    """
    state_dir = state_dir.resolve()
    env = dict(os.environ)
    env[ENV_SQL_ROOT] = str(sql_root.resolve())
    env["DAGSTER_HOME"] = str(prepare_dagster_home(state_dir / "dagster_home"))
    neo4j: LocalNeo4j | None = None
    webserver: subprocess.Popen | None = None
    interrupt_on_sigterm()
    try:
        if env.get("NEO4J_URI"):
            env.setdefault("NEO4J_USER", "neo4j")
            env.setdefault("NEO4J_PASSWORD", "")
            click.echo(f"Using the Neo4j at {env['NEO4J_URI']} (NEO4J_URI).")
        else:
            home = state_dir / "neo4j"
            user = env.get("NEO4J_USER") or "neo4j"
            password = env.get("NEO4J_PASSWORD") or local_password(home)
            click.echo(f"Starting Neo4j on bolt://127.0.0.1:{neo4j_port} (data in {home}) ...")
            neo4j = LocalNeo4j(home, port=neo4j_port, user=user, password=password).start()
            env.update(NEO4J_URI=neo4j.uri, NEO4J_USER=user, NEO4J_PASSWORD=password)
        dagster = Path(sys.executable).with_name("dagster")
        webserver = subprocess.Popen(
            [
                str(dagster),
                "dev",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-m",
                "lineage_dagster.definitions",
            ],
            env=env,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{url}/server_info", webserver)
        click.echo(
            f"\nDagster UI: {url}  (runs: {url}/runs)\n"
            f"Neo4j:      {env['NEO4J_URI']} as {env['NEO4J_USER']}"
            + (f" (password in {neo4j.home / '.password'})" if neo4j else "")
            + f"\nWatching:   {env[ENV_SQL_ROOT]}\nCtrl-C stops everything.\n"
        )
        if neo4j is not None:
            click.echo(
                "For the CLI in another shell:\n"
                f"  export NEO4J_URI={neo4j.uri} NEO4J_USER={env['NEO4J_USER']} "
                f"NEO4J_PASSWORD=$(cat {neo4j.home / '.password'})\n"
            )
        webserver.wait()
    except KeyboardInterrupt:
        click.echo("\nStopping ...")
    except (Neo4jLauncherError, RuntimeError, TimeoutError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        if webserver is not None:
            stop_process_group(webserver)
        if neo4j is not None:
            neo4j.stop()
