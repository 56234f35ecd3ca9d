"""Statement handlers: the lineage of one statement, by a handler per kind of statement.

A handler records the tables its statement reads and writes and the column edges between
them; what the statement tells later ones (temporary tables and their upstream, columns of
created tables) goes into the script's
:class:`~lineage_dagster.parsing.script_state.ScriptState`.
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Any

from sqlglot import exp
from sqlglot.errors import SqlglotError

from lineage_dagster.parsing.models import ColumnEdge, StatementLineage, TableDeclaration
from lineage_dagster.parsing.names import split_column
from lineage_dagster.parsing.tables import (
    dropped_at,
    is_script_temp,
    is_temp_create,
    resolve_temp,
    source_tables,
    target_table,
)
from lineage_dagster.parsing.walker import (
    CONDITION,
    KIND_NAMES,
    NO_SCHEMA,
    UNRESOLVED,
    ColumnWalker,
    Deps,
    Relation,
    Scope,
    output_names,
)

if TYPE_CHECKING:
    from lineage_dagster.parsing.names import Namer
    from lineage_dagster.parsing.script_state import ScriptState

_UNLOAD = re.compile(
    r"^\s*\(\s*'(?P<query>(?:[^']|'')*)'\s*\)\s*TO\s+'(?P<path>[^']*)'", re.I | re.S
)
_NAME = r"(?:[\w$]+|`[^`]+`|\"[^\"]+\")(?:\s*\.\s*(?:[\w$]+|`[^`]+`|\"[^\"]+\"))*"
# Hive/Spark: ``ALTER TABLE dest EXCHANGE PARTITION (spec) WITH TABLE src`` moves the
# partition's data from ``src`` into ``dest`` (sqlglot keeps it as a command).
_EXCHANGE = re.compile(
    rf"^\s*TABLE\s+(?P<target>{_NAME})\s+EXCHANGE\s+PARTITION\s*"
    rf"\((?:[^()']|'(?:[^']|'')*')*\)\s*WITH\s+TABLE\s+(?P<source>{_NAME})\s*$",
    re.IGNORECASE | re.DOTALL,
)
# MySQL ``RENAME TABLE a TO b, c TO d`` (sqlglot keeps it as a command).
_RENAME_TABLES = re.compile(r"^\s*TABLES?\s+(?P<pairs>.*?)\s*$", re.IGNORECASE | re.DOTALL)
_RENAME_PAIR = re.compile(
    rf"^\s*(?P<old>{_NAME})\s+TO\s+(?P<new>{_NAME})\s*$", re.IGNORECASE | re.DOTALL
)
# ``SET search_path TO a, b`` / ``= a`` / ``SET SCHEMA 'a'`` (Postgres and its kin), and Oracle's
# ``ALTER SESSION SET CURRENT_SCHEMA = a``: the text after ``SET``.
_SEARCH_PATH = re.compile(
    r"^\s*(?:(?:SESSION|LOCAL)\s+)?(?:(?:SEARCH_PATH|CURRENT_SCHEMA)\s*(?:TO\b|=)|SCHEMA\b)"
    r"(?P<path>.*?);?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_SET_TEXT = re.compile(r"\s*SET\b(?P<rest>[^;]*)", re.IGNORECASE)
_ALTER_SESSION = re.compile(r"^\s*SESSION\s+SET\b(?P<rest>.*)$", re.IGNORECASE | re.DOTALL)
_PATH_ITEM = re.compile(r'"((?:[^"]|"")*)"|\'((?:[^\']|\'\')*)\'|([^\s,\'"]+)')
# Entries of a search path that never hold the scripts' tables (or are the default already).
_NOT_A_DEFAULT_SCHEMA = frozenset({"$user", "public", "pg_catalog", "pg_temp", "default"})
# Copies sqlglot keeps as commands: BigQuery ``CREATE SNAPSHOT TABLE t CLONE s``, Databricks
# ``DEEP CLONE s VERSION AS OF 3``, and Snowflake's ``CREATE STREAM st ON TABLE s`` (a change
# feed of ``s``, read as ``s`` is): the text after ``CREATE``.
_COMMAND_CLONE = re.compile(
    rf"^\s*(?:OR\s+REPLACE\s+)?(?:SNAPSHOT\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"
    rf"(?P<target>{_NAME})\s+(?:(?:SHALLOW|DEEP)\s+)?CLONE\s+(?P<source>{_NAME})",
    re.IGNORECASE | re.DOTALL,
)
_STREAM = re.compile(
    rf"^\s*(?:OR\s+REPLACE\s+)?STREAM\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<target>{_NAME})"
    rf"(?:\s+COPY\s+GRANTS)?\s+ON\s+(?:EXTERNAL\s+|DYNAMIC\s+)?(?:TABLE|VIEW)\s+"
    rf"(?P<source>{_NAME})",
    re.IGNORECASE | re.DOTALL,
)
# Snowflake ``PUT file://local @stage/path`` uploads files; ``GET @stage file://local``
# downloads them.
_PUT_GET = re.compile(r"^\s*'?(?P<source>[^\s']+)'?\s+'?(?P<target>[^\s']+)'?")
_DECLARED_NAME = re.compile(r"[\w$]+")
_DECLARE_GTT = re.compile(
    r"^\s*DECLARE\s+GLOBAL\s+TEMPORARY\s+TABLE\s+([\w$#@.\"]+)", re.IGNORECASE
)


def statement_kind(expression: exp.Expr) -> str:
    """The ``kind`` of a statement (``INSERT``, ``CREATE_TABLE_AS``, ``MERGE``...).

    >>> import sqlglot
    >>> statement_kind(sqlglot.parse_one("CREATE VIEW v AS SELECT 1"))
    'CREATE_VIEW'
    """
    if isinstance(expression, exp.Create):
        return _create_kind(expression)
    if isinstance(expression, exp.Query):
        return "SELECT_INTO" if expression.args.get("into") else "SELECT"
    if isinstance(expression, (exp.Insert, exp.MultitableInserts)):
        return "INSERT"
    if isinstance(expression, exp.Alter):
        return _alter_kind(expression)
    if isinstance(expression, exp.TruncateTable):
        return "TRUNCATE"
    if isinstance(expression, exp.LoadData):
        return "LOAD"
    if isinstance(expression, exp.Command):
        return str(expression.this).upper().replace(" ", "_")
    simple = {
        exp.Update: "UPDATE",
        exp.Delete: "DELETE",
        exp.Merge: "MERGE",
        exp.Drop: "DROP",
        exp.Copy: "COPY",
    }
    for cls, name in simple.items():
        if isinstance(expression, cls):
            return name
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(expression).__name__).upper()


def _create_kind(create: exp.Create) -> str:
    kind = (create.kind or "").upper()
    if kind == "TABLE":
        if create.expression is not None or create.args.get("clone"):
            return "CREATE_TABLE_AS"
        return "CREATE_TABLE"
    if kind == "VIEW":
        props = create.args.get("properties")
        if props and any(isinstance(p, exp.MaterializedProperty) for p in props.expressions):
            return "CREATE_MATERIALIZED_VIEW"
        return "CREATE_VIEW"
    return f"CREATE_{kind}" if kind else "CREATE"


def _alter_kind(alter: exp.Alter) -> str:
    actions = alter.args.get("actions") or []
    if any(isinstance(a, exp.AlterRename) for a in actions):
        return "RENAME"
    if any(isinstance(a, exp.SwapTable) for a in actions):
        return "SWAP"
    if any(isinstance(a, exp.Query) for a in actions):
        return "ALTER_VIEW"
    return f"ALTER_{(alter.args.get('kind') or 'TABLE').upper()}"


class _Result:
    """What one statement reads and writes (a plain class: built once per statement)."""

    __slots__ = ("conditions", "edges", "gaps", "kind", "sources", "targets")

    def __init__(self, kind: str, *, conditions: bool = True) -> None:
        self.kind = kind
        self.sources: set[str] = set()
        self.targets: list[str] = []
        self.edges: dict[tuple[str, str], str] = {}
        self.conditions = conditions  # record condition edges
        self.gaps: dict[str, str] = {}  # target column -> why no column feeds it

    def add_edges(self, target: str, names: list[str], deps: list[Deps], rel: Relation) -> None:
        """Edges into ``target``'s columns (``target=""``: a query result, unqualified names)."""
        edges = self.edges
        rank = {"condition": -1, "direct": 0, "expression": 1, "aggregation": 2}
        prefix = f"{target}." if target else ""
        target_columns = []
        gaps = rel.gaps
        for i, (name, column_deps) in enumerate(zip(names, deps, strict=False)):
            target_column = f"{prefix}{name}"
            target_columns.append(target_column)
            if not column_deps and target:
                reason = gaps.get(i) if gaps else None
                self.gaps[target_column] = reason or (NO_SCHEMA if rel.stars else UNRESOLVED)
            for source, kind in column_deps.items():
                key = (source, target_column)
                kind_name = KIND_NAMES[kind]
                old = edges.get(key)
                if old is None or rank[old] < rank[kind_name]:
                    edges[key] = kind_name
        if rel.stars:
            target_column = f"{prefix}*"
            target_columns.append(target_column)
            if target:
                self.gaps[target_column] = NO_SCHEMA
            for star in rel.stars:
                key = (f"{star}.*", target_column)
                if key not in edges or edges[key] == CONDITION:
                    edges[key] = "direct"
        if not self.conditions:
            return
        for condition in rel.conditions:
            for target_column in target_columns:
                edges.setdefault((condition, target_column), CONDITION)


