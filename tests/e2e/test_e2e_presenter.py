"""Presenter mode for a projector (issue 26, part 6): from `?present=1` or the Present button, no sidebar, the canvas
wider, node text at 100% or more after Fit view, nothing cut or wrapped over the canvas at 1024x768."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.helpers import ARTIFACTS, metric_value, new_from_template, open_app, settle, wait_graph
from tests.e2e.test_e2e_reading import CUT_JS, ZOOM_JS


def pane_width(page) -> float:
    return page.locator(".react-flow__pane").bounding_box()["width"]


def test_presenter_mode_at_1024_by_768(browser, server):
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    try:
        open_app(page, server)
        new_from_template(page, "Small ResNet")
        g = wait_graph(page, lambda g: any(n.type == "Add" for n in g.nodes))
        settle(page)
        before = pane_width(page)

        page.get_by_role("button", name="Present").click()
        expect(page.get_by_role("button", name="Stop presenting")).to_be_visible(timeout=30_000)
        settle(page)
        expect(page.locator('[data-testid="stSidebar"]')).to_be_hidden()
        assert "present=1" in page.url
        assert pane_width(page) > before + 150  # the sidebar's room goes to the page
        assert page.evaluate(ZOOM_JS) >= 1  # node text at 13 px or more
        assert page.evaluate(CUT_JS, "canvas") == [] and page.evaluate(CUT_JS, "side") == []
        toolbar = page.locator(".lc-toolbar").bounding_box()
        assert toolbar["height"] < 44  # one line
        # No tooltip over the totals in the screenshot: the button's stays open when the button is drawn anew under
        # the pointer (its label changed), until the pointer enters and leaves it again.
        page.get_by_role("button", name="Stop presenting").hover()
        page.mouse.move(500, 400)
        page.wait_for_timeout(800)
        page.screenshot(path=str(ARTIFACTS / "presenter-1024.png"))

        # A reload, or the link with ?present=1, keeps it; the project is unchanged.
        page.reload()
        expect(page.get_by_role("button", name="Stop presenting")).to_be_visible(timeout=60_000)
        expect(metric_value(page, "Total params")).not_to_have_text("…", timeout=60_000)
        expect(page.locator('[data-testid="stSidebar"]')).to_be_hidden()
        assert wait_graph(page, lambda g: True).nodes == g.nodes

        page.set_viewport_size({"width": 1400, "height": 900})
        settle(page)
        page.get_by_role("button", name="Fit view").click()
        settle(page)
        assert page.evaluate(ZOOM_JS) >= 1 and page.evaluate(CUT_JS, "canvas") == []
        page.screenshot(path=str(ARTIFACTS / "presenter-1400.png"))

        page.get_by_role("button", name="Stop presenting").click()
        expect(page.locator('[data-testid="stSidebar"]')).to_be_visible(timeout=30_000)
        assert "present=1" not in page.url
    finally:
        page.close()
