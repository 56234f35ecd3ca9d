import json
from pathlib import Path

import dagster as dg
from pydantic import Field, PrivateAttr, field_validator

from lineage_dagster.parsing import DialectMap, resolve_dialect, tune_gc_for_parsing
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
    cache_path: str | None = Field(
        default=None,
        description="SQLite file of the parse cache; defaults to lineage/parse_cache.sqlite "
        "under DAGSTER_HOME.",
    )

    _cache: ParseCache | None = PrivateAttr(default=None)

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
        if self.cache_path:
            path = Path(self.cache_path)
        elif context.instance is not None:
            path = default_cache_path(Path(context.instance.root_directory))
        else:
            raise dg.Failure("The parse cache needs a Dagster instance or cache_path")
        self._cache = ParseCache(path)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None

    def source_parser(self, root: Path, *, max_bytes: int) -> SourceParser:
        """A parser of the files under ``root``, sharing this step process's cache."""
        schema = json.loads(Path(self.schema_file).read_text()) if self.schema_file else None
        return SourceParser(
            root=root,
            dialects=DialectMap(self.dialect_map),
            default_dialect=resolve_dialect(self.dialect),
            default_schema=self.default_schema,
            schema=schema,
            cache=self._cache,
            max_bytes=max_bytes,
        )