def statement_lineage(
    expression: exp.Expr, index: int, line: int, script: ScriptState
) -> StatementLineage:
    """The lineage of one parsed statement; updates ``script`` for the statements after it."""
    kind = statement_kind(expression)
    script.index = index
    result = _Result(kind, conditions=script.conditions)
    handler = _HANDLERS.get(type(expression))
    if handler is None:
        for cls, candidate in _HANDLERS.items():
            if isinstance(expression, cls):
                handler = candidate
                break
    if handler is not None:
        handler(expression, result, script, line)
    edges = (
        tuple(
            _edge(source, target, kind_name)
            for (source, target), kind_name in sorted(result.edges.items(), key=_edge_order)
        )
        if result.edges
        else ()
    )
    # Built without the frozen ``__init__`` (one ``object.__setattr__`` per field), as
    # ``_edge`` does: table-level lineage builds one per statement and little else.
    lineage = _new(StatementLineage)
    fields = lineage.__dict__
    fields["index"] = index
    fields["line"] = line
    fields["kind"] = result.kind
    fields["sources"] = tuple(sorted(result.sources))
    fields["targets"] = tuple(dict.fromkeys(result.targets))
    fields["column_lineage"] = edges
    fields["error"] = None
    fields["gaps"] = tuple(sorted(result.gaps.items())) if result.gaps else ()
    return lineage


def add_temp_outputs(statements: list[StatementLineage], script: ScriptState) -> None:
    """Make each ``#temp`` table that the script wrote but never read nor dropped a target of
    the statements that wrote it: it is what the script produces (for a caller that reads it
    after the script), not a step towards another table."""
    for fqn, writes in script.temp_writes.items():
        if fqn in script.temp_reads:
            continue
        for index, rel, columns in writes:
            stmt = statements[index]
            if stmt.error is not None:
                continue
            result = _Result(stmt.kind, conditions=script.conditions)
            for edge in stmt.column_lineage:
                result.edges[(edge.source, edge.target)] = edge.kind
            if rel is not None:
                names, deps = _map_columns(rel, columns)
                result.add_edges(fqn, names, deps, rel)
            edges = tuple(
                _edge(source, target, kind_name)
                for (source, target), kind_name in sorted(result.edges.items(), key=_edge_order)
            )
            statements[index] = dataclasses.replace(
                stmt, targets=tuple(dict.fromkeys((*stmt.targets, fqn))), column_lineage=edges
            )


def _edge(source: str, target: str, kind: str) -> ColumnEdge:
    """A ColumnEdge built without the frozen dataclass ``__init__``.

    Wide statements have thousands of edges; setting the fields directly is 3x faster than
    the frozen ``__init__`` (which goes through ``object.__setattr__`` per field). The result
    is an ordinary, equal and hashable ColumnEdge.
    """
    edge = _new(ColumnEdge)
    fields = edge.__dict__
    fields["source"] = source
    fields["target"] = target
    fields["kind"] = kind
    return edge


_new = object.__new__


def _edge_order(item: tuple[tuple[str, str], str]) -> tuple[int, str, str]:
    (source, target), kind = item
    return (kind == CONDITION, target, source)


def _walker(script: ScriptState) -> ColumnWalker:
    return ColumnWalker(script.namer, script.schema, script.temp_relations)


def _write(
    result: _Result,
    script: ScriptState,
    target: str,
    temp: bool,
    rel: Relation | None,
    target_columns: list[str] | None,
    sources: set[str],
    *,
    replace: bool,
) -> None:
    """Record a write of ``rel`` into ``target``: edges, or temp-table state when temporary."""
    if temp:
        if target[0] == "#":
            script.temp_writes.setdefault(target, []).append((script.index, rel, target_columns))
        upstream = set() if replace else set(script.temp_tables.get(target, ()))
        script.temp_tables[target] = upstream | sources
        result.sources |= sources
        if rel is not None:
            names, deps = _map_columns(rel, target_columns)
            old = None if replace else script.temp_relations.get(target)
            new = Relation()
            new.tables = set(script.temp_tables[target])
            new.conditions = set(rel.conditions) | (old.conditions if old else set())
            new.stars = list(dict.fromkeys((old.stars if old else []) + rel.stars))
            # Rows appended by several INSERTs: a column comes from each of them.
            new.star_union = rel.star_union if old is None else len(new.stars) > 1
            if old is not None:
                for name, old_deps in zip(old.names, old.deps, strict=False):
                    new.add(name, dict(old_deps))
            for name, column_deps in zip(names, deps, strict=False):
                i = new.index.get(name)
                if i is None:
                    new.add(name, dict(column_deps))
                else:
                    merged = new.deps[i]
                    for source, kind in column_deps.items():
                        if merged.get(source, -1) < kind:
                            merged[source] = kind
            script.temp_relations[target] = new
        return
    result.sources |= sources
    result.targets.append(target)
    if rel is not None:
        names, deps = _map_columns(rel, target_columns)
        result.add_edges(target, names, deps, rel)


