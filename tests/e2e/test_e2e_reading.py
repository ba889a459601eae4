"""A graph read at a glance (issue 25, part 2): a 9-layer CNN whole at Fit view on 1400x900 with no text cut and
no edge label over a node; each edge of a merge into its own port, also after the order changes; at 1024x768
a toolbar on one line and an inspector with nothing cut."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.helpers import (
    ARTIFACTS,
    canvas_node,
    drag_connect,
    metric_value,
    new_from_template,
    open_app,
    settle,
    wait_graph,
)

# Every text element of the canvas and the side column whose text is cut (wider than its box, or clamped).
CUT_JS = """(sel) => {
    const host = [...document.querySelectorAll('*')].find((e) => e.shadowRoot?.querySelector('.react-flow__viewport'));
    const roots = sel === 'canvas' ? [host.shadowRoot] : [document];
    const pick = sel === 'canvas'
        ? '.react-flow__node *, .lc-toolbar *'
        : '[data-testid="stColumn"]:last-of-type button *, [data-testid="stColumn"]:last-of-type label *';
    const out = [];
    for (const r of roots) for (const el of r.querySelectorAll(pick)) {
        if (!el.childNodes.length || ![...el.childNodes].some((c) => c.nodeType === 3 && c.textContent.trim())) continue;
        if (el.closest('.lc-msg')) continue;  // a problem's message is clamped on purpose (all of it is beside the canvas)
        if (el.closest('[data-testid="stIconMaterial"]')) continue;  // an icon's ligature name, drawn as one glyph
        const r2 = el.getBoundingClientRect();
        if (r2.width <= 1 || r2.height <= 1) continue;  // hidden, or there for screen readers only
        if (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1) {
            const cs = getComputedStyle(el);
            if (cs.overflow !== "visible" || cs.textOverflow === "ellipsis") out.push(el.textContent.trim().slice(0, 40));
        }
    }
    return out;
}"""

ZOOM_JS = """() => {
    const host = [...document.querySelectorAll('*')].find((e) => e.shadowRoot?.querySelector('.react-flow__viewport'));
    const t = host.shadowRoot.querySelector('.react-flow__viewport').style.transform;
    return Number(/scale\\(([0-9.]+)\\)/.exec(t)[1]);
}"""


def boxes(page, selector: str) -> list[dict]:
    return [el.bounding_box() for el in page.locator(selector).all() if el.is_visible()]


def meets(a: dict, b: dict) -> bool:
    return (a["x"] < b["x"] + b["width"] - 1 and b["x"] < a["x"] + a["width"] - 1
            and a["y"] < b["y"] + b["height"] - 1 and b["y"] < a["y"] + a["height"] - 1)


def fit_and_see_all(page, ids) -> None:
    """Presses Fit view; then every layer's box lies inside the visible canvas."""
    page.get_by_role("button", name="Fit view").click()
    settle(page)
    pane = page.locator(".react-flow__pane").bounding_box()
    for nid in ids:
        box = canvas_node(page, nid).bounding_box()
        assert box is not None and pane["x"] <= box["x"] and box["x"] + box["width"] <= pane["x"] + pane["width"] + 1
        assert pane["y"] <= box["y"] and box["y"] + box["height"] <= pane["y"] + pane["height"] + 1, (nid, box, pane)


def test_a_nine_layer_cnn_fits_whole_at_fit_view_with_nothing_cut(page, server):
    open_app(page, server)
    new_from_template(page, "CIFAR-10 CNN")
    expect(metric_value(page, "Total params")).to_have_text("122,570", timeout=60_000)
    g = wait_graph(page, lambda g: len(g.nodes) == 9)
    settle(page)
    fit_and_see_all(page, g.ids())
    assert 13 * page.evaluate(ZOOM_JS) >= 11  # node text at 11 px or more
    assert page.evaluate(CUT_JS, "canvas") == []
    nodes = boxes(page, ".react-flow__node")
    for label in boxes(page, ".react-flow__edge-textwrapper, .react-flow__edge-text"):
        assert not any(meets(label, n) for n in nodes), label
    page.screenshot(path=str(ARTIFACTS / "reading-cnn-1400.png"))


