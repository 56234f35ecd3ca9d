from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import neo4j
from pydantic import Field, PrivateAttr

# Steps that talk to Neo4j first exhaust the driver's own transaction retries
# (max_transaction_retry_seconds), then are retried whole by Dagster with these delays.
NEO4J_RETRY_POLICY = dg.RetryPolicy(max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL)


class Neo4jResource(dg.ConfigurableResource):
    """A Neo4j connection: one driver per step process, opened lazily and closed at teardown.

    Example:
        .. code-block:: python

            import dagster as dg
            from lineage_dagster.resources import Neo4jResource

            @dg.op
            def count_tables(neo4j: Neo4jResource) -> int:
                with neo4j.get_session() as session:
                    return session.run("MATCH (t:Table) RETURN count(t) AS n").single()["n"]

            dg.Definitions(
                jobs=[...],
                resources={
                    "neo4j": Neo4jResource(
                        uri=dg.EnvVar("NEO4J_URI"),
                        user=dg.EnvVar("NEO4J_USER"),
                        password=dg.EnvVar("NEO4J_PASSWORD"),
                    )
                },
            )
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
        default=30.0,
        description=(
            "How long a write transaction is retried on transient errors (deadlocks, "
            "unavailable leader) before the step fails."
        ),
    )
    connection_timeout_seconds: float = Field(
        default=10.0, description="Timeout for opening a connection to the server."
    )

    _driver: neo4j.Driver | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
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
        return neo4j.GraphDatabase.driver(
            self.uri,
            auth=(self.user, self.password) if self.password else None,
            max_transaction_retry_time=self.max_transaction_retry_seconds,
            connection_timeout=self.connection_timeout_seconds,
            # Notices such as "property key does not exist" on an empty graph are noise here.
            notifications_min_severity="OFF",
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
