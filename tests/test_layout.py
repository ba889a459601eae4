"""Auto-layout: layers top-down, no overlaps, deterministic, never raises."""

import itertools
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builder.model.graph import Edge, Graph, Node
from builder.model.layout import (
    NODE_H,
    NODE_W,
    V_GAP,
    auto_layout,
    missing_positions,
)
from builder.model.templates import TEMPLATES, template

W, H = NODE_W, NODE_H  # the defaults


def overlaps(a, b, node_width: float = NODE_W, node_height: float = NODE_H) -> bool:
    """Whether two boxes at top-left corners `a` and `b` overlap (touching is fine)."""
    return abs(a[0] - b[0]) < node_width and abs(a[1] - b[1]) < node_height


def no_overlaps(g: Graph, w=W, h=H) -> bool:
    pos = [g.layout[n] for n in g.ids()]
    return not any(overlaps(a, b, w, h) for i, a in enumerate(pos) for b in pos[i + 1:])


def rows_of(g: Graph) -> dict[float, list[str]]:
    rows: dict[float, list[str]] = {}
    for nid in g.ids():
        rows.setdefault(g.layout[nid][1], []).append(nid)
    return {y: sorted(ids, key=lambda n: g.layout[n][0]) for y, ids in sorted(rows.items())}


def chain(n: int) -> Graph:
    nodes = [Node("x0", "Input", {"shape": [4]})] + [Node(f"x{i}", "Dense", {"units": 4}) for i in range(1, n)]
    return Graph(tuple(nodes), tuple(Edge(f"x{i}", f"x{i + 1}") for i in range(n - 1)))


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_every_template_gets_a_clean_layered_layout(key):
    g = auto_layout(template(key))
    assert set(g.layout) == set(g.ids())
    assert all(len(p) == 2 and all(isinstance(c, float) for c in p) for p in g.layout.values())
    assert no_overlaps(g)
    for e in g.edges:
        assert g.layout[e.source][1] < g.layout[e.target][1], e
    for nid in g.input_ids():
        assert g.layout[nid][1] == 0.0  # Inputs on the top row
    assert auto_layout(template(key)) == g  # deterministic
    assert replace(g, layout={}) == replace(template(key), layout={})  # nothing else changed


def test_chain_is_a_vertical_line_with_even_steps():
    g = auto_layout(chain(6), node_width=W, node_height=H, v_gap=V_GAP)
    xs = {g.layout[n][0] for n in g.ids()}
    ys = [g.layout[n][1] for n in g.ids()]
    assert len(xs) == 1
    assert ys == [i * (H + V_GAP) for i in range(6)]
    assert xs == {-W / 2}  # centred on x = 0


def test_inception_branches_sit_side_by_side_in_one_row():
    g = auto_layout(template("inception_block"))
    rows = list(rows_of(g).values())
    assert rows[0] == ["image"]
    assert rows[1] == ["branch_1x1", "branch_3x3_reduce", "branch_5x5_reduce", "branch_pool"]  # port order
    assert rows[2] == ["branch_3x3", "branch_5x5", "branch_pool_proj"]
    assert [r for r in rows[3:]] == [["mixed"], ["pool"], ["head"]]
    # Each branch is a straight column; the join sits under the middle of the block.
    for top, bottom in [("branch_3x3_reduce", "branch_3x3"), ("branch_5x5_reduce", "branch_5x5"), ("branch_pool", "branch_pool_proj")]:
        assert g.layout[top][0] == g.layout[bottom][0]
    branch_xs = [g.layout[n][0] for n in rows[1]]
    assert g.layout["mixed"][0] == pytest.approx(sum(branch_xs) / 4, abs=1)
    assert g.layout["image"][0] == g.layout["mixed"][0] == g.layout["head"][0]


def test_small_resnet_skip_edges_run_beside_the_convolutions():
    g = auto_layout(template("small_resnet"))
    rows = list(rows_of(g).values())
    assert all(len(r) == 1 for r in rows)  # one node per row: the skips get lanes, not nodes
    x = {n: g.layout[n][0] for n in g.ids()}
    for block in ("b1", "b2"):
        conv1, conv2, add = x[f"{block}_conv1"], x[f"{block}_conv2"], x[f"{block}_add"]
        assert conv1 == conv2
        # The skip edge runs straight down from its source to the Add: it must
        # not pass through the convolution boxes between them.
        source = x["stem"] if block == "b1" else x["b1_relu"]
        assert source == add
        assert abs((conv1 + W / 2) - (add + W / 2)) >= W / 2
    assert x["image"] == x["stem"] == x["head"]


