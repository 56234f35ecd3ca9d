"""Splitting a SQL script into statements and parsing each one on its own.

A script is tokenized once and split at semicolons and at T-SQL ``GO`` batch separators; each
piece is parsed separately so that one bad statement only costs its own lineage. When a piece
fails to parse (or sqlglot can only keep it as an opaque ``Command``), it is split again at the
keywords that start a statement: this recovers T-SQL batches written without semicolons and
the bodies of stored procedures, whose control flow (``IF``, ``BEGIN ... END``, ``WHILE``) is
dropped while the statements inside it are kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING

from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, TokenType

from lineage_dagster.parsing.models import StatementError

if TYPE_CHECKING:
    from sqlglot.dialects.dialect import Dialect
    from sqlglot.parser import Parser

# Token types whose text is data (a string or a quoted name), never a keyword.
_DATA_TOKENS = frozenset({TokenType.STRING, TokenType.IDENTIFIER, TokenType.NATIONAL_STRING})
_NAME_TOKENS = frozenset({TokenType.VAR, TokenType.IDENTIFIER})
_OPEN = frozenset({TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE})
_CLOSE = frozenset({TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE})

# Keywords that start a data statement: a failing piece that starts with one is reported.
_DML_STARTERS = frozenset(
    {
        "INSERT", "UPDATE", "DELETE", "MERGE", "SELECT", "WITH", "CREATE", "ALTER", "DROP",
        "TRUNCATE", "COPY", "UNLOAD", "REPLACE", "UPSERT", "RENAME", "VALUES",
    }
)  # fmt: skip
# Keywords that start a procedural statement: kept as their own piece, which may fail quietly.
_PROC_STARTERS = frozenset(
    {
        "DECLARE", "SET", "EXEC", "EXECUTE", "CALL", "RETURN", "PRINT", "COMMIT", "ROLLBACK",
        "OPEN", "CLOSE", "FETCH", "DEALLOCATE", "RAISERROR", "THROW", "GOTO", "USE", "GRANT",
        "REVOKE", "ANALYZE", "VACUUM", "OPTIMIZE", "MSCK", "REFRESH", "CACHE", "UNCACHE",
        "LOCK", "UNLOCK", "COLLECT", "EXIT", "CONTINUE", "BREAK", "RAISE", "NULL",
    }
)  # fmt: skip
# Control flow: dropped, together with their condition when they have one.
_CONTROL_WITH_CONDITION = frozenset({"IF", "WHILE", "ELSIF", "ELSEIF", "WHEN", "FOR"})
_CONTROL = frozenset({"BEGIN", "END", "ELSE", "LOOP", "THEN", "DO", "TRY", "CATCH"})
# Commands whose text holds no statement (``GRANT SELECT ON ...`` is not a SELECT).
_OPAQUE_COMMANDS = frozenset(
    {
        "GRANT", "REVOKE", "COMMENT", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "ANALYZE", "VACUUM",
        "UNLOAD", "COPY", "PUT", "GET", "LIST", "REMOVE", "OPTIMIZE", "MSCK", "REFRESH",
    }
)  # fmt: skip
_CONTROL_START = frozenset({"BEGIN", "END", "ELSE", "ELSIF", "ELSEIF", "LOOP", "WHILE", "IF"})
_TRANSACTION = frozenset({"TRAN", "TRANSACTION", "WORK", "DISTRIBUTED"})
_SET_OPERATORS = frozenset({"UNION", "INTERSECT", "EXCEPT", "MINUS", "ALL", "DISTINCT"})
_ROUTINES = frozenset({"PROCEDURE", "PROC", "FUNCTION", "TRIGGER", "PACKAGE", "BODY"})
_GO = "GO"
_GO_LINE = re.compile(r"^[ \t]*GO\b", re.MULTILINE | re.IGNORECASE)
# A pattern that starts with a literal lets the regex engine jump from line break to line
# break (``^`` with MULTILINE tries every character: four times slower).
_GO_AFTER_NEWLINE = re.compile(r"\n[ \t]*GO")
_GO_FIRST = re.compile(r"[ \t]*GO")
_NOT_NEWLINE = re.compile(r"[^\n]")
_GO_TYPES = frozenset({TokenType.COMMAND, TokenType.VAR, TokenType.STRING})


@dataclass(frozen=True)
class ParsedStatement:
    """One statement of a script: its 1-based start line and its tree, or why it failed."""

    line: int
    expression: exp.Expr | None
    error: StatementError | None = None
    start: int = 0
    """Offset of the statement's first character in the text."""
    end: int = 0
    """Offset just past its last token (0 when unknown)."""


def _parsed(line: int, expression: exp.Expr, start: int, end: int) -> ParsedStatement:
    """A ParsedStatement built without the frozen ``__init__`` (one ``object.__setattr__``
    per field): the whole-file path builds one per statement and little else."""
    parsed = _new(ParsedStatement)
    fields = parsed.__dict__
    fields["line"] = line
    fields["expression"] = expression
    fields["error"] = None
    fields["start"] = start
    fields["end"] = end
    return parsed


_new = object.__new__


def parse_statements(
    sql: str, dialect: Dialect, *, upper: str | None = None, declaring_only: bool = False
) -> Iterator[ParsedStatement]:
    """Parse ``sql`` into statements, yielding each tree with its position.

    ``upper`` may give ``sql.upper()`` when the caller has it already. ``declaring_only``
    yields only what can declare a table's columns (see :func:`_declaring_statements`).

    A caller that extracts and drops each tree holds at most one file's trees (those of a file
    whose statements all parse are built in one call), and one statement's tree for files
    over ``STREAM_THRESHOLD``, which are tokenized and parsed piece by piece.

    >>> from sqlglot.dialects.dialect import Dialect
    >>> sql = "SELECT a FROM t;\\nSELECT FROM (;\\nGO\\nSELECT b FROM u"
    >>> [(s.line, s.error is None) for s in parse_statements(sql, Dialect.get_or_raise("tsql"))]
    [(1, True), (2, False), (4, True)]
    """
    if len(sql) > STREAM_THRESHOLD:
        yield from _parse_pieces(sql, dialect)
        return
    try:
        tokens = dialect.tokenize(sql)
    except TokenError:
        # An unterminated string or comment: tokenize piece by piece to locate it.
        yield from _parse_pieces(sql, dialect)
        return
    except RecursionError:
        yield ParsedStatement(1, None, StatementError("input nested too deeply to tokenize", 1, 1))
        return
    parser = dialect.parser()
    if declaring_only:
        yield from _declaring_statements(tokens, sql, dialect, parser)
        return
    if not _has_go_line(sql, sql.upper() if upper is None else upper):
        fast = _parse_whole(tokens, sql, parser)
        if fast is not None:
            fast.reverse()
            while fast:
                # Pop, so each tree is freed once its lineage has been extracted.
                expression, chunk = fast.pop()
                if isinstance(expression, exp.Command) or _keyword(chunk[0]) in _CONTROL_START:
                    # Procedures, control flow, opaque commands: the careful path.
                    yield from _parse_chunk(chunk, sql, dialect, parser)
                else:
                    first = chunk[0]
                    yield _parsed(first.line, expression, first.start, chunk[-1].end + 1)
            return
    yield from _parse_chunks(split_tokens(tokens), sql, dialect, parser)


