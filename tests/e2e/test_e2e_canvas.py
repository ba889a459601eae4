"""Every gesture of the canvas in a real browser, each checked against the graph the server saved.

Drag from the palette (onto empty canvas, an edge, an output handle), quick-add by typing, a connection to a
labelled port, box-select + Delete + Undo, copy/paste, groups (collapse, expand), refusals, hostile text.
"""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import expect

from builder.model.layout import NODE_H, NODE_W
from tests.e2e.helpers import (
    ARTIFACTS,
    canvas_node,
    center,
    drag_connect,
    drag_to,
    edge_point,
    metric_value,
    new_from_template,
    open_app,
    palette_item,
    settle,
    stable_box,
    wait_graph,
)
from tests.test_layout import overlaps


def pane_point(page, dx: float, dy: float) -> tuple[float, float]:
    """A point of the canvas's empty background, (dx, dy) from its top-left (negative: from the right/bottom)."""
    box = page.locator(".react-flow__pane").bounding_box()
    x = box["x"] + (dx if dx >= 0 else box["width"] + dx)
    y = box["y"] + (dy if dy >= 0 else box["height"] + dy)
    return x, y


def test_drag_from_the_palette_onto_empty_canvas_an_edge_and_an_output_handle(page, server):
    open_app(page, server)

    # Onto empty canvas: placed there, unconnected.
    x, y = pane_point(page, -140, 160)
    drag_to(page, palette_item(page, "Dense"), x, y)
    g = wait_graph(page, lambda g: g.has("dense_2"))
    assert g.inputs_of("dense_2") == [] and g.successors("dense_2") == []
    expect(canvas_node(page, "dense_2")).to_contain_text("has no input", timeout=30_000)
    box = stable_box(page, canvas_node(page, "dense_2"))
    # Where it was let go, or beside the layer it would have covered.
    assert abs(center(box)[0] - x) < box["width"] and abs(box["y"] - y) < 60
    assert not any(overlaps(g.layout["dense_2"], g.layout[n], NODE_W, NODE_H) for n in g.ids() if n != "dense_2")
    settle(page)

    # Onto the edge dense -> dense_1: inserted into it.
    edge = page.locator(".react-flow__edge[data-id='e:dense:dense_1:'] .react-flow__edge-interaction")
    drag_to(page, palette_item(page, "Dropout"), *center(stable_box(page, edge)))
    g = wait_graph(page, lambda g: g.has("dropout"))
    assert g.inputs_of("dropout") == ["dense"] and g.inputs_of("dense_1") == ["dropout"]
    settle(page)

    # Onto dense_1's output handle: connected after it.
    handle = canvas_node(page, "dense_1").locator(".react-flow__handle.source")
    drag_to(page, palette_item(page, "BatchNormalization"), *center(stable_box(page, handle)))
    g = wait_graph(page, lambda g: g.has("batch_normalization"))
    assert g.inputs_of("batch_normalization") == ["dense_1"]
    assert g.inputs_of("output") == ["dense_1"]  # a new branch: the chain is kept
    expect(canvas_node(page, "batch_normalization")).to_contain_text("(None, 8)", timeout=30_000)

    # A click (no drag) still adds after the selected layer.
    canvas_node(page, "input").click()
    settle(page)
    palette_item(page, "GaussianNoise").click()
    g = wait_graph(page, lambda g: g.has("gaussian_noise"))
    assert g.inputs_of("gaussian_noise") == ["input"] and g.inputs_of("dense") == ["gaussian_noise"]
    page.screenshot(path=str(ARTIFACTS / "canvas-dropped.png"))


def test_quick_add_by_typing(page, server):
    open_app(page, server)
    x, y = pane_point(page, -150, 140)
    page.mouse.dblclick(x, y)
    box = page.get_by_label("Layer type")
    expect(box).to_be_focused()
    box.fill("conv1")
    expect(page.locator(".lc-quick-item.active")).to_have_text("Conv1Dconvolution")
    box.press("Enter")
    g = wait_graph(page, lambda g: g.has("conv1d"))
    assert g.inputs_of("conv1d") == []

    # "/" opens it too, at the mouse; a name that is no layer says so and adds nothing.
    settle(page)
    page.mouse.click(*pane_point(page, -150, 330))
    page.keyboard.press("/")
    page.get_by_label("Layer type").fill("nosuchlayer")
    page.get_by_label("Layer type").press("Enter")
    expect(page.locator(".lc-toast")).to_contain_text("No layer is called “nosuchlayer”")
    page.keyboard.press("Escape")
    assert len(wait_graph(page, lambda g: True).nodes) == 5