def test_two_inputs_keeps_each_branch_straight():
    g = auto_layout(template("two_inputs"))
    x = {n: g.layout[n][0] for n in g.ids()}
    assert g.layout["image"][1] == g.layout["table"][1] == 0.0
    assert x["image"] < x["table"]
    assert x["image"] == x["conv"] == x["flat"]
    assert x["table"] == x["table_dense"]
    assert x["joined"] == x["hidden"] == x["head"]


def test_gaps_and_sizes_are_respected():
    g = auto_layout(template("inception_block"), node_width=120, node_height=40, h_gap=10, v_gap=30)
    row = rows_of(g)[40.0 + 30]
    xs = [g.layout[n][0] for n in row]
    assert [b - a for a, b in itertools.pairwise(xs)] == [130.0] * 3
    assert no_overlaps(g, 120, 40)


def test_crossings_are_undone():
    # Listed so that naive node order crosses: a->d, b->c.
    nodes = [Node(i, "Input" if i in "ab" else "Dense", {}) for i in "abcd"]
    g = auto_layout(Graph(tuple(nodes), (Edge("a", "d"), Edge("b", "c"))))
    x = {n: g.layout[n][0] for n in g.ids()}
    assert (x["a"] < x["b"]) == (x["d"] < x["c"])


def test_a_cycle_does_not_raise_and_still_places_every_node():
    nodes = [Node("i", "Input", {"shape": [2]}), Node("a", "Dense", {}), Node("b", "Dense", {}), Node("c", "Dense", {})]
    edges = (Edge("i", "a"), Edge("a", "b"), Edge("b", "c"), Edge("c", "a"), Edge("b", "b"), Edge("ghost", "c"))
    g = auto_layout(Graph(tuple(nodes), edges))
    assert set(g.layout) == {"i", "a", "b", "c"}
    assert no_overlaps(g)
    assert [g.layout[n][1] for n in "iabc"] == sorted(g.layout[n][1] for n in "iabc")  # node order in rows


def test_empty_graph_and_isolated_nodes():
    assert auto_layout(Graph()).layout == {}
    g = auto_layout(Graph((Node("a", "Input", {}), Node("b", "Dense", {}), Node("c", "Dense", {}))))
    assert {p[1] for p in g.layout.values()} == {0.0}
    assert no_overlaps(g)


def test_stale_layout_entries_are_dropped():
    g = replace(chain(2), layout={"gone": [5.0, 5.0], "x0": [1.0, 2.0]})
    assert set(auto_layout(g).layout) == {"x0", "x1"}


# -- missing_positions ---------------------------------------------------------
def test_missing_positions_keeps_existing_positions_exactly():
    g = auto_layout(template("cifar_cnn"))
    g = g.set_position("conv2d", (333.25, -17.5))
    g2, nid = g.add_node("Dropout", {"rate": 0.5}, after="head")
    placed = missing_positions(g2)
    for k, v in g.layout.items():
        assert placed.layout[k] == v
    assert placed.layout[nid] == [g.layout["head"][0], g.layout["head"][1] + H + V_GAP]
    assert no_overlaps(placed)


def test_missing_positions_goes_sideways_when_the_spot_is_taken():
    g = auto_layout(template("two_outputs"))  # class_head and value_head below shared
    g, nid = g.add_node("Dense", {"units": 2}, after="shared")
    placed = missing_positions(g)
    assert placed.layout[nid][1] == g.layout["class_head"][1]
    assert placed.layout[nid][0] == g.layout["value_head"][0] + W + 40  # the nearest free spot, beside
    assert no_overlaps(placed)


