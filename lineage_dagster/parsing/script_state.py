"""Script state: what the earlier statements of a script tell the later ones.

Statement handlers update it (temporary tables and their upstream, columns of created tables,
the default database of ``USE``); the table walk reads it to resolve temporary tables away.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lineage_dagster.parsing.schema import PARTIAL

if TYPE_CHECKING:
    from sqlglot import exp

    from lineage_dagster.parsing.models import TableDeclaration
    from lineage_dagster.parsing.names import Namer
    from lineage_dagster.parsing.schema import SchemaLookups
    from lineage_dagster.parsing.walker import Relation


@dataclass
class ScriptState:
    """What earlier statements of a script tell later ones.

    >>> from sqlglot.dialects.dialect import Dialect
    >>> from lineage_dagster.parsing.names import Namer
    >>> script = ScriptState(Namer(Dialect()), {"raw.t": ["a"], "raw.p": ["b", "*"]}, True)
    >>> script.created["mart.u"] = ["b"]
    >>> script.columns_of("mart.u"), script.columns_of("raw.t"), script.columns_of("raw.p")
    (['b'], ['a'], None)
    """

    namer: Namer
    schema: SchemaLookups | dict[str, list[str]]
    columns: bool
    conditions: bool = True  # record ``condition`` edges (filters and joins)
    temp_tables: dict[str, set[str]] = field(default_factory=dict)  # temp -> upstream tables
    temp_relations: dict[str, Relation] = field(default_factory=dict)
    script_temps: dict[str, int] = field(default_factory=dict)  # name -> offset of its DROP
    text: str = ""  # the script's text
    position: int = 0  # offset of the statement being extracted in it
    root: exp.Expr | None = None  # the statement being extracted
    select_hint: int | None = None  # SELECT keywords in its text, when known
    created: dict[str, list[str]] = field(default_factory=dict)  # tables created with columns
    index: int = 0  # index of the statement being extracted
    # ``#temp`` tables read or dropped so far, and the writes of each ``#temp`` table
    # (statement index, relation written, column list): one never read nor dropped is an
    # output of the script, made a target of those statements once the script is done.
    temp_reads: set[str] = field(default_factory=set)
    temp_writes: dict[str, list[tuple[int, Relation | None, list[str] | None]]] = field(
        default_factory=dict
    )
    declarations: list[TableDeclaration] = field(default_factory=list)
    # Variables of procedural code (``DECLARE v NUMBER``): ``SELECT ... INTO v`` assigns one.
    variables: set[str] = field(default_factory=set)

    def columns_of(self, fqn: str) -> list[str] | None:
        """All the columns of a table, in order: created earlier in the script, else the
        schema's (``None`` when the schema lists only some of them)."""
        columns = self.created.get(fqn) or self.schema.get(fqn)
        return None if columns and columns[-1] == PARTIAL else columns