# Token types that may start a statement inside a piece that holds more than one (a T-SQL batch
# without semicolons, a procedure): such a piece is parsed whole.
_OTHER_STATEMENT = frozenset(
    {
        TokenType.CREATE, TokenType.ALTER, TokenType.INSERT, TokenType.MERGE, TokenType.USE,
        TokenType.DROP, TokenType.INTO, TokenType.COMMAND, TokenType.BEGIN, TokenType.RENAME,
        TokenType.TRUNCATE, TokenType.EXECUTE, TokenType.DECLARE,
    }
)  # fmt: skip
_DECLARE_NOTHING = frozenset({TokenType.UPDATE, TokenType.DELETE})
_INSERT_KEYWORDS = frozenset({TokenType.INTO, TokenType.OVERWRITE, TokenType.TABLE})
_QUERY_START = frozenset({TokenType.SELECT, TokenType.WITH, TokenType.VALUES, TokenType.L_PAREN})
_NAME_PARTS = frozenset({TokenType.VAR, TokenType.IDENTIFIER, TokenType.DOT})


def _declaring_statements(
    tokens: list[Token], sql: str, dialect: Dialect, parser: Parser
) -> Iterator[ParsedStatement]:
    """The statements of a script that can declare columns, each parsed only as far as needed.

    ``UPDATE`` and ``DELETE`` declare nothing and are not parsed, nor is an ``INSERT`` without
    a column list; an ``INSERT`` with one is parsed without its query (its columns are the
    list). Any piece that may hold another statement, or an ``INSERT`` of another shape, is
    parsed whole, as :func:`parse_statements` does.
    """
    values: list[Token] | None = None
    for chunk in split_tokens(tokens):
        first = chunk[0].token_type
        if first in _DECLARE_NOTHING or first == TokenType.INSERT:
            rest = 1 if first in _DECLARE_NOTHING else _insert_rest(chunk)
            if rest is not None and not any(t.token_type in _OTHER_STATEMENT for t in chunk[rest:]):
                if first != TokenType.INSERT or chunk[rest - 1].token_type != TokenType.R_PAREN:
                    continue  # declares nothing
                if values is None:
                    values = dialect.tokenize("VALUES (NULL)")
                try:
                    expression = parser.parse([*chunk[:rest], *values], sql)[0]
                except ParseError:
                    expression = None
                if isinstance(expression, exp.Insert):
                    yield ParsedStatement(
                        chunk[0].line, expression, start=chunk[0].start, end=chunk[-1].end + 1
                    )
                    continue
        yield from _parse_chunk(chunk, sql, dialect, parser)


def _insert_rest(chunk: list[Token]) -> int | None:
    """Where the query of ``INSERT [INTO|OVERWRITE] [TABLE] name [(columns)] query`` starts,
    ``None`` for an INSERT of any other shape."""
    i = 1
    while i < len(chunk) and chunk[i].token_type in _INSERT_KEYWORDS:
        i += 1
    start = i
    while i < len(chunk) and chunk[i].token_type in _NAME_PARTS:
        i += 1
    if i == start or i >= len(chunk):
        return None
    if chunk[i].token_type == TokenType.L_PAREN and i + 1 < len(chunk):
        if chunk[i + 1].token_type in _QUERY_START:
            return i  # ``INSERT INTO t (SELECT ...)``: no column list
        i += 1
        while i < len(chunk) and chunk[i].token_type in (TokenType.VAR, TokenType.IDENTIFIER):
            i += 1
            if i < len(chunk) and chunk[i].token_type == TokenType.COMMA:
                i += 1
            elif i < len(chunk) and chunk[i].token_type == TokenType.R_PAREN:
                i += 1
                break
            else:
                return None
        else:
            return None
    if i < len(chunk) and chunk[i].token_type in _QUERY_START:
        if chunk[i].token_type == TokenType.WITH and _next_type(chunk, i) == TokenType.L_PAREN:
            return None  # ``WITH (TABLOCK)``: a table hint, not a query's CTEs
        return i
    return None


def _next_type(chunk: list[Token], i: int) -> TokenType | None:
    return chunk[i + 1].token_type if i + 1 < len(chunk) else None


def _has_go_line(sql: str, upper: str) -> bool:
    """Whether a line holds ``GO`` alone (or first): T-SQL batches. ``upper`` is
    ``sql.upper()``. A case-sensitive search of it is cheap; a case-insensitive regex over
    the whole text is not, and nor is checking in Python every "GO" inside words (REGION)."""
    if len(upper) != len(sql):
        return _GO_LINE.search(sql) is not None
    first = _GO_FIRST.match(upper)
    lines = _GO_AFTER_NEWLINE.finditer(upper)
    for match in chain((first,), lines) if first is not None else lines:
        after = upper[match.end() : match.end() + 1]
        if not (after.isalnum() or after == "_"):
            return True
    return False


def _parse_whole(
    tokens: list[Token], sql: str, parser: Parser
) -> list[tuple[exp.Expr, list[Token]]] | None:
    """Parse all statements in one call to sqlglot, or ``None`` if any of them fails.

    sqlglot splits the tokens at semicolons in compiled code, which is faster than splitting
    them here; when a statement fails, the caller parses statement by statement instead, so
    that the error stays with that statement. This holds the trees of one file at once, never
    more (large files take the piece-by-piece path).
    """
    try:
        expressions = parser.parse(tokens, sql)
    except (ParseError, RecursionError):
        return None
    # sqlglot keeps the token chunks it split; without them (another version), go slow.
    chunks = getattr(parser, "_chunks", None)
    if chunks is None or len(chunks) != len(expressions):
        return None
    return [
        (expression, chunk)
        for expression, chunk in zip(expressions, chunks, strict=True)
        if expression is not None and chunk and chunk[0].token_type != TokenType.SEMICOLON
    ]


def split_tokens(tokens: list[Token]) -> list[list[Token]]:
    """Split a token list at semicolons, at ``GO`` alone on its line (T-SQL batches) and at
    ``/`` alone on its line (the end of an Oracle PL/SQL block in SQL*Plus scripts)."""
    semicolon = TokenType.SEMICOLON
    slash = TokenType.SLASH
    go_types = _GO_TYPES
    # One cheap pass finds the separators; slicing between them is done in C. Checking every
    # token in Python (text, neighbours) would cost a tenth of the parse time.
    separators = [
        i
        for i, token in enumerate(tokens)
        if token.token_type is semicolon
        or token.token_type is slash
        or (token.token_type in go_types and len(token.text) == 2 and token.text.upper() == _GO)
    ]
    if not separators:
        return [tokens] if tokens else []
    chunks: list[list[Token]] = []
    start = 0
    for i in separators:
        token = tokens[i]
        if token.token_type is slash:
            if not _alone(tokens, i):
                continue  # a division; alone on its line it ends an Oracle block (SQL*Plus)
        elif token.token_type is not semicolon and not (_alone(tokens, i) and _bare_go(tokens, i)):
            continue
        if i > start:
            chunks.append(tokens[start:i])
        start = i + 1
        if token.token_type is not semicolon and start < len(tokens):
            following = tokens[start]
            if following.token_type == TokenType.NUMBER and following.line == token.line:
                start += 1  # the repeat count of ``GO 5``
    if start < len(tokens):
        chunks.append(tokens[start:])
    return chunks


def _bare_go(tokens: list[Token], i: int) -> bool:
    """Whether ``GO`` is a bare word (T-SQL tokenizes a ``GO`` after ``END`` as a string)."""
    token_type = tokens[i].token_type
    if token_type not in _DATA_TOKENS:
        return True
    return token_type == TokenType.STRING and i > 0 and tokens[i - 1].token_type == TokenType.END


def _alone(tokens: list[Token], i: int) -> bool:
    """Whether token ``i`` is the only one on its line (a ``GO`` count may follow it)."""
    line = tokens[i].line
    if i and tokens[i - 1].line == line:
        return False
    if i + 1 < len(tokens):
        nxt = tokens[i + 1]
        if nxt.line == line and nxt.token_type not in (TokenType.NUMBER, TokenType.SEMICOLON):
            return False
    return True


