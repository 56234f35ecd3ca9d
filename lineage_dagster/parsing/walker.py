"""Column lineage of queries: one walk over each statement's tree, no qualify/optimize pass.

A query is evaluated into a :class:`Relation`: its output columns in order, and for each one the
base-table columns it derives from with the strongest transformation seen on the way
(``direct`` < ``expression`` < ``aggregation``). CTEs, subqueries and temporary tables are
relations too, so lineage flows through them to real tables. Columns of a table whose columns
are unknown (no schema given) are never invented: ``SELECT *`` over such a table becomes a
*star* passthrough (``table.*``), and an unqualified column that could come from more than one
unknown table is left unresolved.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlglot import exp

from lineage_dagster.parsing.dialects import has_struct_fields
from lineage_dagster.parsing.names import last_part, quote_part, split_column, split_name
from lineage_dagster.parsing.schema import PARTIAL

if TYPE_CHECKING:
    from lineage_dagster.parsing.names import Namer
    from lineage_dagster.parsing.schema import SchemaLookups

DIRECT, EXPRESSION, AGGREGATION = 0, 1, 2
KIND_NAMES = ("direct", "expression", "aggregation")
CONDITION = "condition"

Deps = dict[str, int]
"""Base column (``table.column``) -> strongest transformation kind."""

_QUERY = (exp.Select, exp.SetOperation, exp.Subquery, exp.Values)
# Window functions that pick a value from another row: sqlglot files them as aggregates,
# but the value is not aggregated.
_NAVIGATION = (exp.Lag, exp.Lead, exp.FirstValue, exp.LastValue, exp.NthValue)
_ROW_FILTER_ARGS = ("where", "group", "having", "qualify")


class Relation:
    """The columns a query (or table) produces, with the base columns each derives from."""

    __slots__ = (
        "any_column", "base", "conditions", "deps", "element", "folded", "gaps", "index",
        "names", "star_union", "stars", "tables",
    )  # fmt: skip

    def __init__(self) -> None:
        # For table functions (UNNEST, FLATTEN, ...): every column of the output, whatever
        # its name, derives from the function's inputs.
        self.any_column: Deps | None = None
        # BigQuery ``UNNEST(t.items) AS item``: ``item`` names both the relation and its one
        # column, the array's element, so ``item.sku`` is a field of that column.
        self.element: str | None = None
        self.names: list[str] = []
        self.deps: list[Deps] = []
        self.index: dict[str, int] = {}
        self.stars: list[str] = []  # base tables whose unknown columns pass through
        # True when the stars are the branches of a UNION (a column comes from all of them),
        # False when they are joined tables (a column comes from one, unknown).
        self.star_union = False
        self.conditions: set[str] = set()  # base columns that filter or join the rows
        self.tables: set[str] = set()
        # A base table whose columns the schema lists: a column the schema does not list is
        # still read from it when the query names it there (schemas lag behind tables).
        self.base: str | None = None
        self.folded: dict[str, int] | None = None  # lower-cased name -> index, built on demand
        # Output columns (by position) that derive from no column, and why (see GAP_REASONS).
        self.gaps: dict[int, str] | None = None

    def add(self, name: str, deps: Deps) -> None:
        """Append an output column."""
        self.index.setdefault(name, len(self.names))
        self.names.append(name)
        self.deps.append(deps)

    @property
    def known(self) -> bool:
        """Whether every output column is known (no unknown star passthrough)."""
        return not self.stars

    def _folded_position(self, name: str) -> int | None:
        """The index of output column ``name`` ignoring case (a quoted or upper-cased name
        against a schema written in another case), when no column has that exact name."""
        folded = self.folded
        if folded is None or folded.get("\x00") != len(self.names):
            folded = self.folded = {"\x00": len(self.names)}  # built for that many columns
            for j, known in enumerate(self.names):
                folded.setdefault(known.lower(), j)
        return folded.get(name.lower())

    def lookup(self, name: str) -> Deps | None:
        """The lineage of output column ``name``, ``None`` if it cannot be told."""
        i = self.index.get(name)
        if i is None and self.names:
            i = self._folded_position(name)
        if i is not None:
            return self.deps[i]
        if self.any_column is not None:
            return self.any_column
        if len(self.stars) == 1 or (self.stars and self.star_union):
            return {f"{star}.{name}": DIRECT for star in self.stars}
        if self.base is not None:
            return {f"{self.base}.{name}": DIRECT}
        return None

    def has(self, name: str) -> bool | None:
        """True/False when known, ``None`` when the relation may or may not have it."""
        if name in self.index or (self.names and self._folded_position(name) is not None):
            return True
        # A table function with named outputs has exactly those; only nameless ones (their
        # columns are unknown) may hold any name.
        return None if self.stars or (self.any_column is not None and not self.names) else False


TABLE_SUFFIX = "_table_suffix"
"""BigQuery's pseudo-column of a wildcard table (``events_*``): which shard a row comes from."""


def _is_wildcard(rel: Relation) -> bool:
    """Whether ``rel`` is a BigQuery wildcard table, the only owner of ``_TABLE_SUFFIX``."""
    return any(table.endswith("*") for table in (rel.base, *rel.stars) if table)


def table_relation(fqn: str, columns: list[str] | None) -> Relation:
    """A base table: its columns when the schema knows them, else a star passthrough."""
    rel = Relation()
    rel.tables.add(fqn)
    if columns:
        rel.base = fqn
        if columns[-1] == PARTIAL:
            # Some of its columns (an INSERT's list): the others pass through unknown.
            rel.stars.append(fqn)
            columns = columns[:-1]
        for column in columns:
            rel.add(column, {f"{fqn}.{column}": DIRECT})
    else:
        rel.stars.append(fqn)
    return rel


