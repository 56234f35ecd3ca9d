"""Frozen value types describing the lineage extracted from SQL text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lineage_dagster.parsing.errors import SqlFileError


@dataclass(frozen=True)
class ColumnEdge:
    """One column-level edge: ``target`` is derived from ``source``.

    Both are fully qualified column names (``catalog.schema.table.column`` as written).
    ``kind`` is one of ``direct`` (copied as is), ``expression``, ``aggregation`` or
    ``condition`` (the source only filters or joins the rows of the target).
    """

    source: str
    target: str
    kind: str

    def to_dict(self) -> dict[str, Any]:
        """``{"source", "target", "kind"}``."""
        return {"source": self.source, "target": self.target, "kind": self.kind}


@dataclass(frozen=True)
class StatementError:
    """Why a statement could not be parsed; ``line``/``column`` are 1-based when known."""

    message: str
    line: int | None = None
    column: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"message": self.message, "line": self.line, "column": self.column}


@dataclass(frozen=True)
class StatementLineage:
    """The lineage of one statement of a file."""

    index: int
    line: int
    kind: str
    sources: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    column_lineage: tuple[ColumnEdge, ...] = ()
    error: StatementError | None = None
    gaps: tuple[tuple[str, str], ...] = ()
    """Target columns that derive from no source column, with why (``no_schema``,
    ``unresolved_column``, ``no_column_read``); ``t.*`` when the columns are unknown."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "line": self.line,
            "kind": self.kind,
            "sources": list(self.sources),
            "targets": list(self.targets),
            "column_lineage": [edge.to_dict() for edge in self.column_lineage],
            "error": self.error.to_dict() if self.error else None,
            "gaps": [list(gap) for gap in self.gaps],
        }


# Statements that move rows into their targets' columns: one with no column edge and no gap
# lost its column lineage to a construct the extractor does not follow.
_DATA_KINDS = frozenset(
    {"INSERT", "CREATE_TABLE_AS", "CREATE_VIEW", "CREATE_MATERIALIZED_VIEW", "MERGE", "UPDATE",
     "SELECT_INTO", "COPY", "LOAD", "UNLOAD", "CACHE", "ALTER_VIEW"}
)  # fmt: skip


@dataclass(frozen=True)
class Coverage:
    """How many target columns got value lineage, only condition lineage, or none (by reason).

    Reasons: ``no_schema`` (a table it may come from has unknown columns; a ``t.*`` target
    counts once), ``unresolved_column`` (no table in scope has it), ``no_column_read`` (a
    literal, ``COUNT(*)``), ``unsupported`` (a statement that moves data without column
    lineage: one per target table), ``unparsed`` (one per statement that did not parse).
    """

    value: int = 0
    condition_only: int = 0
    none: tuple[tuple[str, int], ...] = ()

    @property
    def total(self) -> int:
        return self.value + self.condition_only + sum(n for _, n in self.none)

    def __add__(self, other: Coverage) -> Coverage:
        none = dict(self.none)
        for reason, count in other.none:
            none[reason] = none.get(reason, 0) + count
        return Coverage(
            self.value + other.value,
            self.condition_only + other.condition_only,
            tuple(sorted(none.items())),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "condition_only": self.condition_only, "none": dict(self.none)}


def statement_coverage(stmt: StatementLineage) -> Coverage:
    """The :class:`Coverage` of one statement's target columns."""
    if stmt.error is not None:
        return Coverage(none=(("unparsed", 1),))
    if not stmt.targets:
        return Coverage()
    valued: set[str] = set()
    conditioned: set[str] = set()
    for edge in stmt.column_lineage:
        (conditioned if edge.kind == "condition" else valued).add(edge.target)
    stars = {target for target in valued if target.endswith(".*")}
    valued -= stars
    none: dict[str, int] = {}
    condition_only = 0
    gaps = dict(stmt.gaps)
    for star in stars:
        gaps.setdefault(star, "no_schema")  # only a wildcard edge: the columns are unknown
    for target, reason in sorted(gaps.items()):
        if target in valued:
            continue
        if target in conditioned and not target.endswith(".*"):
            condition_only += 1
        else:
            none[reason] = none.get(reason, 0) + 1
    if not stmt.column_lineage and not stmt.gaps and stmt.kind in _DATA_KINDS:
        none["unsupported"] = len(stmt.targets)
    return Coverage(len(valued), condition_only, tuple(sorted(none.items())))