def _map_columns(rel: Relation, target_columns: list[str] | None) -> tuple[list[str], list[Deps]]:
    if target_columns and (rel.known or len(target_columns) <= len(rel.names)):
        n = min(len(target_columns), len(rel.names))
        return target_columns[:n], rel.deps[:n]
    return rel.names, rel.deps


def _handle_query(expression: exp.Expr, result: _Result, script: ScriptState, line: int) -> None:
    into = expression.args.get("into")
    if into is None and isinstance(expression, exp.SetOperation):
        # ``SELECT ... INTO t FROM a UNION SELECT ... FROM b``: the INTO sits on the first branch.
        first = expression
        while isinstance(first, exp.SetOperation):
            first = first.this  # not .left: it insists on a query, and may not be one
        into = first.args.get("into") if isinstance(first, exp.Select) else None
        if isinstance(into, exp.Into):
            into.pop()
            expression.set("into", into)
    if not isinstance(into, exp.Into):
        result.sources |= source_tables(expression, script, set())
        if script.columns:
            # A query's result has no table: its columns are named alone.
            result_set = _walker(script).query(expression, {})
            result.add_edges("", result_set.names, result_set.deps, result_set)
        return
    target_node = target_table(into.this)
    exclude = {id(target_node)} if target_node is not None else set()
    sources = source_tables(expression, script, exclude)
    fqn = script.namer.table(target_node) if target_node is not None else None
    if fqn is None or _into_variables(target_node, script):
        result.sources |= sources
        return
    temp = bool(into.args.get("temporary")) or script.namer.is_temp_name(fqn)
    temp = temp or is_script_temp(fqn, line, script)
    if not temp:
        _declare(script, fqn, output_names(expression, script.namer), complete=True)
    rel: Relation | None = None
    if script.columns:
        # Evaluate the query without its INTO clause.
        into.pop()
        try:
            rel = _walker(script).query(expression, {})
        finally:
            expression.set("into", into)
    _write(result, script, fqn, temp, rel, None, sources, replace=True)


def _into_variables(target: exp.Table | None, script: ScriptState) -> bool:
    """Whether ``SELECT ... INTO target`` assigns variables, not a table: always in Oracle
    (PL/SQL; Oracle has no ``SELECT INTO`` a table), a ``@variable`` (MySQL), a variable the
    script declared (``DECLARE n int``, PL/pgSQL)."""
    if target is None or type(script.namer.dialect).__name__ == "Oracle":
        return True
    if isinstance(target.this, exp.Parameter):
        return True
    return target.args.get("db") is None and script.namer.ident(target.this) in script.variables


def _insert_parts(insert: exp.Insert, script: ScriptState) -> tuple[str | None, list[str] | None]:
    this = insert.this
    columns = None
    if isinstance(this, exp.Schema) and script.columns:
        columns = [script.namer.column(c) for c in this.expressions]
    table = target_table(this)
    if table is None:
        if isinstance(this, exp.Directory):
            return this.name, columns
        return None, columns
    fqn = script.namer.table(table)
    if columns is None and fqn is not None and script.columns:
        known = script.columns_of(fqn)
        if known is None and fqn in script.temp_relations:
            rel = script.temp_relations[fqn]
            known = rel.names if rel.known and rel.names else None
        columns = known
    return fqn, columns


def _handle_insert(expression: exp.Insert, result: _Result, script: ScriptState, line: int) -> None:
    target, columns = _insert_parts(expression, script)
    table = target_table(expression.this)
    exclude = {id(table)} if table is not None else set()
    sources = source_tables(expression, script, exclude)
    if target is None:
        result.sources |= sources
        return
    rel = None
    if script.columns:
        query = expression.expression
        ctes: dict[str, Relation] = {}
        walker = _walker(script)
        with_ = expression.args.get("with_")
        if with_ is not None:
            ctes = walker.ctes(with_, ctes, None)
        if query is not None:
            rel = walker.query(query, ctes)
    temp = script.namer.is_temp_name(target) or target in script.temp_tables
    if not temp:
        _declare(script, target, _listed_columns(expression.this, script.namer), complete=False)
    _write(result, script, target, temp, rel, columns, sources, replace=False)


def _handle_multi_insert(
    expression: exp.MultitableInserts, result: _Result, script: ScriptState, line: int
) -> None:
    source = expression.args.get("source")
    targets = []
    exclude = set()
    for item in expression.expressions:
        insert = item.this if isinstance(item, exp.ConditionalInsert) else item
        table = target_table(insert.this)
        if table is not None:
            exclude.add(id(table))
        targets.append(insert)
    sources = source_tables(expression, script, exclude)
    walker = _walker(script)
    scope = Scope(None)
    base = Relation()
    if script.columns and source is not None:
        if isinstance(source, exp.Table):
            walker.add_source(source, scope, {}, base)
        else:
            # ``INSERT ALL INTO ... SELECT ...`` (Oracle, Snowflake): the query feeds every INTO.
            shared = walker.query(source, {})
            scope.sources["_source"] = shared
            base.conditions |= shared.conditions
    for insert in targets:
        target, columns = _insert_parts(insert, script)
        if target is None:
            continue
        rel: Relation | None = None
        if script.columns:
            query = insert.expression
            rel = Relation()
            rel.conditions |= base.conditions
            if isinstance(query, exp.Select) and not query.args.get("from_"):
                inner = Scope(None)
                inner.sources = dict(scope.sources)
                inner.aliases = dict(scope.aliases)
                for projection in query.expressions:
                    walker.add_projection(projection, inner, {}, rel)
                where = query.args.get("where")
                if where is not None:
                    rel.conditions.update(walker.expression_deps(where, inner, {}, rel))
            elif isinstance(query, exp.Values) and query.expressions:
                row = query.expressions[0]
                values = row.expressions if isinstance(row, exp.Tuple) else [row]
                for j, value in enumerate(values):
                    rel.add(f"_col_{j}", walker.value_deps(value, scope, {}, rel))
            elif query is not None:
                rel = walker.query(query, {})
        temp = script.namer.is_temp_name(target) or target in script.temp_tables
        if not temp:
            _declare(script, target, _listed_columns(insert.this, script.namer), complete=False)
        _write(result, script, target, temp, rel, columns, sources, replace=False)