def _parse_chunks(
    chunks: Iterable[list[Token]], sql: str, dialect: Dialect, parser: Parser
) -> Iterator[ParsedStatement]:
    """Parse each statement's tokens. A declaration section (after ``DECLARE``, or a routine's
    ``IS``/``AS``, until ``BEGIN``: PL/SQL, PL/pgSQL, Snowflake Scripting) declares one
    variable per statement (``v_total NUMBER(18, 2) := 0``), which sqlglot cannot parse: each
    one that fails and reads nothing is a ``DECLARE`` of its variable, not an error."""
    declaring = False
    for chunk in chunks:
        first = _keyword(chunk[0])
        if first == "BEGIN":
            declaring = False
        elif first == "DECLARE" or (first == "CREATE" and _creates_routine(chunk)):
            declaring = True
        parsed = list(_parse_chunk(chunk, sql, dialect, parser))
        if (
            declaring
            and len(parsed) == 1
            and parsed[0].error is not None
            and not any(_keyword(token) in _DML_STARTERS for token in chunk)
        ):
            name = chunk[1] if first == "DECLARE" and len(chunk) > 1 else chunk[0]
            declaration = exp.Command(this="DECLARE", expression=exp.Literal.string(name.text))
            parsed = [ParsedStatement(chunk[0].line, declaration, start=chunk[0].start)]
        yield from parsed


def _creates_routine(chunk: list[Token]) -> bool:
    """``CREATE [OR REPLACE] [EDITIONABLE] PROCEDURE|FUNCTION|TRIGGER|PACKAGE ...`` (not a
    column named ``function`` in ``CREATE TABLE t (function INT)``)."""
    for token in chunk[1:6]:
        if token.token_type == TokenType.L_PAREN:
            return False
        if _keyword(token) in _ROUTINES:
            return True
    return False


def _parse_chunk(
    chunk: list[Token], sql: str, dialect: Dialect, parser: Parser
) -> Iterator[ParsedStatement]:
    line = chunk[0].line
    if _keyword(chunk[0]) in _CONTROL_START and not (
        len(chunk) > 1 and _keyword(chunk[1]) in _TRANSACTION
    ):
        # ``END``, ``ELSE BEGIN ...``, ``IF cond stmt``: control flow around statements.
        if (
            len(chunk) == 2
            and chunk[1].token_type == TokenType.STRING
            and chunk[0].token_type in (TokenType.COMMAND, *dialect.tokenizer_class.COMMANDS)
        ):
            # The tokenizer kept what follows ``BEGIN`` (BigQuery) as raw text: parse it.
            yield from _parse_raw(
                chunk[1].text, _text_line(sql, chunk[0], chunk[1].text), dialect, parser
            )
            return
        yield from _parse_split(split_at_keywords(chunk), sql, parser)
        return
    if chunk[0].token_type in _USE_TOKENS and len(chunk) > 2:
        chunk = _use_forms(chunk)
    try:
        expression = parser.parse(chunk, sql)[0]
    except ParseError as exc:
        recovered = (
            _insert_exec(chunk, parser)
            or _recover_create(chunk, sql, parser)
            or _strip_tsql_clauses(chunk, sql, parser)
            or _strip_merge_delete(chunk, sql, parser)
            or _compound_assignments(chunk, sql, parser)
            or _strip_mysql_into(chunk, sql, parser)
            or _names_from_keywords(chunk, sql, parser)
        )
        if recovered is not None:
            yield ParsedStatement(line, recovered, start=chunk[0].start, end=chunk[-1].end + 1)
            return
        pieces = split_at_keywords(chunk)
        if len(pieces) > 1 or (pieces and len(pieces[0]) != len(chunk)):
            yield from _parse_split(pieces, sql, parser)
        elif _keyword(chunk[0]) in _EXEC:
            yield _opaque_execute(chunk)
        else:
            yield ParsedStatement(line, None, _parse_error(exc, chunk))
        return
    except RecursionError:
        yield ParsedStatement(line, None, StatementError("statement nested too deeply", line, 1))
        return
    if (
        isinstance(expression, exp.Command)
        and _keyword(chunk[0]) in ("REPLACE", "UPSERT")
        and len(chunk) > 1
        and chunk[1].text[:4].upper() == "INTO"
    ):
        # MySQL ``REPLACE INTO`` / ``UPSERT INTO`` write like an INSERT.
        replaced = _parse_as_insert(chunk, sql, dialect, parser)
        if replaced is not None:
            yield ParsedStatement(line, replaced, start=chunk[0].start, end=chunk[-1].end + 1)
            return
    if isinstance(expression, exp.Command) and _keyword(chunk[0]) in ("CREATE", "ALTER"):
        recovered = _recover_create(chunk, sql, parser)
        if recovered is not None:
            yield ParsedStatement(line, recovered, start=chunk[0].start, end=chunk[-1].end + 1)
            return
    if isinstance(expression, exp.Command) and _keyword(chunk[0]) not in _OPAQUE_COMMANDS:
        # sqlglot keeps what it cannot parse (procedures, control flow) as an opaque
        # command: look inside for statements.
        pieces = split_at_keywords(chunk)
        if (len(pieces) > 1 or (pieces and len(pieces[0]) != len(chunk))) and any(
            _starter(p) in _DML_STARTERS for p in pieces
        ):
            yield from _parse_split(pieces, sql, parser)
            return
    yield ParsedStatement(line, expression, start=chunk[0].start, end=chunk[-1].end + 1)


def _text_line(sql: str, before: Token, text: str) -> int:
    """The line where ``text``, kept raw by the tokenizer after the token ``before``, starts
    (the raw token's own line is where it ends, and its text lost its leading space)."""
    at = sql.find(text, before.end + 1)
    return before.line + sql.count("\n", before.end, at) if at >= 0 else before.line


def _parse_raw(text: str, line: int, dialect: Dialect, parser: Parser) -> Iterator[ParsedStatement]:
    """Parse text found inside a statement, reporting lines relative to the file."""
    try:
        tokens = dialect.tokenize(text)
    except (TokenError, RecursionError):
        yield ParsedStatement(line, None, StatementError("could not tokenize statement", line))
        return
    for token in tokens:
        token.line += line - 1
    for chunk in split_tokens(tokens):
        for parsed in _parse_chunk(chunk, text, dialect, parser):
            # Offsets are relative to ``text``, not to the file: drop them.
            yield ParsedStatement(parsed.line, parsed.expression, parsed.error)


def _parse_as_insert(
    chunk: list[Token], sql: str, dialect: Dialect, parser: Parser
) -> exp.Expr | None:
    """Re-read ``REPLACE INTO ...`` as ``INSERT  INTO ...`` (sqlglot keeps it as a command)."""
    start = chunk[0].start
    end = sql.find(";", chunk[-1].start)
    text = sql[start : end if end >= 0 else len(sql)]
    keyword = len(chunk[0].text)
    # Same length and the same line breaks before it: positions stay those of the file.
    padded = _NOT_NEWLINE.sub(" ", sql[:start]) + "INSERT".ljust(keyword) + text[keyword:]
    try:
        return parser.parse(dialect.tokenize(padded), padded)[0]
    except (ParseError, TokenError, RecursionError):
        return None


_CREATE_MODIFIERS = frozenset(
    {"OR", "REPLACE", "GLOBAL", "LOCAL", "TEMP", "TEMPORARY", "VOLATILE", "TRANSIENT",
     "MATERIALIZED", "SECURE", "MULTISET", "SET", "UNLOGGED", "EXTERNAL", "RECURSIVE"}
)  # fmt: skip


