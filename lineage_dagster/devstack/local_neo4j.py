"""Build, start and stop the project's embedded Neo4j (the launcher in ``neo4j-launcher/``).

Used by the CLI, the dev command and the test fixtures. The launcher is a small Java program
running Neo4j Community 5.26 LTS embedded with Bolt on 127.0.0.1, so no Docker is needed.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

LAUNCHER_DIR = Path(__file__).resolve().parents[2] / "neo4j-launcher"
MAIN_CLASS = "io.lineagedagster.neo4j.Neo4jLauncher"
READY_MARKER = "READY bolt://"
PID_FILE = "launcher.pid"
LOG_FILE = "launcher.log"
PASSWORD_FILE = ".password"


class Neo4jLauncherError(RuntimeError):
    """The local Neo4j could not be built, started or stopped."""


def find_free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_in_use(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:``port``."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def local_password(home: Path) -> str:
    """The password of the local Neo4j in ``home``: generated once, kept beside its data."""
    path = home / PASSWORD_FILE
    if path.exists():
        return path.read_text().strip()
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    password = secrets.token_urlsafe(18)
    path.touch(mode=0o600)
    path.write_text(password)
    return password


def build_launcher(launcher_dir: Path = LAUNCHER_DIR) -> str:
    """Compile the launcher with Maven if its sources changed; return its Java classpath."""
    if not (launcher_dir / "pom.xml").is_file():
        # An installed package has no launcher: it is a Maven project beside the package.
        raise Neo4jLauncherError(
            "The local Neo4j is built from the neo4j-launcher/ folder of a clone of the "
            "lineage-dagster project, which an installed package does not include: run this "
            "command from a clone (make dev), or set NEO4J_URI to a Neo4j 5 server you run."
        )
    _require_tool(
        "java", "a Java 17 runtime (for example the Debian package openjdk-17-jre-headless)"
    )
    classes = launcher_dir / "target" / "classes"
    lib = launcher_dir / "target" / "lib"
    compiled = classes / (MAIN_CLASS.replace(".", "/") + ".class")
    sources = [launcher_dir / "pom.xml", *launcher_dir.glob("src/**/*.java")]
    if not compiled.exists() or not any(lib.glob("*.jar")) or _newer(sources, compiled):
        _require_tool("mvn", "Maven 3 (for example the Debian package maven)")
        result = subprocess.run(
            ["mvn", "-B", "-q", "package"],
            cwd=launcher_dir,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise Neo4jLauncherError(
                f"Building the Neo4j launcher failed (mvn exit {result.returncode}):\n"
                + (result.stdout + result.stderr)[-4000:]
            )
    return f"{lib}/*{os.pathsep}{classes}"


@dataclass
class LocalNeo4j:
    """One embedded Neo4j process, with its data in ``home``.

    Example:
        >>> with LocalNeo4j(Path(".lineage/neo4j"), port=7687, password="s3cret-pass") as db:
        ...     print(db.uri)  # doctest: +SKIP
    """

    home: Path
    port: int = 7687
    user: str = "neo4j"
    password: str | None = None
    heap: str = "2g"
    """JVM heap: a load transaction's state lives there (measured on the 1,000-file benchmark
    corpus: 1 GB halved write throughput against 2 GB)."""
    page_cache_mb: int = 512
    transaction_max_mb: int | None = None
    """``db.memory.transaction.max``; ``None`` keeps Neo4j's default (bounded by the heap)."""
    startup_timeout: float = 180.0
    process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.home / LOG_FILE

    def start(self) -> LocalNeo4j:
        """Start Neo4j and wait until Bolt accepts logins."""
        self.home = self.home.resolve()
        self.home.mkdir(parents=True, exist_ok=True)
        # The store and the launcher's credential fingerprint are the owner's alone.
        self.home.chmod(0o700)
        running = read_pid(self.home)
        if running is not None:
            raise Neo4jLauncherError(
                f"A local Neo4j (pid {running}) already runs with data in {self.home}; "
                f"stop it with `lineage-dagster neo4j stop --home {self.home}`"
            )
        if port_in_use(self.port):
            raise Neo4jLauncherError(
                f"Port {self.port} on 127.0.0.1 is already in use: choose another Neo4j port "
                "or point NEO4J_URI at the Neo4j that listens there"
            )
        classpath = build_launcher()
        env = {
            **os.environ,
            "NEO4J_USER": self.user,
            "NEO4J_PASSWORD": self.password or "",
            "NEO4J_PAGECACHE_MB": str(self.page_cache_mb),
            "NEO4J_TRANSACTION_MAX_MB": str(self.transaction_max_mb or ""),
        }
        for own_file in (self.log_path, self.home / PID_FILE):
            own_file.touch(mode=0o600)
            own_file.chmod(0o600)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    "java",
                    f"-Xms{self.heap}",
                    f"-Xmx{self.heap}",
                    # Throughput over pause times: loads are batch work (a quarter faster
                    # than G1 on the benchmark corpus).
                    "-XX:+UseParallelGC",
                    "-cp",
                    classpath,
                    MAIN_CLASS,
                    str(self.home),
                    str(self.port),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
                # The store, logs and credential fingerprint it writes: the owner's alone.
                umask=0o077,
            )
        (self.home / PID_FILE).write_text(str(self.process.pid))
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 60.0) -> None:
        """Stop Neo4j gracefully (SIGTERM), killing it if it has not exited in ``timeout``."""
        if self.process is not None:
            _terminate(self.process.pid, timeout, self.process)
            self.process = None
        else:
            pid = read_pid(self.home)
            if pid is not None:
                _terminate(pid, timeout)
        with contextlib.suppress(FileNotFoundError):
            (self.home / PID_FILE).unlink()

    def __enter__(self) -> LocalNeo4j:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _wait_until_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise Neo4jLauncherError(
                    f"Neo4j exited with code {self.process.returncode} while starting; "
                    f"its output:\n{self._log_tail()}"
                )
            if READY_MARKER in self.log_path.read_text(errors="replace") and port_in_use(self.port):
                return
            time.sleep(0.2)
        raise Neo4jLauncherError(
            f"Neo4j did not become ready on {self.uri} within {self.startup_timeout:.0f} s; "
            f"its output:\n{self._log_tail()}"
        )

    def _log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def read_pid(home: Path) -> int | None:
    """The PID of the launcher running with data in ``home``, if it is alive."""
    try:
        pid = int((home / PID_FILE).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists() and MAIN_CLASS.encode() not in cmdline.read_bytes():
        return None  # the PID was reused by an unrelated process
    return pid


def _terminate(pid: int, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None:
            if process.poll() is not None:
                return
        elif not _alive(pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if process is not None:
        process.wait()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    # A zombie (state Z) has exited; only its parent can reap it.
    return not (stat.exists() and stat.read_text().split(") ")[-1].startswith("Z"))


def _newer(sources: list[Path], target: Path) -> bool:
    built = target.stat().st_mtime
    return any(source.stat().st_mtime > built for source in sources)


def _require_tool(name: str, what: str) -> None:
    if shutil.which(name) is None:
        raise Neo4jLauncherError(
            f"`{name}` was not found on PATH: install {what} to run the local Neo4j, "
            "or set NEO4J_URI to use an existing Neo4j instead."
        )