def _handle_create(expression: exp.Create, result: _Result, script: ScriptState, line: int) -> None:
    kind = (expression.kind or "").upper()
    table = target_table(expression.this)
    if kind not in ("TABLE", "VIEW") or table is None:
        return
    fqn = script.namer.table(table)
    if fqn is None:
        return
    exclude = {id(table)}
    # ClickHouse ``CREATE MATERIALIZED VIEW mv TO t AS SELECT``: the view stores nothing, it
    # inserts every new row of its query into ``t``, which is what it writes.
    to_table = _to_table(expression)
    if to_table is not None:
        to_fqn = script.namer.table(to_table)
        if to_fqn is not None:
            exclude.add(id(to_table))
            fqn = to_fqn
    sources = source_tables(expression, script, exclude)
    # Temporary views (Spark, Postgres) are session-scoped like temporary tables.
    temp = is_temp_create(expression, fqn, script) or (
        kind == "TABLE" and is_script_temp(fqn, line, script)
    )
    schema_node = expression.this if isinstance(expression.this, exp.Schema) else None
    columns = None
    if schema_node is not None and script.columns:
        defs = [
            c for c in schema_node.expressions if isinstance(c, (exp.ColumnDef, exp.Identifier))
        ]
        columns = [script.namer.column(c.this if isinstance(c, exp.ColumnDef) else c) for c in defs]
        columns = columns or None
    query = expression.expression
    clone = expression.args.get("clone")
    if not temp and to_table is None and clone is None:
        declared = _listed_columns(schema_node, script.namer)
        if not declared and isinstance(query, exp.Query):
            declared = output_names(query, script.namer)
            if declared is None and expression.args.get("with_") is None:
                _declare_like(script, fqn, query)
        _declare(script, fqn, declared, complete=True)
    if isinstance(query, exp.Query) or clone is not None:
        rel = None
        if script.columns:
            if clone is not None:
                _, rel = _walker(script).table(clone.this, {})
            else:
                rel = _walker(script).query(query, {})
                with_ = expression.args.get("with_")
                if with_ is not None:
                    walker = _walker(script)
                    rel = walker.query(query, walker.ctes(with_, {}, None))
        _write(result, script, fqn, temp, rel, columns, sources, replace=True)
        if not temp and rel is not None and rel.known and rel.names:
            script.created[fqn] = columns or list(rel.names)
        return
    # A table defined by its columns (or LIKE another table).
    if columns and not temp:
        script.created[fqn] = columns
    if temp:
        if fqn[0] == "#":
            script.temp_writes.setdefault(fqn, []).append((script.index, None, None))
        script.temp_tables[fqn] = set(sources)
        rel = Relation()
        rel.tables = set(sources)
        for column in columns or ():
            rel.add(column, {})
        if not columns:
            rel.stars = sorted(sources)
        script.temp_relations[fqn] = rel
        result.sources |= sources
        return
    result.targets.append(fqn)
    result.sources |= sources
    if sources and script.columns:
        for source in sorted(sources):
            result.edges[(f"{source}.*", f"{fqn}.*")] = "direct"


def _listed_columns(node: exp.Expr | None, namer: Namer) -> list[str] | None:
    """The column names of ``t (a INT, b)`` (a definition or an INSERT's list), if any."""
    if not isinstance(node, exp.Schema):
        return None
    return [
        namer.column(c.this if isinstance(c, exp.ColumnDef) else c)
        for c in node.expressions
        if isinstance(c, (exp.ColumnDef, exp.Identifier))
    ] or None


def _declare(
    script: ScriptState,
    table: str,
    columns: list[str] | None,
    *,
    complete: bool,
    added: bool = False,
) -> None:
    """Record the columns a statement declares for ``table`` (see ``TableDeclaration``)."""
    if columns and table[0] not in "#@":
        script.declarations.append(TableDeclaration(table, tuple(columns), complete, added=added))


def _declare_like(script: ScriptState, table: str, query: exp.Expr | None) -> None:
    """``CREATE ... AS SELECT * FROM s``: ``table`` has the columns of ``s``, whatever they
    are (one table, nothing else selected, no CTE of that name)."""
    if not isinstance(query, exp.Select) or query.args.get("with_") or query.args.get("joins"):
        return
    if len(query.expressions) != 1 or not isinstance(query.expressions[0], exp.Star):
        return
    from_ = query.args.get("from_")
    source = from_.this if from_ is not None else None
    if not isinstance(source, exp.Table) or source.args.get("joins") or source.args.get("pivots"):
        return
    like = script.namer.table(source)
    if (
        like is not None
        and like != table
        and table[0] not in "#@"
        and not script.namer.is_temp_name(like)
        and like not in script.temp_tables
    ):
        script.declarations.append(TableDeclaration(table, (), True, like))


def _to_table(create: exp.Create) -> exp.Table | None:
    props = create.args.get("properties")
    for prop in props.expressions if props is not None else ():
        if isinstance(prop, exp.ToTableProperty) and isinstance(prop.this, exp.Table):
            return prop.this
    return None


def _record_write(
    expression: exp.Expr, table: exp.Table, target: str, result: _Result, script: ScriptState
) -> bool:
    """Record the tables an UPDATE or MERGE reads and the table it writes; return whether that
    target is temporary (then it is not a target: its upstream is remembered for later reads)."""
    sources = source_tables(expression, script, {id(table)})
    sources.discard(target)
    result.sources |= sources
    temp = script.namer.is_temp_name(target) or target in script.temp_tables
    if temp:
        script.temp_tables[target] = script.temp_tables.get(target, set()) | sources
    else:
        result.targets.append(target)
    return temp


def _target_scope(
    expression: exp.Expr, table: exp.Table, script: ScriptState
) -> tuple[ColumnWalker, Scope, Relation, dict[str, Relation]]:
    """A column walker with a scope holding the written table (and the statement's CTEs)."""
    walker = _walker(script)
    scope = Scope(None)
    rel = Relation()
    ctes: dict[str, Relation] = {}
    with_ = expression.args.get("with_")
    if with_ is not None:
        ctes = walker.ctes(with_, ctes, None)
    walker.add_source(table, scope, ctes, rel)
    return walker, scope, rel, ctes


def _handle_update(expression: exp.Update, result: _Result, script: ScriptState, line: int) -> None:
    table = expression.this if isinstance(expression.this, exp.Table) else None
    if table is None:
        result.sources |= source_tables(expression, script, set())
        return
    from_ = expression.args.get("from_")
    target = _update_target(table, from_, script.namer)
    if target is None:
        return
    temp = _record_write(expression, table, target, result, script)
    if not script.columns:
        return
    walker, scope, rel, ctes = _target_scope(expression, table, script)
    items, joins = _update_sources(expression, table, from_)
    for item in items:
        walker.add_source(item, scope, ctes, rel)
    conditions: set[str] = set()
    for join in joins:
        on = join.args.get("on")
        if on is not None:
            conditions.update(walker.expression_deps(on, scope, ctes, rel))
    where = expression.args.get("where")
    if where is not None:
        conditions.update(walker.expression_deps(where, scope, ctes, rel))
    out = Relation()
    out.conditions = conditions | rel.conditions
    for assignment in expression.expressions:
        if isinstance(assignment, exp.EQ):
            _assign(assignment, walker, scope, ctes, out)
    if temp:
        _merge_temp_columns(script, target, out)
    else:
        result.add_edges(target, out.names, out.deps, out)


