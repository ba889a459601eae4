"""No click is dropped (issue 23, part 5).

- A click that lands while a long rerun runs is applied: a sidebar link, and a button. The page records the script
  state at the moment of each click, so the test knows the click did land during a run.
- Nothing on the page moves or is drawn anew because a message came or went: a button that jumps loses the click
  aimed at it, and the browser loses a click (or a drag, a scroll, an open expander) on an element it replaces.
  Messages are toasts over the page; the canvas keeps its DOM element.
"""

from __future__ import annotations

import time

from playwright.sync_api import expect

from tests.e2e.helpers import canvas_node, go_to, metric_value, new_from_template, open_app, settle

RUNNING = "() => document.querySelector('[data-testid=\"stApp\"]')?.getAttribute('data-test-script-state') === 'running'"

# Each click, with the script state at that moment (captured before the app's own handlers run).
WATCH_CLICKS = """() => {
    window.__clicks = [];
    document.addEventListener('click', (e) => window.__clicks.push({
        text: (e.target.closest('a, button') || e.target).innerText.trim().slice(0, 40),
        state: document.querySelector('[data-testid="stApp"]').getAttribute('data-test-script-state'),
    }), true);
}"""

# The canvas's host element gets a mark; the same element still has it later, a new one does not.
MARK = """() => {
    const host = [...document.querySelectorAll('*')].map((e) => e.shadowRoot?.querySelector('.lc-host')).find(Boolean);
    if (host.__mark === undefined) host.__mark = Math.random();
    return host.__mark;
}"""


def last_click(page) -> dict:
    return page.evaluate("() => window.__clicks[window.__clicks.length - 1]")


def test_a_click_during_a_long_rerun_is_applied(page, server):
    open_app(page, server)
    go_to(page, "Export", page.locator(".st-key-prepare-savedmodel button"))
    page.evaluate(WATCH_CLICKS)

    # A button: SavedModel is being prepared (seconds), and ONNX's Prepare is clicked once meanwhile.
    page.locator(".st-key-prepare-savedmodel button").click()
    page.wait_for_function(RUNNING, polling=20)
    page.locator(".st-key-prepare-onnx button").click()
    assert last_click(page)["text"].endswith("Prepare") and last_click(page)["state"] == "running"
    expect(page.locator(".st-key-download-savedmodel button")).to_be_visible(timeout=120_000)
    expect(page.locator(".st-key-download-onnx button")).to_be_visible(timeout=120_000)
    settle(page)

    # A sidebar link: a TFLite file is being prepared, and Train is clicked once meanwhile.
    page.locator(".st-key-prepare-tflite button").click()
    page.wait_for_function(RUNNING, polling=20)
    page.get_by_role("link", name="Train", exact=True).click()
    assert last_click(page)["text"].endswith("Train") and last_click(page)["state"] == "running"
    expect(page.get_by_role("button", name="Start training")).to_be_visible(timeout=120_000)
    # The file the first click asked for was made all the same.
    go_to(page, "Export", page.locator(".st-key-download-tflite button"))


def test_nothing_moves_and_the_canvas_is_not_drawn_anew_when_a_message_comes_or_goes(page, server):
    page.goto(server)
    metric_value(page, "Total params").wait_for(timeout=120_000)
    settle(page)
    mark = page.evaluate(MARK)
    top = page.locator(".react-flow__pane").bounding_box()["y"]
    # A message comes: "New project: …", as a toast over the page's corner.
    new_from_template(page, "MLP 4")
    message = page.get_by_text("New project:")
    expect(message).to_be_visible(timeout=30_000)
    settle(page)
    assert page.evaluate(MARK) == mark
    assert page.locator(".react-flow__pane").bounding_box()["y"] == top
    # It goes by itself; the page stays where it was, and a click on a layer lands.
    expect(message).to_have_count(0, timeout=30_000)
    assert page.locator(".react-flow__pane").bounding_box()["y"] == top
    canvas_node(page, "input").locator(".lc-head").click()
    expect(page.get_by_role("textbox", name="Name (id)")).to_have_value("input", timeout=30_000)
    settle(page)
    assert page.evaluate(MARK) == mark


def test_back_on_the_build_page_the_canvas_sends_nothing_of_its_own(page, server):
    """The canvas says it has painted only when Python waits for that (a session's first paint). Drawn again on
    a later visit it sends nothing: its rerun would be one more, and one sent just after a click on a sidebar link
    carries the old page and takes the click's place."""
    sent = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(time.monotonic())))
    open_app(page, server)
    go_to(page, "Train", page.get_by_role("button", name="Start training"))
    since = time.monotonic()
    page.get_by_role("link", name="Build", exact=True).click()
    expect(canvas_node(page, "output")).to_be_visible(timeout=30_000)
    settle(page)
    assert len([t for t in sent if t > since]) == 1  # the click's own rerun, nothing after it
