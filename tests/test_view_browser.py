"""`plabel view` in a real browser: the server on a real socket (uvicorn in a thread), Debian's
headless Chromium driven by Playwright. Opens the overview, filters the grid by class and
confidence, pages, opens an image, reviews it with the keyboard (and finds the review with
`plabel sql`), compares two rounds through a flip-matrix cell, runs a SQL query and a cookbook
recipe. No console error is allowed: a Content-Security-Policy violation is one.

Screenshots go to $PLABEL_VIEW_SCREENSHOTS when set (docs/images for docs/view.md), else to the
test's temporary folder."""
import os
from pathlib import Path

import pytest

from plabel.view.options import ViewOptions
from plabel.view.serve import running
from tests.view_workspace import view_workspace

pytestmark = pytest.mark.browser  # the `browser` fixture: tests/conftest.py


def test_browse_filter_page_review_compare_and_query(browser, tmp_path, mnist_folders, cli):
    ws, ids = view_workspace(tmp_path / "ws", mnist_folders)
    shots = Path(os.environ.get("PLABEL_VIEW_SCREENSHOTS") or tmp_path)
    with running(ws, ViewOptions(port=0, reviewer="browser-test")) as s:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        page.goto(s.url)
        assert page.locator("#rounds tbody tr").count() == 2
        page.screenshot(path=str(shots / "view-overview.png"), full_page=True)

        with page.expect_navigation():
            page.locator("#rounds a", has_text="images").first.click()  # round 0's grid
        page.select_option("select[name=class_id]", "4")
        page.fill("input[name=min]", "0.3")
        with page.expect_navigation():
            page.click("#filters button[type=submit]")
        labels = page.locator(".card .label").all_inner_texts()
        assert labels and all(t.startswith("ok ") for t in labels)
        assert all(float(t.split()[-1]) >= 0.3 for t in labels)
        page.screenshot(path=str(shots / "view-grid.png"), full_page=True)

        page.goto(s.url + "round/0?limit=10")
        first = page.locator(".card").evaluate_all("cs => cs.map(c => c.dataset.image)")
        with page.expect_navigation():
            page.click("#next")
        second = page.locator(".card").evaluate_all("cs => cs.map(c => c.dataset.image)")
        assert len(first) == len(second) == 10 and not set(first) & set(second)

        with page.expect_navigation():
            page.locator(".card a").first.click()  # an image page
        page.wait_for_function("() => { const i = document.getElementById('full'); "
                               "return i && i.complete && i.naturalWidth > 0; }")
        assert page.locator("#predictions tbody tr").count() == 2
        page.screenshot(path=str(shots / "view-image.png"), full_page=True)
        reviewed = page.url.split("/image/")[1].split("?")[0]
        with page.expect_navigation():
            page.keyboard.press("a")  # accept, from the keyboard
        assert "browser-test" in page.locator("#reviews").inner_text()
        r = cli("sql", "SELECT image_id, annotator FROM reviews", "--format", "csv", "-w", ws.root)
        assert r.exit_code == 0 and f"\"{reviewed}\",\"browser-test\"" in r.stdout

        page.goto(s.url + "round/0?limit=5")
        page.keyboard.press("j")  # the first card
        card = page.evaluate("document.activeElement.dataset.image")
        page.keyboard.press("l")  # its class field
        page.keyboard.type("six")
        with page.expect_navigation():
            page.keyboard.press("Enter")  # relabel, from the keyboard
        r = cli("sql", "SELECT image_id, label FROM reviews", "--format", "csv", "-w", ws.root)
        assert f"\"{card}\",\"six\"" in r.stdout, r.stdout

        page.goto(s.url + "compare?a=0&b=1")
        page.screenshot(path=str(shots / "view-compare.png"), full_page=True)
        cell = page.locator("#matrix td.flip a").first
        expected = int(cell.inner_text())
        with page.expect_navigation():
            cell.click()
        assert page.locator(".card").count() == min(expected, 60)
        assert all(t.startswith("was ") for t in page.locator(".card .flip").all_inner_texts())

        page.goto(s.url + "sql")
        page.fill("textarea[name=q]", "SELECT split, count(*) AS images FROM images GROUP BY split")
        with page.expect_navigation():
            page.click("#sql-form button[type=submit]")
        assert page.locator("#result tbody tr").inner_text().split() == ["unlabeled", str(len(ids))]
        page.click("#cookbook summary")
        with page.expect_navigation():
            page.locator("#cookbook a", has_text="The drift summary").click()
        assert page.locator("#result tbody tr").count() >= 1
        page.screenshot(path=str(shots / "view-sql.png"), full_page=True)
        page.close()
    assert not errors, errors
