"""A realistic, deterministic corpus of financial SQL scripts for benchmarks.

Files sit under one folder per source system (``risk/``, ``finance/``, ``trading/``,
``regulatory/``) plus a few at the root. Each starts with a ``-- dialect:`` comment and holds
2-4 statements mixing what finance warehouses run: wide staging loads (30-80 columns), CTE
aggregations, temporary tables, MERGE upserts, views with window functions, UPDATE ... FROM.
The same ``seed`` always produces the same files.
"""

from __future__ import annotations

import random
from pathlib import Path

FOLDERS = ("risk", "finance", "trading", "regulatory")
DIALECTS = (
    "snowflake",
    "tsql",
    "bigquery",
    "postgres",
    "redshift",
    "oracle",
    "spark",
    "teradata",
)

_BASE_COLUMNS = (
    "trade_id", "book_id", "desk_id", "trader_id", "counterparty_id", "instrument_id", "isin",
    "cusip", "ccy", "notional", "price", "quantity", "trade_date", "settle_date", "maturity_date",
    "pnl", "mtm", "delta", "gamma", "vega", "theta", "rho", "var_1d", "var_10d", "es_975",
    "exposure", "collateral", "rating", "pd", "lgd", "ead", "rwa", "capital_charge", "fx_rate",
    "accrued_interest", "coupon", "yield", "spread", "duration", "convexity", "sector",
    "country", "region", "legal_entity", "cost_center", "gl_account", "amount_local",
    "amount_usd", "status", "source_system", "load_ts", "as_of_date", "portfolio_id",
    "strategy", "asset_class", "product_type", "clearing_house", "broker_id", "fee", "tax",
)  # fmt: skip
_ENTITIES = (
    "trades", "positions", "cashflows", "ledger", "journal", "exposures", "counterparties",
    "instruments", "prices", "fx_rates", "collateral", "limits", "var_results", "pnl_daily",
    "accounts", "settlements", "margin_calls", "credit_lines", "ratings", "gl_balances",
)  # fmt: skip
_AGGREGATES = ("SUM", "AVG", "MAX", "MIN")


