"""``lineage-dagster dev``: Neo4j, the Dagster UI and a first ingest of the sample corpus."""

import contextlib
import os
import re
import shutil
import subprocess
import sys
import threading
from contextlib import ExitStack
from pathlib import Path
from typing import IO

import click
import psutil

from lineage_dagster.cli.instance import prepare_dagster_home
from lineage_dagster.cli.processes import interrupt_on_sigterm, stop_process_group, wait_for_http
from lineage_dagster.devstack.local_neo4j import (
    PASSWORD_FILE,
    LocalNeo4j,
    Neo4jLauncherError,
    local_password,
    port_in_use,
)
from lineage_dagster.devstack.local_prometheus import (
    LocalServiceError,
    run_prometheus,
    run_pushgateway,
)
from lineage_dagster.settings.environment import (
    ENV_PUSHGATEWAY_URL,
    ENV_SQL_ROOT,
    ENV_WEBSERVER_URL,
)

ANSI_ESCAPE = re.compile(rb"\x1b\[[0-9;]*[A-Za-z]")
DAGSTER_DEV_SUPERSEDED = "Function `dev_command` is superseded"
SAMPLE_CORPUS = Path(__file__).resolve().parent.parent / "sample_corpus"
# The project's workspace.yaml (the code location `dagster dev` loads), next to pyproject.toml.
WORKSPACE_FILE = Path(__file__).resolve().parents[2] / "workspace.yaml"


