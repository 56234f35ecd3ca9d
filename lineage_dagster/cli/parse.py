"""``lineage-dagster parse``: print the lineage of SQL files as JSON or as a table.

Exit codes: 0 when every statement of every file parsed, 1 when any statement or file failed
(the output is still complete), 2 for usage errors (bad options, unknown dialect, missing path).
"""

import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import click
import orjson

from lineage_dagster.cli.output import format_option
from lineage_dagster.parsing import (
    DialectMap,
    FileLineage,
    LineageError,
    SchemaIndex,
    SqlFileError,
    StatementError,
    TableDeclaration,
    UnknownDialectError,
    compiled_sqlglot,
    extract_file,
    resolve_dialect,
)
from lineage_dagster.parsing.dialects import get_dialect
from lineage_dagster.parsing.extract import DEFAULT_MAX_BYTES
from lineage_dagster.parsing.models import Coverage
from lineage_dagster.parsing.names import Namer, normalize_schema
from lineage_dagster.sources.corpus_schema import merge_declarations, schema_mapping


def _dialect_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    try:
        return resolve_dialect(value)
    except UnknownDialectError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from exc


def _read_json(path: Path | None, what: str) -> object:
    if path is None:
        return None
    try:
        return orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise click.BadParameter(f"cannot read {what} {path}: {exc}") from exc


def iter_sql_files(paths: tuple[Path, ...]) -> Iterator[tuple[Path, Path | None]]:
    """Each file to parse with the folder it was found under (``None`` for a file argument).

    Folders are walked recursively for ``*.sql`` files, in sorted order.
    """
    for path in paths:
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.suffix.lower() == ".sql"):
                if file.is_file():
                    yield file, path
        else:
            yield path, None


@click.command("parse")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--dialect",
    callback=_dialect_option,
    help="Default SQL dialect (a sqlglot name such as snowflake, tsql, bigquery).",
)
@click.option(
    "--dialect-map",
    "dialect_map_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='JSON {"folder/prefix": "dialect"}; the longest matching prefix wins.',
)
@click.option(
    "--schema",
    "schema_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='JSON {"db.table": ["col", ...] or {"col": "type"}} to resolve * and bare columns.',
)
@click.option("--default-schema", help='Prefix for less qualified names: "db" or "catalog.db".')
@click.option(
    "--default-catalog",
    help="Default catalog alone (BigQuery project, Snowflake database) for schema.table names.",
)
@format_option(default="json")
@click.option("--no-columns", is_flag=True, help="Table-level lineage only (faster).")
@click.option(
    "--no-conditions",
    is_flag=True,
    help="Leave out condition edges (filter and join columns).",
)
@click.option(
    "--corpus-schema",
    is_flag=True,
    help="Resolve * and bare columns against the columns the given files declare (CREATE TABLE, "
    "CTAS and view outputs, INSERT column lists), as ingestion does; --schema tables win.",
)
@click.option(
    "--max-bytes",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_BYTES,
    show_default=True,
    help="Refuse files larger than this.",
)
def parse_command(
    paths: tuple[Path, ...],
    dialect: str | None,
    dialect_map_file: Path | None,
    schema_file: Path | None,
    default_schema: str | None,
    default_catalog: str | None,
    output_format: str,
    no_columns: bool,
    no_conditions: bool,
    max_bytes: int,
    corpus_schema: bool,
) -> None:
    """Print the table- and column-level lineage of SQL files (folders: every *.sql).

    The dialect of a file is, most specific first: a `-- dialect: NAME` comment at its top,
    the longest --dialect-map prefix matching its folder, --dialect, else sqlglot's generic
    dialect.
    """
    # sqlglot logs every statement it keeps as an opaque command; that is noise here.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    if not compiled_sqlglot():
        click.echo(
            "warning: sqlglot runs as pure Python; install sqlglot[c] (sqlglotc of the same "
            "version) for 3-4x faster parsing",
            err=True,
        )
    mapping_data = _read_json(dialect_map_file, "dialect map")
    if mapping_data is not None and not isinstance(mapping_data, dict):
        raise click.BadParameter(
            "the dialect map must be a JSON object", param_hint="--dialect-map"
        )
    try:
        dialect_map = DialectMap(mapping_data) if mapping_data else None
    except UnknownDialectError as exc:
        raise click.BadParameter(str(exc), param_hint="--dialect-map") from exc
    schema = _read_json(schema_file, "schema")
    if schema is not None and not isinstance(schema, dict):
        raise click.BadParameter("the schema must be a JSON object", param_hint="--schema")
    try:
        # Validate before any output: a bad schema or default schema is a usage error.
        normalize_schema(schema, Namer(get_dialect(None), default_schema, default_catalog))
    except LineageError as exc:
        raise click.UsageError(str(exc)) from exc

    failed = False
    out = sys.stdout
    first = True
    total = Coverage()
    files = list(iter_sql_files(paths))
    used_schema: dict[str, Any] | SchemaIndex | None = schema
    if corpus_schema:
        try:
            configured = schema_mapping(schema, schema_file or Path()) if schema else None
        except LineageError as exc:
            raise click.UsageError(str(exc)) from exc
        declared = _declarations(files, dialect_map, dialect, default_schema, default_catalog)
        used_schema = merge_declarations(declared, configured)
    if output_format == "json":
        out.write("[")
    for path, root in files:
        file_dialect = (dialect_map.dialect_for(path, root) if dialect_map else None) or dialect
        try:
            lineage = extract_file(
                path,
                dialect=file_dialect,
                default_schema=default_schema,
                default_catalog=default_catalog,
                schema=used_schema,
                columns=not no_columns,
                conditions=not no_conditions,
                max_bytes=max_bytes,
            )
        except SqlFileError as exc:
            lineage = _file_error(path, file_dialect, exc)
        except UnknownDialectError as exc:
            # A `-- dialect:` comment naming an unknown dialect: that file's error.
            lineage = _file_error(path, file_dialect, LineageError(str(exc)))
        except LineageError as exc:
            raise click.UsageError(str(exc)) from exc
        failed = failed or lineage.error is not None or bool(lineage.errors)
        if output_format == "json":
            out.write("\n" if first else ",\n")
            out.write(orjson.dumps(lineage.to_dict()).decode())
        else:
            _write_table(lineage, out)
            total += lineage.coverage()
        first = False
    if output_format == "json":
        out.write("\n]\n" if not first else "]\n")
    elif total.total:
        out.write(f"total target columns: {describe_coverage(total)}\n")
    out.flush()
    sys.exit(1 if failed else 0)


