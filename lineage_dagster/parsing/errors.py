"""Errors raised by the parsing layer.

Every error derives from :class:`LineageError`, so callers can catch one type. Errors about a
single statement are not raised: they are recorded on that statement (``StatementLineage.error``)
so one bad statement never hides the lineage of the rest of its file.
"""

from __future__ import annotations


class LineageError(Exception):
    """Base class of every error raised by ``lineage_dagster.parsing``."""


class UnknownDialectError(LineageError, ValueError):
    """A dialect name that sqlglot does not know.

    >>> str(UnknownDialectError("snowflak", ("bigquery", "snowflake")))
    "unknown SQL dialect 'snowflak'; valid dialects: bigquery, snowflake"
    """

    def __init__(self, name: str, valid: tuple[str, ...]) -> None:
        self.name = name
        self.valid = valid
        super().__init__(f"unknown SQL dialect {name!r}; valid dialects: {', '.join(valid)}")


class SchemaError(LineageError, ValueError):
    """A ``schema`` mapping (table -> columns) that has the wrong shape."""


class SqlFileError(LineageError):
    """A SQL file that could not be read as a whole (the path is in ``path``)."""

    def __init__(
        self,
        path: str,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        sha256: str = "",
    ) -> None:
        self.path = path
        self.message = message
        self.line = line
        self.column = column
        self.sha256 = sha256  # of the file's bytes, when they could be read
        super().__init__(f"{path}: {message}")


class SqlDecodeError(SqlFileError):
    """A SQL file whose bytes are not valid text (binary content or a wrong encoding)."""


class SqlFileTooLargeError(SqlFileError):
    """A SQL file larger than the configured ``max_bytes``."""


class SqlFileTimeoutError(SqlFileError):
    """A SQL file (or folder) the file system did not answer for in time, e.g. on a hung mount."""
