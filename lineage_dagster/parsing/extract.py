"""Table- and column-level lineage of SQL scripts: ``extract_lineage`` and ``extract_file``.

Trees are dropped as soon as their lineage is extracted (at most one file's trees at a time,
one statement's for large files), so memory stays flat however large the corpus. Temporary
tables (``#t`` in T-SQL, ``CREATE TEMP/TEMPORARY/VOLATILE TABLE``, ``SELECT ... INTO TEMP``,
``DECLARE @t TABLE``, and a table both created and later dropped in the same script) are
resolved away: a statement that reads one lists the temporary table's own upstream as its
sources.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from lineage_dagster.parsing.dialects import dialect_from_comment, get_dialect, resolve_dialect
from lineage_dagster.parsing.errors import SqlDecodeError, SqlFileError, SqlFileTooLargeError
from lineage_dagster.parsing.handlers import add_temp_outputs, statement_kind, statement_lineage
from lineage_dagster.parsing.models import (
    FileLineage,
    StatementError,
    StatementLineage,
    TableDeclaration,
)
from lineage_dagster.parsing.names import Namer, normalize_schema
from lineage_dagster.parsing.schema import SchemaIndex, SchemaLookups
from lineage_dagster.parsing.script_state import ScriptState
from lineage_dagster.parsing.statements import parse_statements
from lineage_dagster.parsing.tuning import warn_if_not_compiled

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sqlglot.dialects.dialect import Dialect

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 16 * 1024 * 1024
"""Files larger than this are refused by ``extract_file`` (override with ``max_bytes``)."""

# Teradata's SEL and DuckDB's FROM-first queries make SELECTs without the keyword.
_SELECTS_WITHOUT_KEYWORD = frozenset({"Teradata", "DuckDB", "PRQL"})
# Matched at each "DROP" of the upper-cased text (scanning the whole text with a
# case-insensitive pattern costs as much as a tenth of tokenizing it).
_DROPPED = re.compile(
    r"DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?((?:[\w$#@]+|\"[^\"]+\"|`[^`]+`|\[[^\]]+\])"
    r"(?:\s*\.\s*(?:[\w$#@]+|\"[^\"]+\"|`[^`]+`|\[[^\]]+\]))*)",
    re.IGNORECASE,
)


def extract_lineage(
    sql: str,
    *,
    dialect: str | None = None,
    default_schema: str | None = None,
    schema: Mapping[str, Any] | SchemaIndex | None = None,
    columns: bool = True,
    conditions: bool = True,
    path: str | None = None,
    default_catalog: str | None = None,
) -> FileLineage:
    """Extract the table- and column-level lineage of every statement of a SQL script.

    Args:
        sql: The script (one or many statements, ``;`` or T-SQL ``GO`` separated).
        dialect: A sqlglot dialect name, used when the script has no ``-- dialect: <name>``
            comment at its top (the comment is more specific); ``None``: sqlglot's generic
            dialect.
        default_schema: ``"db"`` or ``"catalog.db"`` prefixed to less qualified table names.
        default_catalog: A default catalog (BigQuery project, Snowflake database) alone:
            ``schema.table`` names get it; with ``default_schema="db"``, same as
            ``"catalog.db"``.
        schema: ``{"db.table": [columns] | {column: type}}``, normalised for this script's
            dialect, or a :class:`~lineage_dagster.parsing.schema.SchemaIndex` shared by many
            scripts (names already normalised); resolves ``SELECT *`` and unqualified
            columns. Without it columns are never invented.
        columns: Extract column lineage (``False``: table level only, faster).
        conditions: Record ``condition`` edges (the columns of filters and joins, to every
            target column); ``False`` keeps only the edges that carry values.
        path: Reported as ``FileLineage.path``.

    Returns:
        A ``FileLineage`` with one ``StatementLineage`` per statement, in order.

    Raises:
        UnknownDialectError: When ``dialect`` (or the dialect comment) is not a sqlglot dialect.

    >>> lineage = extract_lineage(
    ...     "INSERT INTO mart.pnl (book, pnl) "
    ...     "SELECT book, SUM(amount) FROM raw.trades GROUP BY book",
    ...     dialect="postgres",
    ... )
    >>> stmt = lineage.statements[0]
    >>> stmt.kind, stmt.sources, stmt.targets
    ('INSERT', ('raw.trades',), ('mart.pnl',))
    >>> [(e.source, e.target, e.kind) for e in stmt.column_lineage]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('raw.trades.book', 'mart.pnl.book', 'direct'),
     ('raw.trades.amount', 'mart.pnl.pnl', 'aggregation'),
     ('raw.trades.book', 'mart.pnl.pnl', 'condition')]
    """
    digest = hashlib.sha256(sql.encode("utf-8", "surrogatepass")).hexdigest()
    name = dialect_from_comment(sql) or resolve_dialect(dialect)
    return _extract(
        sql, digest, name, (default_schema, default_catalog), schema, columns, conditions, path
    )


def extract_file(
    path: str | Path,
    *,
    dialect: str | None = None,
    default_schema: str | None = None,
    schema: Mapping[str, Any] | SchemaIndex | None = None,
    columns: bool = True,
    conditions: bool = True,
    max_bytes: int = DEFAULT_MAX_BYTES,
    default_catalog: str | None = None,
) -> FileLineage:
    """Extract the lineage of a SQL file (see :func:`extract_lineage`).

    The dialect is, in order: a ``-- dialect: <name>`` comment at the top of the file, else
    ``dialect``. An empty file has zero statements.

    Raises:
        SqlFileTooLargeError: When the file is larger than ``max_bytes``.
        SqlDecodeError: When the file is not UTF-8 text (the message gives the byte offset).
        SqlFileError: When the file cannot be read.
        UnknownDialectError: When a dialect name is not a sqlglot dialect.
    """
    text, digest = read_sql_file(path, max_bytes=max_bytes)
    name = dialect_from_comment(text) or resolve_dialect(dialect)
    defaults = (default_schema, default_catalog)
    return _extract(text, digest, name, defaults, schema, columns, conditions, str(path))


def extract_bytes(
    data: bytes,
    *,
    path: str | None = None,
    sha256: str | None = None,
    dialect: str | None = None,
    default_schema: str | None = None,
    schema: Mapping[str, Any] | SchemaIndex | None = None,
    columns: bool = True,
    conditions: bool = True,
    default_catalog: str | None = None,
) -> FileLineage:
    """Extract the lineage of a file's bytes, already read (see :func:`extract_file`).

    Args:
        data: The file's content.
        path: Reported as ``FileLineage.path`` and in errors.
        sha256: The digest of ``data`` when the caller has it (saves hashing twice).

    Raises:
        SqlDecodeError: When the bytes are not UTF-8 text.
        UnknownDialectError: When a dialect name is not a sqlglot dialect.
    """
    text, digest, name = _decode_bytes(data, path, sha256, dialect)
    defaults = (default_schema, default_catalog)
    return _extract(text, digest, name, defaults, schema, columns, conditions, path)


def extract_declarations(
    data: bytes,
    *,
    path: str | None = None,
    sha256: str | None = None,
    dialect: str | None = None,
    default_schema: str | None = None,
    default_catalog: str | None = None,
) -> tuple[TableDeclaration, ...]:
    """The columns a file's statements declare for their tables: the ``declarations`` of
    :func:`extract_bytes`, at a fraction of its cost. Statements that cannot declare columns
    (``UPDATE``, ``DELETE``, ``INSERT`` without a column list) are not parsed, nor is the
    query of an ``INSERT`` with one.

    Raises:
        SqlDecodeError: When the bytes are not UTF-8 text.
        UnknownDialectError: When a dialect name is not a sqlglot dialect.
    """
    text, digest, name = _decode_bytes(data, path, sha256, dialect)
    defaults = (default_schema, default_catalog)
    lineage = _extract(text, digest, name, defaults, None, False, False, path, declaring_only=True)
    return lineage.declarations


def _decode_bytes(
    data: bytes, path: str | None, sha256: str | None, dialect: str | None
) -> tuple[str, str, str | None]:
    """A file's text, its digest (``sha256`` when given) and its dialect (its ``-- dialect:``
    comment, else ``dialect``)."""
    digest = sha256 or hashlib.sha256(data).hexdigest()
    text = decode_sql(data, path or "<bytes>", sha256=digest)
    return text, digest, dialect_from_comment(text) or resolve_dialect(dialect)


def read_sql_file(path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[str, str]:
    """Read a SQL file as UTF-8 text; return the text and the sha256 of its bytes.

    Raises:
        SqlFileTooLargeError: When the file is larger than ``max_bytes``.
        SqlDecodeError: When the bytes are not UTF-8 (binary files included).
        SqlFileError: When the file cannot be read.
    """
    path_str = str(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
            if len(data) > max_bytes:
                hasher = hashlib.sha256(data)
                size = len(data)
                while chunk := handle.read(1 << 20):
                    hasher.update(chunk)
                    size += len(chunk)
                raise SqlFileTooLargeError(
                    path_str,
                    f"file is {size} bytes, larger than the limit of {max_bytes} bytes",
                    sha256=hasher.hexdigest(),
                )
    except OSError as exc:
        raise SqlFileError(path_str, f"cannot read file: {exc.strerror or exc}") from exc
    digest = hashlib.sha256(data).hexdigest()
    return decode_sql(data, path_str, sha256=digest), digest


def decode_sql(data: bytes, path: str, *, sha256: str = "") -> str:
    """Decode a SQL file's bytes as UTF-8 text (a leading byte-order mark dropped).

    Raises:
        SqlDecodeError: When the bytes are not UTF-8 or hold a NUL character (binary content);
            the error gives the line and column of the first bad byte.

    >>> decode_sql(b"\\xef\\xbb\\xbfSELECT 1", "a.sql")
    'SELECT 1'
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SqlDecodeError(
            path,
            f"not UTF-8 text: invalid byte 0x{data[exc.start]:02x} at byte offset {exc.start}",
            line=line,
            column=column,
            sha256=sha256,
        ) from exc
    if "\x00" in text:
        offset = text.index("\x00")
        raise SqlDecodeError(
            path,
            f"binary content: NUL character at offset {offset}",
            line=text.count("\n", 0, offset) + 1,
            column=offset - (text.rfind("\n", 0, offset) + 1) + 1,
            sha256=sha256,
        )
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def _extract(
    sql: str,
    digest: str,
    dialect_name: str | None,
    defaults: tuple[str | None, str | None],
    schema: Mapping[str, Any] | SchemaIndex | None,
    columns: bool,
    conditions: bool,
    path: str | None,
    *,
    declaring_only: bool = False,
) -> FileLineage:
    _warn_once_if_not_compiled()
    dialect = get_dialect(dialect_name)
    namer = Namer(dialect, *defaults)
    if not isinstance(schema, SchemaIndex):
        schema = SchemaIndex(normalize_schema(schema, namer))
    lookups = SchemaLookups(schema, lambda name: namer.name(name, quoted=False))
    script = ScriptState(namer, lookups, columns, conditions, text=sql)
    upper = sql.upper()
    script.script_temps = _dropped_later(sql, upper, namer)
    # SELECT counts below read ``upper`` at the offsets of ``sql``.
    hint_ok = len(upper) == len(sql) and type(dialect).__name__ not in _SELECTS_WITHOUT_KEYWORD
    statements: list[StatementLineage] = []
    pipes = "|>" in upper
    for parsed in parse_statements(sql, dialect, upper=upper, declaring_only=declaring_only):
        if parsed.error is not None or parsed.expression is None:
            if parsed.error is not None:
                statements.append(
                    StatementLineage(len(statements), parsed.line, "UNKNOWN", error=parsed.error)
                )
            continue
        script.position = parsed.start
        expanded = _expand(parsed.expression, parsed.line, dialect, sql, parsed.start)
        # The number of SELECT keywords in the statement's text lets the table walk skip the
        # projections of wide queries (see _walk_tables); over-counting only costs speed.
        script.select_hint = None
        if (
            hint_ok
            and parsed.end
            and len(expanded) == 1
            and expanded[0][1] is parsed.expression
            and not (pipes and upper.find("|>", parsed.start, parsed.end) >= 0)  # FROM t |> ...
        ):
            script.select_hint = upper.count("SELECT", parsed.start, parsed.end)
        for line, expression in expanded:
            script.root = expression
            try:
                statements.append(statement_lineage(expression, len(statements), line, script))
            except RecursionError:
                statements.append(
                    StatementLineage(
                        len(statements),
                        line,
                        statement_kind(expression),
                        error=StatementError("statement nested too deeply", line, None),
                    )
                )
            except Exception as exc:
                logger.exception("lineage extraction failed at line %s", line)
                statements.append(
                    StatementLineage(
                        len(statements),
                        line,
                        statement_kind(expression),
                        error=StatementError(
                            f"internal error extracting lineage: {type(exc).__name__}: {exc}",
                            line,
                            None,
                        ),
                    )
                )
        _release(parsed.expression)
    if script.temp_writes:
        add_temp_outputs(statements, script)
    return FileLineage(
        path,
        digest,
        dialect_name,
        tuple(statements),
        None,
        tuple(script.declarations),
        tuple(sorted(lookups.seen)),
        lookups.digest(),
    )


