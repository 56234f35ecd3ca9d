"""docs/ui-guide.md shows exactly the screenshots the UI test takes, and each one is in the repo."""

import re
from pathlib import Path

from lineage_dagster_tests.test_cli.test_asset_view_ui import DOCS_SCREENSHOTS, SCREENSHOTS

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "ui-guide.md"


def test_the_guide_shows_every_screenshot_the_ui_test_takes_in_order():
    images = re.findall(r"!\[[^\]]*\]\(images/ui/([^)]+)\)", GUIDE.read_text())
    assert tuple(images) == SCREENSHOTS


def test_every_screenshot_of_the_guide_is_committed():
    missing = [name for name in SCREENSHOTS if not (DOCS_SCREENSHOTS / name).is_file()]
    assert not missing, f"run the UI test with UPDATE_DOCS_SCREENSHOTS=1 to take {missing}"
