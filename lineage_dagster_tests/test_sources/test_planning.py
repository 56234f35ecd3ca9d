"""Planning an ingest: what changed since the graph was loaded, and size-balanced batches."""

import pytest

from lineage_dagster.sources.files import SourceFile
from lineage_dagster.sources.planning import (
    LoadedFile,
    diff_files,
    group_by_size,
    plan_batches,
    plan_parse_batches,
)


def _src(path: str, sha: str = "s", size: int = 10) -> SourceFile:
    return SourceFile(path, size, 0, sha)


def test_diff_finds_new_changed_deleted_and_unchanged():
    current = [_src("r/a.sql", "1"), _src("r/b.sql", "2"), _src("r/new.sql", "3")]
    loaded = {
        "r/a.sql": LoadedFile("r/a.sql", "1", "v1"),
        "r/b.sql": LoadedFile("r/b.sql", "old", "v1"),
        "r/gone.sql": LoadedFile("r/gone.sql", "9", "v1"),
    }
    changes = diff_files(current, loaded, extractor_version="v1")
    assert [f.path for f in changes.to_load] == ["r/b.sql", "r/new.sql"]
    assert changes.deleted == ("r/gone.sql",)
    assert changes.unchanged == 1


def test_a_new_extractor_version_or_full_refresh_reloads_everything():
    current = [_src("r/a.sql", "1")]
    loaded = {"r/a.sql": LoadedFile("r/a.sql", "1", "v1")}
    assert len(diff_files(current, loaded, extractor_version="v2").to_load) == 1
    assert len(diff_files(current, loaded, extractor_version="v1", full_refresh=True).to_load) == 1
    assert diff_files(current, loaded, extractor_version="v1").to_load == ()


def test_unreadable_files_are_not_treated_as_deleted():
    loaded = {"r/big.sql": LoadedFile("r/big.sql", "1", "v1")}
    changes = diff_files([], loaded, extractor_version="v1", unreadable=["r/big.sql"])
    assert changes.deleted == ()


@pytest.mark.parametrize("count", [1, 2, 3, 7, 50])
def test_batches_cover_every_file_once_and_balance_sizes(count: int):
    files = [_src(f"f{i:02d}.sql", size=(i * 37) % 101 + 1) for i in range(40)]
    batches = plan_batches(files, count)
    assert len(batches) == min(count, len(files))
    paths = [path for batch in batches for path in batch.paths]
    assert sorted(paths) == sorted(f.path for f in files)
    assert sum(b.size for b in batches) == sum(f.size for f in files)
    largest = max(f.size for f in files)
    # LPT keeps every batch within one file of the ideal share.
    assert max(b.size for b in batches) - min(b.size for b in batches) <= largest
    assert len({b.mapping_key for b in batches}) == len(batches)


def test_no_files_no_batches():
    assert plan_batches([], 4) == []


@pytest.mark.parametrize(
    ("sizes", "max_items", "max_size"),
    [([3] * 10, 4, 100), ([50, 60, 10, 10, 200, 5], 10, 100), ([], 3, 10), ([1] * 7, 1, 1)],
)
def test_transaction_groups_cover_items_in_order_within_bounds(sizes, max_items, max_size):
    groups = group_by_size(sizes, max_items=max_items, max_size=max_size)
    assert [i for group in groups for i in group] == list(range(len(sizes)))
    for group in groups:
        assert len(group) <= max_items
        total = sum(sizes[i] for i in group)
        assert total <= max_size or len(group) == 1  # only a single oversized file may exceed


def test_small_partitions_get_few_parse_steps():
    files = [_src(f"r/{i:02d}.sql", sha=str(i), size=100_000) for i in range(20)]  # 2 MB
    plan = plan_parse_batches(files, max_batches=6, min_batch_bytes=512_000)
    assert len(plan) == 4  # 2 MB in batches of at least 512 KB, not one per worker slot
    assert sorted(p for b in plan for p in b.paths) == [f.path for f in files]
    one = plan_parse_batches(files[:3], max_batches=6, min_batch_bytes=512_000)
    assert [len(b.paths) for b in one] == [3]
    big = plan_parse_batches(files, max_batches=3, min_batch_bytes=1)
    assert len(big) == 3
    assert plan_parse_batches([], max_batches=6, min_batch_bytes=1) == []


def test_copies_of_a_file_share_its_batch_after_it():
    files = [_src(f"r/{i}.sql", sha=f"s{i}", size=300_000) for i in range(4)]
    files += [_src("x/copy0.sql", sha="s0", size=300_000), _src("y/copy0.sql", sha="s0")]
    plan = plan_parse_batches(files, max_batches=6, min_batch_bytes=300_000)
    assert len(plan) == 4  # four distinct contents to parse
    [batch] = [b for b in plan if "r/0.sql" in b.paths]
    assert batch.paths == ("r/0.sql", "x/copy0.sql", "y/copy0.sql")


@pytest.mark.faults
def test_files_under_a_folder_that_cannot_be_listed_are_kept():
    loaded = {
        "r/private/a.sql": LoadedFile("r/private/a.sql", "1", "v1"),
        "r/gone.sql": LoadedFile("r/gone.sql", "2", "v1"),
    }
    changes = diff_files([], loaded, extractor_version="v1", unreadable=["r/private/"])
    assert changes.deleted == ("r/gone.sql",)