def test_each_edge_of_a_merge_enters_its_own_port_also_after_a_reorder(page, server):
    open_app(page, server)
    new_from_template(page, "Two inputs: image, table")
    g = wait_graph(page, lambda g: any(n.type == "Concatenate" for n in g.nodes) and len(g.nodes) == 8)
    merge = next(n.id for n in g.nodes if n.type == "Concatenate")
    settle(page)

    def ends_at_ports(order: list[str]) -> None:
        for i, src in enumerate(order):
            edge = page.locator(f".react-flow__edge[data-id^='e:{src}:{merge}:'] path.react-flow__edge-path")
            end = edge.evaluate("""p => { const pt = p.getPointAtLength(p.getTotalLength());
                const m = p.getScreenCTM(); return {x: pt.x * m.a + m.e, y: pt.y * m.d + m.f}; }""")
            port = canvas_node(page, merge).locator(f".react-flow__handle[data-handleid='in-{i}']").bounding_box()
            label = canvas_node(page, merge).locator(".lc-port-label").nth(i)
            assert abs(end["x"] - (port["x"] + port["width"] / 2)) < 12 and abs(end["y"] - (port["y"] + port["height"] / 2)) < 14, (src, i, end, port)
            assert float(label.evaluate("el => getComputedStyle(el).fontSize").rstrip("px")) >= 11

    order = g.inputs_of(merge)
    ends_at_ports(order)
    canvas_node(page, merge).click()
    settle(page)
    page.locator(f".st-key-up-{merge}-1-{order[1]} button").first.click()
    g = wait_graph(page, lambda g: g.inputs_of(merge) == [order[1], order[0]])
    settle(page)
    ends_at_ports(g.inputs_of(merge))
    page.screenshot(path=str(ARTIFACTS / "reading-merge.png"))


def test_at_1024_by_768_the_toolbar_is_one_line_and_the_inspector_whole(browser, server):
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    page = context.new_page()
    try:
        open_app(page, server)
        canvas_node(page, "dense").click()
        settle(page)
        buttons = boxes(page, ".lc-toolbar button")
        assert len({round(b["y"]) for b in buttons}) == 1, buttons  # one line
        toolbar = page.locator(".lc-toolbar").bounding_box()
        assert toolbar["height"] < 40
        assert page.evaluate(CUT_JS, "canvas") == []
        assert page.evaluate(CUT_JS, "side") == []
        expect(page.get_by_role("button", name="Delete", exact=True)).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "reading-1024.png"))
    finally:
        context.close()


def test_a_window_resize_refits_unless_the_user_has_moved_the_view(page, server):
    open_app(page, server)
    new_from_template(page, "CIFAR-10 CNN")
    g = wait_graph(page, lambda g: len(g.nodes) == 9)
    settle(page)
    page.get_by_role("button", name="Fit view").click()
    settle(page)
    before = page.locator(".react-flow__viewport").evaluate("el => el.style.transform")
    page.set_viewport_size({"width": 1100, "height": 800})
    settle(page)
    refit = page.locator(".react-flow__viewport").evaluate("el => el.style.transform")
    assert refit != before
    page.get_by_role("button", name="Fit view").click()  # what Fit view gives at this size: the same view
    settle(page)
    assert page.locator(".react-flow__viewport").evaluate("el => el.style.transform") == refit
    assert len(g.nodes) == 9
    # A click on the empty canvas (it deselects) moves nothing: a resize still refits.
    pane = page.locator(".react-flow__pane").bounding_box()
    page.locator(".react-flow__pane").click(position={"x": pane["width"] - 20, "y": 60})
    settle(page)
    page.set_viewport_size({"width": 1400, "height": 900})
    settle(page)
    assert page.locator(".react-flow__viewport").evaluate("el => el.style.transform") != refit
    # Moved by hand: a resize leaves the view as the user put it.
    pane = page.locator(".react-flow__pane").bounding_box()
    page.mouse.move(pane["x"] + pane["width"] / 2, pane["y"] + pane["height"] / 2)
    page.mouse.wheel(0, 120)
    settle(page)
    view = page.locator(".react-flow__viewport").evaluate("el => el.style.transform")
    page.set_viewport_size({"width": 1100, "height": 800})
    settle(page)
    assert page.locator(".react-flow__viewport").evaluate("el => el.style.transform") == view


def test_several_selected_layers_are_counted_grouped_and_copied_from_the_inspector(page, server):
    open_app(page, server)
    canvas_node(page, "dense").click()
    canvas_node(page, "dense_1").click(modifiers=["Shift"])
    expect(page.get_by_text("2 layers selected")).to_be_visible(timeout=30_000)
    expect(page.get_by_text(f"Params {4 * 16 + 16 + 16 * 8 + 8:,}")).to_be_visible()
    settle(page)
    page.get_by_role("button", name="Copy them").click()
    expect(page.locator(".lc-toast")).to_contain_text("Copied 2 layers", timeout=30_000)
    settle(page)
    page.locator(".lc-canvas").focus()
    page.keyboard.press("Control+v")
    g = wait_graph(page, lambda g: len(g.nodes) == 6)
    assert {n.type for n in g.nodes if n.id not in ("input", "dense", "dense_1", "output")} == {"Dense"}
    settle(page)
    canvas_node(page, "dense").click()
    canvas_node(page, "dense_1").click(modifiers=["Shift"])
    expect(page.get_by_text("2 layers selected")).to_be_visible(timeout=30_000)
    settle(page)
    page.get_by_role("button", name="Group them").click()
    g = wait_graph(page, lambda g: len(g.groups) == 1)
    assert set(g.groups[0].nodes) == {"dense", "dense_1"}