class _Writer:
    def __init__(self, rng: random.Random, dialect: str, folder: str) -> None:
        self.rng = rng
        self.dialect = dialect
        self.folder = folder or "core"

    # --- names --------------------------------------------------------------------------------

    def table(self, layer: str, entity: str | None = None) -> str:
        entity = entity or self.rng.choice(_ENTITIES)
        schema = f"{layer}_{self.folder}"
        if self.dialect == "bigquery":
            return f"`fin-prod.{schema}.{entity}`"
        if self.dialect == "tsql":
            return f"[{schema}].[{entity}]" if self.rng.random() < 0.3 else f"{schema}.{entity}"
        if self.dialect == "snowflake":
            return f"FIN.{schema.upper()}.{entity.upper()}"
        return f"{schema}.{entity}"

    def columns(self, low: int, high: int) -> list[str]:
        width = self.rng.randint(low, high)
        names = list(_BASE_COLUMNS)
        self.rng.shuffle(names)
        out = names[:width]
        i = 1
        while len(out) < width:
            out.append(f"attr_{i:02d}")
            i += 1
        return out

    def temp(self, name: str) -> tuple[str, str]:
        """(statement that creates the temp table from a query placeholder, its name)."""
        if self.dialect == "tsql":
            return "SELECT {cols} INTO #" + name + " FROM {src}{where}", "#" + name
        if self.dialect == "teradata":
            return (
                "CREATE VOLATILE TABLE " + name + " AS (SELECT {cols} FROM {src}{where}) "
                "WITH DATA ON COMMIT PRESERVE ROWS",
                name,
            )
        if self.dialect == "oracle":
            return (
                "CREATE GLOBAL TEMPORARY TABLE " + name + " AS SELECT {cols} FROM {src}{where}",
                (name),
            )
        if self.dialect in ("bigquery", "spark"):
            return "CREATE TEMPORARY TABLE " + name + " AS SELECT {cols} FROM {src}{where}", name
        return "CREATE TEMPORARY TABLE " + name + " AS SELECT {cols} FROM {src}{where}", name

    def date(self) -> str:
        return f"'2024-{self.rng.randint(1, 12):02d}-{self.rng.randint(1, 28):02d}'"

    # --- expressions ----------------------------------------------------------------------

    def expression(self, column: str, alias: str | None = None) -> str:
        rng = self.rng
        roll = rng.random()
        cast_type = "DECIMAL(18, 4)" if self.dialect != "bigquery" else "NUMERIC"
        if roll < 0.45:
            expr = column
        elif roll < 0.6:
            expr = f"CAST({column} AS {cast_type})"
        elif roll < 0.72:
            expr = f"COALESCE({column}, 0)"
        elif roll < 0.82:
            other = rng.choice(_BASE_COLUMNS)
            expr = f"{column} * {other}"
        elif roll < 0.92:
            expr = f"CASE WHEN {column} IS NULL THEN 0 ELSE {column} END"
        else:
            expr = f"UPPER(TRIM({column}))" if self.dialect != "tsql" else f"UPPER({column})"
        return f"{expr} AS {alias or column}"

    # --- statements -----------------------------------------------------------------------

    def wide_load(self) -> list[str]:
        cols = self.columns(30, 80)
        src = self.table("raw")
        dst = self.table("stg")
        exprs = ",\n       ".join(self.expression(c) for c in cols)
        overwrite = self.dialect == "spark" and self.rng.random() < 0.5
        head = f"INSERT OVERWRITE TABLE {dst}" if overwrite else f"INSERT INTO {dst}"
        column_list = "" if overwrite else f" ({', '.join(cols)})"
        return [
            f"{head}{column_list}\nSELECT {exprs}\nFROM {src}\nWHERE as_of_date = {self.date()}"
        ]

    def cte_aggregate(self) -> list[str]:
        keys = self.columns(2, 4)
        measures = [c for c in self.columns(8, 20) if c not in keys]
        fact = self.table("stg")
        dim = self.table("ref", self.rng.choice(("counterparties", "instruments", "accounts")))
        dst = self.table("mart")
        base_cols = ", ".join([f"f.{c}" for c in keys + measures] + ["d.rating AS dim_rating"])
        agg = ",\n         ".join(
            f"{self.rng.choice(_AGGREGATES)}({m}) AS {m}_{i}" for i, m in enumerate(measures)
        )
        key_list = ", ".join(keys)
        outer = ", ".join([*keys, *(f"{m}_{i}" for i, m in enumerate(measures)), "ranking"])
        return [
            f"INSERT INTO {dst} ({outer})\n"
            f"WITH base AS (\n  SELECT {base_cols}\n  FROM {fact} f\n"
            f"  JOIN {dim} d ON d.counterparty_id = f.counterparty_id\n"
            f"  WHERE f.status <> 'CANCELLED'\n),\n"
            f"agg AS (\n  SELECT {key_list},\n         {agg}\n  FROM base\n"
            f"  GROUP BY {key_list}\n)\n"
            f"SELECT {', '.join(keys)}, {', '.join(f'{m}_{i}' for i, m in enumerate(measures))}, "
            f"RANK() OVER (PARTITION BY {keys[0]} ORDER BY {measures[0]}_0 DESC) AS ranking\n"
            f"FROM agg"
        ]

    def temp_pipeline(self) -> list[str]:
        cols = self.columns(10, 30)
        template, name = self.temp("tmp_" + self.rng.choice(_ENTITIES))
        src = self.table("raw")
        dim = self.table("ref", "fx_rates")
        dst = self.table("mart")
        create = template.format(
            cols=", ".join(cols), src=src, where=f" WHERE trade_date >= {self.date()}"
        )
        out_cols = [*cols, "amount_usd_conv"]
        select = ", ".join([f"t.{c}" for c in cols] + ["t.notional * fx.fx_rate"])
        insert = (
            f"INSERT INTO {dst} ({', '.join(out_cols)})\nSELECT {select}\nFROM {name} t\n"
            f"LEFT JOIN {dim} fx ON fx.ccy = t.ccy AND fx.as_of_date = t.trade_date"
        )
        statements = [create, insert]
        if self.rng.random() < 0.5:
            statements.append(f"DROP TABLE {name}")
        return statements

    def merge(self) -> list[str]:
        cols = self.columns(8, 25)
        if "trade_id" in cols:
            cols.remove("trade_id")
        src = self.table("stg")
        dst = self.table("mart")
        sets = ", ".join(f"{c} = s.{c}" for c in cols)
        if self.dialect not in ("postgres", "redshift"):
            sets = ", ".join(f"t.{c} = s.{c}" for c in cols)
        insert_cols = ", ".join(["trade_id", *cols])
        insert_vals = ", ".join(f"s.{c}" for c in ["trade_id", *cols])
        on = (
            "ON (t.trade_id = s.trade_id)"
            if self.dialect == "oracle"
            else "ON t.trade_id = s.trade_id"
        )
        stmt = (
            f"MERGE INTO {dst} t\nUSING (SELECT * FROM {src} WHERE as_of_date = {self.date()}) s\n"
            f"{on}\nWHEN MATCHED THEN UPDATE SET {sets}\n"
            f"WHEN NOT MATCHED THEN INSERT ({insert_cols}) VALUES ({insert_vals})"
        )
        return [stmt]

    def view(self) -> list[str]:
        cols = self.columns(6, 20)
        src = self.table("mart")
        name = self.table("rpt", self.rng.choice(_ENTITIES) + "_v")
        windows = (
            "SUM(notional) OVER (PARTITION BY book_id ORDER BY trade_date) AS running_notional, "
            "LAG(price) OVER (PARTITION BY instrument_id ORDER BY trade_date) AS prev_price"
        )
        create = (
            "CREATE OR REPLACE VIEW"
            if self.dialect not in ("tsql", "teradata")
            else ("CREATE VIEW")
        )
        return [f"{create} {name} AS\nSELECT {', '.join(cols)}, {windows}\nFROM {src}"]

    def update_from(self) -> list[str]:
        dst = self.table("stg")
        ref = self.table("ref", "fx_rates")
        if self.dialect == "tsql":
            return [
                f"UPDATE t SET amount_usd = t.amount_local * r.fx_rate\nFROM {dst} t\n"
                f"JOIN {ref} r ON r.ccy = t.ccy"
            ]
        if self.dialect in ("postgres", "redshift", "snowflake"):
            return [
                f"UPDATE {dst} SET amount_usd = amount_local * r.fx_rate\nFROM {ref} r\n"
                f"WHERE r.ccy = {dst}.ccy"
            ]
        return [
            f"UPDATE {dst} SET amount_usd = amount_local * "
            f"(SELECT MAX(r.fx_rate) FROM {ref} r WHERE r.ccy = {dst}.ccy)"
        ]

    def script(self) -> list[str]:
        makers = [self.wide_load, self.cte_aggregate, self.temp_pipeline, self.merge, self.view]
        makers += [self.update_from]
        weights = [4, 3, 3, 2, 2, 1]
        statements: list[str] = []
        target = self.rng.randint(2, 4)
        while len(statements) < target:
            statements += self.rng.choices(makers, weights)[0]()
        return statements


