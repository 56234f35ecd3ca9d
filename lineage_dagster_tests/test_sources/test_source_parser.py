"""Parsing the watched folder's files: one checked read per cold parse, none on a planned cache
hit, broken files returned with their error and position, one dialect mapping with canonical
names."""

from pathlib import Path

import pytest

from lineage_dagster.parsing import DialectMap
from lineage_dagster.sources import source_parser
from lineage_dagster.sources.files import SourceFile, sha256_bytes
from lineage_dagster.sources.parse_cache import ParseCache
from lineage_dagster.sources.source_parser import SourceParser

SQL = b"INSERT INTO mart.t (a) SELECT a FROM raw.s"


@pytest.fixture
def requests(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The files of each read request the parser makes, in order."""
    seen: list[list[str]] = []
    real = source_parser.read_sources

    def counting(root: Path, relatives: list[str], **kwargs: float) -> dict:
        seen.append(list(relatives))
        return real(root, relatives, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(source_parser, "read_sources", counting)
    return seen


@pytest.fixture
def parser(tmp_path: Path) -> SourceParser:
    root = tmp_path / "sql"
    (root / "risk").mkdir(parents=True)
    (root / "risk" / "a.sql").write_bytes(SQL)
    return SourceParser(root=root, cache=ParseCache(tmp_path / "cache.sqlite"))


def test_a_cold_parse_reads_the_file_once_and_caches_it(
    parser: SourceParser, requests: list[list[str]]
):
    lineage, hit = parser.parse("risk/a.sql", sha256_bytes(SQL))
    assert (hit, requests) == (False, [["risk/a.sql"]])
    assert lineage.path == "risk/a.sql"
    assert lineage.sha256 == sha256_bytes(SQL)
    assert lineage.statements[0].targets == ("mart.t",)


def test_a_planned_cache_hit_does_not_read_the_file(
    parser: SourceParser, requests: list[list[str]]
):
    first, _ = parser.parse("risk/a.sql", sha256_bytes(SQL))
    # The same content under another path: served from the cache by its digest alone.
    again, hit = parser.parse("finance/copy.sql", sha256_bytes(SQL))
    assert hit is True
    assert requests == [["risk/a.sql"]]
    assert again.path == "finance/copy.sql"
    assert again.statements == first.statements


def test_a_file_changed_since_planning_is_keyed_by_what_was_read(parser: SourceParser):
    lineage, hit = parser.parse("risk/a.sql", "digest-planned-before-an-edit")
    assert hit is False
    assert lineage.sha256 == sha256_bytes(SQL)
    assert parser.parse("risk/a.sql", sha256_bytes(SQL))[1] is True


def test_without_the_cache_every_parse_reads(parser: SourceParser, requests: list[list[str]]):
    parser.parse("risk/a.sql", sha256_bytes(SQL))
    _, hit = parser.parse("risk/a.sql", sha256_bytes(SQL), use_cache=False)
    assert (hit, requests) == (False, [["risk/a.sql"], ["risk/a.sql"]])


def test_many_files_are_read_in_one_request_and_come_back_in_order(
    parser: SourceParser, requests: list[list[str]]
):
    (parser.root / "risk" / "b.sql").write_bytes(SQL.replace(b"mart.t", b"mart.u"))
    parser.parse("risk/a.sql", sha256_bytes(SQL))  # now cached
    files = [
        SourceFile("risk/b.sql", 40, 0, ""),
        SourceFile("risk/a.sql", 40, 0, sha256_bytes(SQL)),
        SourceFile("risk/gone.sql", 40, 0, ""),
        SourceFile("risk/hung.sql", 0, 0, "", error="cannot be read: no answer"),
    ]
    results = parser.parse_many(files)
    assert requests[1:] == [["risk/b.sql", "risk/gone.sql"]]  # one request; no cached file
    assert [(lineage.path, lineage.status, hit) for lineage, hit in results] == [
        ("risk/b.sql", "ok", False),
        ("risk/a.sql", "ok", True),
        ("risk/gone.sql", "failed", False),
        ("risk/hung.sql", "failed", False),
    ]
    assert results[0][0].statements[0].targets == ("mart.u",)
    assert results[3][0].error.message == "cannot be read: no answer"  # not read again


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


def test_the_plan_can_ask_whether_a_file_is_cached(parser: SourceParser, requests: list[list[str]]):
    assert parser.is_cached("risk/a.sql", sha256_bytes(SQL)) is False
    parser.parse("risk/a.sql", sha256_bytes(SQL))
    assert parser.is_cached("risk/a.sql", sha256_bytes(SQL)) is True
    assert parser.is_cached("risk/a.sql", "another digest") is False
    assert requests == [["risk/a.sql"]]  # asking reads nothing