def _recover_create(chunk: list[Token], sql: str, parser: Parser) -> exp.Expr | None:
    """``CREATE [modifiers] TABLE|VIEW name <options sqlglot does not know> AS <query>``.

    Engines add storage clauses (Oracle ``PARALLEL``, ``TABLESPACE``, Teradata options...)
    that sqlglot may not parse; the lineage only needs the name and the query.
    """
    words = [_keyword(token) for token in chunk]
    if not words or words[0] not in ("CREATE", "ALTER", "REPLACE"):
        return None
    i = 1
    temporary = materialized = False
    # Modifiers up to TABLE/VIEW: OR REPLACE, TEMPORARY, MySQL ``ALGORITHM = MERGE``...
    while i < min(len(words), 8) and words[i] not in ("TABLE", "VIEW"):
        temporary = temporary or words[i] in ("TEMP", "TEMPORARY", "VOLATILE")
        materialized = materialized or words[i] == "MATERIALIZED"
        if words[i] in ("AS", "SELECT", "WITH", "FUNCTION", "PROCEDURE") or (
            chunk[i].token_type in _OPEN
        ):
            return None
        i += 1
    if i >= len(words) or words[i] not in ("TABLE", "VIEW"):
        return None
    if words[0] != "CREATE" and words[i] != "VIEW":
        return None  # ALTER/REPLACE ... AS query only (re)defines views
    kind = words[i]
    i += 1
    if words[i : i + 3] == ["IF", "NOT", "EXISTS"]:
        i += 3
    name_start = i
    # A dotted name: part (. part)*; any token can be a part after a dot.
    if i >= len(chunk) or chunk[i].token_type in _OPEN:
        return None
    i += 1
    while i + 1 < len(chunk) and chunk[i].token_type == TokenType.DOT:
        i += 2
    query_at = _query_after_as(chunk, words, i)
    if query_at is None:
        return None
    try:
        table = parser.parse_into(exp.Table, chunk[name_start:i], sql)[0]
    except (ParseError, RecursionError):
        return None
    query = _parse_query_prefix(chunk[query_at:], sql, parser)
    if not isinstance(table, exp.Table) or query is None:
        return None
    flags: list[exp.Expr] = []
    if temporary:
        flags.append(exp.TemporaryProperty())
    if materialized:
        flags.append(exp.MaterializedProperty())
    properties = exp.Properties(expressions=flags) if flags else None
    return exp.Create(this=table, kind=kind, expression=query, properties=properties)


def _query_after_as(chunk: list[Token], words: list[str], start: int) -> int | None:
    """Where the query of ``... AS <query>`` starts, from ``start`` on, outside parentheses."""
    depth = 0
    for j in range(start, len(chunk)):
        token_type = chunk[j].token_type
        if token_type in _OPEN:
            depth += 1
        elif token_type in _CLOSE:
            depth -= 1
        elif (
            not depth
            and words[j] == "AS"
            and j + 1 < len(chunk)
            and (words[j + 1] in ("SELECT", "WITH") or chunk[j + 1].token_type == TokenType.L_PAREN)
        ):
            return j + 1
    return None


def _parse_query_prefix(tokens: list[Token], sql: str, parser: Parser) -> exp.Query | None:
    """Parse a query, else the query without its trailing options (``WITH [NO] DATA``,
    ``WITH READ ONLY``, ``PRIMARY INDEX (...)``...), cut at the last keyword at depth 0."""
    end = len(tokens)
    for _ in range(4):
        try:
            query = parser.parse(tokens[:end], sql)[0]
        except (ParseError, RecursionError):
            query = None
        if isinstance(query, exp.Query):
            return query
        depth = 0
        cut = None
        for j in range(end - 1, 0, -1):
            token_type = tokens[j].token_type
            if token_type in _CLOSE:
                depth += 1
            elif token_type in _OPEN:
                depth -= 1
            elif not depth and _keyword(tokens[j]) in _TRAILING_OPTIONS:
                cut = j
                break
        if cut is None:
            return None
        end = cut
    return None


_TRAILING_OPTIONS = frozenset({"WITH", "PRIMARY", "UNIQUE", "ON", "NO", "PARTITION", "INDEX"})


def _strip_merge_delete(chunk: list[Token], sql: str, parser: Parser) -> exp.Expr | None:
    """Oracle ``MERGE ... WHEN MATCHED THEN UPDATE SET ... DELETE WHERE cond``: sqlglot does
    not parse the DELETE clause, which only removes rows. Parse the MERGE without it."""
    words = [_keyword(token) for token in chunk]
    if not words or words[0] != "MERGE":
        return None
    kept: list[Token] = []
    depth = 0
    skipping = False
    changed = False
    for i, token in enumerate(chunk):
        if token.token_type in _OPEN:
            depth += 1
        elif token.token_type in _CLOSE:
            depth -= 1
        if not depth and words[i] == "DELETE" and i and words[i - 1] != "THEN":
            skipping = changed = True
        elif not depth and words[i] == "WHEN":
            skipping = False
        if not skipping:
            kept.append(token)
    if not changed:
        return None
    try:
        return parser.parse(kept, sql)[0]
    except (ParseError, RecursionError):
        return None


def _strip_tsql_clauses(chunk: list[Token], sql: str, parser: Parser) -> exp.Expr | None:
    """T-SQL clauses sqlglot may not parse: ``OUTPUT ... [INTO t [(cols)]]`` in DML, and table
    hints ``WITH (TABLOCK)`` after an INSERT's target. Parse the statement without them; an
    ``OUTPUT ... INTO audit`` becomes a statement of its own after it (see :func:`_output_into`)."""
    words = [_keyword(token) for token in chunk]
    if not words or words[0] not in ("INSERT", "MERGE", "UPDATE", "DELETE", "WITH"):
        return None
    kept: list[Token] = []
    output: tuple[list[Token], list[Token]] | None = None  # (its list, what follows INTO)
    depth = 0
    i = 0
    changed = False
    while i < len(chunk):
        token = chunk[i]
        if token.token_type in _OPEN:
            depth += 1
        elif token.token_type in _CLOSE:
            depth -= 1
        if not depth and words[i] == "OUTPUT" and i and output is None:
            end, into = _output_clause(chunk, words, i + 1)
            if into is None:
                output = (chunk[i + 1 : end], [])
            else:
                output = (chunk[i + 1 : into], chunk[into + 1 : end])
            i = end
            changed = True
            continue
        if (
            not depth
            and words[i] == "WITH"
            and i + 1 < len(chunk)
            and chunk[i + 1].token_type == TokenType.L_PAREN
            and words[0] == "INSERT"
            and kept
            and kept[-1].token_type in (TokenType.VAR, TokenType.IDENTIFIER)
        ):
            i = _past_parentheses(chunk, i + 1)  # skip ``WITH ( ... )`` table hints
            changed = True
            continue
        kept.append(token)
        i += 1
    if not changed or not kept:
        return None
    try:
        statement = parser.parse(kept, sql)[0]
    except (ParseError, RecursionError):
        return None
    if output is None or not output[1] or statement is None:
        return statement
    audit = _output_into(statement, output[0], output[1], sql, parser)
    return exp.Block(expressions=[statement, audit]) if audit is not None else statement


# Tokens of the table an ``OUTPUT ... INTO`` writes (``audit.changes``, ``@changes``, ``#t``).
_AUDIT_NAME = frozenset(
    {TokenType.VAR, TokenType.IDENTIFIER, TokenType.DOT, TokenType.PARAMETER, TokenType.HASH}
)
# Keywords that end an ``OUTPUT`` list (what follows belongs to the statement again).
_OUTPUT_ENDS = frozenset({"INTO", "FROM", "WHERE", "SELECT", "VALUES", "DEFAULT", "OPTION"})


