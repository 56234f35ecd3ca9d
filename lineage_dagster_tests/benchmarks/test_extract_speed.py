"""Extraction speed against bare ``sqlglot.parse`` on the financial corpus, side by side.

Run with ``pytest -m benchmark -s lineage_dagster_tests/benchmarks``. Prints statements per
second for bare parsing, table-level extraction and full column-level extraction, measured
in interleaved rounds in one process, and their ratios. Only counts are asserted: timings on
shared machines are too noisy to assert.
"""

from __future__ import annotations

import gc
import re
import statistics
import time
from pathlib import Path

import pytest
import sqlglot

from lineage_dagster.parsing import (
    compiled_sqlglot,
    dialect_from_comment,
    extract_lineage,
    tune_gc_for_parsing,
)
from lineage_dagster_tests.benchmarks.corpus import write_corpus

ROUNDS = 3
_GO = re.compile(r"^GO$", re.MULTILINE)


def _bare(corpus: list[tuple[str, str | None, str]]) -> int:
    count = 0
    for _, dialect, bare_text in corpus:
        count += len(sqlglot.parse(bare_text, read=dialect))
    return count


def _extract(corpus: list[tuple[str, str | None, str]], *, columns: bool) -> int:
    count = 0
    for text, dialect, _ in corpus:
        lineage = extract_lineage(text, dialect=dialect, columns=columns)
        assert not lineage.errors, [s.error for s in lineage.errors]
        count += len(lineage.statements)
    return count


@pytest.mark.benchmark
def test_extraction_speed_against_bare_parse(tmp_path: Path) -> None:
    paths = write_corpus(tmp_path, files=1000, seed=0)
    corpus = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        # sqlglot.parse does not know T-SQL's GO separator: give it semicolons instead.
        corpus.append((text, dialect_from_comment(text), _GO.sub(";", text)))
    tune_gc_for_parsing()
    runs: dict[str, list[float]] = {"bare parse": [], "table lineage": [], "column lineage": []}
    counts: dict[str, int] = {}
    measures = {
        "bare parse": lambda: _bare(corpus),
        "table lineage": lambda: _extract(corpus, columns=False),
        "column lineage": lambda: _extract(corpus, columns=True),
    }
    names = list(measures)
    for round_index in range(ROUNDS):
        # Rotate the order so no measure always runs first (warm caches, CPU boost).
        order = names[round_index % 3 :] + names[: round_index % 3]
        for name in order:
            gc.collect()
            start = time.perf_counter()
            counts[name] = measures[name]()
            runs[name].append(time.perf_counter() - start)
    statements = counts["bare parse"]
    bare = statistics.median(runs["bare parse"])
    print(f"\ncorpus: {len(paths)} files, {statements} statements; sqlglotc: {compiled_sqlglot()}")
    for name in names:
        seconds = statistics.median(runs[name])
        rate = counts[name] / seconds
        print(
            f"{name:>15}: {rate:8.0f} statements/s  ({seconds:.2f} s median of {ROUNDS}; "
            f"{bare / seconds:6.1%} of bare-parse speed)"
        )
    # Extraction splits DROP/GO batches the same way sqlglot splits semicolons.
    assert counts["table lineage"] == counts["column lineage"] == statements
