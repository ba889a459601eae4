"""The Build page in a real browser: templates, palette, drag to connect, inspector, delete and undo,
one-click fixes, save and open, and share links."""

import re

from playwright.sync_api import expect

from builder.model.graph import Graph
from tests.e2e.helpers import (
    ARTIFACTS,
    add_from_palette,
    canvas_ids,
    canvas_node,
    drag_connect,
    metric_value,
    new_from_template,
    open_app,
    settle,
)


def test_design_a_model_by_hand(page, server):
    page.goto(server)
    expect(metric_value(page, "Total params")).to_have_text("243", timeout=90_000)
    page.screenshot(path=str(ARTIFACTS / "build-start.png"))

    # From a template: one body, two heads (16 -> 32 -> 3 and 1).
    new_from_template(page, "Two outputs")
    expect(metric_value(page, "Total params")).to_have_text("676", timeout=30_000)
    canvas_node(page, "value_head").click()
    expect(page.get_by_role("textbox", name="Name (id)")).to_have_value("value_head", timeout=30_000)

    # A Concatenate from the palette lands after the selected node and is red: it needs a second input.
    add_from_palette(page, "Concatenate")
    expect(canvas_node(page, "concatenate")).to_be_visible(timeout=30_000)
    expect(canvas_node(page, "concatenate")).to_contain_text("needs at least 2 inputs", timeout=30_000)

    # Drag from class_head's output handle to concatenate's input handle: the error goes.
    drag_connect(page, "class_head", "concatenate")
    expect(canvas_node(page, "concatenate")).to_contain_text("(None, 4)", timeout=30_000)
    expect(canvas_node(page, "concatenate")).not_to_contain_text("needs at least", timeout=30_000)
    # The inspector beside the canvas follows (it lists the merge's inputs in order).
    expect(page.locator(".st-key-lc_side")).to_contain_text("1: value_head", timeout=30_000)

    # A Dense after it, and its units changed in the inspector: the total follows.
    add_from_palette(page, "Dense")
    expect(canvas_node(page, "dense")).to_be_visible(timeout=30_000)
    expect(metric_value(page, "Total params")).to_have_text(f"{676 + 4 * 32 + 32:,}", timeout=30_000)
    units = page.get_by_role("spinbutton", name="units *")
    units.fill("7")
    units.press("Enter")
    expect(metric_value(page, "Total params")).to_have_text(f"{676 + 4 * 7 + 7:,}", timeout=30_000)
    expect(canvas_node(page, "dense")).to_contain_text("units 7")
    page.screenshot(path=str(ARTIFACTS / "build-designed.png"))

    # Delete the Dense, then undo.
    page.get_by_role("button", name="Delete", exact=True).click()
    expect(metric_value(page, "Total params")).to_have_text("676", timeout=30_000)
    expect(canvas_node(page, "dense")).to_have_count(0)
    page.get_by_role("button", name=re.compile("^Undo")).click()
    expect(metric_value(page, "Total params")).to_have_text(f"{676 + 4 * 7 + 7:,}", timeout=30_000)
    expect(canvas_node(page, "dense")).to_be_visible()

    # A Conv2D on flat data: pinned error, and its one-click fix inserts a Reshape.
    canvas_node(page, "dense").click()
    expect(page.get_by_role("textbox", name="Name (id)")).to_have_value("dense", timeout=30_000)
    add_from_palette(page, "Conv2D")
    expect(canvas_node(page, "conv2d")).to_contain_text("needs (batch, height, width, channels)", timeout=30_000)
    page.get_by_role("button", name=re.compile("^Insert Reshape")).click()
    expect(canvas_node(page, "reshape")).to_be_visible(timeout=30_000)
    expect(canvas_node(page, "conv2d")).not_to_contain_text("needs", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "build-fixed.png"))