def _update_target(table: exp.Table, from_: exp.From | None, namer: Namer) -> str | None:
    """The table an UPDATE writes: ``table``, or the FROM table that ``table`` is an alias of."""
    target = namer.table(table)
    # T-SQL: ``UPDATE t SET ... FROM dbo.target t JOIN ...`` names the target by its alias.
    if from_ is not None and not table.args.get("db"):
        alias_name = namer.ident(table.this)
        for candidate in from_.find_all(exp.Table):
            alias = candidate.args.get("alias")
            if (
                alias is not None
                and alias.this is not None
                and namer.ident(alias.this) == alias_name
            ):
                return namer.table(candidate)
    return target


def _update_sources(
    expression: exp.Update, table: exp.Table, from_: exp.From | None
) -> tuple[list[exp.Expr], list[exp.Join]]:
    """The FROM items an UPDATE reads besides its target, in order, and all of its joins."""
    table_joins = list(table.args.get("joins") or ())
    from_joins = list(from_.this.args.get("joins") or ()) if from_ is not None else []
    joins = table_joins + from_joins + list(expression.args.get("joins") or ())
    items = [join.this for join in table_joins]
    if from_ is not None:
        items.append(from_.this)
    items += [join.this for join in joins[len(table_joins) :]]
    return items, joins


def _assign(
    assignment: exp.EQ,
    walker: ColumnWalker,
    scope: Scope,
    ctes: dict[str, Relation],
    out: Relation,
) -> None:
    """Add the column(s) one ``SET`` assignment writes to ``out``, with their lineage."""
    column = assignment.this
    value = assignment.expression
    if isinstance(column, exp.Column):
        out.add(walker.assigned_column(column, scope), walker.value_deps(value, scope, ctes, out))
        return
    if not isinstance(column, exp.Tuple):
        return
    # ``SET (a, b) = (SELECT x, y ...)`` or ``= (x, y)``: by position.
    names = [walker.namer.column(c.this) for c in column.expressions if c.this]
    if isinstance(value, (exp.Subquery, exp.Query)):
        inner = walker.query(value, ctes, scope)
        out.tables |= inner.tables
        out.conditions |= inner.conditions
        values = inner.deps
    elif isinstance(value, exp.Tuple):
        values = [walker.value_deps(v, scope, ctes, out) for v in value.expressions]
    else:
        values = []
    for name, deps in zip(names, values, strict=False):
        out.add(name, dict(deps))


def _merge_temp_columns(script: ScriptState, target: str, rel: Relation) -> None:
    current = script.temp_relations.get(target)
    if current is None:
        current = Relation()
        script.temp_relations[target] = current
    current.tables = set(script.temp_tables.get(target, set()))
    current.conditions |= rel.conditions
    for name, deps in zip(rel.names, rel.deps, strict=False):
        i = current.index.get(name)
        if i is None:
            current.add(name, dict(deps))
        else:
            for source, kind in deps.items():
                if current.deps[i].get(source, -1) < kind:
                    current.deps[i][source] = kind


def _handle_delete(expression: exp.Delete, result: _Result, script: ScriptState, line: int) -> None:
    table = target_table(expression.this)
    if table is None:
        result.sources |= source_tables(expression, script, set())
        return
    namer = script.namer
    # ``DELETE t FROM dbo.t t JOIN ...`` (T-SQL, MySQL) lists the deleted aliases in ``tables``;
    # MySQL's ``DELETE a, b FROM a JOIN b ...`` deletes from both: they are written, not read.
    named = list(expression.args.get("tables") or ())
    deleted = [_deleted_table(t, table, namer) for t in named] if named else [table]
    exclude = {id(t) for t in deleted} | {id(t) for t in named}
    sources = source_tables(expression, script, exclude)
    targets = [name for name in (namer.table(t) for t in deleted) if name is not None]
    sources.difference_update(targets)
    result.sources |= sources
    # A statement that changes a table names it as a target, even when it reads no other.
    result.targets += [t for t in targets if not _is_temp(t, script)]


def _deleted_table(named: exp.Table, table: exp.Table, namer: Namer) -> exp.Table:
    """The FROM table (``table`` or one it joins) that a name in ``DELETE name, ... FROM``
    stands for: the one with that alias, else that name; else the name itself."""
    candidates = [table] + [
        join.this for join in table.args.get("joins") or () if isinstance(join.this, exp.Table)
    ]
    wanted = namer.ident(named.this)
    for candidate in candidates:
        alias = candidate.args.get("alias")
        if alias is not None and alias.this is not None and namer.ident(alias.this) == wanted:
            return candidate
    fqn = namer.table(named)
    for candidate in candidates:
        if namer.table(candidate) == fqn:
            return candidate
    return named


def _is_temp(fqn: str, script: ScriptState) -> bool:
    """Whether ``fqn`` is a temporary table of the script (resolved away, never a target)."""
    return script.namer.is_temp_name(fqn) or fqn in script.temp_tables


def _handle_merge(expression: exp.Merge, result: _Result, script: ScriptState, line: int) -> None:
    table = target_table(expression.this)
    if table is None:
        return
    target = script.namer.table(table)
    if target is None:
        return
    temp = _record_write(expression, table, target, result, script)
    if not script.columns:
        return
    walker, scope, rel, ctes = _target_scope(expression, table, script)
    # The values of ``WHEN NOT MATCHED THEN INSERT`` can only come from the source: there is
    # no target row. Resolve them in a scope that holds the source alone.
    source_scope = Scope(None)
    using = expression.args.get("using")
    if using is not None:
        walker.add_source(using, scope, ctes, rel)
        walker.add_source(using, source_scope, ctes, Relation())
    out = Relation()
    out.conditions = set(rel.conditions)
    on = expression.args.get("on")
    if on is not None:
        out.conditions.update(walker.expression_deps(on, scope, ctes, out))
    whens = expression.args.get("whens")
    for when in whens.expressions if whens is not None else ():
        condition = when.args.get("condition")
        if condition is not None:
            out.conditions.update(walker.expression_deps(condition, scope, ctes, out))
        then = when.args.get("then")
        if isinstance(then, exp.Update):
            for assignment in then.expressions:
                if isinstance(assignment, exp.EQ) and isinstance(assignment.this, exp.Column):
                    deps = walker.value_deps(assignment.expression, scope, ctes, out)
                    out.add(walker.assigned_column(assignment.this, scope), deps)
        elif isinstance(then, exp.Insert):
            _merge_insert(then, walker, scope, source_scope, ctes, out)
    merged = _one_column_per_name(out)
    if temp:
        _merge_temp_columns(script, target, merged)
    else:
        result.add_edges(target, merged.names, merged.deps, merged)