def _output_clause(chunk: list[Token], words: list[str], start: int) -> tuple[int, int | None]:
    """Where the ``OUTPUT`` clause whose list starts at ``start`` ends, and its ``INTO``."""
    depth = 0
    i = start
    while i < len(chunk):
        if chunk[i].token_type in _OPEN:
            depth += 1
        elif chunk[i].token_type in _CLOSE:
            depth -= 1
        elif not depth and words[i] in _OUTPUT_ENDS:
            break
        i += 1
    if i >= len(chunk) or words[i] != "INTO":
        return i, None
    into = i
    i += 1
    while i < len(chunk) and chunk[i].token_type in _AUDIT_NAME:
        i += 1  # the audit table's name
    if i < len(chunk) and chunk[i].token_type == TokenType.L_PAREN:
        i = _past_parentheses(chunk, i)  # its column list
    return i, into


def _past_parentheses(chunk: list[Token], start: int) -> int:
    """The index just past the bracket that closes the one at ``start``."""
    depth = 0
    for i in range(start, len(chunk)):
        if chunk[i].token_type in _OPEN:
            depth += 1
        elif chunk[i].token_type in _CLOSE:
            depth -= 1
            if not depth:
                return i + 1
    return len(chunk)


def _output_into(
    statement: exp.Expr, listed: list[Token], into: list[Token], sql: str, parser: Parser
) -> exp.Expr | None:
    """T-SQL ``OUTPUT inserted.a, deleted.b INTO audit (x, y)`` as ``INSERT INTO audit (x, y)
    SELECT t.a, t.b FROM <the statement's tables>``: the rows it writes or removes are values
    of its target table ``t``."""
    target = statement.this
    if isinstance(target, exp.Schema):
        target = target.this
    if not isinstance(target, exp.Table) or not listed or not into:
        return None
    text = (
        f"INSERT INTO {sql[into[0].start : into[-1].end + 1]} "
        f"SELECT {sql[listed[0].start : listed[-1].end + 1]}"
    )
    try:
        audit = parser.parse(parser.dialect.tokenize(text), text)[0]
    except (ParseError, TokenError, RecursionError):
        return None
    select = audit.expression if isinstance(audit, exp.Insert) else None
    if not isinstance(select, exp.Select):
        return None
    qualifier = target.alias_or_name
    for column in list(select.find_all(exp.Column)):
        if column.table.lower() in ("inserted", "deleted"):
            column.set("table", exp.to_identifier(qualifier))
        elif not column.table and column.name.startswith("$"):
            column.replace(exp.Null())  # MERGE's ``$action``: no column of any table
    source = statement.args.get("from_")
    select.set(
        "from_", source.copy() if isinstance(source, exp.From) else exp.From(this=target.copy())
    )
    where = statement.args.get("where")
    if isinstance(where, exp.Where):
        select.set("where", where.copy())
    return audit


# Clauses that end a MySQL ``SELECT ... INTO ...`` target written before ``FROM``.
_AFTER_INTO = frozenset({"FROM", "WHERE", "GROUP", "HAVING", "ORDER", "LIMIT", "FOR", "LOCK"})


def _strip_mysql_into(chunk: list[Token], sql: str, parser: Parser) -> exp.Expr | None:
    """MySQL ``SELECT ... INTO OUTFILE 'path'`` / ``DUMPFILE`` (and ``INTO @a, @b``), before
    ``FROM`` or at the end, which sqlglot does not parse: the query without it, writing the file
    as Hive's ``INSERT OVERWRITE DIRECTORY`` writes its path (variables: the query alone)."""
    words = [_keyword(token) for token in chunk]
    if not words or words[0] not in ("SELECT", "WITH", "TABLE"):
        return None
    depth = 0
    for i, word in enumerate(words):
        token = chunk[i]
        if token.token_type in _OPEN:
            depth += 1
        elif token.token_type in _CLOSE:
            depth -= 1
        elif not depth and word == "INTO" and i:
            break
    else:
        return None
    if i + 1 >= len(chunk) or not (
        words[i + 1] in ("OUTFILE", "DUMPFILE") or chunk[i + 1].text.startswith("@")
    ):
        return None
    end = i + 1
    while end < len(chunk) and not (words[end] in _AFTER_INTO and words[end - 1] != "BY"):
        end += 1  # the target and the file's export options (``LINES TERMINATED BY ...``)
    to_file = words[i + 1] in ("OUTFILE", "DUMPFILE") and i + 2 < len(chunk)
    path = chunk[i + 2].text if to_file else None
    try:
        query = parser.parse([*chunk[:i], *chunk[end:]], sql)[0]
    except (ParseError, RecursionError):
        return None
    if path is None or not isinstance(query, exp.Query):
        return query
    return exp.Insert(
        this=exp.Directory(this=exp.Literal.string(path), local=True), expression=query
    )


# Tokens after which a value ends: a ``[`` there is a subscript (``arr[1]``), not a name.
_VALUE_ENDS = frozenset(
    {TokenType.VAR, TokenType.IDENTIFIER, TokenType.R_PAREN, TokenType.R_BRACKET,
     TokenType.NUMBER, TokenType.STRING}
)  # fmt: skip
# Words before ``KEY`` that make it the keyword (``PRIMARY KEY``), not a column name.
_KEY_WORDS = frozenset({"PRIMARY", "UNIQUE", "FOREIGN", "DUPLICATE", "SORTKEY", "DISTKEY"})


def _names_from_keywords(chunk: list[Token], sql: str, parser: Parser) -> exp.Expr | None:
    """Names the dialect's parser reads as keywords: ``[name]`` written in a dialect without
    bracket quoting (Redshift scripts ported from T-SQL), and ``key`` as a column (MySQL).
    Parse the statement with those tokens read as names."""
    out: list[Token] = []
    changed = False
    i = 0
    n = len(chunk)
    while i < n:
        token = chunk[i]
        kind = token.token_type
        previous = out[-1] if out else None
        if (
            kind == TokenType.L_BRACKET
            and i + 2 < n
            and chunk[i + 2].token_type == TokenType.R_BRACKET
            and chunk[i + 1].token_type not in (TokenType.NUMBER, TokenType.STRING)
            and (previous is None or previous.token_type not in _VALUE_ENDS)
            and (previous is None or previous.text.upper() != "ARRAY")
        ):
            inner = chunk[i + 1]
            out.append(
                Token(
                    TokenType.IDENTIFIER,
                    inner.text,
                    inner.line,
                    inner.col,
                    token.start,
                    chunk[i + 2].end,
                    token.comments,
                )
            )
            changed = True
            i += 3
            continue
        if (
            kind == TokenType.KEY
            and (previous is None or _keyword(previous) not in _KEY_WORDS)
            and (i + 1 == n or chunk[i + 1].token_type not in (TokenType.VAR, TokenType.L_PAREN))
        ):
            # A quoted name: the parser matches some keywords by their text even in VAR tokens.
            out.append(
                Token(
                    TokenType.IDENTIFIER,
                    token.text,
                    token.line,
                    token.col,
                    token.start,
                    token.end,
                    token.comments,
                )
            )
            changed = True
            i += 1
            continue
        out.append(token)
        i += 1
    return _parse_rewritten(parser, out, sql) if changed else None