def test_save_open_and_share(page, server, browser, tmp_path):
    page.goto(server)
    expect(metric_value(page, "Total params")).to_have_text("243", timeout=90_000)
    new_from_template(page, "Small ResNet")
    expect(metric_value(page, "Total params")).to_have_text("9,898", timeout=30_000)
    expect(canvas_node(page, "b2_add")).to_be_visible(timeout=30_000)
    resnet_ids = canvas_ids(page)
    assert len(resnet_ids) == 12

    # Save the graph file, switch to another template, then open the file again.
    with page.expect_download() as download:
        page.get_by_role("button", name="Save graph file").click()
    saved = tmp_path / "saved.json"
    download.value.save_as(saved)
    assert Graph.load(saved).name == "small_resnet"
    new_from_template(page, "LeNet-5")
    expect(metric_value(page, "Total params")).to_have_text("61,706", timeout=30_000)
    settle(page)
    page.locator('[data-testid="stSidebar"] input[type="file"]').set_input_files(str(saved))
    expect(metric_value(page, "Total params")).to_have_text("9,898", timeout=30_000)
    expect(canvas_node(page, "b2_add")).to_be_visible(timeout=30_000)
    assert canvas_ids(page) == resnet_ids

    # A bad file: a message, and the project stays as it was.
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "layercanvas-graph", "version": 99}')
    settle(page)
    page.locator('[data-testid="stSidebar"] input[type="file"]').set_input_files(str(bad))
    expect(page.get_by_text("cannot be opened")).to_be_visible(timeout=30_000)
    expect(metric_value(page, "Total params")).to_have_text("9,898")

    # The share link, opened in a fresh browser context, shows the same graph.
    link = page.get_by_role("textbox", name="Share link").input_value().strip()
    assert "?g=" in link
    other = browser.new_context(viewport={"width": 1400, "height": 900})
    fresh = other.new_page()
    try:
        fresh.goto(link)
        expect(metric_value(fresh, "Total params")).to_have_text("9,898", timeout=90_000)
        expect(canvas_node(fresh, "b2_add")).to_be_visible(timeout=30_000)
        assert canvas_ids(fresh) == resnet_ids
        fresh.screenshot(path=str(ARTIFACTS / "build-shared.png"))
    finally:
        other.close()


def test_markup_in_a_graph_file_is_shown_as_text(page, server, tmp_path):
    """A hostile file: HTML in a layer type and in the model name is never rendered or run."""
    payload = "<img src=x onerror=window.pwned=1>"
    hostile = {
        "format": "layercanvas-graph", "version": 1, "name": "<b>bold<b> **name** " + payload,
        "nodes": [{"id": "x", "type": "Input", "params": {"shape": [4]}},
                  {"id": "evil", "type": payload, "params": {}},
                  {"id": "d", "type": "Dense", "params": {"units": 2, "activation": "<script>alert(1)</script>"}}],
        "edges": [{"source": "x", "target": "evil"}, {"source": "x", "target": "d"}],
    }
    path = tmp_path / "hostile.json"
    import json

    path.write_text(json.dumps(hostile))
    page.goto(server)
    expect(metric_value(page, "Total params")).to_have_text("243", timeout=90_000)
    settle(page)
    page.locator('[data-testid="stSidebar"] input[type="file"]').set_input_files(str(path))
    expect(canvas_node(page, "evil")).to_contain_text(payload, timeout=30_000)  # shown literally
    expect(canvas_node(page, "d")).to_be_visible()
    assert page.locator(".react-flow__node img").count() == 0
    assert page.locator(".react-flow__node script").count() == 0
    assert page.evaluate("window.pwned") is None
    assert page.locator("b", has_text="bold").count() == 0  # the name is text, not markup
    page.screenshot(path=str(ARTIFACTS / "build-hostile.png"))


