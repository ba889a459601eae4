"""Issue 25's walk-through, as a new user does it: from an empty project, a small CNN and then a two-branch model
with a merge, built in one browser session by palette clicks and one handle drag; every layer lands in view,
clear of the others and of the canvas's furniture, connected where it should be, and no text is cut. Screenshots
at 1400x900 and 1024x768."""

from __future__ import annotations

from playwright.sync_api import expect

from builder.model.build import build_model
from tests.e2e.helpers import (
    ARTIFACTS,
    canvas_node,
    center,
    drag_connect,
    drag_to,
    metric_value,
    new_from_template,
    open_app,
    palette_item,
    settle,
    stable_box,
    wait_graph,
)
from tests.e2e.test_e2e_placement import added, select
from tests.e2e.test_e2e_reading import CUT_JS, fit_and_see_all


def set_shape(page, text: str) -> None:
    """Types the selected Input's shape in the inspector."""
    box = page.get_by_role("textbox", name="shape *")
    box.fill(text)
    box.press("Enter")


def chain(page, start: str, types: list[str]) -> list[str]:
    """Palette clicks with the last layer selected: each new layer goes after it, in view, clear of everything."""
    ids, last = [], start
    for type_ in types:
        select(page, last)
        last = added(page, lambda t=type_: palette_item(page, t).click(), after=last)
        ids.append(last)
    return ids


def branch(page, type_: str, source: str) -> str:
    """Drags `type_` from the palette onto `source`'s output handle: a new branch from it, in view and clear."""
    settle(page)
    handle = stable_box(page, canvas_node(page, source).locator(".react-flow__handle.source"))
    return added(page, lambda: drag_to(page, palette_item(page, type_), *center(handle)), after=source)


def totals_match_keras(page) -> None:
    g = wait_graph(page, lambda g: True)
    expect(metric_value(page, "Total params")).to_have_text(f"{build_model(g).count_params():,}", timeout=30_000)


def test_a_cnn_and_a_two_branch_model_from_an_empty_project(page, server):
    open_app(page, server)

    # A small CNN for 28x28x1 images.
    new_from_template(page, "Empty (one Input)")
    g = wait_graph(page, lambda g: [n.type for n in g.nodes] == ["Input"])
    select(page, g.nodes[0].id)
    set_shape(page, "28, 28, 1")
    wait_graph(page, lambda g: list(g.nodes[0].params["shape"]) == [28, 28, 1])
    cnn = chain(page, g.nodes[0].id, ["Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dense"])
    g = wait_graph(page, lambda g: len(g.nodes) == 8)
    assert [n.type for n in g.nodes[1:]] == ["Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dense",
                                            "Dense"]
    assert all(g.inputs_of(b) == [a] for a, b in zip([g.nodes[0].id, *cnn], cnn, strict=False))
    totals_match_keras(page)
    page.get_by_role("button", name="Fit view").click()
    settle(page)
    assert page.evaluate(CUT_JS, "canvas") == []
    page.screenshot(path=str(ARTIFACTS / "walkthrough-cnn-1400.png"))

    # A two-branch model: Input(16) -> Dense and Input -> Dense, merged by Concatenate, then an output Dense.
    new_from_template(page, "Empty (one Input)")
    g = wait_graph(page, lambda g: [n.type for n in g.nodes] == ["Input"] and "conv2d" not in g.ids())
    inp = g.nodes[0].id
    select(page, inp)
    set_shape(page, "16")
    wait_graph(page, lambda g: list(g.nodes[0].params["shape"]) == [16])
    (left,) = chain(page, inp, ["Dense"])
    right = branch(page, "Dense", inp)  # a second branch from the Input: beside the first
    merge, out = chain(page, left, ["Concatenate", "Dense"])
    drag_connect(page, right, merge, ".react-flow__handle.target >> nth=-1")  # onto the merge's free port
    g = wait_graph(page, lambda g: len(g.inputs_of(merge)) == 2)
    assert sorted(g.inputs_of(merge)) == sorted([left, right]) and g.inputs_of(out) == [merge]
    totals_match_keras(page)
    settle(page)
    assert page.evaluate(CUT_JS, "canvas") == []
    page.screenshot(path=str(ARTIFACTS / "walkthrough-branches-1400.png"))

    # The same at 1024x768 (a projector), the sidebar closed: after Fit view every layer is in view, nothing cut.
    page.set_viewport_size({"width": 1024, "height": 768})
    settle(page)
    page.locator('[data-testid="stSidebar"]').hover()
    page.locator('[data-testid="stSidebarCollapseButton"] button').click()
    expect(page.locator('[data-testid="stSidebar"]')).to_have_attribute("data-collapsed", "true")
    page.wait_for_function("document.querySelector('[data-testid=\"stMainBlockContainer\"]')"
                           ".getBoundingClientRect().left < 100")  # the page takes the sidebar's room
    settle(page)
    fit_and_see_all(page, g.ids())
    assert page.evaluate(CUT_JS, "canvas") == []
    assert page.evaluate(CUT_JS, "side") == []
    page.screenshot(path=str(ARTIFACTS / "walkthrough-branches-1024.png"))
