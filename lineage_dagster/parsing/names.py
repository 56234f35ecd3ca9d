"""Normalising table and column names the way a dialect resolves them."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect, NormalizationStrategy

from lineage_dagster.parsing.errors import SchemaError

if TYPE_CHECKING:
    from collections.abc import Mapping

_LOWER, _UPPER, _SENSITIVE, _INSENSITIVE, _INSENSITIVE_UPPER = range(5)
_STRATEGIES = {
    NormalizationStrategy.LOWERCASE: _LOWER,
    NormalizationStrategy.UPPERCASE: _UPPER,
    NormalizationStrategy.CASE_SENSITIVE: _SENSITIVE,
    NormalizationStrategy.CASE_INSENSITIVE: _INSENSITIVE,
}
if hasattr(NormalizationStrategy, "CASE_INSENSITIVE_UPPERCASE"):
    _STRATEGIES[NormalizationStrategy.CASE_INSENSITIVE_UPPERCASE] = _INSENSITIVE_UPPER

_DUAL_DIALECTS = frozenset({"Oracle", "MySQL", "Doris", "StarRocks", "SingleStore"})
"""Dialects whose ``DUAL`` is a built-in one-row table, not a table of the warehouse."""

FILE_FORMATS = frozenset(
    {"parquet", "json", "csv", "orc", "avro", "delta", "text", "binaryfile", "iceberg"}
)
"""Spark file formats that can prefix a path used as a table: ``parquet.`path```."""


class Namer:
    """Turns identifiers and ``exp.Table`` nodes into the names used in the lineage.

    Unquoted identifiers are case-folded as the dialect does (Snowflake and Oracle upper-case,
    most others lower-case), quoted ones are kept as written, except in dialects that ignore
    case even for quoted names. BigQuery keeps the case of table names (they are
    case-sensitive there) and folds column names.

    Args:
        dialect: The sqlglot dialect.
        default_schema: ``"db"`` or ``"catalog.db"``, prefixed to less qualified table names.

    >>> from sqlglot.dialects.dialect import Dialect
    >>> import sqlglot
    >>> namer = Namer(Dialect.get_or_raise("snowflake"), default_schema="analytics.core")
    >>> namer.table(sqlglot.parse_one("SELECT * FROM trades", read="snowflake").find(exp.Table))
    'ANALYTICS.CORE.TRADES'
    >>> namer.table(sqlglot.parse_one('SELECT * FROM raw."Fx"', read="snowflake").find(exp.Table))
    'ANALYTICS.RAW.Fx'
    """

    def __init__(
        self,
        dialect: Dialect,
        default_schema: str | None = None,
        default_catalog: str | None = None,
    ) -> None:
        self.dialect = dialect
        self.strategy = _STRATEGIES.get(dialect.normalization_strategy, _LOWER)
        self.tables_keep_case = type(dialect).__name__ == "BigQuery"
        self.table_variables = type(dialect).__name__ in ("TSQL", "Fabric")
        self.dual_is_dummy = type(dialect).__name__ in _DUAL_DIALECTS
        self.default: tuple[str, ...] = ()
        self.catalog_only: str | None = None  # a default catalog without a default schema
        self.used = False  # whether a USE statement changed the defaults
        self._unquoted: dict[str, str] = {}  # unquoted identifier -> normalised
        if default_schema:
            parts = [p for p in str(default_schema).split(".") if p]
            if len(parts) > 2:
                raise SchemaError(f"default schema {default_schema!r} has more than two parts")
            self.default = tuple(self._default_part(p) for p in parts)
        if default_catalog:
            if len(self.default) == 2:
                raise SchemaError("give the catalog either in default_schema or default_catalog")
            catalog = self._default_part(str(default_catalog))
            if self.default:
                self.default = (catalog, self.default[0])
            else:
                self.catalog_only = catalog

    def _default_part(self, text: str) -> str:
        # BigQuery project and dataset names are case-sensitive.
        return text if self.tables_keep_case else self.name(text, quoted=False)

    def use(self, catalog: str | None, schema: str | None) -> None:
        """Change the defaults, as a ``USE`` statement does for the rest of a script.

        With a schema, less qualified names get ``catalog.schema`` (or ``schema``); with only
        a catalog, ``schema.table`` names get the catalog and bare names are left alone.
        """
        self.used = True
        if schema:
            self.default = (catalog, schema) if catalog else (schema,)
            self.catalog_only = None
        elif catalog:
            self.default = ()
            self.catalog_only = catalog

    @property
    def current_catalog(self) -> str | None:
        """The default catalog, if any."""
        if self.catalog_only:
            return self.catalog_only
        return self.default[0] if len(self.default) == 2 else None

    def is_dummy_table(self, table: exp.Table) -> bool:
        """``DUAL`` (or ``SYS.DUAL``) where the dialect has it: a one-row stand-in, no source.

        >>> from sqlglot.dialects.dialect import Dialect
        >>> import sqlglot
        >>> namer = Namer(Dialect.get_or_raise("oracle"))
        >>> query = sqlglot.parse_one("SELECT 1 FROM dual", read="oracle")
        >>> namer.is_dummy_table(query.find(exp.Table))
        True
        """
        if not self.dual_is_dummy or table.args.get("catalog"):
            return False
        this, db = table.this, table.args.get("db")
        return (
            isinstance(this, exp.Identifier)
            and not this.quoted
            and this.name.upper() == "DUAL"
            and (db is None or (isinstance(db, exp.Identifier) and db.name.upper() == "SYS"))
        )

    def is_temp_name(self, name: str) -> bool:
        """``#t``/``##t`` temporary tables, and ``@t`` table variables in T-SQL.

        Elsewhere ``@`` starts a stage (Snowflake), which is a real place, not a temp table.
        """
        return name.startswith("#") or (name.startswith("@") and self.table_variables)

    def _fold(self, text: str) -> str:
        """Normalise an unquoted identifier; scripts repeat the same names, so remember them."""
        folded = self._unquoted.get(text)
        if folded is None:
            folded = self._unquoted[text] = self.name(text, quoted=False)
        return folded

    def name(self, text: str, *, quoted: bool) -> str:
        """Normalise one identifier's text."""
        strategy = self.strategy
        if strategy == _SENSITIVE or (quoted and strategy in (_LOWER, _UPPER)):
            return text
        if strategy in (_UPPER, _INSENSITIVE_UPPER):
            return text.upper()
        return text.lower()

    def ident(self, node: exp.Expr | str | None) -> str:
        """Normalise an identifier node (``""`` when absent)."""
        if node is None:
            return ""
        if isinstance(node, str):
            return self.name(node, quoted=False)
        if isinstance(node, exp.Identifier):
            if node.quoted:
                return self.name(node.this, quoted=True)
            return self._fold(node.this)
        return self.name(node.name, quoted=False)

    def _table_part(self, node: exp.Expr) -> str:
        if type(node) is exp.Identifier:
            args = node.args
            text: str = args["this"]
            if self.tables_keep_case:
                return quote_part(text)
            text = (
                quote_part(self.name(text, quoted=True)) if args.get("quoted") else self._fold(text)
            )
            if args.get("global_"):
                return "##" + text
            if args.get("temporary"):
                return "#" + text
            return text
        if isinstance(node, exp.Parameter):
            # T-SQL table variables (``@rows``) and similar.
            return "@" + node.name
        if isinstance(node, (exp.Var, exp.Literal)):
            return node.name
        return ""

    def table(self, table: exp.Table) -> str | None:
        """The qualified name of a table reference, or ``None`` if it is not a named table."""
        this = table.this
        if not isinstance(this, (exp.Identifier, exp.Parameter, exp.Dot)):
            if isinstance(this, exp.Var) and this.name.startswith("@"):
                return this.name  # a Snowflake stage
            return None
        parts = []
        unquoted = self._unquoted
        plain = not self.tables_keep_case
        for node in table.parts:
            args = node.args
            if (
                plain
                and type(node) is exp.Identifier
                and not (args.get("quoted") or args.get("temporary") or args.get("global_"))
            ):
                # _table_part inlined for the usual part: an unquoted name.
                text: str = args["this"]
                name = unquoted.get(text)
                if name is None:
                    name = unquoted[text] = self.name(text, quoted=False)
            else:
                name = self._table_part(node)
            if not name:
                return None
            parts.append(name)
        last = parts[-1]
        if self.tables_keep_case and (last[-1] in _SHARD_ENDS or "$" in last):
            last = parts[-1] = bigquery_table(last)
        if len(parts) == 2 and ("/" in last or ":" in last) and parts[0].lower() in FILE_FORMATS:
            # Spark/Databricks ``parquet.`s3://bucket/path```: the files themselves.
            return last
        if last[0] in "#@":
            return ".".join(parts)
        default = self.default
        if default and len(parts) <= len(default):
            parts = [*default[: len(default) - len(parts) + 1], *parts]
        elif self.catalog_only and len(parts) == 2:
            parts = [self.catalog_only, *parts]
        return ".".join(parts)

    def column(self, node: exp.Expr) -> str:
        """Normalise a column name (BigQuery columns are case-insensitive)."""
        if isinstance(node, exp.Identifier):
            if node.quoted:
                return quote_part(
                    node.this.lower()
                    if self.tables_keep_case
                    else self.name(node.this, quoted=True)
                )
            return self._fold(node.this)
        return self.name(node.name, quoted=False)

    def qualify_text(self, name: str) -> str:
        """Normalise a dotted table name given as text (schema mappings, CLI input)."""
        if self.tables_keep_case:
            parts = [p.strip('"`[]') for p in name.split(".")]
            parts[-1] = bigquery_table(parts[-1])
        else:
            parts = [self.name(p.strip('"`[]'), quoted=p[:1] in '"`[') for p in name.split(".")]
        default = self.default
        if default and len(parts) <= len(default):
            parts = [*default[: len(default) - len(parts) + 1], *parts]
        elif self.catalog_only and len(parts) == 2:
            parts = [self.catalog_only, *parts]
        return ".".join(parts)


