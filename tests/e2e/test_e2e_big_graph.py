"""A big imported model on the canvas: its blocks open as collapsed groups; expanding one draws more than 150 boxes
(only those in view are drawn). The view the user pans to stays put through the reruns that follow (a selection,
an edit in the inspector): only Fit view, the first open and the expand itself fit it."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.helpers import ARTIFACTS, canvas_node, open_app, settle, wait_graph

GROUP = "conv4"
BLOCKS = 25  # conv4: 25 blocks of 7 layers; with the rest collapsed, 190 boxes once it is expanded


def save_block_model(path) -> None:
    """A small DenseNet-like model named like keras.applications (`conv4_block3_1_conv`): 230 layers, 1 MB."""
    import keras
    from keras import layers

    x = inp = keras.Input((8, 8, 4), name="input_layer")
    x = layers.Conv2D(8, 3, padding="same", name="conv1_conv")(x)
    x = layers.ReLU(name="conv1_relu")(x)
    for stage, blocks in (("conv2", 3), ("conv3", 3), (GROUP, BLOCKS), ("conv5", 2)):
        for b in range(1, blocks + 1):
            p = f"{stage}_block{b}"
            y = layers.BatchNormalization(name=f"{p}_0_bn")(x)
            y = layers.ReLU(name=f"{p}_0_relu")(y)
            y = layers.Conv2D(4, 1, name=f"{p}_1_conv")(y)
            y = layers.BatchNormalization(name=f"{p}_1_bn")(y)
            y = layers.ReLU(name=f"{p}_1_relu")(y)
            y = layers.Conv2D(2, 3, padding="same", name=f"{p}_2_conv")(y)
            x = layers.Concatenate(name=f"{p}_concat")([x, y])
        x = layers.Conv2D(8, 1, name=f"pool{stage[-1]}_conv")(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    keras.Model(inp, layers.Dense(10, name="predictions")(x)).save(path)


def viewport(page) -> str:
    return page.locator(".react-flow__viewport").evaluate("e => e.style.transform")


def still_view(page) -> str:
    """Waits until the view has not moved for a second (a fit lands a frame or two after its data); returns it."""
    last, since = viewport(page), 0
    for _ in range(60):
        page.wait_for_timeout(200)
        now = viewport(page)
        since = since + 1 if now == last else 0
        last = now
        if since >= 5:
            return now
    raise AssertionError("the view never settled")


def pan_until_in_view(page, locator, pane: dict, step: int = 400, tries: int = 120) -> dict:
    """Scrolls the canvas (the wheel pans it, by half the wheel's delta) until `locator` is drawn in the middle of the pane; returns its box."""
    page.mouse.move(pane["x"] + pane["width"] / 2, pane["y"] + pane["height"] / 2)
    for _ in range(tries):
        box = locator.bounding_box() if locator.count() else None
        if box and pane["y"] + 80 < box["y"] < pane["y"] + pane["height"] * 0.55:
            return box
        page.mouse.wheel(0, step)
        page.wait_for_timeout(80)
    raise AssertionError("panning never brought it into view")


def on_screen(box: dict | None, pane: dict) -> bool:
    return (box is not None and box["y"] >= pane["y"] and box["y"] + box["height"] <= pane["y"] + pane["height"]
            and box["x"] >= pane["x"] and box["x"] + box["width"] <= pane["x"] + pane["width"])


def test_a_panned_view_of_an_expanded_big_group_stays_through_selection_and_edits(page, server, tmp_path):
    path = tmp_path / "blocks.keras"
    save_block_model(path)
    open_app(page, server)
    page.locator('[data-testid="stSidebar"] input[type="file"]').set_input_files(str(path))
    group = canvas_node(page, f"g:{GROUP}")
    expect(group).to_be_visible(timeout=120_000)
    settle(page)
    still_view(page)
    pane = page.locator(".react-flow__pane").bounding_box()

    # Expand the group the way a user does: scroll to it, click its ▸.
    button = group.get_by_title("Expand the group")
    pan_until_in_view(page, button, pane)
    still_view(page)
    def expanded(g) -> bool:
        return not next(x for x in g.groups if x.id == GROUP).collapsed

    box = button.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    wait_graph(page, expanded)
    expect(group).to_have_count(0, timeout=30_000)  # (its frame is drawn only while it is in view)
    settle(page)
    fitted = still_view(page)  # the expand fitted the view once (a tall graph: at its top)

    # Pan down into the group, to a layer in its middle.
    nid = f"{GROUP}_block8_1_conv"
    node = canvas_node(page, nid)
    pan_until_in_view(page, node, pane)
    panned = still_view(page)
    assert panned != fitted

    # Select it: the inspector opens (the selection reaches Python), the view stays.
    head = node.locator(".lc-head")
    box = head.bounding_box()
    page.mouse.click(box["x"] + 20, box["y"] + box["height"] / 2)
    expect(page.get_by_role("textbox", name="Name (id)")).to_have_value(nid, timeout=20_000)
    settle(page)
    assert still_view(page) == panned
    assert on_screen(node.bounding_box(), pane)

    # Edit it in the inspector: the graph changes, the view stays.
    filters = page.get_by_role("spinbutton", name="filters *")  # required params are marked *
    filters.fill("6")
    filters.press("Enter")
    wait_graph(page, lambda g: g.node(nid).params["filters"] == 6)
    settle(page)
    assert still_view(page) == panned
    page.screenshot(path=str(ARTIFACTS / "canvas-big-group-edited.png"))
    assert on_screen(node.bounding_box(), pane)
    expect(node).to_contain_text("filters 6")

    # Fit view still fits when asked.
    page.get_by_role("button", name="Fit view").click()
    assert still_view(page) == fitted  # (the view is still for a second: the fit has landed)
