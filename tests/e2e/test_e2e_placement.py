"""Every way of adding a layer puts it where the user looks: inside the visible canvas, clear of the palette, the
toolbar, the zoom buttons and every other layer; with a layer selected, connected after it (issue 25, part 1).

Each step adds one layer in a real browser at 1400x900, waits for the saved graph to hold it, and measures the
boxes the browser drew.
"""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.helpers import (
    ARTIFACTS,
    canvas_node,
    center,
    drag_to,
    open_app,
    palette_item,
    settle,
    stable_box,
    wait_graph,
)

# What may cover a layer's box: the canvas's own furniture.
FURNITURE = [".lc-toolbar > *", ".react-flow__controls", ".react-flow__minimap", ".lc-palette", ".lc-toast"]


def _meets(a: dict, b: dict) -> bool:
    return (a["x"] < b["x"] + b["width"] - 1 and b["x"] < a["x"] + a["width"] - 1
            and a["y"] < b["y"] + b["height"] - 1 and b["y"] < a["y"] + a["height"] - 1)


def assert_in_view_and_clear(page, nid: str) -> None:
    """`nid`'s box lies inside the visible canvas and meets no other layer, nor the palette, the toolbar's
    buttons, the zoom buttons or the minimap."""
    settle(page)
    box = stable_box(page, canvas_node(page, nid))
    pane = page.locator(".react-flow__pane").bounding_box()
    assert pane["x"] <= box["x"] and box["x"] + box["width"] <= pane["x"] + pane["width"], (nid, box, pane)
    assert pane["y"] <= box["y"] and box["y"] + box["height"] <= pane["y"] + pane["height"], (nid, box, pane)
    for other in page.locator(".react-flow__node").all():
        oid = other.get_attribute("data-id")
        if oid != nid and not oid.startswith("box:") and other.is_visible():
            assert not _meets(box, other.bounding_box()), (nid, "covers", oid)
    for sel in FURNITURE:
        for el in page.locator(sel).all():
            if el.is_visible() and sel != ".lc-toast":
                assert not _meets(box, el.bounding_box()), (nid, "under", sel)


def new_layer(page, before: set[str]) -> str:
    """The one layer the last action added (waits for the saved graph to hold it)."""
    g = wait_graph(page, lambda g: len(set(g.ids()) - before) == 1)
    (nid,) = set(g.ids()) - before
    expect(canvas_node(page, nid)).to_be_visible(timeout=30_000)
    return nid


def ids(page) -> set[str]:
    return set(wait_graph(page, lambda g: True).ids())


def added(page, act, after: str | None = None) -> str:
    """Does `act` (one gesture that adds a layer) and returns the new layer's id, once it is in view and clear;
    `after`: it must be connected after that layer."""
    before = ids(page)
    act()
    nid = new_layer(page, before)
    if after is not None:
        assert wait_graph(page, lambda g: True).inputs_of(nid) == [after]
    assert_in_view_and_clear(page, nid)
    return nid


def select(page, nid: str) -> None:
    canvas_node(page, nid).click()
    settle(page)


def quick_add(page, name: str) -> None:
    page.get_by_label("Layer type").fill(name)
    page.get_by_label("Layer type").press("Enter")


