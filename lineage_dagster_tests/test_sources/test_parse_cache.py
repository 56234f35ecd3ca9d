"""The persistent parse cache: round trips, keys, sharing between processes, stats and clear."""

import multiprocessing
from pathlib import Path

from lineage_dagster.parsing.models import (
    ColumnEdge,
    FileLineage,
    StatementError,
    StatementLineage,
)
from lineage_dagster.sources.parse_cache import ParseCache, cache_key, lineage_from_dict

LINEAGE = FileLineage(
    path="risk/a.sql",
    sha256="ab" * 32,
    dialect="tsql",
    statements=(
        StatementLineage(
            0, 3, "INSERT", ("s.a",), ("s.b",), (ColumnEdge("s.a.x", "s.b.x", "direct"),)
        ),
        StatementLineage(1, 9, "UNKNOWN", error=StatementError("Invalid expression", 9, 4)),
    ),
)


def test_round_trip_keeps_everything_but_the_path(tmp_path: Path):
    cache = ParseCache(tmp_path / "c.sqlite")
    cache.put("k", LINEAGE)
    assert cache.get("k", path="risk/a.sql") == LINEAGE
    assert cache.get("k", path="other/copy.sql").statements == LINEAGE.statements
    assert lineage_from_dict(LINEAGE.to_dict()) == LINEAGE
    unreadable = FileLineage("x.sql", "", None, (), StatementError("not UTF-8 at byte 3", 1, 4))
    assert lineage_from_dict(unreadable.to_dict()) == unreadable


def test_keys_separate_dialects_versions_and_options():
    keys = {
        cache_key("s", "tsql", "1"),
        cache_key("s", "snowflake", "1"),
        cache_key("s", "tsql", "2"),
        cache_key("s", "tsql", "1", "opt"),
        cache_key("s", None, "1"),
    }
    assert len(keys) == 5


def _writer(path: str, start: int) -> None:
    cache = ParseCache(Path(path))
    for index in range(start, start + 200):
        cache.put(f"k{index}", LINEAGE)
    cache.close()


def test_concurrent_processes_share_one_cache(tmp_path: Path):
    path = tmp_path / "shared.sqlite"
    ParseCache(path).close()
    processes = [
        multiprocessing.get_context("spawn").Process(target=_writer, args=(str(path), n * 200))
        for n in range(3)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    cache = ParseCache(path)
    assert cache.stats().entries == 600
    assert cache.get("k599") is not None
    assert cache.clear() == 600
    assert cache.stats().entries == 0
