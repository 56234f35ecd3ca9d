"""Listing and reading the watched folder: partitions, safety checks and errors naming files."""

import os
import time
from pathlib import Path

import psutil
import pytest

from lineage_dagster.parsing import SqlFileError, SqlFileTimeoutError, SqlFileTooLargeError
from lineage_dagster.sources.files import (
    is_valid_partition_key,
    list_partitions,
    partition_key_problem,
    partition_of,
    read_source,
    scan_files,
    sha256_bytes,
    stat_listing,
)
from lineage_dagster_tests.test_faults.hung_mount import ANSWERS, hung_mount


@pytest.fixture
def tree(sql_root: Path) -> Path:
    (sql_root / "risk" / "var").mkdir(parents=True)
    (sql_root / "risk" / "var" / "daily.sql").write_text("SELECT 1")
    (sql_root / "risk" / "notes.txt").write_text("not sql")
    (sql_root / "finance").mkdir()
    (sql_root / "finance" / "gl.SQL").write_text("SELECT 2")
    (sql_root / "adhoc.sql").write_text("SELECT 3")
    (sql_root / ".hidden").mkdir()
    return sql_root


def test_partitions_are_top_level_folders_plus_root(tree: Path):
    assert list_partitions(tree) == ["finance", "risk", "_root"]
    assert partition_of("risk/var/daily.sql") == "risk"
    assert partition_of("adhoc.sql") == "_root"


def test_scan_lists_and_hashes_sql_files_of_one_partition(tree: Path):
    files, errors = scan_files(tree, "risk")
    assert errors == []
    assert [(f.path, f.sha256) for f in files] == [
        ("risk/var/daily.sql", sha256_bytes(b"SELECT 1"))
    ]
    assert [f.path for f in scan_files(tree, "_root")[0]] == ["adhoc.sql"]
    assert [path for path, _, _ in stat_listing(tree, "finance")] == ["finance/gl.SQL"]


@pytest.mark.faults
def test_links_leaving_the_root_are_refused(tree: Path, tmp_path: Path):
    outside = tmp_path / "secret.sql"
    outside.write_text("SELECT secret")
    (tree / "risk" / "escape.sql").symlink_to(outside)
    (tree / "risk" / "inside.sql").symlink_to(tree / "adhoc.sql")
    files, errors = scan_files(tree, "risk")
    assert [f.path for f in files] == ["risk/inside.sql", "risk/var/daily.sql"]
    assert [e.path for e in errors] == ["risk/escape.sql"]
    assert "outside the watched folder" in str(errors[0])
    with pytest.raises(SqlFileError, match=r"risk/escape\.sql"):
        read_source(tree, "risk/escape.sql")


def test_files_over_the_size_limit_fail_with_their_size(tree: Path):
    (tree / "risk" / "big.sql").write_text("SELECT 1;" * 100)
    files, errors = scan_files(tree, "risk", max_bytes=100)
    assert [f.path for f in files] == ["risk/var/daily.sql"]
    assert errors[0].path == "risk/big.sql"
    assert isinstance(errors[0], SqlFileTooLargeError)
    assert "900 bytes, over the limit of 100 bytes" in errors[0].message


@pytest.mark.parametrize(
    ("key", "valid"),
    [
        ("risk", True),
        ("a,b", False),
        ("a|b", False),
        ("a...b", False),
        ("", False),
        ("tab\there", False),
        ("reg_reporting-2024", True),
    ],
)
def test_partition_key_validity(key: str, valid: bool):
    assert is_valid_partition_key(key) is valid


@pytest.mark.faults
@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("q1\tq2", "its name contains a tab, newline or other control character"),
        ("line\nbreak", "its name contains a tab, newline or other control character"),
        ("a,b", "partition keys cannot contain ','"),
        ("a|b", "partition keys cannot contain '|'"),
        ("a...b", "partition keys cannot contain '...'"),
        ("", "its name is empty"),
        ("risk", None),
    ],
)
def test_each_unusable_folder_name_gets_its_own_reason(key: str, reason: str | None):
    assert partition_key_problem(key) == reason