def test_missing_positions_without_inputs_goes_below_the_lowest_node_or_above_a_successor():
    g = auto_layout(template("mlp"))
    lowest = max(g.layout.values(), key=lambda p: p[1])
    g2, loose = g.add_node("Dense", {"units": 3})
    assert missing_positions(g2).layout[loose] == [lowest[0], lowest[1] + H + V_GAP]
    g3, extra_input = g.add_node("Input", {"shape": [2]})
    g3 = replace(g3, edges=g3.edges + (Edge(extra_input, "dense"),))
    p = missing_positions(g3).layout[extra_input]
    assert p[1] == g.layout["dense"][1] - H - V_GAP
    assert no_overlaps(missing_positions(g3))


def test_missing_positions_places_new_chains_in_order_and_falls_back_to_auto_layout():
    g = auto_layout(chain(2))
    g = replace(g, nodes=g.nodes + (Node("x2", "Dense", {}), Node("x3", "Dense", {})),
                edges=g.edges + (Edge("x2", "x3"), Edge("x1", "x2")))
    placed = missing_positions(g)
    assert [placed.layout[f"x{i}"][1] for i in range(4)] == [i * (H + V_GAP) for i in range(4)]
    assert missing_positions(replace(g, layout={})) == auto_layout(g)
    full = auto_layout(template("mlp"))
    assert missing_positions(full) is full


# -- properties ---------------------------------------------------------------
@st.composite
def dags(draw):
    n = draw(st.integers(1, 14))
    nodes = tuple(Node(f"n{i}", "Input" if i == 0 else "Dense", {}) for i in range(n))
    edges = []
    for t in range(1, n):
        for s in draw(st.lists(st.integers(0, t - 1), max_size=3, unique=True)):
            edges.append(Edge(f"n{s}", f"n{t}"))
    order = draw(st.permutations(range(n)))  # node order need not be topological
    return Graph(tuple(nodes[i] for i in order), tuple(draw(st.permutations(edges))))


@settings(max_examples=150, deadline=None)
@given(dags(), st.integers(20, 220), st.integers(20, 120), st.integers(0, 60), st.integers(0, 60))
def test_random_dags_have_no_overlaps_and_downward_edges(g, w, h, hg, vg):
    laid = auto_layout(g, w, h, hg, vg)
    assert set(laid.layout) == set(g.ids())
    assert no_overlaps(laid, w, h)
    for e in g.edges:
        assert laid.layout[e.source][1] < laid.layout[e.target][1]
    assert auto_layout(g, w, h, hg, vg) == laid


@settings(max_examples=60, deadline=None)
@given(dags(), st.data())
def test_missing_positions_on_random_dags(g, data):
    laid = auto_layout(g)
    keep = data.draw(st.sets(st.sampled_from(g.ids())), label="keep")
    partial = replace(laid, layout={k: v for k, v in laid.layout.items() if k in keep})
    placed = missing_positions(partial)
    assert set(placed.layout) == set(g.ids())
    assert all(placed.layout[k] == laid.layout[k] for k in keep)
    assert no_overlaps(placed)


def test_a_collapsed_group_is_laid_out_as_one_box():
    g = template("cifar_cnn")
    g, gid = g.group(["conv2d", "pool", "conv2d_1", "pool_1"])
    folded = auto_layout(g.set_group_collapsed(gid, True))
    ys = sorted({folded.layout[n][1] for n in folded.ids()})
    # input, the group's box, conv2d_2, flatten, dense, head: six rows, no gap left by the hidden layers
    assert len(ys) == 6 and [b - a for a, b in itertools.pairwise(ys)] == [H + V_GAP] * 5
    assert {tuple(folded.layout[n]) for n in ("conv2d", "pool", "conv2d_1", "pool_1")} == {tuple(folded.layout["conv2d"])}
    opened = auto_layout(folded.set_group_collapsed(gid, False))
    assert opened.layout == auto_layout(g).layout and no_overlaps(opened)


# -- placing one new layer: in view, clear of the others ---------------------------------------------------
from builder.model.layout import (  # noqa: E402
    TALLER,
    View,
    after,
    arrange,
    direction,
    free_spot,
    make_room,
    place_in_view,
    room_for_new,
)


def in_view(xy: tuple[float, float], view: View) -> bool:
    """Whether a box at `xy` lies wholly inside `view`."""
    x, y = xy
    return view[0] <= x and x + NODE_W <= view[2] and view[1] <= y and y + NODE_H <= view[3]


def clear_of_all(g: Graph, nid: str) -> bool:
    return not any(overlaps(g.layout[nid], g.layout[o]) for o in g.ids() if o != nid)


