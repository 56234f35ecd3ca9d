"""A throwaway PostgreSQL cluster on loopback, for the production-profile tests (no Dagster here).

``initdb`` creates the cluster in a folder of ours and ``pg_ctl`` starts and stops it on a port
of our choosing: TCP on 127.0.0.1 with a password (scram-sha-256), the Unix socket in the same
folder. Debian keeps these binaries off PATH (``/usr/lib/postgresql/<version>/bin``), so they are
looked for there too. PostgreSQL refuses to run as root: as root, the cluster runs as the
``postgres`` user the Debian package creates.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

DEBIAN_BIN_DIRS = "/usr/lib/postgresql/*/bin"
SERVER_USER = "postgres"
"""The system user a root caller runs the cluster as (created by Debian's ``postgresql``)."""
START_TIMEOUT_SECONDS = 60


class LocalPostgresError(RuntimeError):
    """The local PostgreSQL could not be found, created, started or stopped."""


def postgres_bin_dir() -> Path:
    """The folder holding ``initdb`` and ``pg_ctl``: from PATH, else Debian's newest version."""
    on_path = shutil.which("initdb")
    if on_path is not None:
        folder = Path(on_path).resolve().parent
        if (folder / "pg_ctl").exists():
            return folder
    debian = sorted(
        (folder for folder in Path("/").glob(DEBIAN_BIN_DIRS.lstrip("/")) if _has_server(folder)),
        key=_major_version,
    )
    if debian:
        return debian[-1]
    raise LocalPostgresError(
        "PostgreSQL's initdb and pg_ctl were found neither on PATH nor in "
        f"{DEBIAN_BIN_DIRS}: install the Debian package `postgresql` "
        "(`make test` does this when run as root)."
    )


@dataclass
class LocalPostgres:
    """One PostgreSQL cluster with its data, socket and log in ``home``.

    Example:
        >>> with LocalPostgres(Path("/tmp/pg"), port=55432, password="s3cret") as pg:
        ...     print(pg.host, pg.port, pg.database)  # doctest: +SKIP
    """

    home: Path
    port: int
    password: str
    user: str = "dagster"
    database: str = "dagster"
    host: str = "127.0.0.1"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def log_path(self) -> Path:
        return self.home / "postgres.log"

    def start(self) -> LocalPostgres:
        """Create the cluster (first time only), start it, and create the database."""
        self.home = self.home.resolve()
        self.home.mkdir(parents=True, exist_ok=True)
        self.home.chmod(0o700)
        owner = _server_owner()
        if owner is not None:
            _check_reachable(self.home, owner)
            os.chown(self.home, owner.pw_uid, owner.pw_gid)
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(owner)
        options = (
            f"-c listen_addresses={self.host} -c port={self.port} "
            f"-c unix_socket_directories={self.home} -c fsync=off"
        )
        self._run(
            owner,
            "pg_ctl",
            "start",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_path),
            "-w",
            "-t",
            str(START_TIMEOUT_SECONDS),
            "-o",
            options,
        )
        try:
            if not self._database_exists(owner):
                self._run(owner, "createdb", *self._socket_args(), self.database)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the cluster (fast shutdown: sessions are ended); kill it if it does not stop."""
        pid = self.server_pid()
        if pid is None:
            return
        owner = _server_owner()
        with contextlib.suppress(LocalPostgresError):
            self._run(
                owner, "pg_ctl", "stop", "-D", str(self.data_dir), "-m", "fast", "-w",
                "-t", str(int(timeout)),
            )  # fmt: skip
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGQUIT)  # PostgreSQL's immediate shutdown
            deadline = time.monotonic() + timeout
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)

    def server_pid(self) -> int | None:
        """The PID of the running postmaster, if any (from ``postmaster.pid``)."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (FileNotFoundError, ValueError):
            return None
        return pid if _alive(pid) else None

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _initdb(self, owner: pwd.struct_passwd | None) -> None:
        password_file = self.home / ".pwfile"
        password_file.touch(mode=0o600)
        password_file.write_text(self.password)
        if owner is not None:
            os.chown(password_file, owner.pw_uid, owner.pw_gid)
        try:
            self._run(
                owner,
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                self.user,
                f"--pwfile={password_file}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--no-instructions",
                "--no-sync",  # a throwaway cluster: no need to wait for the disk
            )
        finally:
            password_file.unlink()

    def _database_exists(self, owner: pwd.struct_passwd | None) -> bool:
        query = f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'"
        result = self._run(owner, "psql", *self._socket_args(), "-tAc", query, "postgres")
        return result.strip() == "1"

    def _socket_args(self) -> list[str]:
        return ["-h", str(self.home), "-p", str(self.port), "-U", self.user]

    def _run(self, owner: pwd.struct_passwd | None, tool: str, *args: str) -> str:
        result = subprocess.run(
            [str(postgres_bin_dir() / tool), *args],
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
            cwd=self.home,
            user=owner.pw_uid if owner else None,
            group=owner.pw_gid if owner else None,
            extra_groups=[] if owner else None,
        )
        if result.returncode != 0:
            log = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
            raise LocalPostgresError(
                f"`{tool} {' '.join(args)}` failed (exit {result.returncode}):\n"
                f"{(result.stdout + result.stderr)[-2000:]}{log[-2000:]}"
            )
        return result.stdout


def _has_server(folder: Path) -> bool:
    return (folder / "initdb").exists() and (folder / "pg_ctl").exists()


def _major_version(folder: Path) -> int:
    match = re.search(r"/(\d+)/bin$", str(folder))
    return int(match.group(1)) if match else 0


def _server_owner() -> pwd.struct_passwd | None:
    """Who the cluster runs as: ourselves, or the ``postgres`` user when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise LocalPostgresError(
            f"PostgreSQL refuses to run as root and there is no `{SERVER_USER}` user to run it "
            "as: install the Debian package `postgresql` (it creates the user) or run as "
            "another user."
        ) from None


def _check_reachable(home: Path, owner: pwd.struct_passwd) -> None:
    """The server user must be able to enter every folder above ``home``."""
    for parent in home.parents:
        status = parent.stat()
        if status.st_uid != owner.pw_uid and not status.st_mode & 0o001:
            raise LocalPostgresError(
                f"The `{owner.pw_name}` user cannot enter {parent}, so it cannot reach {home}: "
                "put the cluster in a folder every user can reach (for example under /tmp)."
            )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        # A zombie (state Z) has exited; only its parent can reap it.
        return not stat.read_text().split(") ")[-1].startswith("Z")
    return True