@click.command("dev")
@click.option(
    "--sql-root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    show_default="a copy of the shipped sample corpus in STATE_DIR/sql",
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
@click.option(
    "--pushgateway-port",
    type=int,
    default=9091,
    show_default=True,
    help="Port of the local Prometheus Pushgateway that runs push their metrics to.",
)
@click.option(
    "--prometheus-port",
    type=int,
    default=9090,
    show_default=True,
    help="Port of the local Prometheus that scrapes the Pushgateway.",
)
def dev_command(
    sql_root: Path | None,
    state_dir: Path,
    port: int,
    neo4j_port: int,
    pushgateway_port: int,
    prometheus_port: int,
) -> None:
    """Start Neo4j, Prometheus and `dagster dev` on 127.0.0.1; Ctrl-C stops them all.

    The ingest sensor is on, so the SQL folder is ingested right away and again on every change.
    Without --sql-root, it watches a copy of the sample corpus in STATE_DIR/sql, so files dropped
    there stay out of the project's files. An existing Neo4j (NEO4J_URI) or Pushgateway
    (LINEAGE_PUSHGATEWAY_URL) is used instead of a local one when set; without the Prometheus
    binaries, runs go on without metrics.
    """
    state_dir = state_dir.resolve()
    env = dict(os.environ)
    env[ENV_SQL_ROOT] = str((sql_root or sample_copy(state_dir / "sql")).resolve())
    env["DAGSTER_HOME"] = str(prepare_dagster_home(state_dir / "dagster_home"))
    interrupt_on_sigterm()
    webserver: subprocess.Popen | None = None
    with ExitStack() as started:
        try:
            lines = [
                _start_neo4j(started, env, state_dir / "neo4j", neo4j_port),
                _start_metrics(
                    started, env, state_dir / "metrics", pushgateway_port, prometheus_port
                ),
            ]
            webserver, url = _start_dagster(started, env, port)
            wait_for_http(f"{url}/server_info", webserver)
            click.echo(
                f"\nDagster UI: {url}  (runs: {url}/runs)\n"
                + "\n".join(lines)
                + f"\nWatching:   {env[ENV_SQL_ROOT]}\n"
                + f"Another shell, for the lineage-dagster CLI:\n  {_exports(env, state_dir)}\n"
                + "Ctrl-C stops everything.\n"
            )
            webserver.wait()
        except KeyboardInterrupt:
            click.echo("\nStopping ...")
            # Neo4j and the metrics services shut down while Dagster does (each takes seconds);
            # Dagster gets its signal from stop_process_group, once (a second one would cut its
            # own shutdown short).
            for child in psutil.Process().children():
                if webserver is None or child.pid != webserver.pid:
                    with contextlib.suppress(psutil.NoSuchProcess):
                        child.terminate()
        except (Neo4jLauncherError, LocalServiceError, RuntimeError, TimeoutError) as exc:
            raise click.ClickException(str(exc)) from exc


def sample_copy(folder: Path) -> Path:
    """``folder``, a copy of the sample corpus made on first use and kept as the user left it."""
    if not folder.exists():
        shutil.copytree(SAMPLE_CORPUS, folder)
    return folder


def _start_neo4j(started: ExitStack, env: dict[str, str], home: Path, port: int) -> str:
    if env.get("NEO4J_URI"):
        env.setdefault("NEO4J_USER", "neo4j")
        env.setdefault("NEO4J_PASSWORD", "")
        return f"Neo4j:      {env['NEO4J_URI']} (NEO4J_URI)"
    user = env.get("NEO4J_USER") or "neo4j"
    password = env.get("NEO4J_PASSWORD") or local_password(home)
    click.echo(f"Starting Neo4j on bolt://127.0.0.1:{port} (data in {home}) ...")
    neo4j = started.enter_context(LocalNeo4j(home, port=port, user=user, password=password))
    env.update(NEO4J_URI=neo4j.uri, NEO4J_USER=user, NEO4J_PASSWORD=password)
    return f"Neo4j:      {neo4j.uri} as {user} (password in {home / PASSWORD_FILE})"


def _exports(env: dict[str, str], state_dir: Path) -> str:
    """The ``export`` line that gives another shell what the CLI needs (never a password
    itself: the local one is read from its file)."""
    password_file = state_dir / "neo4j" / PASSWORD_FILE
    names = ["NEO4J_URI", "NEO4J_USER", "DAGSTER_HOME", ENV_PUSHGATEWAY_URL]
    exports = [f"{name}={env[name]}" for name in names if env.get(name)]
    if password_file.exists() and env.get("NEO4J_PASSWORD") == local_password(password_file.parent):
        exports.append(f"NEO4J_PASSWORD=$(cat {password_file})")
    else:
        exports.append("NEO4J_PASSWORD=...")
    return "export " + " ".join(exports)


def _start_metrics(
    started: ExitStack, env: dict[str, str], workdir: Path, gateway_port: int, prometheus_port: int
) -> str:
    if env.get(ENV_PUSHGATEWAY_URL):
        return f"Metrics:    pushed to {env[ENV_PUSHGATEWAY_URL]} ({ENV_PUSHGATEWAY_URL})"
    busy = [p for p in (gateway_port, prometheus_port) if port_in_use(p)]
    if busy:
        return f"Metrics:    off: port(s) {busy} already in use (see --pushgateway-port)"
    try:
        gateway = started.enter_context(run_pushgateway(workdir / "pushgateway", gateway_port))
    except LocalServiceError as exc:
        return f"Metrics:    off: {exc}"
    prometheus = started.enter_context(
        run_prometheus(workdir / "prometheus", prometheus_port, gateway.split("//", 1)[1])
    )
    env[ENV_PUSHGATEWAY_URL] = gateway
    return f"Metrics:    Prometheus {prometheus} (Pushgateway {gateway}; dashboard: docs/grafana)"


def _start_dagster(
    started: ExitStack, env: dict[str, str], port: int
) -> tuple[subprocess.Popen, str]:
    url = f"http://127.0.0.1:{port}"
    # Runs that change the graph ask this webserver to reload the code location, so the table
    # assets follow ingestion without a restart.
    env[ENV_WEBSERVER_URL] = url
    webserver = subprocess.Popen(
        [
            sys.executable,
            # `dg dev` (the separate dagster-dg-cli package) supersedes `dagster dev` for dg
            # projects and runs this same command; this project is not a dg project.
            "-W",
            f"ignore:{DAGSTER_DEV_SUPERSEDED}",
            "-m",
            "dagster",
            "dev",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            # The webserver's and daemon's routine messages (a line per sensor tick) are in
            # the UI; runs print their ops' messages whatever this level.
            "--log-level",
            "warning",
            *(
                ["-w", str(WORKSPACE_FILE)]
                if WORKSPACE_FILE.is_file()
                else ["-m", "lineage_dagster.definitions"]  # installed without the project
            ),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert webserver.stdout is not None
    forwarder = threading.Thread(
        target=_forward_output,
        args=(webserver.stdout, sys.stdout.buffer, not sys.stdout.isatty()),
        daemon=True,
    )
    forwarder.start()
    # Stopped first, then its last lines are printed, then how it ended (an ExitStack unwinds
    # in reverse).
    started.callback(_report_dagster_exit, webserver)
    started.callback(forwarder.join, 5)
    started.callback(stop_process_group, webserver)
    return webserver, url


def _report_dagster_exit(process: subprocess.Popen) -> None:
    """Say whether ``dagster dev`` ran its own shutdown (it then exits 0; its INFO lines are
    below the log level it runs at) or had to be killed."""
    if process.returncode == 0:
        click.echo("Dagster shut down cleanly (webserver and daemon stopped by dagster dev).")
    else:
        click.echo(f"Dagster ended with exit code {process.returncode}.", err=True)


def _forward_output(source: IO[bytes], target: IO[bytes], strip_colors: bool) -> None:
    """Copy ``source`` to ``target`` line by line, without colour codes when ``strip_colors``
    (Dagster's daemon colours its lines even when they go to a file)."""
    for line in iter(source.readline, b""):
        # A closed terminal or reader must not stop the draining, or Dagster would block.
        with contextlib.suppress(OSError):
            target.write(ANSI_ESCAPE.sub(b"", line) if strip_colors else line)
            target.flush()