_SHARD = re.compile(r"(.+_)(?:\d{8}|\d*\*)")
_SHARD_ENDS = frozenset("0123456789*")


def bigquery_table(name: str) -> str:
    """One name for a BigQuery table however it is addressed: a date shard or a wildcard
    (``events_20240101``, ``events_2024*``) is ``events_*``; a partition decorator
    (``t$20240101``, ``t$__UNPARTITIONED__``) is dropped.

    >>> bigquery_table("events_20240101"), bigquery_table("fx$__UNPARTITIONED__")
    ('events_*', 'fx')
    """
    cut = name.find("$")
    if cut > 0:
        name = name[:cut]
    match = _SHARD.fullmatch(name)
    return match.group(1) + "*" if match else name


def quote_part(text: str) -> str:
    """One part of a dotted name, double-quoted (``"`` doubled) when it holds a dot or a quote,
    so that ``a."b.c"`` and ``"a.b".c`` stay two different names.

    >>> quote_part("trades"), quote_part("b.c"), quote_part('a"b')
    ('trades', '"b.c"', '"a""b"')
    """
    if "." in text or '"' in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def split_name(name: str) -> list[str]:
    """The parts of a dotted name as :func:`quote_part` joins them, unquoted.

    >>> split_name('coll.a."b.c"'), split_name('coll."a.b".c'), split_name("s3://b/x.csv")
    (['coll', 'a', 'b.c'], ['coll', 'a.b', 'c'], ['s3://b/x', 'csv'])
    """
    if '"' not in name:
        return name.split(".")
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    i = 0
    while i < len(name):
        char = name[i]
        if quoted:
            if char == '"' and name[i + 1 : i + 2] == '"':
                current.append('"')
                i += 1
            elif char == '"':
                quoted = False
            else:
                current.append(char)
        elif char == '"':
            quoted = True
        elif char == ".":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    parts.append("".join(current))
    return parts