def test_connect_to_port_1_of_a_concatenate_sets_the_order_in_the_code(page, server):
    open_app(page, server)
    new_from_template(page, "Two inputs")
    expect(metric_value(page, "Total params")).not_to_have_text("243", timeout=30_000)
    expect(canvas_node(page, "joined")).to_be_visible(timeout=30_000)
    settle(page)
    expect(canvas_node(page, "joined").locator(".lc-port-label")).to_have_text(["0", "1", "2"])

    # Take flat off port 0 (right-click the connection), then connect it to port 1.
    page.mouse.click(*edge_point(page, "e:flat:joined:0"), button="right")
    page.get_by_role("menuitem", name="Delete connection").click()
    wait_graph(page, lambda g: g.inputs_of("joined") == ["table_dense"])
    settle(page)
    drag_connect(page, "flat", "joined", ".react-flow__handle[data-handleid='in-1']")
    g = wait_graph(page, lambda g: g.inputs_of("joined") == ["table_dense", "flat"])
    assert [e.port for e in g.in_edges("joined")] == [0, 1]
    settle(page)
    page.get_by_role("radio", name="Code").click()
    code = page.locator('[data-testid="stCode"]').filter(has_text="def build_model")
    expect(code).to_contain_text("([table_dense, flat])", timeout=30_000)

    # A connection to a port out of order is refused on the spot, with the reason.
    settle(page)
    drag_connect(page, "image", "joined", ".react-flow__handle[data-handleid='in-2']")
    settle(page)
    drag_connect(page, "hidden", "joined", ".react-flow__handle[data-handleid='in-0']")
    expect(page.locator(".lc-toast")).to_contain_text("would make a cycle", timeout=10_000)
    assert wait_graph(page, lambda g: True).inputs_of("joined")[:2] == ["table_dense", "flat"]


def test_box_select_delete_and_undo(page, server):
    open_app(page, server)
    a = stable_box(page, canvas_node(page, "dense"))
    b = stable_box(page, canvas_node(page, "dense_1"))
    page.keyboard.down("Shift")
    page.mouse.move(a["x"] - 30, a["y"] - 12)
    page.mouse.down()
    page.mouse.move(b["x"] + b["width"] + 30, b["y"] + b["height"] - 10, steps=12)
    page.mouse.up()
    page.keyboard.up("Shift")
    expect(page.locator(".react-flow__node.selected")).to_have_count(2)
    page.keyboard.press("Delete")
    g = wait_graph(page, lambda g: not g.has("dense") and not g.has("dense_1"))
    assert g.inputs_of("output") == ["input"]  # the chain stays whole
    expect(metric_value(page, "Total params")).to_have_text(f"{4 * 3 + 3}", timeout=30_000)
    settle(page)
    page.get_by_role("button", name="Undo").click()
    g = wait_graph(page, lambda g: g.has("dense") and g.has("dense_1"))
    expect(metric_value(page, "Total params")).to_have_text("243", timeout=30_000)


def test_copy_paste_keeps_params_and_gives_fresh_ids(page, server):
    open_app(page, server)
    canvas_node(page, "dense").click()
    settle(page)
    page.keyboard.press("Control+c")
    page.keyboard.press("Control+v")
    g = wait_graph(page, lambda g: g.has("dense_2"))
    assert g.node("dense_2").params == g.node("dense").params
    expect(canvas_node(page, "dense_2")).to_be_visible(timeout=30_000)
    settle(page)

    # Duplicate (Ctrl+D) does the same in one step; foreign text on the clipboard pastes nothing.
    page.keyboard.press("Control+d")
    wait_graph(page, lambda g: g.has("dense_3"))
    settle(page)
    page.locator(".lc-canvas").evaluate(
        """el => { const dt = new DataTransfer(); dt.setData('text/plain', 'rm -rf / <b>not layers</b>');
                   el.dispatchEvent(new ClipboardEvent('paste', {clipboardData: dt, bubbles: true, composed: true})); }""")
    expect(page.locator(".lc-toast")).to_contain_text("no LayerCanvas layers")
    assert len(wait_graph(page, lambda g: True).nodes) == 6

    # Ctrl+Z and Ctrl+Shift+Z with the canvas focused undo and redo canvas actions.
    settle(page)
    page.locator(".lc-canvas").focus()
    page.keyboard.press("Control+z")
    wait_graph(page, lambda g: not g.has("dense_3") and g.has("dense_2"))
    settle(page)
    page.locator(".lc-canvas").focus()
    page.keyboard.press("Control+Shift+z")
    wait_graph(page, lambda g: g.has("dense_3"))