def output_name(expression: exp.Expr, namer: Namer) -> str | None:
    """The name of a SELECT item's output column (``None`` for a star): its alias, its
    column's name, else its SQL text, as engines and peer tools name unnamed expressions."""
    inner = expression.this if isinstance(expression, exp.Alias) else expression
    while isinstance(inner, exp.Paren) and isinstance(inner.this, exp.Column):
        inner = inner.this  # ``SELECT DISTINCT(col)``: a column in parentheses
    if isinstance(inner, exp.Star) or (
        isinstance(inner, exp.Column) and isinstance(inner.this, exp.Star)
    ):
        return None
    if isinstance(expression, exp.Alias):
        return namer.column(expression.args["alias"])
    if isinstance(inner, exp.Column):
        return namer.column(inner.this)
    name = expression.alias_or_name
    if name and name != "*":
        return namer.name(name, quoted=False)
    return inner.sql(dialect=namer.dialect)  # ``COUNT(*)`` would say ``*``


def output_names(query: exp.Expr | None, namer: Namer) -> list[str] | None:
    """The output column names of a query read from its text alone (the first branch of a
    set operation), ``None`` when a star makes them depend on its tables."""
    while isinstance(query, (exp.SetOperation, exp.Subquery)):
        query = query.this
    if not isinstance(query, exp.Select):
        return None
    names = []
    for expression in query.expressions:
        name = output_name(expression, namer)
        if name is None:
            return None
        names.append(name)
    return names


class Scope:
    """The FROM items visible in one SELECT, and the SELECT it is nested in."""

    __slots__ = ("aliases", "evidence", "node", "outer", "prefer_alias", "projections", "sources")

    def __init__(self, outer: Scope | None) -> None:
        self.node: exp.Expr | None = None  # the SELECT
        # alias -> column names seen qualified by that alias in the SELECT (built on demand)
        self.evidence: dict[str, set[str]] | None = None
        self.sources: dict[str, Relation] = {}
        self.outer = outer
        self.projections: dict[str, Deps] = {}  # select aliases seen so far (lateral aliases)
        self.aliases: dict[str, str] = {}  # alias -> table name, to accept `schema.table.col`
        # Lateral column aliases (``SELECT a + 1 AS b, b * 2``) win over a column of the same
        # name that a table of unknown columns may or may not have; not in WHERE and ON.
        self.prefer_alias = True