def test_opening_output_on_a_sample_leaves_the_canvas_in_view(page, server):
    open_app(page, server)
    new_from_template(page, "Digits CNN")
    expect(canvas_node(page, "conv2d_1")).to_be_visible(timeout=30_000)
    settle(page)
    canvas_node(page, "conv2d_1").click()
    settle(page)
    canvas = page.locator(".lc-canvas").bounding_box()
    page.get_by_text("Output on a sample").click()  # far down the inspector: its column scrolls, not the page
    expect(page.get_by_text("Draw with the mouse")).to_be_visible(timeout=30_000)
    settle(page)
    assert page.evaluate("() => window.scrollY") == 0
    assert page.locator(".lc-canvas").bounding_box() == canvas
    page.screenshot(path=str(ARTIFACTS / "reading-live-output.png"))


# Points along each edge into `merge` (screen coordinates), from its source to its port.
EDGE_POINTS_JS = """(merge) => {
    const host = [...document.querySelectorAll('*')].find((e) => e.shadowRoot?.querySelector('.react-flow__viewport'));
    const out = {};
    for (const e of host.shadowRoot.querySelectorAll('.react-flow__edge')) {
        const [, src, dst] = e.dataset.id.split(':');
        if (dst !== merge) continue;
        const p = e.querySelector('path.react-flow__edge-path'), m = p.getScreenCTM(), n = 80, len = p.getTotalLength();
        out[src] = [...Array(n + 1).keys()].map((i) => { const q = p.getPointAtLength(len * i / n);
            return [q.x * m.a + m.e, q.y * m.d + m.f]; });
    }
    return out;
}"""


def test_edges_into_a_merge_dropped_close_below_its_sources_turn_apart_and_never_double_back(page, server):
    """A merge placed just below its two sources (a drop leaves it there): each edge goes down, across and down into
    its own port, turning at its own height; none goes down, back up and across (smoothstep's fixed runs did)."""
    from tests.e2e.test_e2e_walkthrough import branch, chain

    open_app(page, server)
    new_from_template(page, "Empty (one Input)")
    g = wait_graph(page, lambda g: [n.type for n in g.nodes] == ["Input"])
    inp = g.nodes[0].id
    settle(page)
    (left,) = chain(page, inp, ["Dense"])
    right = branch(page, "Dense", inp)
    (merge,) = chain(page, left, ["Concatenate"])
    drag_connect(page, right, merge, ".react-flow__handle.target >> nth=-1")
    wait_graph(page, lambda g: g.inputs_of(merge) == [left, right])
    settle(page)
    # Drag the merge up until its ports are 30 px below the sources' output handles (about 18 px of edge).
    handles = [canvas_node(page, s).locator(".react-flow__handle.source").bounding_box() for s in (left, right)]
    port = canvas_node(page, merge).locator(".react-flow__handle[data-handleid='in-0']").bounding_box()
    lowest = max(h["y"] + h["height"] / 2 for h in handles)
    title = canvas_node(page, merge).locator("text=Concatenate").first.bounding_box()
    x, y = title["x"] + title["width"] / 2, title["y"] + title["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x, y - 10, steps=2)
    page.mouse.move(x, y - ((port["y"] + port["height"] / 2) - lowest - 30), steps=6)
    page.mouse.up()
    settle(page)
    points = page.evaluate(EDGE_POINTS_JS, merge)
    assert sorted(points) == sorted([left, right])
    turns = {}
    for src, pts in points.items():
        ys = [p[1] for p in pts]
        assert 8 < ys[-1] - ys[0] < 40, (src, ys[0], ys[-1])  # the merge is close below
        assert all(b >= a - 0.5 for a, b in zip(ys, ys[1:], strict=False)), (src, ys)  # never back up
        (x0, _), (x1, _) = pts[0], pts[-1]
        across = [p[1] for p in pts if abs(p[0] - x0) > 4 and abs(p[0] - x1) > 4]
        assert across and max(across) - min(across) < 1, (src, across)  # one horizontal run
        turns[src] = across[0]
    assert abs(turns[left] - turns[right]) >= 3, turns  # each edge turns at its own height
    page.screenshot(path=str(ARTIFACTS / "reading-merge-close.png"))
