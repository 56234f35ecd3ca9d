"""Read lineage back from Neo4j: what feeds a table or column, and what it feeds (no Dagster).

A walk goes level by level from the start, one parameterised query per level, inside one read
transaction (a consistent snapshot). Each node reached gets its shortest distance and the edges
that link it to the level before, with the file and statement that produced each edge.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from lineage_dagster.graph import queries
from lineage_dagster.parsing.names import loose_name, quote_part, typed_name

if TYPE_CHECKING:
    from neo4j import ManagedTransaction, Session

Direction = Literal["upstream", "downstream"]
Level = Literal["table", "column"]

KNOWN_COLUMNS_SHOWN = 20
"""How many of a table's columns an unknown-column error lists."""

MAX_DEPTH = 100
"""How far a walk goes when no depth is given; real pipelines are far shallower."""

_STEPS: dict[tuple[Level, Direction, bool], str] = {
    ("table", "upstream", True): queries.TABLE_UPSTREAM_STEP,
    ("table", "downstream", True): queries.TABLE_DOWNSTREAM_STEP,
    ("column", "upstream", True): queries.COLUMN_UPSTREAM_STEP,
    ("column", "downstream", True): queries.COLUMN_DOWNSTREAM_STEP,
    ("column", "upstream", False): queries.COLUMN_UPSTREAM_VALUE_STEP,
    ("column", "downstream", False): queries.COLUMN_DOWNSTREAM_VALUE_STEP,
}


@dataclass(frozen=True)
class LineageEdge:
    """One FEEDS (tables) or DERIVES_FROM (columns) edge: ``target`` is built from ``source``.

    ``kind`` is the column edge kind (``direct``, ``expression``, ``aggregation``,
    ``condition``, or ``field``: a struct field and the column holding it, with no statement);
    None for table edges.
    """

    source: str
    target: str
    statement_id: str | None
    file: str | None
    line: int | None
    kind: str | None = None


@dataclass(frozen=True)
class LineageNode:
    """A table (by name) or column (by ``schema.table.column`` id) reached by a walk.

    ``edges`` link it to the nodes one step closer to the start.
    """

    name: str
    distance: int
    edges: tuple[LineageEdge, ...]


@dataclass(frozen=True)
class Lineage:
    """The result of a walk, nodes sorted by distance then name.

    ``truncated`` says that more lineage lies beyond ``max_depth``.
    """

    start: str
    level: Level
    direction: Direction
    max_depth: int
    nodes: tuple[LineageNode, ...]
    truncated: bool


class UnknownNameError(LookupError):
    """No table or column of that name is in the graph; ``suggestions`` are close matches, and
    for a column, ``known`` lists the table's columns the graph holds."""

    def __init__(
        self,
        kind: Level,
        name: str,
        suggestions: tuple[str, ...] = (),
        known: tuple[str, ...] = (),
    ) -> None:
        message = f"No {kind} named {name!r} in the lineage graph"
        if suggestions:
            message += "; did you mean " + ", ".join(suggestions) + "?"
        elif known:
            shown = ", ".join(known[:KNOWN_COLUMNS_SHOWN])
            extra = len(known) - KNOWN_COLUMNS_SHOWN
            more = f" and {extra} more" if extra > 0 else ""
            message += f"; its table has the columns {shown}{more}"
        super().__init__(message)
        self.kind = kind
        self.name = name
        self.suggestions = suggestions
        self.known = known


class AmbiguousNameError(LookupError):
    """A name typed without quotes matches several names whose case differs in quoted
    (case-sensitive) parts; ``candidates`` are their keys."""

    def __init__(self, kind: Level, name: str, candidates: tuple[str, ...]) -> None:
        super().__init__(
            f"{kind.capitalize()} {name!r} matches several {kind}s that differ only in the case "
            f"of quoted names: {', '.join(candidates)}; give one of them as shown"
        )
        self.kind = kind
        self.name = name
        self.candidates = candidates


def get_table_lineage(
    session: Session, table: str, *, direction: Direction, max_depth: int | None = None
) -> Lineage:
    """The tables upstream or downstream of ``table``, up to ``max_depth`` hops.

    ``table`` is a name as a user types it (see :func:`resolve_table`).

    Raises:
        UnknownNameError: No table of that name is in the graph.
        AmbiguousNameError: The name matches several tables that differ only in case.
    """
    depth = _check_depth(max_depth)
    return session.execute_read(_read_table_lineage, table, direction, depth)


def get_column_lineage(
    session: Session,
    table: str,
    column: str,
    *,
    direction: Direction,
    max_depth: int | None = None,
    conditions: bool = True,
) -> Lineage:
    """The columns upstream or downstream of ``table.column``, up to ``max_depth`` hops.

    ``conditions=False`` follows value edges only (``direct``, ``expression``, ``aggregation``),
    leaving out the columns that only filter, join or group the rows.

    Raises:
        UnknownNameError: The table, or the column in it, is not in the graph.
        AmbiguousNameError: The table or column matches several that differ only in case.
    """
    depth = _check_depth(max_depth)
    return session.execute_read(_read_column_lineage, table, column, direction, depth, conditions)