def test_a_layer_wanted_outside_the_view_lands_inside_it_clear_of_the_others():
    g = auto_layout(template("digits_cnn"))
    g, nid = g.add_node("Dense")
    view = (-300.0, 0.0, 500.0, 500.0)  # the top of the graph: full of layers in the middle
    placed = place_in_view(g, nid, (-3000.0, 5000.0), view)
    assert in_view(tuple(placed.layout[nid]), view)
    assert clear_of_all(placed, nid)


@settings(max_examples=60, deadline=None)
@given(st.floats(-2000, 2000), st.floats(-2000, 2000), st.floats(-1500, 1500), st.floats(-500, 1500),
       st.floats(300, 1400), st.floats(200, 900), st.sampled_from(["mlp", "digits_cnn", "two_inputs", "small_resnet"]))
def test_place_in_view_never_covers_a_layer_and_stays_in_view_when_there_is_room(px, py, vx, vy, vw, vh, key):
    g = auto_layout(template(key))
    g, nid = g.add_node("Dropout")
    view = (vx, vy, vx + vw, vy + vh)
    placed = place_in_view(g, nid, (px, py), view)
    assert clear_of_all(placed, nid)
    others = [placed.layout[o] for o in placed.ids() if o != nid]
    # Where a free spot in view exists (checked on a fine grid), it was found. A new box is kept clear of the others
    # and in view as tall as it may grow (TALLER: a message line), as place_in_view promises.
    tall = NODE_H + TALLER
    grid = [(vx + i * (vw - NODE_W) / 20, vy + j * (vh - tall) / 20) for i in range(21) for j in range(21)]
    room = vh >= tall and any(all(abs(x - ox) >= NODE_W + 20 or (y - oy >= NODE_H + 20 or oy - y >= tall + 20)
                                  for ox, oy in others) for x, y in grid)
    if room:
        assert in_view(tuple(placed.layout[nid]), view)


def edge_crosses(g: Graph, source: str, nid: str) -> bool:
    """Whether the straight edge from `source` to `nid` (out side to in side) passes through another layer's box."""
    (sx, sy), (x, y) = g.layout[source], g.layout[nid]
    lr = direction(g) == "LR"
    a = (sx + NODE_W, sy + NODE_H / 2) if lr else (sx + NODE_W / 2, sy + NODE_H)
    b = (x, y + NODE_H / 2) if lr else (x + NODE_W / 2, y)
    boxes = [g.layout[o] for o in g.ids() if o not in (source, nid)]
    return any(qx < a[0] + (b[0] - a[0]) * t / 100 < qx + NODE_W and qy < a[1] + (b[1] - a[1]) * t / 100 < qy + NODE_H
               for t in range(1, 100) for qx, qy in boxes)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["mlp", "iris_mlp", "digits_cnn", "two_inputs"]), st.floats(300, 1400), st.floats(400, 1200),
       st.sampled_from(["TB", "LR"]))
def test_a_branch_goes_where_its_edge_crosses_no_layer(key, vw, vh, way):
    """A second layer connected from one that has a successor (a drop on its output handle): clear of every layer,
    and its edge from the source crosses none (it goes beside the first branch, not below it)."""
    g = arrange(template(key), way)
    source = next(n for n in g.ids() if g.successors(n))
    g2, nid = g.add_node("Dense")
    g2 = g2.connect(source, nid)
    x, y = g.layout[source]
    view = (x - vw / 2, y - 100.0, x + vw / 2, y - 100.0 + vh)
    placed = place_in_view(g2, nid, after(g, source), view, downstream=True, source=source)
    assert clear_of_all(placed, nid)
    assert not edge_crosses(placed, source, nid)


def test_a_block_goes_in_view_as_one_piece_beside_what_it_would_cover():
    boxes = [(0.0, 0.0), (0.0, 124.0)]
    block = [(0.0, 0.0), (0.0, 124.0)]  # a copy of those two
    spot = free_spot(block, boxes, (40.0, 40.0), (-1000.0, -1000.0, 1000.0, 1000.0))
    assert spot is not None
    assert all(abs(spot[0] + bx - ox) >= NODE_W or abs(spot[1] + by - oy) >= NODE_H
               for bx, by in block for ox, oy in boxes)
    assert free_spot(block, boxes, (0.0, 0.0), (0.0, 0.0, 100.0, 100.0)) is None  # the view is too small
    assert free_spot(block, boxes, (0.0, 0.0), None) is None


