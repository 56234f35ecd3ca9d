"""Parsing the watched folder's files: one checked read per cold parse, none on a planned cache
hit, broken files returned with their error and position, one dialect mapping with canonical
names."""

from pathlib import Path

import pytest

from lineage_dagster.parsing import DialectMap
from lineage_dagster.sources import source_parser
from lineage_dagster.sources.files import sha256_bytes
from lineage_dagster.sources.parse_cache import ParseCache
from lineage_dagster.sources.source_parser import SourceParser

SQL = b"INSERT INTO mart.t (a) SELECT a FROM raw.s"


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every file the parser reads, in order."""
    seen: list[str] = []
    real = source_parser.read_source

    def counting(root: Path, relative: str, **kwargs: int) -> bytes:
        seen.append(relative)
        return real(root, relative, **kwargs)

    monkeypatch.setattr(source_parser, "read_source", counting)
    return seen


@pytest.fixture
def parser(tmp_path: Path) -> SourceParser:
    root = tmp_path / "sql"
    (root / "risk").mkdir(parents=True)
    (root / "risk" / "a.sql").write_bytes(SQL)
    return SourceParser(root=root, cache=ParseCache(tmp_path / "cache.sqlite"))


def test_a_cold_parse_reads_the_file_once_and_caches_it(parser: SourceParser, reads: list[str]):
    lineage, hit = parser.parse("risk/a.sql", sha256_bytes(SQL))
    assert (hit, reads) == (False, ["risk/a.sql"])
    assert lineage.path == "risk/a.sql"
    assert lineage.sha256 == sha256_bytes(SQL)
    assert lineage.statements[0].targets == ("mart.t",)


def test_a_planned_cache_hit_does_not_read_the_file(parser: SourceParser, reads: list[str]):
    first, _ = parser.parse("risk/a.sql", sha256_bytes(SQL))
    # The same content under another path: served from the cache by its digest alone.
    again, hit = parser.parse("finance/copy.sql", sha256_bytes(SQL))
    assert hit is True
    assert reads == ["risk/a.sql"]
    assert again.path == "finance/copy.sql"
    assert again.statements == first.statements


def test_a_file_changed_since_planning_is_keyed_by_what_was_read(parser: SourceParser):
    lineage, hit = parser.parse("risk/a.sql", "digest-planned-before-an-edit")
    assert hit is False
    assert lineage.sha256 == sha256_bytes(SQL)
    assert parser.parse("risk/a.sql", sha256_bytes(SQL))[1] is True


def test_without_the_cache_every_parse_reads(parser: SourceParser, reads: list[str]):
    parser.parse("risk/a.sql", sha256_bytes(SQL))
    _, hit = parser.parse("risk/a.sql", sha256_bytes(SQL), use_cache=False)
    assert (hit, reads) == (False, ["risk/a.sql", "risk/a.sql"])


def test_broken_files_come_back_with_their_error(parser: SourceParser, tmp_path: Path):
    (parser.root / "risk" / "latin1.sql").write_bytes(b"SELECT 1;\nSELECT '\xe9'")
    (parser.root / "risk" / "unknown.sql").write_text("-- dialect: snowflak\nSELECT 1")
    outside = tmp_path / "outside.sql"
    outside.write_text("SELECT 1")
    (parser.root / "risk" / "link.sql").symlink_to(outside)
    decode, _ = parser.parse("risk/latin1.sql")
    assert (decode.path, decode.status, decode.error.line) == ("risk/latin1.sql", "failed", 2)
    assert "not UTF-8" in decode.error.message
    unknown, _ = parser.parse("risk/unknown.sql")
    assert unknown.status == "failed"
    assert "snowflak" in unknown.error.message
    link, _ = parser.parse("risk/link.sql")
    assert "outside the watched folder" in link.error.message
    assert parser.cache is not None
    assert parser.cache.stats().entries == 0  # failures are not cached: a fix is seen at once


def test_one_dialect_mapping_with_canonical_names(tmp_path: Path):
    parser = SourceParser(
        root=tmp_path,
        dialects=DialectMap({"risk/": "SQLServer", "./finance": "oracle"}),
        default_dialect="postgres",
    )
    assert parser.dialect_for("risk/var.sql") == "tsql"
    assert parser.dialect_for("finance/gl/balances.sql") == "oracle"
    assert parser.dialect_for("regulatory/lcr.sql") == "postgres"


def test_the_plan_can_ask_whether_a_file_is_cached(parser: SourceParser, reads: list[str]):
    assert parser.is_cached("risk/a.sql", sha256_bytes(SQL)) is False
    parser.parse("risk/a.sql", sha256_bytes(SQL))
    assert parser.is_cached("risk/a.sql", sha256_bytes(SQL)) is True
    assert parser.is_cached("risk/a.sql", "another digest") is False
    assert reads == ["risk/a.sql"]  # asking reads nothing