def test_group_collapse_and_expand(page, server):
    open_app(page, server)
    canvas_node(page, "dense").click()
    canvas_node(page, "dense_1").click(modifiers=["Shift"])
    expect(page.locator(".react-flow__node.selected")).to_have_count(2)
    settle(page)
    page.get_by_role("button", name="Group", exact=True).click()
    g = wait_graph(page, lambda g: len(g.groups) == 1)
    gid = g.groups[0].id
    assert set(g.groups[0].nodes) == {"dense", "dense_1"}
    frame = page.locator(f".lc-group-box[data-group='{gid}']")
    expect(frame).to_be_visible(timeout=30_000)

    # Double-click its name to rename it.
    settle(page)
    frame.locator(".lc-group-name").dblclick()
    page.get_by_label("Group name").fill("Hidden layers")
    page.get_by_label("Group name").press("Enter")
    wait_graph(page, lambda g: g.groups[0].name == "Hidden layers")
    expect(frame).to_contain_text("Hidden layers", timeout=30_000)

    frame.get_by_title("Collapse the group into one box").click()
    wait_graph(page, lambda g: g.groups[0].collapsed)
    box = canvas_node(page, f"g:{gid}")
    expect(box).to_contain_text("2 layers", timeout=30_000)
    expect(box).to_contain_text("(None, 4) → (None, 8)")
    expect(box).to_contain_text("216 params")  # 80 + 136
    expect(canvas_node(page, "dense")).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "canvas-collapsed.png"))

    box.get_by_title("Expand the group").click()
    wait_graph(page, lambda g: not g.groups[0].collapsed)
    expect(canvas_node(page, "dense")).to_be_visible(timeout=30_000)


def test_hostile_names_are_text_inside_the_component(page, server, tmp_path):
    payload = "<img src=x onerror=window.pwned=1>"
    hostile = {
        "format": "layercanvas-graph", "version": 1, "name": "hostile",
        "nodes": [{"id": "x", "type": "Input", "params": {"shape": [4]}},
                  {"id": "evil", "type": payload, "params": {}},
                  {"id": "d", "type": "Dense", "params": {"units": 2}}],
        "edges": [{"source": "x", "target": "evil"}, {"source": "x", "target": "d"}],
        "groups": [{"id": "g1", "name": payload + "<script>window.pwned=2</script>", "nodes": ["d"]}],
    }
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(hostile))
    open_app(page, server)
    page.locator('[data-testid="stSidebar"] input[type="file"]').set_input_files(str(path))
    expect(canvas_node(page, "evil")).to_contain_text(payload, timeout=30_000)
    expect(page.locator(".lc-group-box[data-group='g1']")).to_contain_text(payload)
    assert page.locator(".lc-canvas img, .lc-canvas script").count() == 0
    assert page.evaluate("window.pwned") is None


def test_the_canvas_is_quiet_when_nobody_touches_it(page, server):
    """No rerun loop: after a selection and an add, the page sends nothing more to the server while idle (an
    echo of a stale selection once made the canvas re-send it on every run)."""
    sent = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(time.monotonic())))
    open_app(page, server)
    canvas_node(page, "dense").click()
    settle(page)
    palette_item(page, "Dropout").click()
    wait_graph(page, lambda g: g.has("dropout"))
    expect(page.locator("h4").filter(has_text="Dropout")).to_be_visible(timeout=30_000)  # the inspector follows
    settle(page)
    # Not a wait for something to show: 3.5 s in which nothing may be sent (a loop resends within a second).
    page.wait_for_timeout(1000)
    quiet_from = time.monotonic()
    page.wait_for_timeout(2500)
    assert [t for t in sent if t > quiet_from] == []
    assert page.locator(".react-flow__node.selected").count() == 1


