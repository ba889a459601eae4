"""Training in a real browser: start, watch the curves grow, stop, see the final metrics and the run."""

import re
import time

from playwright.sync_api import expect

from tests.e2e.helpers import ARTIFACTS, POINTS, chart_points, go_to, metric_value, settle, start_training


def test_train_watch_the_curves_grow_stop_and_see_results(page, server):
    start_training(page, server, epochs=3000)
    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    deadline = time.time() + 60
    first = 0
    while first < 5 and time.time() < deadline:  # some epochs in
        page.wait_for_timeout(500)
        first = chart_points(page)
    assert first >= 5, first
    # The curves grow while it trains.
    page.wait_for_function(f"n => ({POINTS})().some(c => c > n)", arg=first, timeout=60_000)
    expect(page.get_by_text("Training: epoch")).to_be_visible()
    page.get_by_role("button", name="Stop").click()
    expect(page.get_by_text("Stopped after").or_(page.get_by_text("Stopped during"))).to_be_visible(timeout=60_000)
    expect(metric_value(page, "Test accuracy")).to_have_text(re.compile(r"^(0\.\d{4}|1\.0000)$"))
    expect(page.get_by_text("Confusion matrix (test data)")).to_be_visible()
    assert page.get_by_role("button", name="Start training").is_enabled()
    # The run is in the project's history.
    go_to(page, "Runs", page.get_by_text("This project", exact=True))
    expect(page.get_by_text("No runs yet")).to_have_count(0)
    expect(page.locator('[data-testid="stDataFrame"]').first).to_be_visible()


def test_freeze_view_opens_full_size_and_a_click_freezes_a_layer(page, server):
    page.goto(server)
    metric_value(page, "Total params").wait_for(timeout=120_000)
    go_to(page, "Train", page.get_by_role("button", name="Start training"))
    page.locator('[data-testid="stExpander"] summary').filter(has_text="Freeze layers").click()
    view = page.locator("iframe[title='streamlit_agraph.agraph']")
    expect(view).to_be_visible(timeout=30_000)
    settle(page)
    box = view.bounding_box()
    assert box["height"] >= 300, box  # it used to be drawn folded, 0 px tall, and stay so
    expect(metric_value(page, "Non-trainable params")).to_have_text("0")
    # The iris MLP is laid out top to bottom: input, dense (80 params), dense_1, output. Find dense.
    canvas = page.frame_locator("iframe[title='streamlit_agraph.agraph']").locator("canvas").first
    expect(canvas).to_be_visible(timeout=30_000)
    frozen = metric_value(page, "Non-trainable params")
    for fraction in [0.41, 0.38, 0.44, 0.35, 0.47]:
        settle(page)
        view.scroll_into_view_if_needed()
        b = canvas.bounding_box()
        page.mouse.click(b["x"] + b["width"] / 2, b["y"] + b["height"] * fraction)
        settle(page)
        if frozen.inner_text() == "80":
            break
    expect(frozen).to_have_text("80")
    expect(page.get_by_text("dense is now frozen")).to_be_visible()
    view.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "freeze-clicked.png"))