class ColumnWalker:
    """Evaluates queries into relations for one statement.

    Args:
        namer: How names are normalised.
        schema: Known columns per normalised table name (``get`` is all it uses).
        temp: Relations of the temporary tables written earlier in the script.

    >>> import sqlglot
    >>> from sqlglot.dialects.dialect import Dialect
    >>> from lineage_dagster.parsing.names import Namer
    >>> walker = ColumnWalker(Namer(Dialect()), {"raw.t": ["a", "b"]}, {})
    >>> rel = walker.query(sqlglot.parse_one("SELECT a, SUM(b) AS s FROM raw.t GROUP BY a"), {})
    >>> rel.names, rel.deps, sorted(rel.conditions)
    (['a', 's'], [{'raw.t.a': 0}, {'raw.t.b': 2}], ['raw.t.a'])
    """

    def __init__(
        self,
        namer: Namer,
        schema: SchemaLookups | dict[str, list[str]],
        temp: dict[str, Relation],
    ) -> None:
        self.namer = namer
        self.schema = schema
        self.temp = temp
        # Oracle does not let a SELECT refer to its own aliases (``SELECT a AS b, b * 2``):
        # there ``b`` is a column of a table.
        self.alias_refs = not getattr(type(namer.dialect), "DISABLES_ALIAS_REF_EXPANSION", False)
        # Dialects where ``a.b.c`` may read field ``b.c`` of a struct column ``a``.
        self.struct_fields = has_struct_fields(type(namer.dialect).__name__.lower())

    # --- relations of FROM items -------------------------------------------------------------

    def table(self, table: exp.Table, ctes: dict[str, Relation]) -> tuple[str, Relation | None]:
        """The alias and relation of a table reference (CTE, temporary or base table)."""
        alias, rel = self._table(table, ctes)
        return self._pivots(table, alias, rel)

    def _pivots(
        self, node: exp.Expr, alias: str, rel: Relation | None
    ) -> tuple[str, Relation | None]:
        for pivot in node.args.get("pivots") or ():
            if rel is not None:
                rel = self._pivot(rel, pivot)
            pivot_alias = pivot.args.get("alias")
            if pivot_alias is not None:
                if pivot_alias.this is not None:
                    alias = self.namer.ident(pivot_alias.this)
                if rel is not None and rel.known:
                    rel = _renamed(rel, pivot_alias, self.namer)
        return alias, rel

    def _pivot(self, source: Relation, pivot: exp.Pivot) -> Relation:
        """PIVOT: one aggregated column per IN value; UNPIVOT: value and name columns.

        The columns the operator does not consume pass through unchanged.
        """
        namer = self.namer
        scope = Scope(None)
        scope.sources["_pivot"] = source
        rel = Relation()
        rel.tables = source.tables
        rel.conditions = set(source.conditions)
        rel.stars = list(source.stars)
        fields = [f for f in pivot.args.get("fields") or [] if isinstance(f, exp.In)]
        consumed: set[str] = set()

        def name_of(node: exp.Expr) -> str:
            return namer.column(node.this if isinstance(node, exp.Column) else node)

        if pivot.args.get("unpivot"):
            values = [
                list(v.expressions) if isinstance(v, exp.Tuple) else [v] for v in pivot.expressions
            ]
            value_names = [name_of(column) for group in values for column in group]
            value_deps: list[Deps] = [{} for _ in value_names]
            name_deps: Deps = {}
            for field in fields:
                for entry in field.expressions:
                    entry = entry.this if isinstance(entry, exp.PivotAlias) else entry
                    columns = list(entry.expressions) if isinstance(entry, exp.Tuple) else [entry]
                    for i, column in enumerate(columns):
                        column_name = name_of(column)
                        consumed.add(column_name)
                        found = source.lookup(column_name) or {}
                        if i < len(value_deps):
                            _merge(value_deps[i], found)
                        _merge(name_deps, {k: EXPRESSION for k in found})
            self._passthrough(source, consumed, rel)
            for field in fields:
                rel.add(name_of(field.this), dict(name_deps))
            for name, found_deps in zip(value_names, value_deps, strict=False):
                rel.add(name, found_deps)
            return rel
        aggregates: list[tuple[str, Deps]] = []
        for aggregate in pivot.expressions:
            agg_alias = aggregate.alias if isinstance(aggregate, exp.Alias) else ""
            deps = self.expression_deps(aggregate, scope, {}, None)
            consumed.update(split_column(k)[1] for k in deps)
            aggregates.append((namer.name(agg_alias, quoted=False) if agg_alias else "", deps))
        for field in fields:
            # The FOR column decides which output column a row lands in: a condition.
            found = self.expression_deps(field.this, scope, {}, None)
            rel.conditions.update(found)
            consumed.add(name_of(field.this))
        self._passthrough(source, consumed, rel)
        for column in pivot.args.get("columns") or []:
            name = column.this if isinstance(column, exp.Identifier) else column.name
            matching = [d for a, d in aggregates if a and name.endswith(f"_{a}")]
            deps = {}
            for agg_deps in matching or [d for _, d in aggregates]:
                _merge(deps, agg_deps)
            rel.add(name, deps)
        return rel

    @staticmethod
    def _passthrough(source: Relation, consumed: set[str], rel: Relation) -> None:
        for name, deps in zip(source.names, source.deps, strict=False):
            if name not in consumed:
                rel.add(name, deps)

    def _table(self, table: exp.Table, ctes: dict[str, Relation]) -> tuple[str, Relation | None]:
        namer = self.namer
        alias_node = table.args.get("alias")
        alias = namer.ident(alias_node.this) if alias_node and alias_node.this else ""
        if not table.args.get("db") and isinstance(table.this, exp.Identifier):
            name = namer.ident(table.this)
            cte = ctes.get(name)
            if cte is not None:
                return alias or name, _renamed(cte, alias_node, self.namer)
        fqn = namer.table(table)
        if fqn is None:
            return alias, None
        rel = self.temp.get(fqn)
        if rel is None:
            rel = table_relation(fqn, self.schema.get(fqn))
        else:
            rel = _renamed(rel, alias_node, self.namer)
        return alias or last_part(fqn), rel

    def from_item(
        self, node: exp.Expr, scope: Scope, ctes: dict[str, Relation]
    ) -> tuple[str, Relation | None]:
        """The alias and relation of a FROM/JOIN item (table, subquery, UNNEST, VALUES...)."""
        if isinstance(node, exp.Table):
            if isinstance(node.this, exp.SemanticView):
                return self._semantic_view(node)
            alias, rel = self.table(node, ctes)
            if rel is not None and rel.tables and len(rel.tables) == 1:
                scope.aliases[alias] = next(iter(rel.tables))
            return alias, rel
        alias_node = node.args.get("alias")
        alias = self.namer.ident(alias_node.this) if alias_node and alias_node.this else ""
        if isinstance(node, exp.Subquery):
            rel = self.query(node.this, ctes, scope if node.args.get("lateral") else None)
            return self._pivots(node, alias, _renamed(rel, alias_node, self.namer))
        if isinstance(node, (exp.Unnest, exp.Lateral, exp.TableFromRows, exp.Func)):
            inner = node.this if isinstance(node, exp.Lateral) else node
            if isinstance(inner, _QUERY):
                rel = self.query(inner, ctes, scope)
                return alias, _renamed(rel, alias_node, self.namer)
            deps = self.expression_deps(inner, scope, ctes, None)
            computed = {k: max(v, EXPRESSION) for k, v in deps.items()}
            rel = Relation()
            columns = alias_node.columns if alias_node else []
            if not columns or (isinstance(node, exp.Unnest) and not alias and len(columns) == 1):
                # Fields of the elements (``item.sku``) come from the function's inputs too.
                rel.any_column = computed
            # The elements of one array column, one output column: each element is a value of
            # the array as it is, and its fields (``item.sku``) are the array's fields.
            generated = [] if columns else _generated_columns(node)
            one_column = len(columns or generated) == 1
            array = _unnested_array(inner) if self.struct_fields and one_column else None
            elements = self.value_deps(array, scope, ctes, None) if array is not None else computed
            if not alias and isinstance(node, exp.Unnest) and len(columns) == 1:
                # BigQuery ``UNNEST(arr) AS item``: ``item`` names both the row and its value.
                alias = self.namer.column(columns[0])
                rel.element = alias if array is not None else None
            names = (
                [self.namer.column(c) for c in columns]
                or generated
                or ([alias] if alias else ["value"])
            )
            for name in names:
                rel.add(name, elements if len(names) == 1 else computed)
            return alias, rel
        if isinstance(node, exp.Values):
            return alias, self.query(node, ctes, scope)
        return alias, None

    def _semantic_view(self, node: exp.Table) -> tuple[str, Relation | None]:
        """Snowflake ``SEMANTIC_VIEW(v DIMENSIONS ... METRICS ... WHERE ...)``: a column per
        dimension, fact and metric, each read from the view's column of that name."""
        namer = self.namer
        view = node.this
        alias_node = node.args.get("alias")
        alias = namer.ident(alias_node.this) if alias_node and alias_node.this else ""
        table = view.this if isinstance(view.this, exp.Table) else None
        fqn = namer.table(table) if table is not None else None
        if fqn is None:
            return alias, None
        rel = Relation()
        rel.tables.add(fqn)
        for arg in ("dimensions", "facts", "metrics"):
            for item in view.args.get(arg) or ():
                inner = item.this if isinstance(item, exp.Alias) else item
                column = namer.column(inner.this if isinstance(inner, exp.Column) else inner)
                name = namer.column(item.args["alias"]) if isinstance(item, exp.Alias) else column
                rel.add(name, {f"{fqn}.{column}": DIRECT})
        where = view.args.get("where")
        if where is not None:
            for column_node in where.find_all(exp.Column):
                rel.conditions.add(f"{fqn}.{namer.column(column_node.this)}")
        return alias or last_part(fqn), _renamed(rel, alias_node, namer)

    # --- queries --------------------------------------------------------------------------------

    def query(
        self, node: exp.Expr | None, ctes: dict[str, Relation], outer: Scope | None = None
    ) -> Relation:
        """Evaluate a query expression into a relation."""
        if node is None:
            return Relation()
        with_ = node.args.get("with_")
        if with_ is not None:
            ctes = self.ctes(with_, ctes, outer)
        if isinstance(node, exp.Select):
            return self.select(node, ctes, outer)
        if isinstance(node, exp.SetOperation):
            left = self.query(node.this, ctes, outer)
            right = self.query(node.expression, ctes, outer)
            return _union(left, right)
        if isinstance(node, exp.Subquery):
            return self.query(node.this, ctes, outer)
        if isinstance(node, exp.Values):
            rel = Relation()
            scope = Scope(outer)
            rows = node.expressions
            alias_node = node.args.get("alias")
            columns = [self.namer.column(c) for c in alias_node.columns] if alias_node else []
            width = len(rows[0].expressions) if rows and isinstance(rows[0], exp.Tuple) else 0
            names = columns or [f"_col_{i}" for i in range(width)]
            per_col: list[Deps] = [{} for _ in names]
            for row in rows:
                values = row.expressions if isinstance(row, exp.Tuple) else [row]
                for i, value in enumerate(values[: len(names)]):
                    _merge(per_col[i], self.expression_deps(value, scope, ctes, rel))
            for name, deps in zip(names, per_col, strict=False):
                rel.add(name, deps)
            return rel
        # Anything else in a query position (a table in parentheses, a function...).
        rel = Relation()
        if isinstance(node, exp.Table):
            _, inner = self.table(node, ctes)
            return inner or rel
        return rel

    def ctes(
        self, with_: exp.With, ctes: dict[str, Relation], outer: Scope | None
    ) -> dict[str, Relation]:
        """The CTEs visible after ``with_``: each one sees those before it (and itself, when
        recursive, through its anchor)."""
        ctes = dict(ctes)
        recursive = bool(with_.args.get("recursive"))
        for cte in with_.expressions:
            name = self.namer.ident(cte.args["alias"].this) if cte.args.get("alias") else ""
            body = cte.this
            if recursive and isinstance(body, exp.SetOperation):
                # The anchor gives the columns; the recursive part may read the CTE itself.
                anchor = self.query(body.this, ctes, outer)
                ctes[name] = _renamed(anchor, cte.args.get("alias"), self.namer)
                rel = _union(anchor, self.query(body.expression, ctes, outer))
            else:
                rel = self.query(body, ctes, outer)
            ctes[name] = _renamed(rel, cte.args.get("alias"), self.namer)
        return ctes

    def select(
        self, select: exp.Select, ctes: dict[str, Relation], outer: Scope | None
    ) -> Relation:
        """Evaluate one SELECT: its sources, projections, and the columns that filter it."""
        scope = Scope(outer)
        scope.node = select
        scope.prefer_alias = self.alias_refs
        rel = Relation()
        from_ = select.args.get("from_")
        items: list[exp.Expr] = []
        if from_ is not None:
            items.append(from_.this)
        joins = select.args.get("joins") or ()
        for join in joins:
            items.append(join.this)
        joins = list(joins)
        for item in items:
            joins += self.add_source(item, scope, ctes, rel)
        for lateral in select.args.get("laterals") or ():
            self.add_source(lateral, scope, ctes, rel)

        for expression in select.expressions:
            self.add_projection(expression, scope, ctes, rel)

        # Row filters and join conditions: they shape every output row.
        conditions = rel.conditions
        scope.prefer_alias = False
        for join in joins:
            on = join.args.get("on")
            if on is not None:
                _merge_set(conditions, self.expression_deps(on, scope, ctes, rel))
            for using in join.args.get("using") or ():
                name = self.namer.column(using)
                for source in scope.sources.values():
                    deps = source.lookup(name)
                    if deps:
                        conditions.update(deps)

        for arg in _ROW_FILTER_ARGS:
            clause = select.args.get(arg)
            if clause is not None:
                scope.prefer_alias = arg != "where" and self.alias_refs
                _merge_set(conditions, self.expression_deps(clause, scope, ctes, rel))
        return rel

    def add_source(
        self, item: exp.Expr, scope: Scope, ctes: dict[str, Relation], rel: Relation
    ) -> list[exp.Join]:
        """Make a FROM item (table, subquery, UNNEST...) visible in ``scope`` under its alias.

        The item's tables and conditions are added to ``rel``, the relation being built.

        Returns:
            The joins of a parenthesized join tree (``FROM (a JOIN b ON ...)``), whose
            sources are added too, so that the caller can read their conditions.
        """
        joins: list[exp.Join] = []
        # ``FROM ((a JOIN b ON ...))``: a join tree in parentheses, not a derived table.
        while (
            isinstance(item, (exp.Subquery, exp.Paren))
            and not item.args.get("alias")
            and isinstance(item.this, (exp.Table, exp.Subquery, exp.Paren))
        ):
            item = item.this
        if isinstance(item, exp.Table) and item.args.get("joins"):
            for join in item.args["joins"]:
                joins.append(join)
                joins += self.add_source(join.this, scope, ctes, rel)
        alias, source = self.from_item(item, scope, ctes)
        if source is None:
            return joins
        if not alias:
            alias = f"\x00{len(scope.sources)}"  # derived tables without an alias
        scope.sources[alias] = source
        rel.tables |= source.tables
        rel.conditions |= source.conditions
        return joins

    def add_projection(
        self, expression: exp.Expr, scope: Scope, ctes: dict[str, Relation], rel: Relation
    ) -> None:
        """Append the output column(s) of one SELECT item to ``rel``, resolved in ``scope``.

        A star adds the columns (or the star passthrough) of its sources; any other item adds
        one column, named by its alias, its column or its SQL text, which later items of the
        same SELECT can refer to (lateral aliases).
        """
        namer = self.namer
        inner = expression.this if isinstance(expression, exp.Alias) else expression
        while isinstance(inner, exp.Paren) and isinstance(inner.this, exp.Column):
            inner = inner.this  # ``SELECT DISTINCT(col)``: a column in parentheses
        if isinstance(inner, exp.Star) or (
            isinstance(inner, exp.Column) and isinstance(inner.this, exp.Star)
        ):
            qualifier = (
                namer.ident(inner.args.get("table")) if isinstance(inner, exp.Column) else ""
            )
            sources = self._star_sources(qualifier, scope)
            except_ = {namer.column(c) for c in _star_except(inner)}
            starred = [source for source in sources if source.stars]
            # ``* REPLACE (expr AS col)`` (BigQuery, Snowflake): col takes expr's lineage.
            replaced: dict[str, Deps] = {}
            for item in _star_replace(inner):
                if isinstance(item, exp.Alias):
                    replaced[namer.column(item.args["alias"])] = self.expression_deps(
                        item.this, scope, ctes, rel
                    )
            # ``* RENAME (a AS b)`` (Snowflake): column a is output as b.
            renames = [item for item in _star_rename(inner) if isinstance(item, exp.Alias)]
            renamed = {
                namer.column(item.this): namer.column(item.args["alias"]) for item in renames
            }
            listed: set[str] = set()
            for source in sources:
                for name, deps in zip(source.names, source.deps, strict=False):
                    if name not in except_:
                        rel.add(renamed.get(name, name), replaced.get(name, deps))
                        listed.add(name)
                for star in source.stars:
                    if star not in rel.stars:
                        rel.stars.append(star)
            if starred:
                # Columns the schema does not list: what is replaced or renamed is known still.
                for name in replaced.keys() - listed - except_:
                    rel.add(renamed.get(name, name), replaced[name])
                table = inner.args.get("table") if isinstance(inner, exp.Column) else None
                for item in renames:
                    name = namer.column(item.this)
                    if name in listed or name in except_ or name in replaced:
                        continue
                    column = exp.Column(
                        this=item.this.this.copy() if isinstance(item.this, exp.Column) else None,
                        table=table.copy() if table is not None else None,
                    )
                    rel.add(renamed[name], self.column_deps(column, scope, ctes) or {})
            if (
                len(starred) == 1
                and starred[0].star_union
                and len(rel.stars) == len(starred[0].stars)
            ):
                rel.star_union = True
            return
        name = output_name(expression, namer) or ""
        field = _field_reference(inner)
        if field is not None:
            deps = dict(self.column_deps(field[0], scope, ctes, field[1]) or {})
        else:
            deps = self.expression_deps(inner, scope, ctes, rel)
        if not deps:
            if rel.gaps is None:
                rel.gaps = {}
            rel.gaps[len(rel.names)] = _gap_reason(inner, scope)
        rel.add(name, deps)
        scope.projections.setdefault(name, deps)

    def _star_sources(self, qualifier: str, scope: Scope) -> list[Relation]:
        if not qualifier:
            return list(scope.sources.values())
        source = scope.sources.get(qualifier)
        if source is None:
            for alias, table in scope.aliases.items():
                if last_part(table) == qualifier:
                    source = scope.sources.get(alias)
                    break
        return [source] if source is not None else []

    # --- expressions ----------------------------------------------------------------------------

    def column_deps(
        self,
        column: exp.Column,
        scope: Scope,
        ctes: dict[str, Relation],
        fields: Sequence[exp.Expr] = (),
    ) -> Deps | None:
        """The base columns a column reference stands for (``None``: cannot be told).

        In dialects with structs a field path (``t.widget.asset.id``, ``widget.asset.id``,
        or ``fields`` of an enclosing ``exp.Dot``) reads the field of the column it passes
        through as it is: see :meth:`_field_deps`.
        """
        namer = self.namer
        parts = _dot_parts(column.this)  # ```proj.ds.t`.col.field``: the column is the leftmost
        name = namer.column(parts[0])
        path = [*parts[1:], *fields]
        table = column.args.get("table")
        current: Scope | None = scope
        if table is not None:
            qualifier = namer.ident(table)
            db = column.args.get("db")
            catalog = column.args.get("catalog")
            while current is not None:
                source = None
                if self.struct_fields:
                    # Leftmost first, as the engines resolve: ``alias.struct_col.field.sub``,
                    # then ``alias.struct_col.field``.
                    if catalog is not None and db is not None:
                        source = self._source_named(namer.ident(catalog), current)
                        if source is not None:
                            name = namer.column(db)
                            path = [table, *parts, *fields]
                    if source is None and db is not None:
                        source = self._source_named(namer.ident(db), current)
                        if source is not None:
                            name = namer.column(table)
                            path = [*parts, *fields]
                if source is None:
                    source = current.sources.get(qualifier)
                if source is None and db is not None:
                    # ``schema.table.col``; elsewhere ``alias.col.x`` reads ``col``.
                    source = current.sources.get(namer.ident(db))
                    if source is not None:
                        name = namer.column(table)
                    else:
                        suffix = f"{quote_part(namer.ident(db))}.{quote_part(qualifier)}"
                        for alias, fqn in current.aliases.items():
                            if fqn.endswith(suffix):
                                source = current.sources.get(alias)
                                break
                if source is None:
                    for alias, fqn in current.aliases.items():
                        if last_part(fqn) == qualifier:
                            source = current.sources.get(alias)
                            break
                if source is not None:
                    if source.element is not None and name not in source.index:
                        # ``item.sku`` of ``UNNEST(t.items) AS item``: a field of the element.
                        return self._field_deps(source.lookup(source.element), [*parts, *fields])
                    return self._field_deps(source.lookup(name), path)
                current = current.outer
            if not self.struct_fields:
                return None
            # No alias matches: ``struct_col.field`` (BigQuery, Spark) where the leftmost part
            # is a column of a table in scope, not a table.
            qualifiers = [column.args.get(key) for key in ("catalog", "db", "table")]
            root, *rest = [part for part in qualifiers if part is not None]
            deps = self._unqualified(namer.column(root), scope)
            return self._field_deps(deps, [*rest, *parts, *fields])
        return self._field_deps(self._unqualified(name, scope), path)

    def _field_deps(self, deps: Deps | None, path: Sequence[exp.Expr]) -> Deps | None:
        """``deps`` of a struct column narrowed to the field ``path`` of it.

        A column the struct is copied from as it is (``direct``) gives its field: the column
        ``"widget.asset.id"`` of the same table, one name holding the whole path. A struct
        computed from other columns (``STRUCT(a AS x)``, ``ANY_VALUE(s)``) keeps the columns it
        was computed from.
        """
        if not path or not deps or not self.struct_fields:
            return deps
        suffix = ".".join(split_name(self.namer.column(part))[0] for part in path)
        narrowed: Deps = {}
        for source, kind in deps.items():
            if kind == DIRECT:
                table, column = split_column(source)
                source = f"{table}.{quote_part(split_name(column)[0] + '.' + suffix)}"
            if narrowed.get(source, -1) < kind:
                narrowed[source] = kind
        return narrowed

    def assigned_column(self, column: exp.Column, scope: Scope) -> str:
        """The column that ``SET column = ...`` writes: ``col`` or ``t.col`` write ``col``; in
        dialects with structs a field (``t.col.field``, ``col.field``) writes its root column.
        """
        namer = self.namer
        if not self.struct_fields:
            return namer.column(column.this)
        this = column.this
        while isinstance(this, exp.Dot):
            this = this.this
        args = column.args
        parts = [args[key] for key in ("catalog", "db", "table") if args.get(key) is not None]
        parts.append(this)
        if len(parts) > 1 and self._source_named(namer.ident(parts[0]), scope) is not None:
            return namer.column(parts[1])  # ``alias.col[.field...]``
        if len(parts) > 2:
            suffix = f"{namer.ident(parts[0])}.{namer.ident(parts[1])}"
            if any(fqn.endswith(suffix) for fqn in scope.aliases.values()):
                return namer.column(parts[2])  # ``schema.table.col[.field...]``
        return namer.column(parts[0])

    @staticmethod
    def _source_named(name: str, scope: Scope) -> Relation | None:
        """The source of ``scope`` with alias ``name``, else the table named ``name``."""
        source = scope.sources.get(name)
        if source is None:
            for alias, fqn in scope.aliases.items():
                if last_part(fqn) == name:
                    return scope.sources.get(alias)
        return source

    def _unqualified(self, name: str, scope: Scope) -> Deps | None:
        """The lineage of a column named without a table."""
        current: Scope | None = scope
        # The only table of the innermost SELECT that has one, when its schema lacks ``name``
        # and no outer SELECT has it either: the schema is behind the table.
        fallback: Relation | None = None
        while current is not None:
            sources = current.sources
            if (
                current.prefer_alias
                and name in current.projections
                and not any(source.has(name) for source in sources.values())
            ):
                return current.projections[name]
            if len(sources) == 1:
                (source,) = sources.values()
                if source.has(name) is not False:
                    return source.lookup(name)
                if fallback is None and source.base is not None:
                    fallback = source
            else:
                definite = []
                maybe = []
                for source in sources.values():
                    has = source.has(name)
                    if has:
                        definite.append(source)
                    elif has is None:
                        maybe.append(source)
                if len(definite) == 1:
                    return definite[0].lookup(name)
                if len(definite) > 1:
                    # ``JOIN ... USING (col)``: the same column from several sources.
                    merged: Deps = {}
                    for source in definite:
                        _merge(merged, source.lookup(name) or {})
                    return merged
                projection = current.projections.get(name)
                if projection is not None:
                    return projection
                if len(maybe) == 1:
                    return maybe[0].lookup(name)
                if name == TABLE_SUFFIX:
                    shards = [source for source in sources.values() if _is_wildcard(source)]
                    if len(shards) == 1:
                        return shards[0].lookup(name)
                if maybe:
                    return self._qualified_elsewhere(name, current, maybe)
            projection = current.projections.get(name)
            if projection is not None:
                return projection
            current = current.outer
        return fallback.lookup(name) if fallback is not None else None

    def _qualified_elsewhere(self, name: str, scope: Scope, maybe: list[Relation]) -> Deps | None:
        """The lineage of ``name`` when several tables of unknown columns may have it.

        A valid query names an unqualified column of one table only, so if the query qualifies
        ``name`` with just one of them elsewhere (``ON t.book_id = ...``), it is that one's.
        """
        evidence = self._evidence(scope)
        owners = [
            source
            for alias, source in scope.sources.items()
            if name in evidence.get(alias, ()) and any(source is candidate for candidate in maybe)
        ]
        if len(owners) == 1:
            return owners[0].lookup(name)
        return None

    def _evidence(self, scope: Scope) -> dict[str, set[str]]:
        """Column names the SELECT qualifies with each of its own aliases."""
        if scope.evidence is None:
            evidence: dict[str, set[str]] = {}
            select = scope.node
            if select is not None:
                for column in select.find_all(exp.Column):
                    table = column.args.get("table")
                    if table is None or column.find_ancestor(exp.Select) is not select:
                        continue
                    alias = self.namer.ident(table)
                    if alias in scope.sources:
                        evidence.setdefault(alias, set()).add(self.namer.column(column.this))
            scope.evidence = evidence
        return scope.evidence

    def value_deps(
        self, node: exp.Expr, scope: Scope, ctes: dict[str, Relation], rel: Relation | None
    ) -> Deps:
        """The lineage of a value written into a column (``SET c = v``, ``VALUES (v)``).

        A bare column passes its lineage on as it is (``direct`` stays ``direct``); any other
        expression is read by :meth:`expression_deps`. The result is a new dict.
        """
        field = _field_reference(node)
        if field is not None:
            return dict(self.column_deps(field[0], scope, ctes, field[1]) or {})
        return self.expression_deps(node, scope, ctes, rel)

    def expression_deps(
        self,
        node: exp.Expr,
        scope: Scope,
        ctes: dict[str, Relation],
        rel: Relation | None,
    ) -> Deps:
        """The base columns an expression reads, with the kind each contributes.

        Subqueries inside the expression are evaluated as relations; their tables and
        conditions are added to ``rel`` (the relation being built), when given.
        """
        deps: Deps = {}
        stack: list[tuple[exp.Expr, int]] = [(node, EXPRESSION)]
        while stack:
            current, kind = stack.pop()
            if not isinstance(current, exp.Expr):
                continue  # a flag stored where an expression usually is
            if isinstance(current, exp.Star):
                continue  # ``COUNT(*)`` counts rows: it reads no column
            field = _field_reference(current)
            if field is not None:
                if isinstance(field[0].this, exp.Star):
                    continue
                found = self.column_deps(field[0], scope, ctes, field[1])
                if found:
                    for source, source_kind in found.items():
                        strongest = source_kind if source_kind > kind else kind
                        if deps.get(source, -1) < strongest:
                            deps[source] = strongest
                continue
            if isinstance(current, _QUERY):
                self._nested_query_deps(current, kind, scope, ctes, rel, deps)
                continue
            if isinstance(current, exp.Filter):
                # ``AGG(x) FILTER (WHERE c)``: ``c`` only decides which rows are aggregated.
                stack.append((current.this, kind))
                where = current.args.get("expression")
                if rel is not None and where is not None:
                    rel.conditions.update(self.expression_deps(where, scope, ctes, rel))
                continue
            if (
                isinstance(current, exp.AggFunc) and not isinstance(current, _NAVIGATION)
            ) or isinstance(current, exp.WithinGroup):
                # ``PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY x)`` aggregates x too.
                kind = AGGREGATION
            for child in current.iter_expressions():
                stack.append((child, kind))
        return deps

    def _nested_query_deps(
        self,
        query: exp.Expr,
        kind: int,
        scope: Scope,
        ctes: dict[str, Relation],
        rel: Relation | None,
        deps: Deps,
    ) -> None:
        """Add what a query inside an expression gives it to ``deps`` (see expression_deps)."""
        inner = self.query(query, ctes, scope)
        if rel is not None:
            rel.tables |= inner.tables
            rel.conditions |= inner.conditions
        if isinstance(query, exp.Subquery):
            # A scalar subquery: its first column is the value.
            if inner.deps:
                _raise_to(deps, inner.deps[0], kind)
        elif rel is not None:
            # ``x IN (SELECT y ...)``: the selected columns filter, they are not values.
            for column_deps in inner.deps:
                rel.conditions.update(column_deps)