@dataclass(frozen=True)
class TableDeclaration:
    """The columns a statement declares for a table, as written in the script.

    ``CREATE TABLE t (...)``, the output of ``CREATE TABLE/VIEW ... AS SELECT`` and
    ``SELECT ... INTO t`` declare all of a table's columns (``complete``); the column list of
    ``INSERT INTO t (...)`` declares some of them. ``SELECT * FROM s`` (one table, nothing
    else selected) declares the columns of ``s``, whatever they are: ``like`` names ``s`` and
    ``columns`` is empty. ``ALTER TABLE t ADD c`` (or ``RENAME COLUMN x TO c``) gives an
    existing table more columns: ``added``, and not ``complete``. Declarations never depend on a
    schema given to the extractor, so a folder's declarations can be collected before
    extracting it.
    """

    table: str
    columns: tuple[str, ...]
    complete: bool = True
    like: str | None = None
    added: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "columns": list(self.columns),
            "complete": self.complete,
            "like": self.like,
            "added": self.added,
        }


@dataclass(frozen=True)
class FileLineage:
    """The lineage of one SQL file (or text), one entry per statement.

    ``sha256`` is the digest of the file's bytes (of the UTF-8 text for ``extract_lineage``),
    ``""`` when the file could not be read at all.
    """

    path: str | None
    sha256: str
    dialect: str | None
    statements: tuple[StatementLineage, ...] = field(default=())
    error: StatementError | None = None
    """Why the file as a whole could not be read (not UTF-8, too large...); then no statements."""
    declarations: tuple[TableDeclaration, ...] = ()
    """The table columns the file's statements declare (DDL, CTAS/view outputs, INSERT lists)."""
    schema_tables: tuple[str, ...] = ()
    """The tables whose columns extraction looked up in the schema, sorted."""
    schema_digest: str = ""
    """A digest of the schema entries those tables had (``""``: none had one): the same
    content extracted against a schema giving the same digest gives the same lineage."""

    @classmethod
    def from_error(cls, error: SqlFileError, *, dialect: str | None = None) -> FileLineage:
        """The lineage of a file that could not be read at all: no statements, its error.

        >>> from lineage_dagster.parsing.errors import SqlFileError
        >>> FileLineage.from_error(SqlFileError("a.sql", "not UTF-8", line=2)).status
        'failed'
        """
        return cls(
            error.path,
            error.sha256,
            dialect,
            (),
            StatementError(error.message, error.line, error.column),
        )

    @property
    def status(self) -> str:
        """``failed`` (nothing read), ``partial`` (some statements failed) or ``ok``."""
        if self.error is not None:
            return "failed"
        return "partial" if self.errors else "ok"

    def coverage(self) -> Coverage:
        """The :class:`Coverage` of all the file's target columns."""
        total = Coverage()
        for stmt in self.statements:
            total += statement_coverage(stmt)
        return total

    @property
    def errors(self) -> tuple[StatementLineage, ...]:
        """The statements that could not be parsed."""
        return tuple(stmt for stmt in self.statements if stmt.error is not None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "sha256": self.sha256,
            "dialect": self.dialect,
            "statements": [stmt.to_dict() for stmt in self.statements],
            "error": self.error.to_dict() if self.error else None,
            "declarations": [item.to_dict() for item in self.declarations],
            "schema_tables": list(self.schema_tables),
            "schema_digest": self.schema_digest,
        }
