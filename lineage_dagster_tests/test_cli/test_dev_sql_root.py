"""What `make dev` watches: by default a copy of the sample corpus under the state folder, which
git ignores, so files a user drops there never dirty the checkout; `make dev SQL_ROOT=...`
passes the folder on to `lineage-dagster dev --sql-root`."""

import os
import subprocess
from pathlib import Path

import pytest

from lineage_dagster.cli.dev import SAMPLE_CORPUS, sample_copy

PROJECT = Path(__file__).resolve().parents[2]


def _relative_files(root: Path) -> set[str]:
    return {path.relative_to(root).as_posix() for path in root.rglob("*.sql")}


def test_the_sample_is_copied_once_and_then_kept_as_the_user_left_it(tmp_path: Path):
    folder = sample_copy(tmp_path / "state" / "sql")
    assert _relative_files(folder) == _relative_files(SAMPLE_CORPUS)
    (folder / "risk" / "new.sql").write_text("INSERT INTO risk.a SELECT b FROM risk.c;\n")
    next(folder.rglob("*.sql")).unlink()
    before = _relative_files(folder)
    assert sample_copy(folder) == folder
    assert _relative_files(folder) == before


def test_files_dropped_into_the_default_folder_are_ignored_by_git():
    if not (PROJECT / ".git").exists():
        pytest.skip("not a git checkout")
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".lineage/sql/risk/new.sql"], cwd=PROJECT, check=False
    )
    assert ignored.returncode == 0


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["SQL_ROOT=/data/my scripts"], "lineage-dagster dev --sql-root '/data/my scripts'"),
        ([], "lineage-dagster dev"),
    ],
)
def test_make_dev_passes_sql_root_on(args: list[str], expected: str):
    # Under `make test` the parent make's variables would make this one print its directory.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    dry_run = subprocess.run(
        ["make", "-n", "dev", *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert dry_run.stdout.splitlines()[-1].strip().endswith(expected)
