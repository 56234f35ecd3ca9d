"""Every SQL fixture of ``fixtures/sql``: exact sources, targets and column edges per statement.

Expectations were written by reading the SQL, not by recording the extractor's output.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from lineage_dagster.parsing import SchemaIndex, extract_declarations, extract_lineage
from lineage_dagster.sources.corpus_schema import merge_declarations
from lineage_dagster_tests.test_parsing.fixture_cases import Case, load_cases

CASES = load_cases()


def test_there_are_a_few_hundred_fixtures() -> None:
    assert len(CASES) >= 200
    assert len({case.name for case in CASES}) == len(CASES), "case names must be unique"


@pytest.mark.parametrize("case", CASES, ids=[f"{c.file}::{c.name}" for c in CASES])
def test_fixture(case: Case) -> None:
    schema: Mapping[str, Any] | SchemaIndex | None = case.schema
    if case.schema_declared:
        declared = extract_declarations(
            case.sql.encode(), dialect=case.dialect, default_schema=case.default_schema
        )
        schema = merge_declarations([(case.file, declared)])
    lineage = extract_lineage(
        case.sql, dialect=case.dialect, schema=schema, default_schema=case.default_schema
    )
    statements = lineage.statements
    if case.statements is not None:
        assert len(statements) == case.statements, [s.kind for s in statements]
    for index, expected in sorted(case.expected.items()):
        assert index < len(statements), f"no statement {index}: {[s.kind for s in statements]}"
        stmt = statements[index]
        if expected.error is not None:
            assert stmt.error is not None, f"statement {index} should fail"
            assert expected.error in stmt.error.message
            continue
        assert stmt.error is None, stmt.error
        if expected.kind is not None:
            assert stmt.kind == expected.kind
        if expected.line is not None:
            assert stmt.line == expected.line, f"line of statement {index}"
        if expected.sources is not None:
            assert tuple(sorted(stmt.sources)) == expected.sources, f"sources of {index}"
        if expected.targets is not None:
            assert sorted(stmt.targets) == sorted(expected.targets), f"targets of {index}"
        edges = {(e.source, e.target, e.kind) for e in stmt.column_lineage if e.kind != "condition"}
        if expected.edges is not None:
            missing = expected.edges - edges
            extra = edges - expected.edges
            assert not missing and not extra, f"statement {index}: missing {missing}, extra {extra}"
        if expected.conditions is not None:
            conditions = {
                (e.source, e.target) for e in stmt.column_lineage if e.kind == "condition"
            }
            assert conditions == expected.conditions, f"conditions of statement {index}"
