"""Loads the SQL lineage fixtures of ``fixtures/sql/*.sql``.

A fixture file holds many cases. Each case is a block of ``#`` header lines followed by its SQL,
and the next ``# case:`` line starts the next case::

    # case: insert_with_aggregate
    # dialect: postgres
    # sources: raw.trades
    # targets: mart.pnl
    # edge: raw.trades.amount -> mart.pnl.pnl aggregation
    INSERT INTO mart.pnl (pnl) SELECT SUM(amount) FROM raw.trades

Keys (``@N`` after a key addresses statement N of the case, default 0):

- ``sources``/``targets``: space-separated table names, exactly; empty means none.
- ``edge``: ``source -> target kind``; the non-condition edges of the statement, exactly.
- ``condition``: ``source -> target``; when any is given (or ``conditions: none``), the
  condition edges of that statement are compared exactly, else they are not checked.
- ``line``: the statement's 1-based line, counted from the case's first line of SQL.
- ``kind``, ``statements`` (count), ``error`` (a substring of the statement's error message),
  ``schema`` (one-line JSON, or ``declared``: the schema the case's own SQL declares, merged
  as the pipeline merges a folder's declarations), ``default_schema``, ``dialect``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "sql"

_HEADER = re.compile(r"^#\s*([a-z_]+)(?:@(\d+))?\s*:\s*(.*?)\s*$")


@dataclass
class Expected:
    sources: tuple[str, ...] | None = None
    targets: tuple[str, ...] | None = None
    edges: set[tuple[str, str, str]] | None = None
    conditions: set[tuple[str, str]] | None = None
    kind: str | None = None
    error: str | None = None
    line: int | None = None


@dataclass
class Case:
    name: str
    file: str
    line: int
    dialect: str | None = None
    schema: dict[str, Any] | None = None
    schema_declared: bool = False
    default_schema: str | None = None
    statements: int | None = None
    sql: str = ""
    expected: dict[int, Expected] = field(default_factory=dict)

    def at(self, index: int) -> Expected:
        return self.expected.setdefault(index, Expected())


def load_cases(root: Path = FIXTURES) -> list[Case]:
    """Every case of every fixture file, in file order."""
    cases: list[Case] = []
    for path in sorted(root.glob("*.sql")):
        cases.extend(_load_file(path))
    return cases


def _load_file(path: Path) -> list[Case]:
    cases: list[Case] = []
    case: Case | None = None
    sql_lines: list[str] = []

    def finish() -> None:
        if case is not None:
            case.sql = "\n".join(sql_lines).strip() + "\n"
            cases.append(case)

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = _HEADER.match(raw)
        if match and (not sql_lines or match.group(1) == "case"):
            key, index, value = match.group(1), int(match.group(2) or 0), match.group(3)
            if key == "case":
                finish()
                case = Case(name=value, file=path.name, line=number)
                sql_lines = []
                continue
            if case is None:
                raise ValueError(f"{path.name}:{number}: header before '# case:'")
            _apply(case, key, index, value, f"{path.name}:{number}")
            continue
        if raw.startswith("#") and not sql_lines:
            continue  # a comment in the header block
        if case is not None:
            sql_lines.append(raw)
    finish()
    return cases


def _apply(case: Case, key: str, index: int, value: str, where: str) -> None:
    expected = case.at(index)
    if key == "dialect":
        case.dialect = value or None
    elif key == "schema" and value == "declared":
        case.schema_declared = True
    elif key == "schema":
        case.schema = json.loads(value)
    elif key == "default_schema":
        case.default_schema = value
    elif key == "statements":
        case.statements = int(value)
    elif key == "sources":
        expected.sources = tuple(sorted(value.split()))
    elif key == "targets":
        expected.targets = tuple(value.split())
    elif key == "kind":
        expected.kind = value
    elif key == "line":
        expected.line = int(value)
    elif key == "error":
        expected.error = value
    elif key == "edge":
        match = re.fullmatch(r"(\S+)\s*->\s*(.+?)\s+(direct|expression|aggregation)", value)
        if not match:
            raise ValueError(f"{where}: bad edge {value!r}")
        if expected.edges is None:
            expected.edges = set()
        expected.edges.add((match.group(1), match.group(2), match.group(3)))
    elif key == "edges" and value == "none":
        expected.edges = set()
    elif key == "condition":
        match = re.fullmatch(r"(\S+)\s*->\s*(\S+)", value)
        if not match:
            raise ValueError(f"{where}: bad condition {value!r}")
        if expected.conditions is None:
            expected.conditions = set()
        expected.conditions.add((match.group(1), match.group(2)))
    elif key == "conditions" and value == "none":
        expected.conditions = set()
    else:
        raise ValueError(f"{where}: unknown key {key!r}")