@pytest.mark.faults
def test_only_regular_files_are_read(tree: Path):
    os.mkfifo(tree / "risk" / "fifo")  # reading a FIFO would block forever
    (tree / "risk" / "pipe.sql").symlink_to(tree / "risk" / "fifo")
    (tree / "risk" / "loop.sql").symlink_to(tree / "risk" / "loop.sql")
    files, errors = scan_files(tree, "risk")
    assert [f.path for f in files] == ["risk/var/daily.sql"]
    messages = {e.path: e.message for e in errors}
    assert "not a regular file" in messages["risk/pipe.sql"]
    assert "cannot be resolved" in messages["risk/loop.sql"]
    with pytest.raises(SqlFileError, match="not a regular file"):
        read_source(tree, "risk/pipe.sql")


@pytest.mark.faults
def test_a_folder_that_cannot_be_listed_is_an_error_not_a_failure(tree: Path):
    with hung_mount(tree / "risk" / "nfs", hangs=False):  # its denied/ cannot be listed
        files, errors = scan_files(tree, "risk")
        listing = stat_listing(tree, "risk")
    assert [f.path for f in files] == ["risk/nfs/answers.sql", "risk/var/daily.sql"]
    assert [(e.path, e.message) for e in errors] == [
        ("risk/nfs/denied/", "folder cannot be listed: Permission denied")
    ]
    assert [path for path, _, _ in listing] == ["risk/nfs/answers.sql", "risk/var/daily.sql"]


@pytest.mark.faults
def test_a_top_level_link_to_a_folder_is_not_a_partition(tree: Path, tmp_path: Path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "x.sql").write_text("SELECT 1")
    (tree / "linked").symlink_to(outside)
    assert "linked" not in list_partitions(tree)
    assert scan_files(tree, "linked") == ([], [])


@pytest.mark.faults
def test_a_file_or_folder_that_does_not_answer_is_an_error_and_the_rest_is_read(tree: Path):
    """On a hung mount (a real FUSE file system), one file's read and one folder's listing
    never answer: each is an error after the timeout, the mount's other file is read, and
    asking again soon after fails at once instead of waiting again."""
    with hung_mount(tree / "risk" / "nfs"):
        files, errors = scan_files(tree, "risk", timeout_seconds=1.0)
        started = time.monotonic()
        with pytest.raises(SqlFileTimeoutError, match=r"risk/nfs/hung\.sql: .*tried again once"):
            read_source(tree, "risk/nfs/hung.sql", timeout_seconds=1.0)
        assert time.monotonic() - started < 1.0
        assert read_source(tree, "risk/nfs/answers.sql") == ANSWERS
    assert [f.path for f in files] == ["risk/nfs/answers.sql", "risk/var/daily.sql"]
    assert {e.path: type(e) for e in errors} == {
        "risk/nfs/denied/": SqlFileError,
        "risk/nfs/stuck/": SqlFileError,
        "risk/nfs/hung.sql": SqlFileTimeoutError,
    }
    messages = " ".join(e.message for e in errors)
    assert messages.count("no answer from the file system within 1 s") == 2


@pytest.mark.faults
def test_a_helper_that_died_is_replaced(tree: Path):
    """The helper reading the folder is killed (as by the OOM killer): the read it was asked
    for fails with the file's path, and the next read gets a new helper."""
    assert read_source(tree, "adhoc.sql") == b"SELECT 3"
    [helper] = _live_helpers()
    helper.kill()
    helper.wait(10)
    with pytest.raises(SqlFileError, match=r"adhoc\.sql: cannot be read"):
        read_source(tree, "adhoc.sql")
    assert read_source(tree, "adhoc.sql") == b"SELECT 3"


def _live_helpers() -> list[psutil.Process]:
    """This process's running file-access helpers (abandoned ones may linger as zombies)."""
    helpers = []
    for child in psutil.Process().children():
        try:
            command = " ".join(child.cmdline())
            if child.status() != psutil.STATUS_ZOMBIE and "sources.file_access" in command:
                helpers.append(child)
        except psutil.Error:  # ended meanwhile
            continue
    return helpers
