"""``lineage-dagster cache``: inspect or empty the parse cache of a Dagster instance."""

import json
import os
from pathlib import Path

import click

from lineage_dagster.cli.output import UsageExit, format_option, format_table, human_bytes
from lineage_dagster.sources.parse_cache import CacheStats, ParseCache, default_cache_path

_PATH_OPTION = click.option(
    "--path",
    "cache_path",
    type=click.Path(dir_okay=False, resolve_path=True, path_type=Path),
    default=None,
    help="The cache file. Default: lineage/parse_cache.sqlite under DAGSTER_HOME.",
)


def resolve_cache_path(cache_path: Path | None) -> Path:
    """The given cache file, else the default one of the DAGSTER_HOME instance."""
    if cache_path is not None:
        return cache_path
    home = os.environ.get("DAGSTER_HOME", "").strip()
    if not home:
        raise UsageExit("DAGSTER_HOME is not set: export it or pass --path FILE")
    return default_cache_path(Path(home).expanduser().resolve())


@click.group("cache")
def cache_command() -> None:
    """Inspect or empty the parse cache (lineage reused for unchanged file content)."""


@cache_command.command("stats")
@_PATH_OPTION
@format_option()
def stats_command(cache_path: Path | None, output_format: str) -> None:
    """Print the number of cached entries and the cache's size on disk."""
    path = resolve_cache_path(cache_path)
    if path.exists():
        cache = ParseCache(path)
        try:
            stats = cache.stats()
        finally:
            cache.close()
    else:
        stats = CacheStats(path=str(path), entries=0, bytes=0)
    if output_format == "json":
        payload = {"path": stats.path, "exists": path.exists(), "entries": stats.entries}
        click.echo(json.dumps({**payload, "bytes": stats.bytes}, indent=2))
        return
    size = f"{human_bytes(stats.bytes)} ({stats.bytes:,} bytes)"
    rows = [["path", stats.path + ("" if path.exists() else " (does not exist yet)")]]
    rows += [["entries", f"{stats.entries:,}"], ["size on disk", size]]
    click.echo(format_table(["CACHE", ""], rows))


@cache_command.command("clear")
@_PATH_OPTION
def clear_command(cache_path: Path | None) -> None:
    """Delete every cached entry; the next runs parse every file again."""
    path = resolve_cache_path(cache_path)
    if not path.exists():
        click.echo(f"No parse cache at {path}: nothing to clear.")
        return
    cache = ParseCache(path)
    try:
        removed = cache.clear()
    finally:
        cache.close()
    click.echo(f"Removed {removed:,} entries from {path}.")