def test_canvas_menus_add_and_delete(page, server):
    """The canvas's own right-click menus: a layer typed by name in the quick-add box, and Delete (the chain
    stays whole)."""
    page.goto(server)
    expect(metric_value(page, "Total params")).to_have_text("243", timeout=90_000)
    settle(page)

    box = page.locator(".react-flow__pane").bounding_box()
    page.mouse.click(box["x"] + 60, box["y"] + 200, button="right")
    page.get_by_role("menuitem", name="Add a layer here…").click()
    page.get_by_label("Layer type").fill("dropout")
    page.get_by_label("Layer type").press("Enter")
    expect(canvas_node(page, "dropout")).to_contain_text("has no input", timeout=30_000)

    settle(page)
    canvas_node(page, "dense_1").click(button="right")
    page.get_by_role("menuitem", name="Delete", exact=True).click()
    expect(canvas_node(page, "dense_1")).to_have_count(0, timeout=30_000)
    expect(metric_value(page, "Total params")).to_have_text(f"{4 * 16 + 16 + 16 * 3 + 3:,}", timeout=30_000)
    expect(canvas_node(page, "output")).not_to_contain_text("no input")


# Collects, from now on, the label of every widget of the inspector that the browser marks stale.
STALE_WATCH = """() => { window.__lcStale = [];
    new MutationObserver((ms) => { for (const m of ms) if (m.target.getAttribute('data-stale') === 'true'
        && m.target.closest('.st-key-lc_side') && m.target.querySelector('label'))
        window.__lcStale.push(m.target.querySelector('label').textContent); })
    .observe(document.body, {subtree: true, attributes: true, attributeFilter: ['data-stale']}); }"""


def test_a_value_typed_in_the_inspector_redraws_what_it_changes(page, server):
    """A value typed in the inspector: the totals, the node, the inspector's info line and the box follow; Undo and
    Redo bring the right value back into the box; a value that brings an issue to the layer shows it beside the
    canvas, and a value that fits takes it away."""
    open_app(page, server)
    canvas_node(page, "dense").click()
    side = page.locator(".st-key-lc_side")
    units = page.get_by_role("spinbutton", name="units *")
    expect(units).to_have_value("16", timeout=30_000)
    expect(side.get_by_test_id("stText")).to_contain_text("Params 4×16 + 16 = 80")

    settle(page)
    page.evaluate(STALE_WATCH)
    units.fill("10")
    units.press("Enter")
    # 243 - (80 + 136) + (50 + 88): dense and the Dense after it shrink.
    expect(metric_value(page, "Total params")).to_have_text("165", timeout=30_000)
    expect(side.get_by_test_id("stText")).to_contain_text("Output (None, 10)")
    expect(side.get_by_test_id("stText")).to_contain_text("Params 4×10 + 10 = 50")
    expect(canvas_node(page, "dense")).to_contain_text("units 10")
    expect(units).to_have_value("10")
    settle(page)
    # Meanwhile no widget of the inspector but the box was drawn stale (and again fresh): the browser draws
    # each of those twice per edit.
    flipped = page.evaluate("() => window.__lcStale")
    assert flipped and all("units" in label for label in flipped), flipped

    settle(page)
    page.get_by_role("button", name="Undo").click()
    expect(metric_value(page, "Total params")).to_have_text("243", timeout=30_000)
    expect(page.get_by_role("spinbutton", name="units *")).to_have_value("16", timeout=30_000)
    expect(side.get_by_test_id("stText")).to_contain_text("Params 4×16 + 16 = 80")
    settle(page)
    page.get_by_role("button", name="Redo").click()
    expect(metric_value(page, "Total params")).to_have_text("165", timeout=30_000)
    expect(page.get_by_role("spinbutton", name="units *")).to_have_value("10", timeout=30_000)

    # A Reshape after it, given a size that does not fit: its error shows beside the canvas, then goes.
    add_from_palette(page, "Reshape")
    expect(canvas_node(page, "reshape")).to_be_visible(timeout=30_000)
    target = page.get_by_role("textbox", name="target_shape *")
    expect(target).to_be_visible(timeout=30_000)
    settle(page)
    target.fill("7")
    target.press("Enter")
    expect(side.get_by_test_id("stAlertContentError")).to_contain_text("Reshape 'reshape' got (None, 10)",
                                                                      timeout=30_000)
    settle(page)
    target.fill("10")
    target.press("Enter")
    expect(side.get_by_test_id("stAlertContentError")).to_have_count(0, timeout=30_000)
    expect(side.get_by_test_id("stText")).to_contain_text("Output (None, 10)")