def test_make_room_keeps_the_chain_straight_and_moves_clear_of_another_branch():
    g = auto_layout(template("mlp"))
    g, nid = g.add_layer("Dropout", "input")
    roomy = make_room(g, nid, "input")
    assert roomy.layout[nid][0] == g.layout["input"][0]
    assert no_overlaps(roomy)
    # The input's other branches sit right below it and beside that: the new branch goes beside them, not on them.
    b = auto_layout(template("mlp"))
    x, y = b.layout["input"]
    b, side = b.add_node("Dense", position=(x + NODE_W + 40, y + NODE_H + V_GAP))
    b = b.connect("input", side)
    assert no_overlaps(b)
    b, nid = b.add_node("Dropout")
    b = make_room(b.connect("input", nid), nid, "input")
    assert no_overlaps(b)


def test_a_layer_a_fix_inserts_covers_none_of_its_neighbours():
    from builder.model.build import build
    from builder.model.validate import apply_fix

    g = auto_layout(template("digits_cnn"))
    broken = g.remove_node("flatten", bridge=True)  # Conv output straight into a Dense: "insert Flatten" fixes it
    issues = build(broken).issues
    fixes = [i.fix for i in issues if i.fix is not None and i.fix.op in ("insert_between", "insert_after")]
    assert fixes, [i.message for i in issues]
    fixed = apply_fix(broken, fixes[0])
    assert len(fixed.nodes) == len(broken.nodes) + 1
    assert no_overlaps(fixed)
    assert room_for_new(broken, broken) is broken


# -- left to right ------------------------------------------------------------------------------------------
from builder.model.layout import FIT_H, WRAP_W  # noqa: E402


@pytest.mark.parametrize("key", ["cifar_cnn", "mnist_cnn", "lenet5"])
def test_a_long_chain_is_laid_out_left_to_right_in_rows_that_fit_a_window(key):
    g = arrange(template(key))
    assert direction(g) == "LR" and g.extra["layout_direction"] == "LR"
    xs = [p[0] for p in g.layout.values()]
    ys = [p[1] for p in g.layout.values()]
    assert max(xs) - min(xs) + NODE_W <= WRAP_W and max(ys) - min(ys) + NODE_H <= FIT_H
    assert no_overlaps(g)
    # Reading order: each layer is right of its input, or starts the next row below it.
    for e in g.edges:
        (sx, sy), (tx, ty) = g.layout[e.source], g.layout[e.target]
        assert (tx > sx and ty == sy) or ty > sy, (e, g.layout)


def test_a_short_graph_stays_top_down_and_a_choice_is_kept():
    g = arrange(template("iris_mlp"))
    assert direction(g) == "TB" and "layout_direction" not in g.extra
    assert g.layout == auto_layout(template("iris_mlp")).layout
    lr = arrange(g, "LR")
    assert direction(lr) == "LR"
    assert direction(arrange(lr)) == "LR"  # its own direction from then on
    assert direction(arrange(lr, "TB")) == "TB"
    # The graph file keeps it (an unknown top-level field is kept on load and save).
    assert direction(Graph.from_dict(lr.to_dict())) == "LR"


@settings(max_examples=40, deadline=None)
@given(dags())
def test_left_to_right_never_overlaps(g):
    assert no_overlaps(arrange(g, "LR"))


def test_left_to_right_adds_go_right_of_their_input():
    g = arrange(template("lenet5"))
    g2, nid = g.add_layer("Dropout", "c1")
    g2 = make_room(g2, nid, "c1")
    assert g2.layout[nid][0] > g2.layout["c1"][0] and g2.layout[nid][1] == g2.layout["c1"][1]
    assert no_overlaps(g2)
    g3, nid = g.add_node("Dense")
    g3 = g3.connect("output", nid)
    g3 = missing_positions(replace(g3, layout={k: v for k, v in g3.layout.items() if k != nid}))
    assert g3.layout[nid][0] > g3.layout["output"][0] and no_overlaps(g3)