def _declarations(
    files: list[tuple[Path, Path | None]],
    dialect_map: DialectMap | None,
    dialect: str | None,
    default_schema: str | None,
    default_catalog: str | None,
) -> list[tuple[str, tuple[TableDeclaration, ...]]]:
    """The columns each file declares (see the pipeline's folder schema)."""
    declared = []
    for path, root in files:
        file_dialect = (dialect_map.dialect_for(path, root) if dialect_map else None) or dialect
        try:
            lineage = extract_file(
                path,
                dialect=file_dialect,
                default_schema=default_schema,
                default_catalog=default_catalog,
                columns=False,
            )
        except LineageError:
            continue  # reported when the file is extracted
        declared.append((str(path), lineage.declarations))
    return declared


def _file_error(path: Path, dialect: str | None, exc: Exception) -> FileLineage:
    if isinstance(exc, SqlFileError):
        return FileLineage(
            str(path), exc.sha256, dialect, (), StatementError(exc.message, exc.line, exc.column)
        )
    return FileLineage(str(path), "", dialect, (), StatementError(str(exc)))


def _write_table(lineage: FileLineage, out: TextIO) -> None:
    if lineage.error is not None:
        out.write(f"{lineage.path}: ERROR {_where(lineage.error)}{lineage.error.message}\n")
        return
    if not lineage.statements:
        out.write(f"{lineage.path}: no statements\n")
    for stmt in lineage.statements:
        head = f"{lineage.path}:{stmt.line}"
        if stmt.error is not None:
            out.write(f"{head}  ERROR {_where(stmt.error)}{stmt.error.message}\n")
            continue
        sources = ", ".join(stmt.sources) or "-"
        targets = ", ".join(stmt.targets) or "-"
        columns = f"  ({len(stmt.column_lineage)} column edges)" if stmt.column_lineage else ""
        out.write(f"{head}  {stmt.kind:<24} {sources} -> {targets}{columns}\n")
    coverage = lineage.coverage()
    if coverage.total:
        out.write(f"{lineage.path}: target columns: {describe_coverage(coverage)}\n")


def describe_coverage(coverage: Coverage) -> str:
    """``5 value, 1 condition only, 2 none (no_schema 1, no_column_read 1)``."""
    none = sum(count for _, count in coverage.none)
    reasons = ", ".join(f"{reason} {count}" for reason, count in coverage.none)
    return f"{coverage.value} value, {coverage.condition_only} condition only, {none} none" + (
        f" ({reasons})" if reasons else ""
    )


def _where(error: StatementError) -> str:
    if error.line is None:
        return ""
    return f"line {error.line}" + (f", column {error.column}: " if error.column else ": ")
