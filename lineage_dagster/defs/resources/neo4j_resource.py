import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import neo4j
import psutil
from pydantic import Field, PrivateAttr

from lineage_dagster.graph.driver import (
    DEFAULT_CONNECTION_TIMEOUT_SECONDS,
    DEFAULT_TRANSACTION_RETRY_SECONDS,
    open_driver,
)

# Steps that talk to Neo4j first exhaust the driver's own transaction retries
# (max_transaction_retry_seconds), then are retried whole by Dagster with these delays.
NEO4J_RETRY_POLICY = dg.RetryPolicy(max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL)


class Neo4jResource(dg.ConfigurableResource):
    """A Neo4j connection: one driver per step process, opened lazily and closed at teardown.

    Example, in an op: ``with neo4j.get_session() as session: session.run(...)``, with
    ``Neo4jResource(uri=dg.EnvVar("NEO4J_URI"), user=dg.EnvVar("NEO4J_USER"),
    password=dg.EnvVar("NEO4J_PASSWORD"))`` under the key ``neo4j``.
    """

    uri: str = Field(description="Bolt URI of the Neo4j server, e.g. bolt://127.0.0.1:7687.")
    user: str = Field(default="neo4j", description="Neo4j user name.")
    password: str = Field(
        default="", description="Neo4j password; empty when the server runs without auth."
    )
    database: str | None = Field(
        default=None, description="Database to use; the server's default database when unset."
    )
    max_transaction_retry_seconds: float = Field(
        default=DEFAULT_TRANSACTION_RETRY_SECONDS,
        description=(
            "How long a write transaction is retried on transient errors (deadlocks, "
            "unavailable leader) before the step fails."
        ),
    )
    connection_timeout_seconds: float = Field(
        default=DEFAULT_CONNECTION_TIMEOUT_SECONDS,
        description="Timeout for opening a connection to the server.",
    )

    _driver: neo4j.Driver | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        _exit_with_run_process()
        # Creating a driver opens no connection: the first query does.
        self._driver = self._open_driver()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._driver is not None:
            self._driver.close()
            self._driver = None

    @property
    def driver(self) -> neo4j.Driver:
        """The driver of this process (also usable outside a run, e.g. from the CLI)."""
        if self._driver is None:
            self._driver = self._open_driver()
        return self._driver

    def _open_driver(self) -> neo4j.Driver:
        return open_driver(
            self.uri,
            self.user,
            self.password,
            max_transaction_retry_seconds=self.max_transaction_retry_seconds,
            connection_timeout_seconds=self.connection_timeout_seconds,
        )

    @contextmanager
    def get_session(self) -> Iterator[neo4j.Session]:
        """Yield a session on the configured database.

        Raises:
            dagster.Failure: The server refused the login; retrying cannot help, so the step
                fails at once instead of going through its retry policy.
        """
        try:
            with self.driver.session(database=self.database) as session:
                yield session
        except neo4j.exceptions.AuthError as exc:
            raise dg.Failure(
                description=f"Neo4j at {self.uri} refused the login of user {self.user!r}: "
                f"{exc.message}. Check NEO4J_USER and NEO4J_PASSWORD.",
                allow_retries=False,
            ) from exc


def _exit_with_run_process() -> None:
    """In a step process of the multiprocess executor, end this process as soon as the run
    process that started it is gone: a run process killed with SIGKILL cannot stop its steps,
    and a step left behind would go on writing to Neo4j after its run was failed. (A killed
    write transaction is rolled back by the server.)"""
    parent = multiprocessing.parent_process()
    if parent is None or parent.pid is None:
        return  # the run process itself (in-process executor, or a run worker)
    try:
        run_process = psutil.Process(parent.pid)
    except psutil.NoSuchProcess:
        os.kill(os.getpid(), signal.SIGKILL)
        return
    threading.Thread(
        target=_kill_self_after, args=(run_process,), name="exit-with-run-process", daemon=True
    ).start()


def _kill_self_after(run_process: psutil.Process) -> None:
    run_process.wait()
    os.kill(os.getpid(), signal.SIGKILL)