_COMPOUND_OPERATORS = frozenset(
    {TokenType.PLUS, TokenType.DASH, TokenType.STAR, TokenType.SLASH, TokenType.MOD,
     TokenType.AMP, TokenType.PIPE, TokenType.CARET}
)  # fmt: skip
_SET_ENDS = frozenset({"FROM", "WHERE", "OUTPUT", "OPTION"})


def _compound_assignments(chunk: list[Token], sql: str, parser: Parser) -> exp.Expr | None:
    """T-SQL ``UPDATE ... SET col += expr`` (``-=``, ``*=``, ...), which sqlglot does not parse:
    read ``col = col + expr``. The value may group differently (``a *= b + c``), but the same
    columns feed the same target, which is all the lineage needs."""
    if _keyword(chunk[0]) != "UPDATE":
        return None
    out: list[Token] = []
    assignment: int | None = None  # where the current assignment starts in ``out``
    depth = 0
    in_set = changed = False
    i = 0
    while i < len(chunk):
        token = chunk[i]
        token_type = token.token_type
        if token_type in _OPEN:
            depth += 1
        elif token_type in _CLOSE:
            depth -= 1
        elif not depth:
            word = _keyword(token)
            if word == "SET" or (in_set and token_type == TokenType.COMMA):
                in_set = True
                out.append(token)
                assignment = len(out)
                i += 1
                continue
            if word in _SET_ENDS:
                in_set = False
            following = chunk[i + 1] if i + 1 < len(chunk) else None
            if (
                in_set
                and token_type in _COMPOUND_OPERATORS
                and following is not None
                and following.token_type == TokenType.EQ
                and following.start == token.end + 1
                and assignment is not None
                and assignment < len(out)
            ):
                # ``col += v`` -> ``col = col + v``: the column's tokens are read twice.
                out.extend([following, *out[assignment:], token])
                changed = True
                i += 2
                continue
        out.append(token)
        i += 1
    return _parse_rewritten(parser, out, sql) if changed else None


_USE_TOKENS = frozenset({TokenType.USE, TokenType.SET})


def _use_forms(chunk: list[Token]) -> list[Token]:
    """Spark/Databricks ``USE NAMESPACE [catalog.]schema`` is ``USE SCHEMA`` (sqlglot reads
    ``NAMESPACE`` as a table name, and fails on a dotted name after it); Databricks'
    ``SET CATALOG c`` is ``USE CATALOG c`` (sqlglot keeps it as an opaque command)."""
    first, second = chunk[0], chunk[1]
    if first.token_type == TokenType.USE and second.token_type == TokenType.NAMESPACE:
        return [first, _retyped(second, TokenType.VAR, "SCHEMA"), *chunk[2:]]
    if first.token_type == TokenType.SET and second.text.upper() == "CATALOG":
        return [_retyped(first, TokenType.USE, "USE"), *chunk[1:]]
    return chunk


def _retyped(token: Token, token_type: TokenType, text: str) -> Token:
    """``token`` read as another keyword, at the same place."""
    return Token(token_type, text, token.line, token.col, token.start, token.end, token.comments)


def _insert_exec(chunk: list[Token], parser: Parser) -> exp.Expr | None:
    """T-SQL ``INSERT INTO t [(cols)] EXEC proc``: a write into ``t`` from a procedure."""
    if _keyword(chunk[0]) != "INSERT":
        return None
    words = [_keyword(token) for token in chunk]
    for exec_at in range(1, len(chunk)):
        if words[exec_at] in ("EXEC", "EXECUTE"):
            break
    else:
        return None
    start = 2 if len(words) > 1 and words[1] == "INTO" else 1
    end = exec_at
    if end > start and chunk[end - 1].token_type == TokenType.R_PAREN:
        # Drop the column list.
        while end > start and chunk[end - 1].token_type != TokenType.L_PAREN:
            end -= 1
        end -= 1
    if end <= start:
        return None
    try:
        table = parser.parse_into(exp.Table, chunk[start:end])[0]
    except (ParseError, RecursionError):
        return None
    return exp.Insert(this=table) if isinstance(table, exp.Table) else None


_EXEC = frozenset({"EXEC", "EXECUTE"})


def _opaque_execute(chunk: list[Token]) -> ParsedStatement:
    """Dynamic SQL assembled at run time (``EXEC('INSERT INTO ' + @t ...)``) cannot be
    followed: a statement without lineage, not an error."""
    return ParsedStatement(chunk[0].line, exp.Command(this="EXECUTE"), start=chunk[0].start)


def _parse_split(pieces: list[list[Token]], sql: str, parser: Parser) -> Iterator[ParsedStatement]:
    for piece in pieces:
        line = piece[0].line
        try:
            expression = parser.parse(piece, sql)[0]
        except ParseError as exc:
            if _starter(piece) in _DML_STARTERS:
                yield ParsedStatement(line, None, _parse_error(exc, piece))
            elif _starter(piece) in _EXEC:
                yield _opaque_execute(piece)
            continue
        except RecursionError:
            yield ParsedStatement(
                line, None, StatementError("statement nested too deeply", line, 1)
            )
            continue
        if expression is not None:
            yield ParsedStatement(line, expression, start=piece[0].start, end=piece[-1].end + 1)


def _starter(piece: list[Token]) -> str:
    token = piece[0]
    return "" if token.token_type in _DATA_TOKENS else token.text.upper()


def _keyword(token: Token) -> str:
    return "" if token.token_type in _DATA_TOKENS else token.text.upper()


def split_at_keywords(tokens: list[Token]) -> list[list[Token]]:
    """Split statements written without separators, dropping procedural control flow.

    Used only on pieces that did not parse as one statement. A keyword that starts a
    statement, at parenthesis depth 0 and outside the clause that legitimately holds it (the
    query of an ``INSERT``, the ``SET`` of an ``UPDATE``, the actions of a ``MERGE``, ...), starts
    a new piece. ``BEGIN``/``END``/``ELSE`` and ``IF``/``WHILE`` with their conditions are dropped,
    as is the header of a ``CREATE PROCEDURE``/``FUNCTION`` up to its ``AS``/``IS``.

    >>> from sqlglot.dialects.dialect import Dialect
    >>> tokens = Dialect.get_or_raise("tsql").tokenize(
    ...     "IF @full = 1 BEGIN DELETE FROM t END INSERT INTO t SELECT a FROM s"
    ... )
    >>> [" ".join(token.text for token in piece) for piece in split_at_keywords(tokens)]
    ['DELETE FROM t', 'INSERT INTO t SELECT a FROM s']
    """
    return _KeywordSplitter(tokens).split()


_STARTERS = _DML_STARTERS | _PROC_STARTERS
# Words that may end a piece: statement keywords and control flow.
_BOUNDARIES = _STARTERS | _CONTROL_WITH_CONDITION | _CONTROL
# What ``_KeywordSplitter.boundary`` tells of a word; a positive number means the word is
# control flow, dropped together with the words after it that belong to it (``END IF``: 2).
_CONTINUES = -1  # the word belongs to the current piece
_STARTS = 0  # the word starts a new piece
# After these words a statement keyword continues the statement (``UNION SELECT``,
# ``ON DELETE``, ``FOR UPDATE``, ``NOT NULL``...), unless it is DDL (``THEN DROP ...``).
_CONTINUED_AFTER = _SET_OPERATORS | {"THEN", "ON", "FOR", "KEY", "BY", "NOT"}
_DDL = frozenset({"CREATE", "DROP", "ALTER", "TRUNCATE"})
# Words that start the query a statement holds (``INSERT ... SELECT``, ``CREATE ... AS WITH``,
# ``DECLARE c CURSOR FOR SELECT``); all but WITH mean the statement has its query.
_QUERY_KEYWORDS = frozenset({"SELECT", "VALUES", "EXEC", "EXECUTE"})
_QUERY_WORDS = _QUERY_KEYWORDS | {"WITH"}
_QUERY_HOLDERS = frozenset({"INSERT", "CREATE", "ALTER", "WITH", "REPLACE", "UPSERT"})
# The statement of ``WITH ... INSERT``, and the actions of a MERGE.
_DML_WORDS = frozenset({"INSERT", "UPDATE", "DELETE", "MERGE"})
# Words that end a skipped condition (``IF c THEN``, ``WHILE c LOOP``) or routine header.
_CONDITION_ENDS = frozenset({"THEN", "LOOP", "DO", "AS", "IS"})
# ``END IF``, ``END LOOP``...: the second word closes the block too.
_BLOCK_ENDS = frozenset({"IF", "LOOP", "WHILE", "TRY", "CATCH", "CASE", "FOR"})


