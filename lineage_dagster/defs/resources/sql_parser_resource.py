from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr, field_validator

from lineage_dagster.defs.resources.sql_source_resource import SqlSourceResource
from lineage_dagster.parsing import (
    DialectMap,
    SchemaError,
    SchemaIndex,
    resolve_dialect,
    tune_gc_for_parsing,
)
from lineage_dagster.sources.corpus_schema import load_catalog_file
from lineage_dagster.sources.files import SourceFile
from lineage_dagster.sources.parse_cache import ParseCache, default_cache_path
from lineage_dagster.sources.source_parser import SourceParser


class SqlParserResource(dg.ConfigurableResource):
    """Extracts lineage from SQL files through a persistent, content-keyed cache.

    Unchanged content is never parsed twice: results are cached by (content sha256, dialect,
    extractor version, options) in SQLite under the instance's storage, shared safely by every
    step process of every run. Dialect names are checked when the resource is configured, so a
    misspelt one fails the run's config, not a parse.

    Example: ``SqlParserResource(dialect="snowflake", dialect_map={"risk": "tsql"})``.
    """

    dialect: str | None = Field(
        default=None,
        description="Dialect of files without a `-- dialect:` comment or a dialect_map entry.",
    )
    dialect_map: dict[str, str] = Field(
        default_factory=dict,
        description="Folder prefix (relative to the SQL root) -> dialect; the longest prefix wins.",
    )
    default_schema: str | None = Field(
        default=None, description="Schema (or catalog.schema) for unqualified table names."
    )
    schema_file: str | None = Field(
        default=None,
        description="JSON file mapping table -> columns, resolving SELECT * and bare columns.",
    )
    catalog_file: str | None = Field(
        default=None,
        description="The database's columns: a CSV or JSON export of information_schema.columns "
        "(table_catalog, table_schema, table_name, column_name[, ordinal_position]) or a JSON "
        "table -> columns mapping. Its tables win over the columns the SQL files declare.",
    )
    corpus_schema: bool = Field(
        default=True,
        description="Resolve SELECT * and bare columns against the columns that the watched "
        "folder's files declare (CREATE TABLE, CTAS and view outputs, INSERT column lists) "
        "across all partitions, plus schema_file and catalog_file.",
    )
    cache_path: str | None = Field(
        default=None,
        description="SQLite file of the parse cache; defaults to lineage/parse_cache.sqlite "
        "under DAGSTER_HOME.",
    )

    _cache: ParseCache | None = PrivateAttr(default=None)
    _schema_changed: bool = PrivateAttr(default=False)

    @field_validator("dialect")
    @classmethod
    def _known_dialect(cls, value: str | None) -> str | None:
        return resolve_dialect(value)

    @field_validator("dialect_map")
    @classmethod
    def _known_dialects(cls, value: dict[str, str]) -> dict[str, str]:
        DialectMap(value)  # raises UnknownDialectError (a ValueError) naming the valid ones
        return value

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Once per step process, after its imports: the collector costs a third of parse time.
        tune_gc_for_parsing()
        if not self.cache_path and context.instance is None:
            raise dg.Failure("The parse cache needs a Dagster instance or cache_path")
        root = Path(context.instance.root_directory) if context.instance else Path()
        self._cache = ParseCache(self.cache_file(root))

    def cache_file(self, instance_root: Path) -> Path:
        """The parse cache's file for the Dagster instance whose root is ``instance_root``."""
        return Path(self.cache_path) if self.cache_path else default_cache_path(instance_root)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None

    def configured_schema(self) -> dict[str, list[str]]:
        """The tables of ``schema_file`` and ``catalog_file`` (the catalog's win)."""
        schema: dict[str, list[str]] = {}
        for path in (self.schema_file, self.catalog_file):
            if path:
                try:
                    schema.update(load_catalog_file(Path(path)))
                except SchemaError as exc:
                    raise dg.Failure(description=str(exc), metadata={"file": path}) from exc
        return schema

    def source_parser(
        self, sql_source: SqlSourceResource, *, schema_digest: str = ""
    ) -> SourceParser:
        """A parser of the watched folder's files, sharing this step process's cache.

        Args:
            sql_source: The folder, and the limits its files are read with.
            schema_digest: The schema a plan step built and kept (see ``plan_schema``);
                ``""``: the configured files alone, normalised per file.
        """
        schema: Mapping[str, Any] | SchemaIndex | None = self.configured_schema() or None
        if schema_digest:
            schema = self._cache.get_schema(schema_digest) if self._cache else None
            if schema is None:
                raise dg.Failure(f"The schema {schema_digest} is not in the parse cache any more")
        return SourceParser(
            root=sql_source.root_path,
            dialects=DialectMap(self.dialect_map),
            default_dialect=resolve_dialect(self.dialect),
            default_schema=self.default_schema,
            schema=schema,
            cache=self._cache,
            max_bytes=sql_source.max_file_bytes,
            read_timeout_seconds=sql_source.read_timeout_seconds,
        )

    def plan_schema(
        self, parser: SourceParser, files: Sequence[SourceFile], *, use_cache: bool
    ) -> SchemaIndex:
        """The schema the parse steps of a run extract against (when ``corpus_schema`` is on):
        what ``files`` (the whole watched folder) declare plus the configured files, kept in
        the parse cache under its digest."""
        if self._cache is None:
            raise dg.Failure("The parse cache is not open")
        schema = parser.corpus_schema(files, self.configured_schema(), use_cache=use_cache)
        previous = self._cache.latest_schema()
        self._cache.put_schema(schema)
        self._schema_changed = previous is None or previous.digest != schema.digest
        return schema

    def mark_stale(self, partitions: set[str], schema: SchemaIndex) -> None:
        """Have the sensor request runs of ``partitions``, whose files were extracted against
        other columns than ``schema`` gives (a DDL file of another partition changed)."""
        if self._cache is not None and partitions:
            self._cache.mark_stale(sorted(partitions), schema.digest)

    @property
    def schema_changed(self) -> bool:
        """Whether the last ``plan_schema`` differs from the schema kept before it."""
        return self._schema_changed

    def clear_stale(self, partition: str) -> None:
        """A run of ``partition`` plans against the current schema: no other one is needed."""
        if self._cache is not None:
            self._cache.clear_stale(partition)
