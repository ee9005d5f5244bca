"""The report rendered in a real browser: headless Chromium from Debian's packages (installed by
.ci/run), driven by Playwright. Skipped, with the reason, where no browser is installed."""
import pytest

from plabel.report import write_report
from plabel.workspace import init_workspace
from tests.tables import three_rounds

pytestmark = pytest.mark.browser  # the `browser` fixture: tests/conftest.py


def test_report_renders_without_errors(browser, tmp_path):
    ws = init_workspace(tmp_path / "ws")
    three_rounds(ws)
    report = write_report(ws, output=tmp_path / "report.html")
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    failed = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.goto(f"file://{report.path}")
    page.wait_for_load_state("load")
    assert errors == [] and failed == []
    for section in report.sections:
        box = page.locator(f"section#{section}").bounding_box()
        assert box and box["height"] > 40, section
    plots = page.locator("div.plot")
    assert plots.count() >= 6
    for i in range(plots.count()):
        svg = plots.nth(i).locator("svg")
        assert svg.count() == 1 and svg.bounding_box()["width"] > 100
    # nothing overflows the page sideways (wide tables or image rows would)
    assert page.evaluate("document.documentElement.scrollWidth") <= 1300
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert (tmp_path / "report.png").stat().st_size > 10_000
    page.close()
