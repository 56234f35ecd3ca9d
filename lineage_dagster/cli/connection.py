"""The Neo4j the commands talk to, from NEO4J_URI/NEO4J_USER/NEO4J_PASSWORD, checked up front:
a malformed URI is a usage error (exit 2), an unreachable server or a refused login exit 3."""

import os

import click
import neo4j

from lineage_dagster.cli.output import UsageExit
from lineage_dagster.graph.driver import open_driver
from lineage_dagster.settings.environment import (
    DEFAULT_NEO4J_USER,
    ENV_NEO4J_PASSWORD,
    ENV_NEO4J_URI,
    ENV_NEO4J_USER,
)

EXIT_UNAVAILABLE = 3
CHECK_TIMEOUT_SECONDS = 5.0


class Neo4jUnavailable(click.ClickException):
    """Neo4j cannot be reached or refuses the credentials."""

    exit_code = EXIT_UNAVAILABLE


def connect(purpose: str, *, retry_seconds: float) -> neo4j.Driver:
    """A driver for the configured Neo4j, after one quick check that it answers and accepts
    the login.

    Args:
        purpose: What the server is for, as the errors say it ("the lineage graph").
        retry_seconds: How long the returned driver retries transactions on transient errors.

    Raises:
        UsageExit: NEO4J_URI is unset or not a Neo4j URI.
        Neo4jUnavailable: The server cannot be reached in time, or refuses the login.
    """
    uri = os.environ.get(ENV_NEO4J_URI, "").strip()
    if not uri:
        raise UsageExit(
            f"{ENV_NEO4J_URI} is not set: export {ENV_NEO4J_URI}, {ENV_NEO4J_USER} and "
            f"{ENV_NEO4J_PASSWORD} with the coordinates of {purpose}"
        )
    user = os.environ.get(ENV_NEO4J_USER) or DEFAULT_NEO4J_USER
    try:
        driver = open_driver(
            uri,
            user,
            os.environ.get(ENV_NEO4J_PASSWORD),
            max_transaction_retry_seconds=retry_seconds,
            connection_timeout_seconds=CHECK_TIMEOUT_SECONDS,
        )
    except (neo4j.exceptions.ConfigurationError, ValueError, ImportError) as exc:
        raise UsageExit(f"{ENV_NEO4J_URI}={uri!r} cannot be used: {exc}") from None
    try:
        driver.verify_connectivity()
    except neo4j.exceptions.AuthError:
        driver.close()
        raise Neo4jUnavailable(
            f"Neo4j at {uri} refused the login of user {user!r}: check {ENV_NEO4J_USER} and "
            f"{ENV_NEO4J_PASSWORD} (an empty password means no login at all)"
        ) from None
    except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError) as exc:
        driver.close()
        raise Neo4jUnavailable(f"Cannot reach {purpose} at {uri}: {exc}") from None
    return driver