class _KeywordSplitter:
    """The state of :func:`split_at_keywords` as it scans one list of tokens, left to right."""

    __slots__ = (
        "case_depth", "current", "first", "has_query", "has_set", "pieces", "skip_until_then",
        "skipping", "tokens", "words",
    )  # fmt: skip

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.words = [_keyword(token) for token in tokens]
        self.pieces: list[list[Token]] = []
        self.current: list[Token] = []  # the piece being built
        self.first = ""  # the keyword that started it; "ROUTINE" in a routine header
        self.has_query = False  # it has its query already (``INSERT ... SELECT``)
        self.has_set = False  # it is an UPDATE past its SET
        self.case_depth = 0  # CASE expressions open: their END closes no block
        self.skipping = False  # inside the condition of an IF/WHILE, or a routine header
        self.skip_until_then = False  # ... a condition that ends with THEN/LOOP/DO

    def split(self) -> list[list[Token]]:
        """The pieces of the tokens: one statement each, control flow dropped."""
        tokens = self.tokens
        n = len(tokens)
        depth = 0
        i = 0
        while i < n:
            token_type = tokens[i].token_type
            if token_type in _OPEN:
                depth += 1
            elif token_type in _CLOSE and depth:
                depth -= 1
            if depth:
                # No keyword inside parentheses starts a statement.
                if not self.skipping:
                    self.current.append(tokens[i])
                i += 1
            else:
                i = self.take(i)
        if self.current:
            self.pieces.append(self.current)
        return [piece for piece in self.pieces if piece]

    def take(self, i: int) -> int:
        """Take token ``i``, outside parentheses; return the index of the next token to take."""
        word = self.words[i]
        if word == "CASE":
            if not self.current and not self.skipping:
                # A CASE statement (Snowflake scripting, PL/SQL): control flow, dropped up to
                # the THEN of its first branch; its END CASE closes it.
                self.skipping = self.skip_until_then = True
                return i + 1
            self.case_depth += 1
        elif word == "END" and self.case_depth:
            self.case_depth -= 1
            self.current.append(self.tokens[i])
            return i + 1
        if self.skipping and self.skips(word):
            return i + 1
        if word == "WITH" and not _opens_ctes(self.tokens, i):
            word = "WITH_OPTION"  # ``WITH TABLE``, ``WITH (NOLOCK)``, ``WITH DATA``...
        boundary = self.boundary(i, word) if word in _BOUNDARIES else _CONTINUES
        if boundary == _CONTINUES:
            if self.first and word in _QUERY_KEYWORDS:
                self.has_query = True
            elif word == "SET" and self.first == "UPDATE":
                self.has_set = True
            self.current.append(self.tokens[i])
            return i + 1
        self.end_piece()
        if boundary != _STARTS:
            return i + boundary
        if word == "CREATE" and _is_routine(self.tokens, i):
            # Drop the routine header: its body is what holds the statements.
            self.first = "ROUTINE"
            self.skipping = True
        else:
            self.first = word
            self.current.append(self.tokens[i])
        return i + 1

    def skips(self, word: str) -> bool:
        """Whether a skipped condition or routine header holds ``word``; stop at its end."""
        if self.skip_until_then:
            if word in _CONDITION_ENDS:
                self.skipping = self.skip_until_then = False
            return True
        if self.first == "ROUTINE":
            if word in ("AS", "IS"):
                self.skipping = False
                self.first = ""
                return True
            ends = word == "BEGIN"
        else:
            # A condition without THEN ends where a block or statement starts.
            ends = word == "BEGIN" or word in _STARTERS
        if ends:
            self.skipping = False
        return not ends

    def boundary(self, i: int, word: str) -> int:
        """Whether a statement or control-flow keyword ends the current piece (see _STARTS)."""
        if word in _STARTERS:
            prev = self.words[i - 1] if i else ""
            return _STARTS if self.starts_statement(word, prev) else _CONTINUES
        if self.case_depth:
            return _CONTINUES
        following = self.words[i + 1] if i + 1 < len(self.words) else ""
        if word in _CONTROL_WITH_CONDITION:
            return self.condition(i, word, following)
        if word == "THEN" and self.first == "MERGE":
            return _CONTINUES
        if word == "BEGIN" and following in _TRANSACTION:
            return _STARTS  # BEGIN TRANSACTION: a statement
        if word == "END" and (
            following in _BLOCK_ENDS
            or (i + 2 == len(self.tokens) and self.tokens[i + 1].token_type in _NAME_TOKENS)
        ):
            return 2  # ``END IF``, ``END LOOP``; PL/SQL ``END name`` of a block or routine
        return 1

    def condition(self, i: int, word: str, following: str) -> int:
        """IF/WHILE/...: dropped with the condition after it, unless it is no control flow."""
        if word == "IF" and following in ("EXISTS", "NOT") and self.current:
            return _CONTINUES  # ``DROP TABLE IF EXISTS``
        if word in ("WHEN", "FOR") and self.first:
            # ``WHEN`` inside MERGE/CASE, ``FOR`` in cursors and FOR UPDATE: not control flow.
            return _CONTINUES
        self.skipping = True
        self.skip_until_then = following != "" and _has_then(self.tokens, i)
        return 1

    def starts_statement(self, word: str, prev: str) -> bool:
        """Whether a statement keyword starts a statement, rather than continue this one."""
        if not self.current:
            return True  # nothing is open: ``IF c THEN UPDATE ...``, ``WHEN c THEN INSERT ...``
        first = self.first
        if prev in _CONTINUED_AFTER and (prev == "ON" or word not in _DDL):
            return False  # ``UNION SELECT`` continues the query, ``THEN UPDATE`` the MERGE
        if word == "SELECT" and self.has_query and first in ("INSERT", "CREATE", "WITH"):
            return True  # a second query: the statement had its own
        # ``ALGORITHM = MERGE``: a value, not a statement.
        return prev != "=" and not self.holds(word, prev)

    def holds(self, word: str, prev: str) -> bool:
        """Whether the current statement holds a statement keyword as one of its clauses."""
        first = self.first
        if word in _QUERY_WORDS:
            return (
                (first in _QUERY_HOLDERS and not self.has_query)
                or (first == "DECLARE" and prev == "FOR")
                or (first == "MERGE" and word == "VALUES")  # ``THEN INSERT (cols) VALUES (...)``
            )
        if word in _DML_WORDS:
            # ``WITH ... INSERT``; MERGE's ``THEN INSERT``/``UPDATE``/``DELETE``.
            return (first == "WITH" and not self.has_query) or (
                first == "MERGE" and word != "MERGE"
            )
        if word == "SET":
            # ``ALTER SESSION SET``, ``ALTER TABLE t ALTER COLUMN c SET ...`` continue too.
            return (
                prev == "UPDATE"
                or first in ("MERGE", "ALTER")
                or (first == "UPDATE" and not self.has_set)
            )
        if word == "NULL":
            return bool(self.current)
        return word == "REPLACE" and prev == "OR"  # CREATE OR REPLACE

    def end_piece(self) -> None:
        """Close the current piece: the next one starts empty."""
        if self.current:
            self.pieces.append(self.current)
        self.current = []
        self.first = ""
        self.has_query = False
        self.has_set = False