def test_every_way_of_adding_a_layer_lands_in_view_clear_and_connected(page, server):
    open_app(page, server)

    # A palette click with nothing selected: after the end of the chain, below the view: the view pans to it.
    added(page, lambda: palette_item(page, "Dropout").click(), after="output")

    # A palette click with a layer selected: connected after it.
    select(page, "dense")
    added(page, lambda: palette_item(page, "BatchNormalization").click(), after="dense")

    # A drop right beside the palette: inside the canvas, not under the palette.
    pane = page.locator(".react-flow__pane").bounding_box()
    added(page, lambda: drag_to(page, palette_item(page, "Dense"), pane["x"] + 12, pane["y"] + pane["height"] - 40))

    # Quick-add ("/") with a layer selected: connected after it.
    select(page, "dense_1")

    def slash():
        page.keyboard.press("/")
        quick_add(page, "LayerNormalization")

    added(page, slash, after="dense_1")

    # Quick-add by a double-click near the bottom-right corner, nothing selected: the list stays whole inside the
    # canvas and moves nothing; the layer lands in view, on its own.
    page.keyboard.press("Escape")
    settle(page)
    canvas = page.locator(".lc-canvas").bounding_box()
    page.mouse.dblclick(canvas["x"] + canvas["width"] - 30, canvas["y"] + canvas["height"] - 30)
    quick = page.locator(".lc-quick")
    expect(quick).to_be_visible()
    page.get_by_label("Layer type").fill("Dens")
    q = quick.bounding_box()
    assert canvas["x"] <= q["x"] and q["x"] + q["width"] <= canvas["x"] + canvas["width"], (q, canvas)
    assert canvas["y"] <= q["y"] and q["y"] + q["height"] <= canvas["y"] + canvas["height"], (q, canvas)
    assert page.locator(".lc-canvas").bounding_box() == canvas  # nothing moved
    nid = added(page, lambda: page.get_by_label("Layer type").press("Enter"))
    assert wait_graph(page, lambda g: True).inputs_of(nid) == []

    # Copy and paste, then duplicate: beside what was copied, in view, on nothing.
    select(page, "dense")
    page.keyboard.press("Control+c")
    added(page, lambda: page.keyboard.press("Control+v"))
    added(page, lambda: page.keyboard.press("Control+d"))

    # Right-click -> "Add a layer after it…": connected after it.
    settle(page)
    canvas_node(page, "input").click(button="right")
    page.get_by_role("menuitem", name="Add a layer after it…").click()
    added(page, lambda: quick_add(page, "GaussianNoise"), after="input")

    # A one-click fix that inserts a layer: Conv2D after the 1-D input asks for a Reshape before it, and the
    # Reshape lands in the chain with room made for it.
    select(page, "input")
    conv = added(page, lambda: palette_item(page, "Conv2D").click(), after="input")
    fix = page.get_by_role("button", name="Insert Reshape").first
    expect(fix).to_be_visible(timeout=30_000)
    nid = added(page, fix.click, after="input")
    g = wait_graph(page, lambda g: True)
    assert g.node(nid).type == "Reshape" and g.successors(nid) == [conv]
    page.screenshot(path=str(ARTIFACTS / "placement.png"))


def test_a_handle_dragged_to_a_layer_at_the_canvas_edge_connects_without_panning(page, server):
    open_app(page, server)
    pane = page.locator(".react-flow__pane").bounding_box()
    # A layer at the right edge of the view.
    nid = added(page, lambda: drag_to(page, palette_item(page, "Dense"), pane["x"] + pane["width"] - 60, pane["y"] + 200))
    # Scrolled so that its input handle is 20 px from the canvas's right edge, where a drag used to pan the view.
    dst = stable_box(page, canvas_node(page, nid).locator(".react-flow__handle.target"))
    page.mouse.move(pane["x"] + pane["width"] / 2, pane["y"] + pane["height"] / 2)
    page.mouse.wheel(2 * (center(dst)[0] - (pane["x"] + pane["width"] - 20)), 0)  # React Flow pans half the delta
    settle(page)
    dst = stable_box(page, canvas_node(page, nid).locator(".react-flow__handle.target"))
    assert 0 < pane["x"] + pane["width"] - center(dst)[0] < 40, (dst, pane)
    view = page.locator(".react-flow__viewport").evaluate("el => el.style.transform")
    src = stable_box(page, canvas_node(page, "input").locator(".react-flow__handle.source"))
    page.mouse.move(*center(src))
    page.mouse.down()
    page.mouse.move(*center(dst), steps=25)
    page.wait_for_timeout(400)  # the pointer rests at the edge, where the view used to pan away
    page.mouse.up()
    g = wait_graph(page, lambda g: g.inputs_of(nid) == ["input"])
    assert g.inputs_of(nid) == ["input"]
    assert page.locator(".react-flow__viewport").evaluate("el => el.style.transform") == view
