"""Splitting procedural code at keywords: each statement becomes a piece, control flow goes.

``split_at_keywords`` sees the tokens of a batch that did not parse as one statement (T-SQL
written without semicolons, procedure bodies); these cases pin where it cuts.
"""

from __future__ import annotations

import pytest
from sqlglot.dialects.dialect import Dialect

from lineage_dagster.parsing.statements import split_at_keywords

CASES = [
    pytest.param(
        "tsql",
        "IF @full = 1 BEGIN DELETE FROM t END ELSE BEGIN UPDATE t SET a = 1 END",
        ["DELETE FROM t", "UPDATE t SET a = 1"],
        id="if-else-blocks",
    ),
    pytest.param(
        "tsql",
        "DECLARE @n INT SET @n = 1 INSERT INTO t (a) SELECT a FROM s",
        ["DECLARE @ n INT", "SET @ n = 1", "INSERT INTO t ( a ) SELECT a FROM s"],
        id="procedural-statements",
    ),
    pytest.param(
        "tsql",
        "BEGIN TRAN INSERT INTO t SELECT a FROM s COMMIT",
        ["BEGIN TRAN", "INSERT INTO t SELECT a FROM s", "COMMIT"],
        id="begin-transaction-is-a-statement",
    ),
    pytest.param(
        "tsql",
        "CREATE PROCEDURE dbo.p @x INT AS BEGIN INSERT INTO t SELECT a FROM s END",
        ["INSERT INTO t SELECT a FROM s"],
        id="routine-header-dropped",
    ),
    pytest.param(
        "oracle",
        "WHILE i < 10 LOOP INSERT INTO t VALUES (i) END LOOP",
        ["INSERT INTO t VALUES ( i )"],
        id="while-loop-end-loop",
    ),
    pytest.param(
        "oracle",
        "BEGIN IF x > 1 THEN DELETE FROM t END IF COMMIT END",
        ["DELETE FROM t", "COMMIT"],
        id="if-then-end-if",
    ),
    pytest.param(
        "tsql",
        "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = s.a "
        "WHEN MATCHED AND s.gone = 1 THEN DELETE SELECT 1",
        [
            "MERGE INTO t USING s ON t . id = s . id WHEN MATCHED THEN UPDATE SET a = s . a "
            "WHEN MATCHED AND s . gone = 1 THEN DELETE",
            "SELECT 1",
        ],
        id="merge-actions-stay",
    ),
    pytest.param(
        "tsql",
        "WITH c AS (SELECT a FROM s) INSERT INTO t SELECT a FROM c DELETE FROM s",
        ["WITH c AS ( SELECT a FROM s ) INSERT INTO t SELECT a FROM c", "DELETE FROM s"],
        id="cte-then-insert",
    ),
    pytest.param(
        "mysql",
        "CREATE ALGORITHM = MERGE VIEW v AS SELECT a FROM s",
        ["CREATE ALGORITHM = MERGE VIEW v AS SELECT a FROM s"],
        id="keyword-as-a-value",
    ),
    pytest.param(
        "tsql",
        "DROP TABLE IF EXISTS t CREATE TABLE t (a INT NOT NULL)",
        ["DROP TABLE IF EXISTS t", "CREATE TABLE t ( a INT NOT NULL )"],
        id="if-exists-is-no-control-flow",
    ),
    pytest.param(
        "tsql",
        "SELECT CASE WHEN a = 1 THEN 'x' END AS c FROM t UPDATE t SET a = 2",
        ["SELECT CASE WHEN a = 1 THEN x END AS c FROM t", "UPDATE t SET a = 2"],
        id="case-end-is-no-block",
    ),
    pytest.param(
        "tsql",
        "UPDATE t SET a = 1 SET @n = 2",
        ["UPDATE t SET a = 1", "SET @ n = 2"],
        id="second-set-after-update",
    ),
    pytest.param(
        "tsql",
        "INSERT INTO t SELECT a FROM s SELECT b FROM u",
        ["INSERT INTO t SELECT a FROM s", "SELECT b FROM u"],
        id="select-after-insert-query",
    ),
    pytest.param(
        "tsql",
        "DECLARE c CURSOR FOR SELECT a FROM t OPEN c",
        ["DECLARE c CURSOR FOR SELECT a FROM t", "OPEN c"],
        id="cursor-query",
    ),
    pytest.param(
        "tsql",
        "ALTER TABLE t ADD CONSTRAINT k FOREIGN KEY (a) REFERENCES u (a) ON DELETE CASCADE",
        ["ALTER TABLE t ADD CONSTRAINT k FOREIGN KEY ( a ) REFERENCES u ( a ) ON DELETE CASCADE"],
        id="on-delete-clause",
    ),
    pytest.param(
        "tsql",
        "SELECT a FROM (SELECT a FROM s) x INSERT INTO t SELECT 1",
        ["SELECT a FROM ( SELECT a FROM s ) x", "INSERT INTO t SELECT 1"],
        id="parentheses-hold-no-statement",
    ),
]


@pytest.mark.parametrize(("dialect", "sql", "pieces"), CASES)
def test_split_at_keywords(dialect: str, sql: str, pieces: list[str]) -> None:
    tokens = Dialect.get_or_raise(dialect).tokenize(sql)
    assert [" ".join(token.text for token in piece) for piece in split_at_keywords(tokens)] == (
        pieces
    )


def test_split_at_keywords_keeps_every_token_in_order() -> None:
    sql = "DECLARE @n INT SET @n = (SELECT COUNT(*) FROM s) INSERT INTO t SELECT a FROM s"
    tokens = Dialect.get_or_raise("tsql").tokenize(sql)
    kept = [token for piece in split_at_keywords(tokens) for token in piece]
    assert kept == tokens
