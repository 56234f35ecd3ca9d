"""Choosing the SQL dialect of a file: validation, ``-- dialect:`` comments, folder mappings.

Precedence, most specific first: a ``-- dialect: <name>`` comment at the top of the file, then the
longest matching folder prefix of a :class:`DialectMap`, then the default given by the caller
(the ``--dialect`` flag of the CLI), then none (sqlglot's generic dialect).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from pathlib import PurePath, PurePosixPath

from sqlglot.dialects.dialect import Dialect, Dialects

from lineage_dagster.parsing.errors import UnknownDialectError

VALID_DIALECTS: tuple[str, ...] = tuple(sorted(d.value for d in Dialects if d.value))
"""Every dialect name sqlglot knows, sorted."""

DIALECT_ALIASES: dict[str, str] = {
    "sqlserver": "tsql",
    "mssql": "tsql",
    "synapse": "tsql",
    "azuresql": "tsql",
    "postgresql": "postgres",
    "pg": "postgres",
    "sparksql": "spark",
    "bq": "bigquery",
    "impala": "hive",
    "greenplum": "postgres",
    "mariadb": "mysql",
    "ansi": "",
    "generic": "",
}
"""Common names of the engines that sqlglot spells differently (``""``: sqlglot's generic
dialect, for ANSI SQL)."""

STRUCT_DIALECTS = frozenset(
    {"bigquery", "spark", "spark2", "databricks", "hive", "presto", "trino", "athena", "duckdb"}
)
"""Dialects where ``a.b.c`` may read the field ``b.c`` of a struct (record) column ``a``."""


def has_struct_fields(dialect: str | None) -> bool:
    """Whether a dotted column name of ``dialect`` (sqlglot's spelling) can be a field path."""
    return dialect in STRUCT_DIALECTS


# A dialect comment must be among the leading comments of the file, before any SQL.
_DIALECT_COMMENT = re.compile(
    r"\A(?:\s*(?:--[^\n]*\n|/\*.*?\*/))*?\s*(?:--|/\*)\s*dialect\s*[:=]\s*([A-Za-z0-9_]+)",
    re.IGNORECASE | re.DOTALL,
)


def resolve_dialect(name: str | None) -> str | None:
    """Validate a dialect name and return sqlglot's spelling of it.

    Args:
        name: A dialect name (any case), an alias such as ``sqlserver``, or ``None``/``""``.

    Returns:
        The canonical name, or ``None`` for the generic dialect.

    Raises:
        UnknownDialectError: When sqlglot has no such dialect (the message lists the valid ones).

    >>> resolve_dialect("SQLServer")
    'tsql'
    >>> resolve_dialect("Snowflake")
    'snowflake'
    >>> resolve_dialect(None) is None, resolve_dialect("ansi") is None
    (True, True)
    """
    if not name:
        return None
    key = name.strip().lower()
    key = DIALECT_ALIASES.get(key, key)
    if not key:
        return None
    if key not in VALID_DIALECTS:
        raise UnknownDialectError(name, VALID_DIALECTS)
    return key


def get_dialect(name: str | None) -> Dialect:
    """The sqlglot ``Dialect`` instance for a validated name (``None``: generic)."""
    key = resolve_dialect(name)
    dialect = _DIALECTS.get(key)
    if dialect is None:
        # One instance per dialect: they hold settings only, and building one per file
        # costs as much as hashing the file.
        dialect = _DIALECTS[key] = Dialect.get_or_raise(key)
    return dialect


_DIALECTS: dict[str | None, Dialect] = {}


def dialect_from_comment(sql: str) -> str | None:
    """The dialect named by a ``-- dialect: <name>`` comment at the top of the text.

    Only the leading comments count: a dialect comment after the first statement is ignored.

    Raises:
        UnknownDialectError: When the comment names a dialect sqlglot does not know.

    >>> dialect_from_comment("-- finance job\\n-- dialect: Snowflake\\nSELECT 1")
    'snowflake'
    >>> dialect_from_comment("SELECT 1 -- dialect: tsql") is None
    True
    """
    match = _DIALECT_COMMENT.match(sql, 0, 4096)
    return resolve_dialect(match.group(1)) if match else None


class DialectMap:
    """Folder prefix -> dialect; the longest matching prefix wins.

    Prefixes are relative folder paths with ``/`` separators, matched against a file's path
    relative to the folder being parsed (or against the path as given).

    >>> mapping = DialectMap({"risk": "snowflake", "risk/legacy": "tsql"})
    >>> mapping.dialect_for("risk/legacy/load.sql"), mapping.dialect_for("risk/var.sql")
    ('tsql', 'snowflake')
    >>> mapping.dialect_for("trading/pnl.sql") is None
    True
    """

    def __init__(self, mapping: Mapping[str, str]) -> None:
        items = []
        for prefix, name in mapping.items():
            parts = PurePosixPath(str(prefix).replace("\\", "/").strip("/")).parts
            items.append((tuple(p for p in parts if p != "."), resolve_dialect(name)))
        # Longest prefix first, so the first match is the most specific.
        self._items = sorted(items, key=lambda item: -len(item[0]))

    def dialect_for(self, path: str | PurePath, root: str | PurePath | None = None) -> str | None:
        """The dialect of the longest prefix matching ``path`` (relative to ``root`` if given)."""
        candidates = []
        if root is not None:
            with contextlib.suppress(ValueError):
                candidates.append(PurePath(path).relative_to(root).parts)
        candidates.append(PurePath(path).parts)
        for parts in candidates:
            for prefix, name in self._items:
                if parts[: len(prefix)] == prefix and len(parts) > len(prefix):
                    return name
        return None