def last_part(name: str) -> str:
    """The last part of a dotted name, unquoted: a table's name without its schema.

    >>> last_part("risk.trades"), last_part('coll."a.b"')
    ('trades', 'a.b')
    """
    if '"' not in name:
        return name.rsplit(".", 1)[-1]
    return split_name(name)[-1]


def split_column(column: str) -> tuple[str, str]:
    """Split ``"schema.table.column"`` into its table name and column name (quoted as written).

    >>> split_column("risk.trades.px"), split_column('coll.a."b.c"')
    (('risk.trades', 'px'), ('coll.a', '"b.c"'))
    """
    if '"' not in column:
        table, _, name = column.rpartition(".")
        return table, name
    parts = [quote_part(part) for part in split_name(column)]
    return ".".join(parts[:-1]), parts[-1]


_DIALECT_UPPER: dict[str | None, bool] = {}


def field_parents(column: str) -> list[tuple[str, str]]:
    """Each struct field in a field column's path and the field (or column) that holds it.

    >>> field_parents('t."widget.asset.id"')
    [('t."widget.asset.id"', 't."widget.asset"'), ('t."widget.asset"', 't.widget')]
    >>> field_parents("t.widget")
    []
    """
    table, name = split_column(column)
    path = split_name(name)[0].split(".")
    return [
        (
            f"{table}.{quote_part('.'.join(path[:depth]))}",
            f"{table}.{quote_part('.'.join(path[: depth - 1]))}",
        )
        for depth in range(len(path), 1, -1)
    ]