NO_SCHEMA, UNRESOLVED, NO_COLUMN_READ = "no_schema", "unresolved_column", "no_column_read"
GAP_REASONS = (NO_SCHEMA, UNRESOLVED, NO_COLUMN_READ)
"""Why an output column derives from no column: a table it may come from has unknown columns;
no table in scope has a column of its name; it reads no column (a literal, ``COUNT(*)``)."""


def _generated_columns(node: exp.Expr) -> list[str]:
    """The columns Spark names a ``LATERAL VIEW`` generator's output without ``AS`` aliases:
    ``col`` (``pos``, ``col`` for ``posexplode``); the alias names only the view."""
    if not isinstance(node, exp.Lateral) or not node.args.get("view"):
        return []
    if isinstance(node.this, exp.Posexplode):
        return ["pos", "col"]
    return ["col"] if isinstance(node.this, (exp.Explode, exp.ExplodeOuter)) else []


def _unnested_array(function: exp.Expr) -> exp.Expr | None:
    """The one array column (or field) that ``UNNEST(a)`` or ``EXPLODE(a)`` takes apart."""
    if isinstance(function, exp.Unnest) and len(function.expressions) == 1:
        array = function.expressions[0]
    elif isinstance(function, (exp.Explode, exp.ExplodeOuter)) and not isinstance(
        function, exp.Posexplode
    ):
        array = function.this
    else:
        return None
    return array if _field_reference(array) is not None else None