def _release(tree: exp.Expr) -> None:
    """Unlink the nodes of a tree whose lineage has been extracted from their parents.

    Parent links make each tree a web of reference cycles that only the garbage collector
    frees, and finding them costs it about a sixth of the parse time in bulk parsing. Without
    the links a dropped tree is freed at once by reference counting: the collector runs far
    less often. Nothing of a tree outlives its statement (lineage holds names only).
    """
    tree.parent = None
    stack = [tree]
    pop = stack.pop
    push = stack.append
    childless = _CHILDLESS
    while stack:
        for child in pop().iter_expressions():
            child.parent = None
            # Names and literals (half the nodes) have no children: not worth a visit.
            if type(child) not in childless:
                push(child)


_CHILDLESS = frozenset({exp.Identifier, exp.Literal, exp.Var, exp.Null, exp.Boolean})


_warned: list[bool] = []


def _warn_once_if_not_compiled() -> None:
    if not _warned:
        _warned.append(True)
        warn_if_not_compiled()


def _dropped_later(sql: str, upper: str, namer: Namer) -> dict[str, int]:
    """Tables dropped somewhere in the script, with the offset of their last DROP.

    ``upper`` is ``sql.upper()``; its offsets are those of ``sql`` when both have one length.
    """
    found: dict[str, int] = {}
    same_offsets = len(upper) == len(sql)
    at = upper.find("DROP")
    while at >= 0:
        before = upper[at - 1] if at else " "
        match = _DROPPED.match(sql, at) if not (before.isalnum() or before == "_") else None
        if match is None and not same_offsets:
            # Upper-casing changed the length (rare letters): fall back to a full scan.
            return _dropped_later_slow(sql, namer)
        if match is not None:
            found[namer.qualify_text(_dropped_name(match))] = at
        at = upper.find("DROP", at + 4)
    return found


