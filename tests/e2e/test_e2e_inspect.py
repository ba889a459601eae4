"""Looking inside a trained model in a real browser: click a confusion-matrix cell for its examples, draw a digit
and see the prediction."""

from playwright.sync_api import expect

from tests.e2e.helpers import go_to, metric_value, new_from_template, settle, stable_box, start_run


def test_train_digits_click_a_confusion_cell_then_draw_a_digit(page, server):
    page.goto(server)
    metric_value(page, "Total params").wait_for(timeout=120_000)
    settle(page)
    new_from_template(page, "Digits CNN")
    expect(page.get_by_text("New project: Digits CNN")).to_be_visible(timeout=30_000)
    settle(page)
    start_run(page, 8)
    expect(page.get_by_text("click a cell for its examples")).to_be_visible(timeout=180_000)
    settle(page)
    # The diagonal cell of class 3: its examples are test images of 3s the model got right.
    chart = page.locator(".js-plotly-plot").filter(has_text="Confusion matrix")
    chart.scroll_into_view_if_needed()
    expect(chart.locator(".xtick text", has_text="3")).to_be_in_viewport()
    column = chart.locator(".xtick text", has_text="3").bounding_box()  # the cell under "3" and beside "3"
    row = chart.locator(".ytick text", has_text="3").bounding_box()
    page.mouse.click(column["x"] + column["width"] / 2, row["y"] + row["height"] / 2)
    expect(page.get_by_text("True 3, predicted 3")).to_be_visible(timeout=30_000)
    expect(page.locator('[data-testid="stImage"]').first).to_be_visible()
    page.screenshot(path="artifacts/confusion-cell.png", full_page=True)
    # Draw a 1 on the Inspect page.
    go_to(page, "Inspect", page.get_by_text("Draw with the mouse"))
    settle(page)
    # The canvas's toolbar, shown while the pointer is over the canvas, leaves the input choice above it clear.
    page.locator("canvas").last.hover()
    toolbar = stable_box(page, page.locator(".dc-toolbar").first)  # once it has slid up
    for name in ("Draw", "Upload an image", "A test sample"):
        button = page.locator('[data-testid="stButtonGroup"] button').filter(has_text=name).bounding_box()
        assert button["y"] + button["height"] <= toolbar["y"], (name, button, toolbar)
    box = page.locator("canvas").last.bounding_box()
    x, y = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.15
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(25):
        page.mouse.move(x, y + i * box["height"] * 0.028)
    page.mouse.up()
    expect(page.get_by_text("Prediction for your drawing:")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("What the model sees (8 × 8 × 1)")).to_be_visible()
    settle(page)
    page.screenshot(path="artifacts/inspect-drawing.png", full_page=True)
    # The same drawing, layer by layer: the feature-map grids, untrained (the start of this first run) beside trained.
    page.get_by_text("Layer by layer", exact=True).click()
    expect(page.get_by_text("At the start of this run (untrained)", exact=True)).to_be_visible(timeout=60_000)
    expect(page.get_by_text("conv2d (Conv2D): 8 × 8 × 16", exact=False).first).to_be_visible()
    grids = page.locator('[data-testid="stImage"] img')
    expect(grids.first).to_be_visible()
    settle(page)  # every layer drawn
    assert grids.count() >= 4
    widest = max(g.bounding_box()["width"] for g in grids.all())
    assert widest > 300  # a grid of 16 maps side by side, not a single thumbnail
    page.screenshot(path="artifacts/inspect-layers.png", full_page=True)
    # Weights and gradients per layer and epoch, from before training (epoch 0) to the last epoch.
    page.get_by_text("Weights and gradients", exact=True).click()
    expect(page.get_by_text("Gradient norm", exact=True).first).to_be_visible(timeout=60_000)
    expect(page.get_by_text("epoch (0: before training)").first).to_be_visible()
    expect(page.get_by_text("Weights of", exact=False).first).to_be_visible()
    settle(page)
    page.screenshot(path="artifacts/inspect-weights.png", full_page=True)
