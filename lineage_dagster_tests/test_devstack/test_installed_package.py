"""The project installed two ways. As a package (not editable): a wheel built from the checkout
holds the package and its sample corpus but not the Maven launcher of the local Neo4j, so
`lineage-dagster neo4j start` from that install says in one sentence what to do instead of
failing with a traceback. Editable, as `make install` does: no build warning is printed."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The wheel of the checkout, and the folder it is installed into (dependencies are the
    test environment's own)."""
    root = tmp_path_factory.mktemp("installed")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(root), str(PROJECT)],
        check=True,
        capture_output=True,
    )
    [wheel] = root.glob("lineage_dagster-*.whl")
    target = root / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), wheel],
        check=True,
        capture_output=True,
    )
    return wheel, target


def test_the_wheel_has_the_package_and_the_sample_but_no_launcher(installed):
    wheel, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    assert "lineage_dagster/cli/neo4j.py" in names
    assert any(name.startswith("lineage_dagster/sample_corpus/risk/") for name in names)
    assert not any("neo4j-launcher" in name or name.endswith(".java") for name in names)
    assert not any(name.startswith("lineage_dagster_tests/") for name in names)


def test_neo4j_start_from_the_installed_package_says_what_to_do(installed, tmp_path: Path):
    _, target = installed
    result = subprocess.run(
        [sys.executable, "-m", "lineage_dagster.cli", "neo4j", "start", "--port", "1"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: The local Neo4j is built from the neo4j-launcher/ folder")
    assert "NEO4J_URI" in line
    # The package that ran is the installed one, not the checkout.
    where = subprocess.run(
        [sys.executable, "-c", "import lineage_dagster; print(lineage_dagster.__file__)"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(target)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.strip().startswith(str(target))


def test_the_editable_install_of_make_install_prints_no_warning(tmp_path: Path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    # The test environment's pip (the one `make install` upgrades to) installs into the new venv.
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python")]
    result = subprocess.run(
        [*pip, "install", "-q", "--no-deps", "-e", str(PROJECT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout + result.stderr == ""
    [pth] = (venv / "lib").glob("python3*/site-packages/__editable__.lineage_dagster-*.pth")
    assert pth.read_text().strip() == str(PROJECT)