def _merge_insert(
    insert: exp.Insert,
    walker: ColumnWalker,
    scope: Scope,
    source_scope: Scope,
    ctes: dict[str, Relation],
    out: Relation,
) -> None:
    """Add the columns a MERGE's ``THEN INSERT`` writes to ``out``, with their lineage."""
    columns = insert.this.expressions if isinstance(insert.this, exp.Tuple) else []
    values = insert.expression
    values = values.expressions if isinstance(values, exp.Tuple) else []
    if columns:
        for column, value in zip(columns, values, strict=False):
            deps = walker.value_deps(value, source_scope, ctes, out)
            name = column.this if isinstance(column, exp.Column) else column
            out.add(walker.namer.column(name), deps)
        return
    if not isinstance(insert.this, exp.Star) and values:
        return
    # ``INSERT *`` / ``INSERT ROW``: every source column to the same name.
    source = scope.sources.get(next(reversed(scope.sources))) if scope.sources else None
    if source is not None:
        for name, deps in zip(source.names, source.deps, strict=False):
            out.add(name, dict(deps))
        out.stars = list(source.stars)


def _one_column_per_name(rel: Relation) -> Relation:
    """``rel`` with each column once: the lineage of a column written twice is merged."""
    merged = Relation()
    merged.conditions = rel.conditions
    merged.stars = rel.stars
    for name, deps in zip(rel.names, rel.deps, strict=False):
        i = merged.index.get(name)
        if i is None:
            merged.add(name, deps)
        else:
            for source, kind in deps.items():
                if merged.deps[i].get(source, -1) < kind:
                    merged.deps[i][source] = kind
    return merged


def _handle_drop(expression: exp.Drop, result: _Result, script: ScriptState, line: int) -> None:
    kind = (expression.args.get("kind") or "").upper()
    for table in expression.args.get("tables") or [expression.this]:
        if not isinstance(table, exp.Table):
            continue
        fqn = script.namer.table(table)
        if fqn is None:
            continue
        script.created.pop(fqn, None)
        if fqn[0] == "#":
            script.temp_reads.add(fqn)  # dropped: not an output of the script
        # A dropped temp table stays resolvable: a re-created one replaces it anyway. A DROP
        # followed by another DROP of the same name is the clean-up before a staging table
        # that the script creates and drops again: no target either.
        last_drop = dropped_at(fqn, script)
        if (
            kind in _DROPPED_KINDS
            and not _is_temp(fqn, script)
            and (last_drop is None or last_drop <= script.position)
        ):
            result.targets.append(fqn)


_DROPPED_KINDS = frozenset({"TABLE", "VIEW"})


def _handle_alter(expression: exp.Alter, result: _Result, script: ScriptState, line: int) -> None:
    kind = (expression.args.get("kind") or "").upper()
    query = next(
        (a for a in expression.args.get("actions") or () if isinstance(a, exp.Query)), None
    )
    if kind == "VIEW" and query is not None:
        # ``ALTER VIEW v AS SELECT ...`` redefines the view.
        _handle_create(
            exp.Create(this=expression.this, kind="VIEW", expression=query), result, script, line
        )
        return
    table = target_table(expression.this)
    old = script.namer.table(table) if table is not None else None
    if old is None:
        return
    for action in expression.args.get("actions") or ():
        if isinstance(action, exp.AlterRename):
            _rename(old, target_table(action.this), result, script)
        elif isinstance(action, exp.SwapTable):
            _swap(old, target_table(action.this), result, script)
        elif isinstance(action, _CHANGES_TABLE) and not _is_temp(old, script):
            # ``ADD/DROP/ALTER/RENAME COLUMN``, partitions: the table changes; nothing is read
            # (targets are deduplicated when the statement's lineage is built).
            result.targets.append(old)
            _declare(script, old, _added_columns(action, script.namer), complete=False, added=True)


def _added_columns(action: exp.Expr, namer: Namer) -> list[str]:
    """The columns an ``ALTER TABLE`` action gives the table: ``ADD [COLUMN] c``, ``ADD (c, d)``
    (Oracle), ``ADD COLUMNS (c, d)`` (Spark), ``RENAME COLUMN a TO c``."""
    if isinstance(action, exp.ColumnDef):
        return [namer.column(action.this)]
    if isinstance(action, exp.Schema):
        return [namer.column(c.this) for c in action.expressions if isinstance(c, exp.ColumnDef)]
    if isinstance(action, exp.RenameColumn):
        to = action.args.get("to")
        return [namer.column(to.this if isinstance(to, exp.Column) else to)] if to else []
    return []


_CHANGES_TABLE = tuple(
    cls
    for cls in (
        exp.ColumnDef,
        exp.Drop,
        exp.AlterColumn,
        exp.RenameColumn,
        exp.Schema,  # ``ADD (c NUMBER, ...)`` (Oracle), ``ADD COLUMNS (...)`` (Spark)
        getattr(exp, "AddPartition", None),
        getattr(exp, "DropPartition", None),
    )
    if cls is not None
)


def _rename(old: str, new_table: exp.Table | None, result: _Result, script: ScriptState) -> None:
    """``ALTER TABLE old RENAME TO new``: the data moves to ``new``."""
    if new_table is None:
        return
    new = script.namer.table(new_table)
    if new is None:
        return
    old_schema = split_column(old)[0]
    if not new_table.args.get("db") and old_schema and not script.namer.is_temp_name(new):
        # ``ALTER TABLE db.a RENAME TO b`` keeps the schema of the old name.
        new = f"{old_schema}.{split_column(new)[1]}"
    if old in script.temp_tables:
        script.temp_tables[new] = script.temp_tables.pop(old)
        if old in script.temp_relations:
            script.temp_relations[new] = script.temp_relations.pop(old)
        return
    result.sources.add(old)
    result.targets.append(new)
    if old in script.created:
        script.created[new] = script.created.pop(old)
    if script.columns:
        result.edges[(f"{old}.*", f"{new}.*")] = "direct"


def _create_clone(
    target: str, source: str, result: _Result, script: ScriptState, line: int
) -> None:
    """``target`` created as a copy of ``source``: as ``CREATE TABLE target CLONE source``."""
    try:
        (tree,) = script.namer.dialect.parse(f"CREATE TABLE {target} CLONE {source}")
    except (SqlglotError, ValueError):
        return
    if isinstance(tree, exp.Create):
        _handle_create(tree, result, script, line)


def _rename_tables(text: str, result: _Result, script: ScriptState) -> None:
    """MySQL ``RENAME TABLE a TO b``: as ``ALTER TABLE a RENAME TO b`` (several pairs are
    statements of their own, see ``extract._expand``)."""
    match = _RENAME_TABLES.match(text)
    if match is None:
        return
    dialect = script.namer.dialect
    for pair in match.group("pairs").split(","):
        names = _RENAME_PAIR.match(pair)
        if names is None:
            continue
        try:
            old_table = exp.to_table(names.group("old"), dialect=dialect)
            new_table = exp.to_table(names.group("new"), dialect=dialect)
        except SqlglotError:
            continue
        old = script.namer.table(old_table)
        if old is not None:
            _rename(old, new_table, result, script)