def _dot_parts(node: exp.Expr) -> list[exp.Expr]:
    """The parts of a chain of ``exp.Dot`` (``a.b.c``), leftmost first."""
    if not isinstance(node, exp.Dot):
        return [node]
    parts = []
    while isinstance(node, exp.Dot):
        parts.append(node.expression)
        node = node.this
    parts.append(node)
    return parts[::-1]


def _field_reference(node: exp.Expr) -> tuple[exp.Column, list[exp.Expr]] | None:
    """A column reference, with the fields of it an enclosing ``exp.Dot`` chain reads
    (``t.a.b.c.d``: sqlglot puts the parts beyond four in dots around the column)."""
    if isinstance(node, exp.Column):
        return node, []
    if not isinstance(node, exp.Dot):
        return None
    parts = _dot_parts(node)
    column = parts[0]
    if not isinstance(column, exp.Column):
        return None
    return column, parts[1:]


def _gap_reason(node: exp.Expr, scope: Scope) -> str:
    """Why the output column computed by ``node`` derives from no column."""
    columns = [node] if isinstance(node, exp.Column) else list(node.find_all(exp.Column))
    if not any(not isinstance(column.this, exp.Star) for column in columns):
        return NO_COLUMN_READ
    current: Scope | None = scope
    while current is not None:
        for source in current.sources.values():
            if source.stars or (source.gaps and NO_SCHEMA in source.gaps.values()):
                return NO_SCHEMA
        current = current.outer
    return UNRESOLVED


