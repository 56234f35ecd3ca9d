"""Known columns per table, shared by many files, and the record of what a file looked up.

A :class:`SchemaIndex` holds table -> columns with names already normalised (by the dialect
that declared them, or as an ``information_schema`` export spells them). Extraction looks a
table up by the name it gives it; when that exact name is absent, the same name in another
case (``FINANCE.GL`` declared in Snowflake, ``finance.gl`` read in T-SQL) or a longer name
ending with it (``prod.finance.gl`` in a catalog export) is found when only one entry fits.

Each extraction records, through :class:`SchemaLookups`, every table it looked up and what it
got, so ``digest`` tells whether the same content would give the same lineage against another
schema: that is how cached lineage stays correct when a table's columns change.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

PARTIAL = "*"
"""Last column of an entry that lists only some of a table's columns (an INSERT's list)."""


class SchemaIndex:
    """Table -> columns, looked up by exact name, then ignoring case, then by unique suffix.

    >>> index = SchemaIndex({"PROD.FINANCE.GL": ["ID", "AMT"], "raw.t": ["a"]})
    >>> index.find("finance.gl"), index.find("raw.t"), index.find("t")
    (['ID', 'AMT'], ['a'], None)
    """

    def __init__(self, entries: Mapping[str, Sequence[str]]) -> None:
        self.entries: dict[str, list[str]] = {k: list(v) for k, v in entries.items()}
        self._folded: dict[str, str | None] | None = None  # built on the first miss
        self._digest = ""

    def __len__(self) -> int:
        return len(self.entries)

    def find(self, table: str) -> list[str] | None:
        """The columns of ``table`` (a normalised, dotted name), ``None`` when unknown."""
        found = self.entries.get(table)
        if found is not None:
            return found
        key = self.key_of(table)
        return self.entries[key] if key is not None else None

    def key_of(self, table: str) -> str | None:
        """The entry ``table`` names: itself, the same name in another case, or the one
        longer name ending with it."""
        if table in self.entries:
            return table
        folded = self._folded
        if folded is None:
            folded = self._folded = self._fold()
        return folded.get(table.lower())

    def _fold(self) -> dict[str, str | None]:
        """Lower-cased names and their dotted suffixes of two parts or more -> the one entry
        they name (``None`` when several entries share it: no guess)."""
        folded: dict[str, str | None] = {}
        suffixes: dict[str, str | None] = {}
        for key in self.entries:
            lower = key.lower()
            folded[lower] = key if folded.get(lower, key) == key else None
            parts = lower.split(".")
            for start in range(1, len(parts) - 1):
                suffix = ".".join(parts[start:])
                suffixes[suffix] = key if suffixes.get(suffix, key) == key else None
        for suffix, owner in suffixes.items():
            folded.setdefault(suffix, owner)
        return folded

    def digest_of(self, tables: Iterable[str]) -> str:
        """A digest of what ``tables`` resolve to (``""`` when none is known)."""
        return entries_digest((table, self.find(table)) for table in tables)

    @property
    def digest(self) -> str:
        """A digest of every entry: two indexes with one digest give the same lookups."""
        if not self._digest:
            self._digest = entries_digest(self.entries.items()) or "empty"
        return self._digest


def entries_digest(entries: Iterable[tuple[str, Sequence[str] | None]]) -> str:
    """A digest of (table, columns) pairs; tables without columns do not count."""
    known = sorted((table, columns) for table, columns in entries if columns is not None)
    if not known:
        return ""
    hasher = hashlib.sha256()
    for table, columns in known:
        hasher.update(table.encode("utf-8", "surrogatepass"))
        hasher.update(b"\x00")
        hasher.update("\x01".join(columns).encode("utf-8", "surrogatepass"))
        hasher.update(b"\x02")
    return hasher.hexdigest()[:32]


class SchemaLookups:
    """One file's view of a :class:`SchemaIndex`: every table looked up is remembered.

    Columns of an entry found under another spelling of the table's name (declared in another
    dialect) are case-folded as the file's dialect folds unquoted names.

    >>> lookups = SchemaLookups(SchemaIndex({"raw.t": ["a"], "RAW.U": ["B"]}), str.lower)
    >>> lookups.get("raw.t"), lookups.get("raw.u"), lookups.get("raw.v"), sorted(lookups.seen)
    (['a'], ['b'], None, ['raw.t', 'raw.u', 'raw.v'])
    """

    __slots__ = ("fold", "index", "seen")

    def __init__(self, index: SchemaIndex, fold: Callable[[str], str]) -> None:
        self.index = index
        self.fold = fold
        self.seen: dict[str, list[str] | None] = {}

    def get(self, table: str) -> list[str] | None:
        """The columns of ``table``, ``None`` when unknown."""
        seen = self.seen
        if table in seen:
            return seen[table]
        found = self.index.entries.get(table)
        if found is None:
            key = self.index.key_of(table)
            if key is not None:
                fold = self.fold
                found = [c if c == PARTIAL else fold(c) for c in self.index.entries[key]]
        seen[table] = found
        return found

    def digest(self) -> str:
        """What the tables looked up so far resolved to: ``index.digest_of(seen)``."""
        return self.index.digest_of(self.seen)


__all__ = ["PARTIAL", "SchemaIndex", "SchemaLookups", "entries_digest"]