def _swap(old: str, other_table: exp.Table | None, result: _Result, script: ScriptState) -> None:
    """Snowflake ``ALTER TABLE a SWAP WITH b``: each table takes the other's data."""
    other = script.namer.table(other_table) if other_table is not None else None
    if other is None:
        return
    result.sources |= {old, other}
    result.targets += [old, other]
    if script.columns:
        result.edges[(f"{old}.*", f"{other}.*")] = "direct"
        result.edges[(f"{other}.*", f"{old}.*")] = "direct"


def _handle_copy(expression: exp.Copy, result: _Result, script: ScriptState, line: int) -> None:
    """``COPY``: paths (stages, URLs, files) on one side, a table or a query on the other."""
    namer = script.namer
    # ``kind`` is True for ``COPY [INTO] x FROM y`` and False for ``COPY x TO y``.
    loading = bool(expression.args.get("kind"))
    this = expression.this
    files = list(expression.args.get("files") or ())
    if loading:
        target = _copy_side(this, namer)
        sources: set[str] = set()
        for item in files:
            if isinstance(item, (exp.Subquery, exp.Query)):
                sources |= source_tables(item, script, set())
            elif isinstance(item, exp.Table) and not _is_path_table(item):
                # Snowflake ``COPY INTO @stage/path/ FROM schema.table`` unloads a table.
                name = namer.table(item)
                if name is not None:
                    sources |= set(resolve_temp(name, script))
            else:
                name = _path_name(item)
                if name:
                    sources.add(name)
        if target is None:
            result.sources |= sources
            return
        result.sources |= sources
        result.targets.append(target)
        if script.columns and not any(isinstance(f, (exp.Subquery, exp.Query)) for f in files):
            for source in sorted(sources):
                result.edges[(f"{source}.*", f"{target}.*")] = "direct"
        return
    if isinstance(this, (exp.Subquery, exp.Query)):
        result.sources |= source_tables(this, script, set())
    else:
        name = _copy_side(this, namer)
        if name is not None:
            result.sources |= set(resolve_temp(name, script))
    result.targets += [name for name in (_path_name(f) for f in files) if name]


def _copy_side(node: exp.Expr | None, namer: Namer) -> str | None:
    if isinstance(node, exp.Schema):
        node = node.this
    if isinstance(node, exp.Table):
        return _path_name(node) if _is_path_table(node) else namer.table(node)
    if isinstance(node, (exp.Literal, exp.Var)):
        return node.name
    return None


def _is_path_table(table: exp.Table) -> bool:
    return isinstance(table.this, (exp.Var, exp.Literal))


def _path_name(node: exp.Expr) -> str | None:
    if isinstance(node, exp.Table) and isinstance(node.this, (exp.Var, exp.Literal)):
        return node.this.name
    if isinstance(node, (exp.Literal, exp.Var)):
        return node.name
    if isinstance(node, exp.Table):
        return None
    return node.name or None


def _handle_command(
    expression: exp.Command, result: _Result, script: ScriptState, line: int
) -> None:
    keyword = str(expression.this).upper()
    body = expression.expression
    text = body if isinstance(body, str) else (body.name if body is not None else "")
    if keyword == "UNLOAD":
        match = _UNLOAD.match(text)
        if match is None:
            return
        query = match.group("query").replace("''", "'")
        try:
            trees = script.namer.dialect.parse(query)
        except (SqlglotError, RecursionError):
            return
        for tree in trees:
            if tree is not None:
                result.sources |= source_tables(tree, script, set())
        result.targets.append(match.group("path"))
        return
    if keyword in ("PUT", "GET"):
        match = _PUT_GET.match(text)
        if match is not None:
            result.sources.add(match.group("source"))
            result.targets.append(match.group("target"))
        return
    if keyword == "SET":
        _set_search_path(_SEARCH_PATH.match(text), script)
        return
    if keyword == "CREATE":
        copy = _COMMAND_CLONE.match(text) or _STREAM.match(text)
        if copy is not None:
            _create_clone(copy.group("target"), copy.group("source"), result, script, line)
            result.kind = "CREATE_STREAM" if copy.re is _STREAM else "CREATE_TABLE_AS"
        return
    if keyword == "ALTER" and (session := _ALTER_SESSION.match(text)):
        _set_search_path(_SEARCH_PATH.match(session.group("rest")), script)
        return
    if keyword == "ALTER":
        match = _EXCHANGE.match(text)
        if match is None:
            return
        namer = script.namer
        target = namer.qualify_text(re.sub(r"\s+", "", match.group("target")))
        source = namer.qualify_text(re.sub(r"\s+", "", match.group("source")))
        result.kind = "EXCHANGE_PARTITION"
        result.sources |= set(resolve_temp(source, script))
        result.targets.append(target)
        if script.columns:
            result.edges[(f"{source}.*", f"{target}.*")] = "direct"
        return
    if keyword == "RENAME":
        _rename_tables(text, result, script)
        return
    if keyword == "DECLARE":
        match = _DECLARE_GTT.match("DECLARE " + text)
        if match:
            fqn = script.namer.qualify_text(match.group(1))
            script.temp_tables[fqn] = set()
            script.temp_relations[fqn] = Relation()
        elif variable := _DECLARED_NAME.match(text):
            # ``DECLARE n int`` (PL/pgSQL), a variable of a declaration section (see
            # ``statements._parse_chunks``).
            script.variables.add(script.namer.ident(exp.to_identifier(variable.group(0))))


def _handle_truncate(expression: exp.Expr, result: _Result, script: ScriptState, line: int) -> None:
    """``TRUNCATE a, b``: the tables are emptied, so they are targets (nothing is read)."""
    for table in expression.expressions:
        if isinstance(table, exp.Table):
            fqn = script.namer.table(table)
            if fqn is not None and not _is_temp(fqn, script):
                result.targets.append(fqn)


def _handle_use(expression: exp.Expr, result: _Result, script: ScriptState, line: int) -> None:
    """``USE db``/``USE db.schema``/``USE SCHEMA``/``USE DATABASE``: defaults for what follows."""
    table = expression.this
    if not isinstance(table, exp.Table):
        return
    kind = expression.args.get("kind")
    kind = kind.name.upper() if kind is not None else ""
    alias = table.args.get("alias")
    if not kind and alias is not None and table.name.upper() == "NAMESPACE" and not table.db:
        # sqlglot reads Spark's ``USE NAMESPACE s`` as the table ``NAMESPACE`` aliased ``s``.
        kind, table = "SCHEMA", exp.table_(alias.this)
    namer = script.namer
    names = [namer.ident(part) for part in table.parts]
    if not all(names):
        return
    dialect = type(namer.dialect).__name__
    if kind == "DATABASE" and dialect in _DATABASE_IS_SCHEMA:
        kind = "SCHEMA"
    if kind == "CATALOG" or (
        len(names) == 1 and (kind == "DATABASE" or (not kind and dialect in _CATALOG_USE))
    ):
        # A new database (Snowflake) or catalog (Databricks, Spark) starts in its default
        # schema; elsewhere less qualified names keep only the catalog.
        default = _DEFAULT_SCHEMA.get(dialect)
        namer.use(names[-1], namer.name(default, quoted=False) if default else None)
    elif kind in ("", "SCHEMA", "NAMESPACE", "DATABASE"):
        # ``USE a.b`` (any kind) names a database/catalog and a schema.
        if len(names) >= 2:
            namer.use(names[-2], names[-1])
        else:
            namer.use(namer.current_catalog, names[-1])