def _folds_upper(dialect: str | None) -> bool:
    """Whether the dialect folds unquoted names to upper case (Snowflake, Oracle, ...)."""
    upper = _DIALECT_UPPER.get(dialect)
    if upper is None:
        try:
            strategy = Dialect.get_or_raise(dialect).normalization_strategy
        except ValueError:  # a name sqlglot does not know folds as its default dialect does
            strategy = NormalizationStrategy.LOWERCASE
        upper = _DIALECT_UPPER[dialect] = _STRATEGIES.get(strategy) in (_UPPER, _INSENSITIVE_UPPER)
    return upper


def canonical_name(name: str, dialect: str | None) -> str:
    """The dialect-independent key of a table or column name the extractor gave for ``dialect``.

    A part the dialect would fold an unquoted name to (upper case in Snowflake and Oracle,
    lower case elsewhere) is case-insensitive and becomes lower case; any other part was quoted
    to keep its case, is case-sensitive, and is kept as written inside double quotes. A part
    holding a dot or a quote is quoted too, so no two names share a key. File paths (``s3://``,
    ``/data/x.csv``) and Snowflake stages (``@stage``) are kept as they are. See
    docs/graph-model.md.

    >>> canonical_name("FINANCE.GL", "snowflake"), canonical_name("finance.gl", "tsql")
    ('finance.gl', 'finance.gl')
    >>> canonical_name("RAW.Fx", "snowflake"), canonical_name("raw.FX", "postgres")
    ('raw."Fx"', 'raw."FX"')
    >>> canonical_name('coll.a."b.c"', "postgres"), canonical_name("s3://b/X.csv", "spark")
    ('coll.a."b.c"', 's3://b/X.csv')
    """
    if name[:1] == "@" or (("/" in name or ":" in name) and '"' not in name):
        return name
    upper = _folds_upper(dialect)
    if '"' not in name and name == (name.upper() if upper else name.lower()):
        return name.lower()  # the usual name: every part as the dialect folds it
    parts = []
    for part in split_name(name):
        folded = part.upper() if upper else part.lower()
        if part == folded:
            parts.append(quote_part(part.lower()))
        else:
            parts.append('"' + part.replace('"', '""') + '"')
    return ".".join(parts)


def typed_name(name: str) -> str:
    """The key of a name as a user types it: unquoted parts in lower case, quoted ones kept.

    >>> typed_name("FINANCE.GL"), typed_name('raw."Fx"'), typed_name('coll.a."b.c"')
    ('finance.gl', 'raw."Fx"', 'coll.a."b.c"')
    """
    if '"' not in name:
        return name.lower()
    parts = []
    for part, raw in zip(split_name(name), _raw_parts(name), strict=True):
        if (raw.startswith('"') and part != part.lower()) or "." in part or '"' in part:
            parts.append('"' + part.replace('"', '""') + '"')
        else:
            parts.append(part.lower())
    return ".".join(parts)


def loose_name(key: str) -> str:
    """A key without quotes, in lower case: what case-insensitive lookups compare.

    >>> loose_name('raw."Fx"')
    'raw.fx'
    """
    return ".".join(split_name(key)).lower()


def _raw_parts(name: str) -> list[str]:
    """The parts of a dotted name as written, quotes included."""
    parts: list[str] = []
    start = 0
    quoted = False
    for i, char in enumerate(name):
        if char == '"':
            quoted = not quoted
        elif char == "." and not quoted:
            parts.append(name[start:i])
            start = i + 1
    parts.append(name[start:])
    return parts


def normalize_schema(schema: Mapping[str, Any] | None, namer: Namer) -> dict[str, list[str]]:
    """Validate a ``{"db.table": [columns] | {column: type}}`` mapping and normalise its names.

    Raises:
        SchemaError: When a table maps to something that is neither a list nor a mapping.

    >>> from sqlglot.dialects.dialect import Dialect
    >>> normalize_schema({"Risk.Trades": {"ID": "int", "Px": "float"}}, Namer(Dialect()))
    {'risk.trades': ['id', 'px']}
    """
    result: dict[str, list[str]] = {}
    if not schema:
        return result
    for table, columns in _flatten(schema):
        if isinstance(columns, (dict, list, tuple)):
            names = list(columns)
        else:
            raise SchemaError(f"schema entry {table!r} must map to a list or a dict of columns")
        key = namer.qualify_text(table)
        result[key] = [
            namer.name(str(c).strip('"`'), quoted=str(c)[:1] in '"`')
            if not namer.tables_keep_case
            else str(c).lower()
            for c in names
        ]
    return result


def _flatten(schema: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Accept sqlglot's nested form ``{"db": {"table": {"col": "type"}}}`` as well."""
    out: list[tuple[str, Any]] = []
    for key, value in schema.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            out.extend(_flatten(value, name))
        else:
            out.append((name, value))
    return out
