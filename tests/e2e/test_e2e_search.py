"""A design-space search in a real browser: mark Dense units as searched in the inspector, run a 4-trial search on
the Train page, see the table and the chart, apply the best trial."""

from playwright.sync_api import expect

from tests.e2e.helpers import canvas_node, go_to, metric_value, settle, wait_graph


def test_mark_units_run_a_4_trial_search_and_apply_the_best(page, server):
    page.goto(server)
    expect(metric_value(page, "Total params")).to_have_text("243", timeout=120_000)  # the iris classifier
    settle(page)
    # Select the first Dense and mark its units for search: 4, 8, 32, 64.
    canvas_node(page, "dense").click()
    search_box = page.locator('[data-testid="stExpander"]').filter(has_text="try several values")
    search_box.locator("summary").click()
    search_box.get_by_role("textbox", name="Values to try").wait_for(timeout=30_000)
    search_box.get_by_role("textbox", name="Values to try").fill("4, 8, 32, 64")
    search_box.get_by_role("button", name="Search it").click()
    graph = wait_graph(page, lambda g: "search" in g.extra)
    assert graph.extra["search"]["space"] == {"dense.units": {"values": [4, 8, 32, 64]}}
    expect(page.get_by_text("Searched: 4, 8, 32 or 64")).to_be_visible(timeout=30_000)
    expect(canvas_node(page, "dense")).to_contain_text("search: units", timeout=30_000)
    settle(page)
    page.screenshot(path="artifacts/search-inspector.png")

    # The Train page in Search mode: 4 trials of 30 epochs.
    go_to(page, "Train", page.get_by_role("button", name="Start training"))
    start = page.get_by_role("button", name="Start search")
    page.locator('[data-testid="stButtonGroup"]').get_by_text("Search", exact=True).click()
    start.wait_for(timeout=30_000)
    settle(page)
    epochs = page.get_by_label("Epochs")
    if not epochs.is_visible():
        page.locator('[data-testid="stExpander"] summary').filter(has_text="Settings for every trial").click()
    epochs.fill("30")
    epochs.press("Enter")
    settle(page)
    trials = page.get_by_label("Trials")
    trials.fill("4")
    trials.press("Enter")
    settle(page)
    wait_graph(page, lambda g: g.extra.get("search", {}).get("max_trials") == 4)
    expect(start).to_be_enabled(timeout=30_000)
    start.click()
    expect(page.get_by_text("Finished: 4 trial(s) done")).to_be_visible(timeout=240_000)
    settle(page)
    table = page.locator('[data-testid="stDataFrame"]').first
    expect(table).to_be_visible()
    chart = page.locator(".js-plotly-plot").filter(has_text="Pareto front")
    expect(chart).to_be_visible(timeout=30_000)
    assert chart.locator(".scatterlayer .trace").count() >= 2  # the trials and the front
    chart.scroll_into_view_if_needed()
    page.screenshot(path="artifacts/search-results.png")

    # Apply the best trial: the graph takes its units (one undo step).
    apply = page.get_by_role("button", name="Apply to the model")
    apply.scroll_into_view_if_needed()
    page.screenshot(path="artifacts/search-apply.png")
    best = page.locator('[data-testid="stMarkdown"]').filter(has_text="Best so far:").inner_text()
    units = int(best.split("dense.units = ")[1].split()[0])
    best_trial = metric_value(page, "Best trial").inner_text()
    expect(page.get_by_role("combobox", name="Trial")).to_have_value(f"{best_trial} (best)")
    apply.click()
    expect(page.get_by_text(f"Applied trial {best_trial[1:]}: dense.units = {units}")).to_be_visible(timeout=30_000)
    wait_graph(page, lambda g: g.node("dense").params.get("units", 16) == units)
    go_to(page, "Build", metric_value(page, "Total params"))
    expect(metric_value(page, "Total params")).to_have_text(f"{4 * units + units + units * 8 + 8 + 27:,}",
                                                            timeout=30_000)