def _handle_set(expression: exp.Expr, result: _Result, script: ScriptState, line: int) -> None:
    """``SET search_path = a`` as sqlglot parses it (a list is kept as a command). Its tree drops
    the quotes of the value, so the statement's own text is read when it is at hand."""
    for item in expression.expressions:
        if isinstance(item, exp.SetItem) and isinstance(item.this, exp.EQ):
            name, value = item.this.this, item.this.expression
            if isinstance(name, exp.Column) and name.name.lower() == "search_path":
                written = _SET_TEXT.match(script.text, script.position)
                text = written.group("rest") if written else f"search_path = {value.sql()}"
                _set_search_path(_SEARCH_PATH.match(text), script)


def _set_search_path(match: re.Match[str] | None, script: ScriptState) -> None:
    """Make the first schema of a search path the default schema of what follows, as ``USE``
    does; ``public`` (where unqualified names already are), ``$user`` and the system schemas
    are passed over. A quoted entry keeps its case; a string may hold the whole list (DuckDB).

    >>> from sqlglot.dialects.dialect import Dialect
    >>> from lineage_dagster.parsing.names import Namer
    >>> from lineage_dagster.parsing.script_state import ScriptState
    >>> script = ScriptState(Namer(Dialect.get_or_raise("postgres")), {}, False)
    >>> _set_search_path(_SEARCH_PATH.match(' search_path TO "$user", public, Risk, "Ops"'), script)
    >>> script.namer.default
    ('risk',)
    """
    if match is None:
        return
    entries: list[tuple[str, bool]] = []
    for quoted, string, bare in _PATH_ITEM.findall(match.group("path")):
        if string:
            entries += [(part.strip(), False) for part in string.replace("''", "'").split(",")]
        elif quoted:
            entries.append((quoted.replace('""', '"'), True))
        else:
            entries.append((bare, False))
    namer = script.namer
    for name, quoted in entries:
        if name and name.lower() not in _NOT_A_DEFAULT_SCHEMA:
            namer.use(namer.current_catalog, namer.ident(exp.to_identifier(name, quoted=quoted)))
            return


# The schema a session is in after ``USE DATABASE db`` (Snowflake), ``USE db`` (SQL Server: the
# default schema of a login is ``dbo`` unless an administrator changed it) or ``USE CATALOG c``.
_DEFAULT_SCHEMA = {
    "Snowflake": "PUBLIC",
    "TSQL": "dbo",
    "Fabric": "dbo",
    "Databricks": "default",
    "Spark": "default",
}
# Dialects whose bare ``USE name`` selects a database holding schemas (a catalog).
_CATALOG_USE = frozenset({"TSQL", "Fabric", "Snowflake"})
# Dialects where a database is a schema (``USE DATABASE db`` = ``USE SCHEMA db``).
_DATABASE_IS_SCHEMA = frozenset(
    {"Spark", "Spark2", "Databricks", "Hive", "MySQL", "Doris", "StarRocks", "ClickHouse"}
)


def _handle_put(expression: exp.Expr, result: _Result, script: ScriptState, line: int) -> None:
    """Snowflake ``PUT file://local @stage/path``: the local files feed the stage."""
    source = expression.this
    target = expression.args.get("target")
    if isinstance(source, (exp.Literal, exp.Var)) and isinstance(target, (exp.Literal, exp.Var)):
        result.sources.add(source.name)
        result.targets.append(target.name)


def _handle_load_data(
    expression: exp.Expr, result: _Result, script: ScriptState, line: int
) -> None:
    """Hive ``LOAD DATA INPATH 'path' INTO TABLE t``: the path feeds the table."""
    table = target_table(expression.this)
    target = script.namer.table(table) if table is not None else None
    inpath = expression.args.get("inpath")
    if target is None or inpath is None:
        return
    result.sources.add(inpath.name)
    result.targets.append(target)
    if script.columns:
        result.edges[(f"{inpath.name}.*", f"{target}.*")] = "direct"


def _handle_cache(expression: exp.Expr, result: _Result, script: ScriptState, line: int) -> None:
    """Spark ``CACHE TABLE t AS SELECT ...`` defines a temporary view ``t``."""
    table = target_table(expression.this)
    query = expression.expression
    fqn = script.namer.table(table) if table is not None else None
    if fqn is None or query is None:
        return
    sources = source_tables(query, script, set())
    rel = _walker(script).query(query, {}) if script.columns else None
    _write(result, script, fqn, True, rel, None, sources, replace=True)


def _handle_declare(expression: exp.Expr, result: _Result, script: ScriptState, line: int) -> None:
    # T-SQL table variables: ``DECLARE @rows TABLE (...)`` is a temporary table; any other
    # name declared is a variable.
    for item in expression.expressions:
        names = item.this if isinstance(item.this, list) else [item.this]
        if not isinstance(item.args.get("kind"), exp.Schema):
            script.variables.update(
                script.namer.ident(name) for name in names if isinstance(name, exp.Identifier)
            )
        if isinstance(item.args.get("kind"), exp.Schema):
            for name in names:
                if isinstance(name, exp.Parameter):
                    fqn = "@" + name.name
                    script.temp_tables[fqn] = set()
                    rel = Relation()
                    for column in item.args["kind"].expressions:
                        if isinstance(column, exp.ColumnDef):
                            rel.add(script.namer.column(column.this), {})
                    script.temp_relations[fqn] = rel


_HANDLERS: dict[type, Any] = {
    exp.Select: _handle_query,
    exp.Query: _handle_query,
    exp.Insert: _handle_insert,
    exp.MultitableInserts: _handle_multi_insert,
    exp.Create: _handle_create,
    exp.Update: _handle_update,
    exp.Delete: _handle_delete,
    exp.Merge: _handle_merge,
    exp.Drop: _handle_drop,
    exp.Alter: _handle_alter,
    exp.Copy: _handle_copy,
    exp.Command: _handle_command,
    exp.TruncateTable: _handle_truncate,
    exp.Use: _handle_use,
    exp.Set: _handle_set,
    exp.LoadData: _handle_load_data,
    **({exp.Put: _handle_put} if hasattr(exp, "Put") else {}),
    exp.Cache: _handle_cache,
    exp.Declare: _handle_declare,
}