def _dropped_later_slow(sql: str, namer: Namer) -> dict[str, int]:
    found: dict[str, int] = {}
    for match in re.finditer(r"\bDROP\b", sql, re.IGNORECASE):
        dropped = _DROPPED.match(sql, match.start())
        if dropped is not None:
            found[namer.qualify_text(_dropped_name(dropped))] = match.start()
    return found


def _dropped_name(match: re.Match[str]) -> str:
    name = re.sub(r"\s+", "", match.group(1))
    if name.startswith("#") or "[" in name:
        name = name.replace("[", "").replace("]", "")
    return name


def _expand(
    expression: exp.Expr, line: int, dialect: Dialect, sql: str = "", start: int | None = None
) -> list[tuple[int, exp.Expr]]:
    """Statements nested in procedures and control flow, or the statement itself.

    ``sql`` and ``start`` (the statement's offset in it) place a routine's body, so its
    statements get their lines in the file.
    """
    cls = type(expression)
    may_nest = _MAY_NEST.get(cls)
    if may_nest is None:
        may_nest = _MAY_NEST[cls] = issubclass(cls, _NESTING)
    if not may_nest:
        return [(line, expression)]
    if isinstance(expression, exp.Create) and expression.kind in (
        "PROCEDURE",
        "FUNCTION",
        "TRIGGER",
    ):
        body = expression.expression
        if isinstance(body, (exp.RawString, exp.Heredoc, exp.Literal)) or (
            isinstance(body, exp.Block)
            and len(body.expressions) == 1
            and isinstance(body.expressions[0], (exp.RawString, exp.Heredoc))
        ):
            text = body.name if not isinstance(body, exp.Block) else body.expressions[0].name
            first = _text_line(sql, start, line, text)
            return [
                (first + p.line - 1, p.expression)
                for p in parse_statements(text, dialect)
                if p.expression is not None
            ] or [(line, expression)]
        if body is None:
            return [(line, expression)]
        if isinstance(body, exp.Command):
            # ``CREATE PROCEDURE p() BEGIN ... END`` kept as an opaque ``BEGIN`` command.
            rest = body.expression
            text = rest if isinstance(rest, str) else rest.name if rest else ""
            if str(body.this).upper() != "BEGIN":
                text = f"{body.this} {text}"
                first = line
            else:
                first = _text_line(sql, start, line, text)
            return [
                (first + p.line - 1, p.expression)
                for p in parse_statements(text, dialect)
                if p.expression is not None
            ] or [(line, expression)]
        nested = _nested_statements(body, line)
        return nested or [(line, expression)]
    if isinstance(expression, (exp.Block, exp.IfBlock, exp.WhileBlock)):
        return _nested_statements(expression, line)
    dynamic = _dynamic_sql(expression)
    if dynamic:
        # T-SQL ``EXEC('...')`` / ``sp_executesql N'...'`` with a literal: follow the SQL.
        nested = [(line, p.expression) for p in parse_statements(dynamic, dialect) if p.expression]
        if nested:
            return nested
    if isinstance(expression, exp.Command) and str(expression.this).upper() == "RENAME":
        # MySQL ``RENAME TABLE a TO b, c TO d``: one statement per pair, so each table feeds
        # only its new name.
        body = expression.expression
        text = body if isinstance(body, str) else body.name if body is not None else ""
        head, _, pairs = text.strip().partition(" ")
        if "," in pairs:
            return [
                (line, exp.Command(this="RENAME", expression=exp.Literal.string(f"{head} {pair}")))
                for pair in pairs.split(",")
            ]
        return [(line, expression)]
    if isinstance(expression, exp.Command) and str(expression.this).upper() == "DO":
        # Postgres ``DO $$ ... $$``: an anonymous PL/pgSQL block.
        body = expression.expression
        match = _DOLLAR_BODY.search(body if isinstance(body, str) else body.name if body else "")
        if match:
            text = match.group("body")
            first = _text_line(sql, start, line, text)
            nested = [
                (first + p.line - 1, p.expression)
                for p in parse_statements(text, dialect)
                if p.expression is not None
            ]
            if nested:
                return nested
    if isinstance(expression, exp.Command) and str(expression.this).upper() in ("EXECUTE", "EXEC"):
        # ``EXECUTE IMMEDIATE $$ ... $$`` / ``'...'`` (Snowflake, Oracle, BigQuery): a script.
        body = expression.expression
        text = body if isinstance(body, str) else body.name if body is not None else ""
        match = _IMMEDIATE.match(text)
        if match:
            inner = match.group("dollar") or (match.group("quoted") or "").replace("''", "'")
            nested = [
                (line + p.line - 1, p.expression)
                for p in parse_statements(inner, dialect)
                if p.expression is not None
            ]
            if nested:
                return nested
    return [(line, expression)]


