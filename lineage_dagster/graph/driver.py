"""The one way this project opens a Neo4j driver, so every caller gets the same settings."""

from __future__ import annotations

import neo4j

DEFAULT_TRANSACTION_RETRY_SECONDS = 30.0
DEFAULT_CONNECTION_TIMEOUT_SECONDS = 10.0


def open_driver(
    uri: str,
    user: str | None,
    password: str | None,
    *,
    max_transaction_retry_seconds: float = DEFAULT_TRANSACTION_RETRY_SECONDS,
    connection_timeout_seconds: float = DEFAULT_CONNECTION_TIMEOUT_SECONDS,
) -> neo4j.Driver:
    """A driver for ``uri``; creating it opens no connection (the first query does).

    Args:
        uri: Bolt URI, e.g. ``bolt://127.0.0.1:7687``.
        user: User name (``neo4j`` when empty).
        password: Password; empty or ``None`` connects without auth.
        max_transaction_retry_seconds: How long managed transactions are retried on transient
            errors (deadlocks, a restarting server) before they fail.
        connection_timeout_seconds: Timeout for opening a connection.

    Raises:
        neo4j.exceptions.ConfigurationError: ``uri`` is not a usable Neo4j URI.
    """
    return neo4j.GraphDatabase.driver(
        uri,
        auth=(user or "neo4j", password) if password else None,
        max_transaction_retry_time=max_transaction_retry_seconds,
        connection_timeout=connection_timeout_seconds,
        # Notices such as "property key does not exist" on an empty graph are noise here.
        notifications_min_severity="OFF",
    )