def _renamed(rel: Relation, alias: exp.Expr | None, namer: Namer) -> Relation:
    """Apply ``AS alias(c1, c2, ...)`` column names, positionally."""
    columns = alias.args.get("columns") if isinstance(alias, exp.TableAlias) else None
    if not columns:
        return rel
    out = Relation()
    out.stars = list(rel.stars)
    out.star_union = rel.star_union
    out.conditions = rel.conditions
    out.tables = rel.tables
    out.gaps = rel.gaps
    for i, column in enumerate(columns):
        name = namer.column(column)
        deps = rel.deps[i] if i < len(rel.deps) else {}
        out.add(name, deps)
    return out


def _star_except(node: exp.Expr) -> list[exp.Expr]:
    star = node.this if isinstance(node, exp.Column) else node
    if isinstance(star, exp.Star):
        return list(star.args.get("except_") or star.args.get("except") or ())
    return []


def _star_rename(node: exp.Expr) -> list[exp.Expr]:
    star = node.this if isinstance(node, exp.Column) else node
    if isinstance(star, exp.Star):
        return list(star.args.get("rename") or ())
    return []


def _star_replace(node: exp.Expr) -> list[exp.Expr]:
    star = node.this if isinstance(node, exp.Column) else node
    if isinstance(star, exp.Star):
        return list(star.args.get("replace") or ())
    return []


def _union(left: Relation, right: Relation) -> Relation:
    out = Relation()
    for i, name in enumerate(left.names):
        deps = dict(left.deps[i])
        if i < len(right.deps):
            _merge(deps, right.deps[i])
        out.add(name, deps)
    out.stars = list(dict.fromkeys(left.stars + right.stars))
    out.star_union = len(out.stars) > 1
    out.conditions = left.conditions | right.conditions
    out.tables = left.tables | right.tables
    return out


def _raise_to(into: Deps, other: Deps, kind: int) -> None:
    """Merge ``other`` into ``into``, each kind raised to at least ``kind``."""
    for source, source_kind in other.items():
        strongest = source_kind if source_kind > kind else kind
        if into.get(source, -1) < strongest:
            into[source] = strongest


def _merge(into: Deps, other: Deps) -> None:
    for source, kind in other.items():
        if into.get(source, -1) < kind:
            into[source] = kind


def _merge_set(into: set[str], deps: Deps) -> None:
    into.update(deps)
