"""TPC-style CTAS queries next to their warehouse's DDL, each folder a partition: with the
folder's own schema every query gets its exact edges, and at least 95% of the CTAS output
columns get value lineage (measured here, with and without the schema).

The DDL (``fixtures/tpc/ddl``) and the queries (``fixtures/tpc/queries``, in the fixture format
of ``fixtures/sql``) were written for this project in the style of TPC-H/TPC-DS.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lineage_dagster.parsing import FileLineage
from lineage_dagster.parsing.models import Coverage
from lineage_dagster.sources.files import scan_files
from lineage_dagster.sources.source_parser import SourceParser
from lineage_dagster_tests.test_parsing.fixture_cases import FIXTURES, Case, load_cases

TPC = FIXTURES.parent / "tpc"
CASES = load_cases(TPC / "queries")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The warehouse DDL as one partition, one file per query in another."""
    root = tmp_path_factory.mktemp("tpc")
    (root / "ddl").mkdir()
    (root / "marts").mkdir()
    for path in (TPC / "ddl").glob("*.sql"):
        (root / "ddl" / path.name).write_text(path.read_text())
    for case in CASES:
        (root / "marts" / f"{case.name}.sql").write_text(case.sql)
    return root


def _parse(root: Path, *, corpus_schema: bool) -> dict[str, FileLineage]:
    files, errors = scan_files(root)
    assert not errors
    parser = SourceParser(root)
    if corpus_schema:
        parser = SourceParser(root, schema=parser.corpus_schema(files))
    return {file.path: parser.parse(file.path, file.sha256)[0] for file in files}


def value_lineage_share(lineage: dict[str, FileLineage]) -> tuple[int, int]:
    """(CTAS output columns with a value edge, all CTAS output columns)."""
    covered = total = 0
    for file in lineage.values():
        declared = {d.table: d.columns for d in file.declarations if d.complete}
        for stmt in file.statements:
            if stmt.kind != "CREATE_TABLE_AS":
                continue
            (target,) = stmt.targets
            valued = {e.target for e in stmt.column_lineage if e.kind != "condition"}
            columns = [f"{target}.{column}" for column in declared[target]]
            total += len(columns)
            covered += sum(column in valued for column in columns)
    return covered, total


def test_there_are_enough_tpc_queries() -> None:
    assert len(CASES) >= 12
    assert all(case.sql.lstrip().upper().startswith("CREATE TABLE") for case in CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_tpc_query_with_the_folders_schema(folder: Path, case: Case) -> None:
    lineage = _parse(folder, corpus_schema=True)[f"marts/{case.name}.sql"]
    (stmt,) = lineage.statements
    expected = case.expected[0]
    assert stmt.error is None, stmt.error
    assert tuple(sorted(stmt.sources)) == expected.sources
    assert sorted(stmt.targets) == sorted(expected.targets or ())
    edges = {(e.source, e.target, e.kind) for e in stmt.column_lineage if e.kind != "condition"}
    assert expected.edges is not None
    assert edges == expected.edges, (
        f"missing {expected.edges - edges}, extra {edges - expected.edges}"
    )


def test_value_lineage_of_ctas_columns_with_and_without_the_schema(folder: Path) -> None:
    resolved = _parse(folder, corpus_schema=True)
    with_schema = value_lineage_share(resolved)
    without = value_lineage_share(_parse(folder, corpus_schema=False))
    print(
        f"\nCTAS output columns with value lineage: {with_schema[0]}/{with_schema[1]} "
        f"({with_schema[0] / with_schema[1]:.1%}) with the folder's schema, "
        f"{without[0]}/{without[1]} ({without[0] / without[1]:.1%}) without"
    )
    assert with_schema[1] == without[1] >= 50
    assert with_schema[0] / with_schema[1] >= 0.95
    assert without[0] < with_schema[0]
    # The coverage report agrees; the COUNT(*) columns have only their joins' and groups'
    # condition lineage.
    report = sum((file.coverage() for file in resolved.values()), Coverage())
    assert (report.value, report.total) == with_schema
    assert report.condition_only == with_schema[1] - with_schema[0] and not report.none
