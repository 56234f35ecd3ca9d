"""The schema of the watched folder: the columns its scripts declare, plus a catalog export.

Every file's declarations (``CREATE TABLE`` columns, CTAS/view/``SELECT INTO`` outputs,
``INSERT INTO t (...)`` lists) are merged into one :class:`~lineage_dagster.parsing.SchemaIndex`
that extraction resolves ``SELECT *`` and unqualified columns against. A configured catalog
(an export of ``information_schema.columns``, or a JSON table -> columns mapping) describes
the database itself: its tables win over what scripts declare.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lineage_dagster.parsing import SchemaError, SchemaIndex
from lineage_dagster.parsing.schema import PARTIAL

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from lineage_dagster.parsing import TableDeclaration

_CATALOG_COLUMNS = ("table_catalog", "table_schema", "table_name", "column_name")


def merge_declarations(
    declarations: Iterable[tuple[str, Sequence[TableDeclaration]]],
    configured: Mapping[str, Sequence[str]] | None = None,
) -> SchemaIndex:
    """One schema from the declarations of many files (``(path, declarations)`` pairs).

    A table gets the union of the columns its complete declarations give (DDL, CTAS, views), in
    path and statement order, then the columns ``ALTER TABLE ... ADD`` gives it; a table with
    no complete declaration gets the union of its ``INSERT`` column lists and added columns,
    marked partial. Tables of ``configured`` are taken as they are.

    >>> from lineage_dagster.parsing import TableDeclaration as D
    >>> merge_declarations([
    ...     ("b.sql", [D("t", ("a", "c")), D("t", ("d",), complete=False, added=True)]),
    ...     ("a.sql", [D("t", ("a", "b")), D("u", ("x",), complete=False)]),
    ... ], {"v": ["k"]}).entries
    {'t': ['a', 'b', 'c', 'd'], 'u': ['x', '*'], 'v': ['k']}
    """
    complete: dict[str, dict[str, None]] = {}
    partial: dict[str, dict[str, None]] = {}
    added: dict[str, dict[str, None]] = {}
    likes: dict[str, str] = {}  # table -> the table whose columns it copies (the first one)
    for _, items in sorted(declarations, key=lambda pair: pair[0]):
        for item in items:
            if item.like is not None:
                likes.setdefault(item.table, item.like)
                continue
            into = added if item.added else complete if item.complete else partial
            into.setdefault(item.table, {}).update(dict.fromkeys(item.columns))
    entries: dict[str, list[str]] = {
        table: list({**cols, **added.get(table, {})}) for table, cols in complete.items()
    }
    for table in partial.keys() | added.keys():
        if table not in entries:
            cols = {**partial.get(table, {}), **added.get(table, {})}
            entries[table] = [*cols, PARTIAL]
    for table, columns in (configured or {}).items():
        entries[table] = list(columns)
    _copy_likes(entries, likes)
    return SchemaIndex(dict(sorted(entries.items())))


def _copy_likes(entries: dict[str, list[str]], likes: dict[str, str]) -> None:
    """Give each ``SELECT *`` copy the columns of its table, through chains of copies; a
    table declared otherwise keeps its own columns, a copy of an unknown table gets none."""
    pending = {table: like for table, like in likes.items() if table not in entries}
    while pending:
        done = {t: entries[like] for t, like in pending.items() if like in entries}
        if not done:
            return  # the rest copy unknown tables (or each other in a cycle)
        for table, columns in done.items():
            entries[table] = list(columns)
            del pending[table]


def load_catalog_file(path: Path) -> dict[str, list[str]]:
    """Table -> columns from a catalog file.

    Accepted: a CSV or JSON export of ``information_schema.columns`` (rows with
    ``table_catalog``, ``table_schema``, ``table_name``, ``column_name`` and, optionally,
    ``ordinal_position``; names matched ignoring case; an empty catalog or schema is left
    out), or a JSON object mapping ``"db.table"`` to a list (or object) of columns.

    Raises:
        SchemaError: When the file cannot be read or has neither form.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemaError(f"cannot read the catalog file {path}: {exc}") from exc
    if path.suffix.lower() == ".csv":
        rows: Any = list(csv.DictReader(io.StringIO(text)))
    else:
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SchemaError(f"the catalog file {path} is not JSON: {exc}") from exc
        if isinstance(rows, dict):
            return schema_mapping(rows, path)
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise SchemaError(f"the catalog file {path} holds neither rows nor a table mapping")
    return _from_rows(rows, path)


def schema_mapping(data: dict[str, Any], path: Path, prefix: str = "") -> dict[str, list[str]]:
    """``{"db.table": columns}``, or sqlglot's nested ``{"db": {"table": {"col": "type"}}}``."""
    out: dict[str, list[str]] = {}
    for key, columns in data.items():
        table = f"{prefix}.{key}" if prefix else str(key)
        if (
            isinstance(columns, dict)
            and columns
            and all(isinstance(v, dict) for v in columns.values())
        ):
            out.update(schema_mapping(columns, path, table))
        elif isinstance(columns, (list, dict)):
            out[table] = [str(column) for column in columns]
        else:
            raise SchemaError(f"{path}: {table!r} must map to a list or an object of columns")
    return out


def _from_rows(rows: list[dict[str, Any]], path: Path) -> dict[str, list[str]]:
    tables: dict[str, list[tuple[float, int, str]]] = {}
    for number, row in enumerate(rows):
        fields = {str(key).strip().lower(): value for key, value in row.items()}
        if fields.get("table_name") in (None, "") or fields.get("column_name") in (None, ""):
            raise SchemaError(
                f"{path}: row {number + 1} has no table_name or column_name (expected the "
                f"columns {', '.join(_CATALOG_COLUMNS)})"
            )
        name = ".".join(
            str(fields[key]) for key in _CATALOG_COLUMNS[:3] if fields.get(key) not in (None, "")
        )
        try:
            position = float(fields.get("ordinal_position") or number)
        except ValueError:
            position = float(number)
        tables.setdefault(name, []).append((position, number, str(fields["column_name"])))
    return {name: [column for *_, column in sorted(cols)] for name, cols in tables.items()}
