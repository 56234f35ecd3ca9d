"""The long-running commands stopped by a signal, as real processes: `lineage-dagster dev`
started the way `nohup make dev &` starts it (own session, no terminal, SIGHUP and SIGINT
ignored) and stopped with SIGTERM, or stopped with Ctrl-C (SIGINT to its process group, as a
terminal sends it), lets Dagster run its own shutdown and leaves none of its processes (Dagster
webserver, daemon and code servers, Neo4j, Prometheus, Pushgateway); `lineage-dagster neo4j
start` with NEO4J_PASSWORD set names that variable as the password's source (no `.password`
file), keeps its store and credential fingerprint to its owner, and stops on SIGTERM."""

import os
import signal
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from lineage_dagster.devstack.local_neo4j import find_free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.faults]

CLI = str(Path(sys.executable).with_name("lineage-dagster"))
STOP_TIMEOUT = 60


def _env(**extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("NEO4J_", "LINEAGE_", "FEATURE_", "DAGSTER_HOME"))
    }
    env.update(extra)
    return env


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"Timed out after {timeout:.0f} s waiting for {what}")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def _left(tree: list[psutil.Process]) -> list[str]:
    return [
        " ".join(p.cmdline())[:150]
        for p in tree
        if p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    ]


@pytest.mark.parametrize("how", ["sigterm-under-nohup", "ctrl-c"])
def test_dev_stops_everything_it_started(tmp_path: Path, how: str):
    root = tmp_path / "sql"
    (root / "risk").mkdir(parents=True)
    (root / "risk" / "a.sql").write_text("INSERT INTO risk.a (x) SELECT x FROM stg.src;\n")
    port, bolt, gateway, prometheus = (find_free_port() for _ in range(4))
    command = [CLI, "dev", "--sql-root", str(root), "--state-dir", str(tmp_path / "state")]
    command += ["--port", str(port), "--neo4j-port", str(bolt)]
    command += ["--pushgateway-port", str(gateway), "--prometheus-port", str(prometheus)]
    if how == "sigterm-under-nohup":
        # What `nohup make dev &` gives a process in a script: SIGHUP and SIGINT ignored.
        command = ["sh", "-c", 'trap "" HUP INT; exec "$@"', "sh", *command]
    log_path = tmp_path / "dev.log"
    with log_path.open("w") as log:
        dev = subprocess.Popen(
            command,
            env=_env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_for(
            lambda: (
                dev.poll() is None
                and _answers(f"http://127.0.0.1:{port}/server_info")
                and _answers(f"http://127.0.0.1:{prometheus}/-/ready")
            ),
            300,
            f"the Dagster UI and Prometheus; log:\n{log_path.read_text()[-3000:]}",
        )
        tree = _tree(dev.pid)
        names = " ".join(" ".join(p.cmdline()) for p in tree)
        for service in ("Neo4jLauncher", "prometheus-pushgateway", "dagster_webserver"):
            assert service in names
        started = time.monotonic()
        if how == "ctrl-c":
            os.killpg(dev.pid, signal.SIGINT)
        else:
            dev.send_signal(signal.SIGTERM)
        dev.wait(STOP_TIMEOUT)
        psutil.wait_procs(tree, timeout=STOP_TIMEOUT)
        took = time.monotonic() - started
    finally:
        if dev.poll() is None:
            os.killpg(dev.pid, signal.SIGKILL)
    output = log_path.read_text()
    assert dev.returncode == 0, output[-3000:]
    assert _left(tree) == []
    # Dagster's own shutdown ran (stopping its webserver and daemon; `dagster dev` then exits
    # 0), not a kill.
    assert "Dagster shut down cleanly" in output, output[-3000:]
    assert "did not terminate cleanly" not in output
    print(f"dev stopped everything in {took:.1f} s ({how})")


def test_neo4j_start_names_the_password_source_and_keeps_its_files_private(tmp_path: Path):
    home = tmp_path / "neo4j"
    password = "from-the-environment-1"
    server = subprocess.Popen(
        [CLI, "neo4j", "start", "--home", str(home), "--port", str(find_free_port())],
        env=_env(NEO4J_PASSWORD=password),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        assert server.stdout is not None
        lines = []
        for line in server.stdout:
            lines.append(line)
            if line.startswith("Password:"):
                break
        assert lines and lines[-1].strip() == "Password: NEO4J_PASSWORD", lines
        assert not (home / ".password").exists()
        tree = _tree(server.pid)
        server.send_signal(signal.SIGTERM)
        rest = server.communicate(timeout=STOP_TIMEOUT)[0]
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
    assert server.returncode == 0
    assert "Neo4j stopped." in rest
    psutil.wait_procs(tree, timeout=STOP_TIMEOUT)
    assert _left(tree) == []
    assert (home / "data" / ".lineage-credentials").is_file()
    shared = [
        str(path.relative_to(home))
        for path in [home, *home.rglob("*")]
        if stat.S_IMODE(path.lstat().st_mode) & 0o077
    ]
    assert shared == []
