"""Table- and column-level lineage from SQL text (no Dagster import here).

The modules, in the order a script meets them:

- ``extract``: the entry points, ``extract_lineage`` and ``extract_file``.
- ``dialects``: the dialect of a file; ``names``: table and column names as it resolves them.
- ``statements``: the script split into statements, each parsed on its own.
- ``handlers``: the lineage of one statement, by a handler per kind of statement, with
  ``tables`` (the tables it reads) and ``walker`` (the lineage of its columns).
- ``script_state``: what earlier statements tell later ones (temporary tables...).
- ``schema``: known columns shared by many scripts, and what each script looked up.
- ``models``: the frozen values returned; ``errors``: the errors raised.
- ``tuning``: process settings for bulk parsing; ``version``: part of every cache key.

>>> from lineage_dagster.parsing import extract_lineage
>>> extract_lineage("CREATE TABLE mart.t AS SELECT id FROM raw.s").statements[0].sources
('raw.s',)
"""

from lineage_dagster.parsing.dialects import (
    VALID_DIALECTS,
    DialectMap,
    dialect_from_comment,
    resolve_dialect,
)
from lineage_dagster.parsing.errors import (
    LineageError,
    SchemaError,
    SqlDecodeError,
    SqlFileError,
    SqlFileTimeoutError,
    SqlFileTooLargeError,
    UnknownDialectError,
)
from lineage_dagster.parsing.extract import (
    DEFAULT_MAX_BYTES,
    decode_sql,
    extract_bytes,
    extract_declarations,
    extract_file,
    extract_lineage,
    read_sql_file,
)
from lineage_dagster.parsing.models import (
    ColumnEdge,
    FileLineage,
    StatementError,
    StatementLineage,
    TableDeclaration,
)
from lineage_dagster.parsing.schema import SchemaIndex
from lineage_dagster.parsing.tuning import compiled_sqlglot, tune_gc_for_parsing
from lineage_dagster.parsing.version import EXTRACTOR_VERSION

__all__ = [
    "DEFAULT_MAX_BYTES",
    "EXTRACTOR_VERSION",
    "VALID_DIALECTS",
    "ColumnEdge",
    "DialectMap",
    "FileLineage",
    "LineageError",
    "SchemaError",
    "SchemaIndex",
    "SqlDecodeError",
    "SqlFileError",
    "SqlFileTimeoutError",
    "SqlFileTooLargeError",
    "StatementError",
    "StatementLineage",
    "TableDeclaration",
    "UnknownDialectError",
    "compiled_sqlglot",
    "decode_sql",
    "dialect_from_comment",
    "extract_bytes",
    "extract_declarations",
    "extract_file",
    "extract_lineage",
    "read_sql_file",
    "resolve_dialect",
    "tune_gc_for_parsing",
]