_DOLLAR_BODY = re.compile(r"\$(?P<tag>\w*)\$(?P<body>.*?)\$(?P=tag)\$", re.S)


def _text_line(sql: str, start: int | None, line: int, text: str) -> int:
    """The line of the file where ``text``, found in the statement at ``start``, begins."""
    if start is None or not text:
        return line
    at = sql.find(text, start)
    return line + sql.count("\n", start, at) if at >= 0 else line


# The statement types that can hold other statements (procedures, blocks, dynamic SQL);
# ``_expand`` returns any other statement as it is, after one lookup of its type.
_NESTING = tuple(
    cls
    for cls in (
        exp.Create,
        exp.Block,
        exp.IfBlock,
        exp.WhileBlock,
        exp.Command,
        getattr(exp, "ExecuteSql", None),
        getattr(exp, "Execute", None),
    )
    if cls is not None
)
_MAY_NEST: dict[type, bool] = {}


def _dynamic_sql(expression: exp.Expr) -> str | None:
    """The literal SQL text run by T-SQL dynamic SQL, when it is a plain literal."""
    execute_sql = getattr(exp, "ExecuteSql", None)
    if execute_sql is not None and isinstance(expression, execute_sql):
        first = expression.expressions[0] if expression.expressions else None
        if isinstance(first, exp.National) or (isinstance(first, exp.Literal) and first.is_string):
            return first.name
        return None
    execute = getattr(exp, "Execute", None)
    if execute is not None and isinstance(expression, execute):
        inner = expression.this
        while isinstance(inner, (exp.Subquery, exp.Paren)):
            inner = inner.this
        if isinstance(inner, exp.Table) and isinstance(inner.this, exp.Identifier):
            ident = inner.this
            if ident.quoted and not inner.args.get("db") and " " in ident.this:
                return ident.this
        if isinstance(inner, exp.Literal) and inner.is_string:
            return inner.name
    return None


_IMMEDIATE = re.compile(
    r"\s*IMMEDIATE\s+(?:\$\$(?P<dollar>.*)\$\$|'(?P<quoted>(?:[^']|'')*)')", re.I | re.S
)


_STATEMENTS = (
    exp.Query,
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Merge,
    exp.Create,
    exp.Drop,
    exp.Alter,
    exp.Copy,
    exp.TruncateTable,
    exp.MultitableInserts,
    exp.Command,
)


def _nested_statements(node: exp.Expr, line: int) -> list[tuple[int, exp.Expr]]:
    out: list[tuple[int, exp.Expr]] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, _STATEMENTS):
            out.append((_line_of(current, line), current))
            continue
        stack.extend(reversed(list(current.iter_expressions())))
    return out


def _line_of(node: exp.Expr, default: int) -> int:
    """The line of a nested statement: that of its first name (keywords carry no position)."""
    ident = node.find(exp.Identifier)
    return (ident.meta.get("line") if ident is not None else None) or default


__all__ = ["DEFAULT_MAX_BYTES", "extract_file", "extract_lineage", "read_sql_file"]