def _opens_ctes(tokens: list[Token], i: int) -> bool:
    """``WITH name AS (``, ``WITH name (cols) AS (`` or ``WITH RECURSIVE``."""
    following = [_keyword(token) or token.text for token in tokens[i + 1 : i + 4]]
    if not following:
        return False
    if following[0] == "RECURSIVE":
        return True
    return len(following) > 1 and (following[1] in ("AS", "("))


def _has_then(tokens: list[Token], i: int) -> bool:
    """Whether an ``IF``/``WHILE`` condition ends with THEN/LOOP/DO (PL/SQL, Snowflake)."""
    depth = 0
    for token in tokens[i + 1 : i + 200]:
        if token.token_type in _OPEN:
            depth += 1
        elif token.token_type in _CLOSE:
            depth -= 1
        elif not depth:
            word = _keyword(token)
            if word in ("THEN", "LOOP", "DO"):
                return True
            if word in _DML_STARTERS or word == "BEGIN":
                return False
    return False


def _is_routine(tokens: list[Token], i: int) -> bool:
    for token in tokens[i + 1 : i + 5]:
        word = _keyword(token)
        if word in _ROUTINES:
            return True
        if word not in ("OR", "REPLACE", "ALTER", "DEFINER", "EDITIONABLE", "NONEDITIONABLE"):
            return False
    return False


_CLASS_REPR = re.compile(r"<class '(?:\w+\.)*(\w+)'>")
_TOKEN_REPR = re.compile(r"<Token token_type: TokenType\.(\w+), text: (.*?), line: \d+.*?>")


def _token_text(match: re.Match[str]) -> str:
    return "the end of the statement" if match.group(1) == "SENTINEL" else repr(match.group(2))


def _parse_error(exc: ParseError, tokens: list[Token]) -> StatementError:
    """A StatementError located in the file from sqlglot's error details."""
    errors = exc.errors or []
    if errors:
        first = errors[0]
        line = first.get("line")
        col = first.get("col")
        highlight = first.get("highlight") or ""
        if isinstance(col, int) and highlight and "\n" not in highlight:
            # sqlglot reports the column where the offending token ends.
            col = max(col - len(highlight) + 1, 1)
        description = _TOKEN_REPR.sub(_token_text, first.get("description") or "invalid SQL")
        description = _CLASS_REPR.sub(r"\1", description)
        where = f" near {highlight!r}" if highlight else ""
        return StatementError(f"{description}{where}", line or tokens[0].line, col)
    message = str(exc).split("\n", 1)[0]
    return StatementError(message, tokens[0].line, None)


# --- piece by piece: large files, and text that cannot be tokenized whole -----------------

STREAM_THRESHOLD = 1 << 20
"""Texts longer than this are tokenized piece by piece, bounding the memory of the tokens."""


def _parse_pieces(sql: str, dialect: Dialect) -> Iterator[ParsedStatement]:
    parser = dialect.parser()
    line = 1
    position = 0
    for start, end, unterminated in _scan_pieces(sql):
        line += sql.count("\n", position, start)
        position = start
        text = sql[start:end]
        if not text.strip():
            continue
        try:
            tokens = dialect.tokenize(text)
        except TokenError:
            yield _token_error(sql, text, start, line, unterminated)
            continue
        except RecursionError:
            yield ParsedStatement(line, None, StatementError("input nested too deeply", line, 1))
            continue
        # Move the tokens to their place in the file, so lines and errors are file-relative.
        column = start - (sql.rfind("\n", 0, start) + 1)
        for token in tokens:
            if token.line == 1:
                token.col += column
            token.line += line - 1
            token.start += start
            token.end += start
        yield from _parse_chunks(split_tokens(tokens), sql, dialect, parser)


def _token_error(
    sql: str, text: str, start: int, line: int, unterminated: int | None
) -> ParsedStatement:
    stripped = start + len(text) - len(text.lstrip())
    first_line = line + sql.count("\n", start, stripped)
    where = unterminated if unterminated is not None else stripped
    err_line = line + sql.count("\n", start, where)
    err_col = where - (sql.rfind("\n", 0, where) + 1) + 1
    message = (
        "unterminated string, quoted name or comment"
        if unterminated is not None
        else "could not tokenize statement"
    )
    return ParsedStatement(first_line, None, StatementError(message, err_line, err_col))


def _scan_pieces(sql: str) -> Iterator[tuple[int, int, int | None]]:
    """Split text at semicolons and GO lines outside quotes and comments.

    Yields ``(start, end, unterminated_at)``: ``unterminated_at`` is the offset of a quote or
    comment opener that is never closed, else ``None``. After an unclosed opener, scanning
    resumes at the next line ending in a semicolon (or the next line), so one unterminated
    string does not swallow the rest of the script.

    >>> [(s, e, u) for s, e, u in _scan_pieces("SELECT 'a;b';\\nSELECT 'oops;\\nSELECT 2")]
    [(0, 12, None), (13, 26, 21), (27, 36, None)]
    """
    start = 0
    i = 0
    n = len(sql)
    search = _SCAN.search
    while True:
        match = search(sql, i)
        if match is None:
            break
        token = match.group(0)
        at = match.start()
        close_at = -1
        if token == ";":
            yield start, at, None
            start = i = at + 1
            continue
        if token[0] in "gG":
            yield start, at, None
            start = i = match.end()
            continue
        if token == "--":
            close_at = sql.find("\n", at)
            i = n if close_at < 0 else close_at
            continue
        if token == "/*":
            close_at = sql.find("*/", at + 2)
            end = -1 if close_at < 0 else close_at + 2
        elif token[0] == "$":
            close_at = sql.find(token, match.end())
            end = -1 if close_at < 0 else close_at + len(token)
        else:
            end = _quote_end(sql, at, "]" if token == "[" else token)
        if end < 0:
            resume = sql.find(";\n", at)
            resume = sql.find("\n", at) if resume < 0 else resume
            resume = n if resume < 0 else resume
            yield start, resume, at
            start = i = resume + 1
            continue
        i = end
    if start < n:
        yield start, n, None


_SCAN = re.compile(
    r"""[;'"`\[]|--|/\*|\$[A-Za-z_]*\$|^[ \t]*GO[ \t]*(?:\d+[ \t]*)?$""",
    re.MULTILINE | re.IGNORECASE,
)


def _quote_end(sql: str, at: int, close: str) -> int:
    """The offset just past the quote opened at ``at``, or -1 when it is never closed."""
    j = at + 1
    while True:
        k = sql.find(close, j)
        if k < 0:
            return -1
        if close != "]" and sql.startswith(close, k + 1):
            j = k + 2  # a doubled quote
            continue
        backslashes = 0
        while sql[k - 1 - backslashes] == "\\" and k - 1 - backslashes > at:
            backslashes += 1
        if close == "'" and backslashes % 2:
            j = k + 1  # an escaped quote
            continue
        return k + 1


def _parse_rewritten(parser: Parser, tokens: list[Token], sql: str) -> exp.Expr | None:
    """Parse a statement's tokens after a rewrite; ``None`` when it still does not parse."""
    try:
        return parser.parse(tokens, sql)[0]
    except (ParseError, RecursionError):
        return None