def test_a_graph_of_2000_layers_opens_without_freezing_the_tab(page, server):
    """Too many boxes to draw: the canvas says so at once (the summary follows), and the tab keeps answering."""
    from builder.model.graph import Graph
    from builder.model.share import link

    n = 2000
    nodes = [{"id": "x", "type": "Input", "params": {"shape": [4]}}] + [
        {"id": f"a{i}", "type": "Activation", "params": {"activation": "relu"}} for i in range(n - 1)]
    edges = [{"source": "x" if i == 0 else f"a{i - 1}", "target": f"a{i}"} for i in range(n - 1)]
    graph = Graph.from_dict({"format": "layercanvas-graph", "version": 1, "name": "huge", "nodes": nodes, "edges": edges})
    page.goto(link(server, graph))
    expect(page.locator(".lc-big")).to_contain_text("2,000 layers: too many to draw at once", timeout=60_000)
    started = time.monotonic()
    assert page.evaluate("() => 6 * 7") == 42
    assert time.monotonic() - started < 1  # the tab answers at once
    expect(metric_value(page, "Layers")).to_have_text("2,000", timeout=120_000)
    page.screenshot(path=str(ARTIFACTS / "canvas-2000.png"))


def test_a_connection_to_a_port_out_of_order_is_refused_with_the_reason(page, server):
    open_app(page, server)
    page.mouse.dblclick(*pane_point(page, -150, 300))
    page.get_by_label("Layer type").fill("MultiHeadAttention")
    page.get_by_label("Layer type").press("Enter")
    wait_graph(page, lambda g: g.has("multi_head_attention"))
    mha = canvas_node(page, "multi_head_attention")
    expect(mha.locator(".lc-port-label")).to_have_text(["query", "value", "key"], timeout=30_000)
    settle(page)
    page.get_by_role("button", name="Fit view").click()  # it may have landed beside the chain, out of view
    drag_connect(page, "dense", "multi_head_attention", ".react-flow__handle[data-handleid='in-2']")
    expect(page.locator(".lc-toast")).to_contain_text(
        "Connect input 'query' of MultiHeadAttention 'multi_head_attention' first", timeout=10_000)
    settle(page)
    assert wait_graph(page, lambda g: True).inputs_of("multi_head_attention") == []


def test_moving_a_layer_saves_its_place_and_auto_layout_restores_the_rows(page, server):
    open_app(page, server)
    before = wait_graph(page, lambda g: True).layout["output"]
    box = stable_box(page, canvas_node(page, "output").locator(".lc-head"))
    x, y = center(box)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 60, y + 10, steps=4)
    page.mouse.move(x + 180, y + 40, steps=8)
    page.mouse.up()
    g = wait_graph(page, lambda g: g.layout["output"] != before)
    assert abs(g.layout["output"][0] - before[0] - 180) < 30 and abs(g.layout["output"][1] - before[1] - 40) < 30
    settle(page)
    page.get_by_role("button", name="Undo").click()  # a move is one undo step
    wait_graph(page, lambda g: g.layout["output"] == before)
    settle(page)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 250, y, steps=10)
    page.mouse.up()
    wait_graph(page, lambda g: g.layout["output"] != before)
    settle(page)
    page.get_by_role("button", name="Auto-layout").click()
    wait_graph(page, lambda g: g.layout["output"][0] == g.layout["input"][0])


def test_the_project_stays_in_the_url_through_page_switches_and_reloads(page, server):
    """Edit on Build, switch to Data, reload there: the same graph comes back (issue 14's first point)."""
    from tests.e2e.helpers import go_to

    open_app(page, server)
    palette_item(page, "Dropout").click()
    wait_graph(page, lambda g: g.has("dropout"))
    expect(metric_value(page, "Layers")).to_have_text("5", timeout=30_000)
    pid = parse_qs(urlparse(page.url).query)["project"][0]
    go_to(page, "Data", page.get_by_role("heading", name="Data").or_(page.locator("h1, h2").first))
    page.wait_for_function(f"() => location.search.includes({pid!r})", timeout=30_000)
    assert urlparse(page.url).path.endswith("/data")
    page.reload()
    page.wait_for_function(f"() => location.search.includes({pid!r})", timeout=60_000)
    go_to(page, "Build", metric_value(page, "Layers"))
    expect(metric_value(page, "Layers")).to_have_text("5", timeout=60_000)
    assert parse_qs(urlparse(page.url).query)["project"][0] == pid
