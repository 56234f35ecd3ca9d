"""Extraction speed against bare ``sqlglot.parse`` on the financial corpus, side by side.

Run with ``pytest -m benchmark -s lineage_dagster_tests/benchmarks/test_extract_speed.py``.
Prints statements per second (of CPU time) for bare parsing, table-level extraction, full
column-level extraction and the folder-schema declarations pass, measured side by side on the
same batches in one process, and their ratios, and the CPU time the garbage collector took in
each (sqlglot trees hold reference cycles that only the collector frees, unless extraction
unlinks them, which it does). Only counts are asserted: timings on shared machines are too
noisy to assert.
"""

from __future__ import annotations

import gc
import re
import time
import tracemalloc
from pathlib import Path

import pytest
import sqlglot

from lineage_dagster.parsing import (
    compiled_sqlglot,
    dialect_from_comment,
    extract_declarations,
    extract_lineage,
    tune_gc_for_parsing,
)
from lineage_dagster_tests.benchmarks.corpus import write_corpus

ROUNDS = 3
BATCH = 100
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


def _declarations(corpus: list[tuple[str, str | None, str]]) -> int:
    """The folder-schema pass of a cold plan step: the statements' column declarations."""
    for text, dialect, _ in corpus:
        extract_declarations(text.encode(), dialect=dialect)
    return 0  # counted as the corpus' statements: it covers all of them


class _GcClock:
    """CPU seconds spent in the garbage collector, read through ``gc.callbacks``."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.process_time()
        else:
            self.seconds += time.process_time() - self._start


@pytest.mark.benchmark
def test_extraction_speed_against_bare_parse(tmp_path: Path) -> None:
    paths = write_corpus(tmp_path, files=1000, seed=0)
    corpus = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        # sqlglot.parse does not know T-SQL's GO separator: give it semicolons instead.
        corpus.append((text, dialect_from_comment(text), _GO.sub(";", text)))
    tune_gc_for_parsing()
    measures = {
        "bare parse": lambda batch: _bare(batch),
        "table lineage": lambda batch: _extract(batch, columns=False),
        "column lineage": lambda batch: _extract(batch, columns=True),
        "declarations": lambda batch: _declarations(batch),
    }
    batches = [corpus[i : i + BATCH] for i in range(0, len(corpus), BATCH)]
    # Shared machines are noisy: run the three measures side by side on each batch, several
    # rounds, keep each batch's fastest time per measure and add them up.
    best = {name: [float("inf")] * len(batches) for name in measures}
    counts = dict.fromkeys(measures, 0)
    gc_seconds = dict.fromkeys(measures, 0.0)
    clock = _GcClock()
    gc.callbacks.append(clock)
    for round_index in range(ROUNDS):
        for b, batch in enumerate(batches):
            names = list(measures)
            # Rotate the order so no measure always runs first.
            turn = (round_index + b) % len(names)
            names = names[turn:] + names[:turn]
            for name in names:
                gc.collect()
                # CPU time of this process: other processes on a shared machine do not count.
                start = time.process_time()
                in_gc = clock.seconds
                count = measures[name](batch)
                best[name][b] = min(best[name][b], time.process_time() - start)
                if round_index == 0:
                    counts[name] += count
                    gc_seconds[name] += clock.seconds - in_gc
    gc.callbacks.remove(clock)
    totals = {name: sum(times) for name, times in best.items()}
    statements = counts["bare parse"]
    print(f"\ncorpus: {len(paths)} files, {statements} statements; sqlglotc: {compiled_sqlglot()}")
    for name, seconds in totals.items():
        print(
            f"{name:>15}: {(counts[name] or statements) / seconds:8.0f} statements/s  "
            f"({seconds:.2f} CPU s, "
            f"{totals['bare parse'] / seconds:6.1%} of bare-parse speed; first round "
            f"{gc_seconds[name]:.2f} CPU s in the garbage collector)"
        )
    # Streaming keeps one statement's tree at a time: the peak stays far below the corpus'
    # trees (measured apart from the timings, as tracing slows Python down).
    tracemalloc.start()
    _extract(corpus, columns=True)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    text_bytes = sum(len(text) for text, _, _ in corpus)
    print(
        f"peak memory traced during column extraction of the whole corpus: {peak / 2**20:.1f} MiB "
        f"(corpus text {text_bytes / 2**20:.1f} MiB)"
    )
    # Extraction splits GO batches the same way sqlglot splits semicolons.
    assert counts["table lineage"] == counts["column lineage"] == statements