def write_corpus(
    root: Path, files: int = 1000, seed: int = 0, *, copies: float = 0.0
) -> list[Path]:
    """Write ``files`` SQL scripts under ``root``; return their paths, sorted.

    ``copies`` is the share of files that repeat an earlier file's content under another name
    and folder, as copied and regenerated scripts do in real repositories (whose parse cache
    hit rate on a first load is 25-40%).

    >>> import tempfile
    >>> paths = write_corpus(Path(tempfile.mkdtemp()), files=5)
    >>> len(paths), paths[0].read_text().startswith("-- dialect: ")
    (5, True)
    """
    rng = random.Random(seed)
    root = Path(root)
    paths: list[Path] = []
    # A separate generator decides the copies, so the original files stay the same for a seed.
    copier = random.Random(seed + 1)
    contents: list[str] = []
    for i in range(files):
        folder = "" if i % 50 == 49 else FOLDERS[rng.randrange(len(FOLDERS))]
        directory = root / folder if folder else root
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{folder or 'core'}_{i:04d}.sql"
        if contents and copier.random() < copies:
            text = contents[copier.randrange(len(contents))]
        else:
            text = _script(rng, folder, i)
            contents.append(text)
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return sorted(paths)


def _script(rng: random.Random, folder: str, index: int) -> str:
    dialect = DIALECTS[rng.randrange(len(DIALECTS))]
    statements = _Writer(rng, dialect, folder).script()
    separator = "\nGO\n" if dialect == "tsql" and rng.random() < 0.5 else ";\n\n"
    body = separator.join(statements) + (";\n" if separator.startswith(";") else "\nGO\n")
    header = f"-- dialect: {dialect}\n-- job: {folder or 'core'}_{index:04d}\n"
    return header + body