def close_matches(name: str, candidates: list[str], *, limit: int = 5) -> tuple[str, ...]:
    """Candidates that ``name`` may have meant: same name in another case, same last part
    (``trades`` for ``stg.trades``), then similar spellings.

    >>> close_matches("TRADES", ["stg.trades", "raw.trades", "ref.fx"])
    ('raw.trades', 'stg.trades')
    >>> close_matches("risk.exposur", ["risk.exposure", "risk.var"])
    ('risk.exposure',)
    """
    lowered = name.lower()
    by_lower: dict[str, list[str]] = {}
    for candidate in sorted(candidates):
        by_lower.setdefault(candidate.lower(), []).append(candidate)
    found: list[str] = list(by_lower.get(lowered, []))
    found += [c for c in sorted(candidates) if c.lower().endswith("." + lowered)]
    for match in difflib.get_close_matches(lowered, list(by_lower), n=limit, cutoff=0.75):
        found += by_lower[match]
    return tuple(dict.fromkeys(found))[:limit]


def _check_depth(max_depth: int | None) -> int:
    if max_depth is None:
        return MAX_DEPTH
    if not 1 <= max_depth <= MAX_DEPTH:
        raise ValueError(f"max_depth must be between 1 and {MAX_DEPTH}, not {max_depth}")
    return max_depth


def resolve_table(tx: ManagedTransaction, typed: str) -> str:
    """The key of the table a user means by ``typed``, in any case.

    Unquoted parts are case-insensitive, quoted ones (``raw."Fx"``) are taken as written
    (:func:`~lineage_dagster.parsing.names.typed_name`); a name that matches no key exactly
    matches the key equal to it ignoring case and quotes, when there is one.

    Raises:
        UnknownNameError: No table matches.
        AmbiguousNameError: Several tables match ignoring case.
    """
    for key in dict.fromkeys((typed_name(typed), typed)):
        if tx.run(queries.GET_TABLE, name=key).single() is not None:
            return key
    names = [record["name"] for record in tx.run(queries.GET_TABLE_NAMES)]
    return _match_loosely("table", typed, names, close_matches(typed, names))


def _match_loosely(kind: Level, typed: str, names: list[str], suggestions: tuple[str, ...]) -> str:
    """The one name equal to ``typed`` ignoring case and quotes."""
    wanted = loose_name(typed)
    matches = tuple(sorted(name for name in names if loose_name(name) == wanted))
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise AmbiguousNameError(kind, typed, matches)
    raise UnknownNameError(kind, typed, suggestions)


def _read_table_lineage(
    tx: ManagedTransaction, table: str, direction: Direction, depth: int
) -> Lineage:
    return _walk(tx, resolve_table(tx, table), "table", direction, depth)


def _read_column_lineage(
    tx: ManagedTransaction,
    table: str,
    column: str,
    direction: Direction,
    depth: int,
    conditions: bool,
) -> Lineage:
    table = resolve_table(tx, table)
    column_id = f"{table}.{_typed_column(column)}"
    if tx.run(queries.GET_COLUMN, id=column_id).single() is None:
        names = sorted(r["name"] for r in tx.run(queries.GET_TABLE_COLUMN_NAMES, table=table))
        wanted = loose_name(_typed_column(column))
        matches = tuple(name for name in names if loose_name(name) == wanted)
        if len(matches) > 1:
            raise AmbiguousNameError("column", column, tuple(f"{table}.{m}" for m in matches))
        if not matches:
            suggestions = tuple(f"{table}.{name}" for name in close_matches(column, names))
            raise UnknownNameError("column", f"{table}.{column}", suggestions, tuple(names))
        column_id = f"{table}.{matches[0]}"
    return _walk(tx, column_id, "column", direction, depth, conditions)


def _typed_column(column: str) -> str:
    """A column name as typed, as the part of a key: ``Amount`` is ``amount``; ``"Amount"``
    and a name with a dot (``b.c``, one column) are quoted."""
    if column.startswith('"') and column.endswith('"') and len(column) > 1:
        return typed_name(column)
    return quote_part(column.lower())


def _walk(
    tx: ManagedTransaction,
    start: str,
    level: Level,
    direction: Direction,
    depth: int,
    conditions: bool = True,
) -> Lineage:
    step = _STEPS[(level, direction, conditions)]
    far_end = "source" if direction == "upstream" else "target"
    distances = {start: 0}
    nodes: list[LineageNode] = []
    frontier = [start]
    distance = 0
    truncated = False
    while frontier:
        records = list(tx.run(step, keys=frontier))
        reached: dict[str, list[LineageEdge]] = {}
        for record in records:
            name = record[far_end]
            if name in distances:
                continue  # already reached at this distance or closer
            reached.setdefault(name, []).append(
                LineageEdge(
                    source=record["source"],
                    target=record["target"],
                    statement_id=record["statement_id"],
                    file=record["file"],
                    line=record["line"],
                    kind=record["kind"],
                )
            )
        if distance == depth:
            truncated = bool(reached)
            break
        distance += 1
        for name, edges in sorted(reached.items()):
            distances[name] = distance
            nodes.append(LineageNode(name, distance, tuple(sorted(edges, key=_edge_key))))
        frontier = sorted(reached)
    return Lineage(start, level, direction, depth, tuple(nodes), truncated)


def _edge_key(edge: LineageEdge) -> tuple[str, str, str, str, str]:
    return (edge.source, edge.target, edge.statement_id or "", edge.file or "", edge.kind or "")
