"""Automatic top-down layout of a graph on the canvas (pure Python).

`auto_layout` draws the whole graph in layers, Inputs on top; `missing_positions`
keeps the user's arrangement and only places nodes that have no position yet.
Positions are the top-left corners of `node_width` x `node_height` boxes, as
the canvas widget expects. Both functions are deterministic.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

from builder.model.graph import Edge, Graph, GraphCycleError

SWEEPS = 4  # down+up barycenter sweeps: enough for model graphs
SMOOTHING = 8  # passes that pull nodes toward their neighbours
# A node's box on the canvas and the space between boxes: a box is 240 px wide and 60 to 100 px tall (type and
# id, key params, shape and params, and a one-line message when it has a problem); the edge's shape label sits
# in the gap below it. The canvas takes NODE_W and NODE_H from its payload (its box width, and the height of a box
# it has not measured yet): they are set here only.
NODE_W, NODE_H, H_GAP, V_GAP = 240, 84, 40, 48
TALLER = 40  # how much taller than NODE_H a box grows with a one-line message ("has no input") or wrapped params
MAX_DUMMIES = 20_000  # long edges beyond this budget get no lane (keeps huge graphs fast)


def auto_layout(
    graph: Graph,
    node_width: float = NODE_W,
    node_height: float = NODE_H,
    h_gap: float = H_GAP,
    v_gap: float = V_GAP,
) -> Graph:
    """Lays the whole graph out top-down in layers.

    A node's row is the length of the longest path to it from a node without
    inputs, so every edge points down. Within a row, nodes are ordered to
    reduce edge crossings (barycenter sweeps); an edge that skips rows
    reserves a lane in each row it crosses, so it does not run through nodes.
    Rows are centred on the axis x = 0, then nodes move toward their
    neighbours so that chains stay straight, keeping their order and gaps.

    Args:
        graph: Any graph; a cycle does not raise: edges that point backward
            in node order are then ignored for the layout.
        node_width, node_height: Size of a node's box on the canvas.
        h_gap, v_gap: Space between boxes in a row and between rows.

    Returns:
        The graph with `layout` holding `[x, y]` (top-left) for every node,
        and nothing else.
    """
    if any(g.collapsed for g in graph.groups):
        return _layout_collapsed(graph, node_width, node_height, h_gap, v_gap)
    ids = graph.ids()
    if not ids:
        return replace(graph, layout={})
    index = {nid: i for i, nid in enumerate(ids)}
    pairs = _pairs(graph, index)
    try:
        order = graph.topological_order()
    except GraphCycleError:
        order = ids
        pairs = [(s, t) for s, t in pairs if index[s] < index[t]]

    rank = {nid: 0 for nid in ids}
    preds: dict = {nid: [] for nid in ids}
    for s, t in pairs:
        preds[t].append(s)
    for nid in order:
        for s in preds[nid]:
            rank[nid] = max(rank[nid], rank[s] + 1)

    # The layered graph: real nodes plus one dummy per row crossed by a long edge.
    up: dict = {nid: [] for nid in ids}
    down: dict = {nid: [] for nid in ids}
    vrank = dict(rank)
    budget = MAX_DUMMIES
    for s, t in pairs:
        span = rank[t] - rank[s]
        chain = [s]
        if span <= budget:
            budget -= span - 1
            for k in range(1, span):
                d = ("~", s, t, k)  # a tuple never collides with a node id
                vrank[d], up[d], down[d] = rank[s] + k, [], []
                chain.append(d)
        chain.append(t)
        for a, b in itertools.pairwise(chain):
            if vrank[b] - vrank[a] == 1:  # edges over budget are left out of the ordering
                down[a].append(b)
                up[b].append(a)

    n_rows = max(vrank.values()) + 1
    rows: list[list] = [[] for _ in range(n_rows)]
    for v in vrank:  # real nodes in node order first, so ties keep the user's order
        rows[vrank[v]].append(v)

    rows = _order(rows, up, down)
    centres = _coordinates(rows, up, down, node_width + h_gap)

    layout = {}
    step_y = node_height + v_gap
    for r, row in enumerate(rows):
        for v, cx in zip(row, centres[r], strict=False):
            if isinstance(v, str):
                layout[v] = [float(cx - node_width / 2), float(r * step_y)]
    return replace(graph, layout={nid: layout[nid] for nid in ids})


# Left to right: ranks become columns, wrapped into bands (like lines of text) so that a long chain fits a canvas
# of about WRAP_W x FIT_H flow px; the gap between columns holds an edge's shape label.
DIRECTION = "layout_direction"  # the graph file's field for it: "LR"; absent: top-down
LR_GAP, BAND_GAP = 100, 64
WRAP_W, FIT_H = 760, 720  # about what a 1400 x 900 window shows of the graph at 85% (text at 11 px)


def direction(graph: Graph) -> str:
    """"LR" or "TB": how the graph is laid out (the canvas draws the handles to match)."""
    return "LR" if graph.extra.get(DIRECTION) == "LR" else "TB"


def with_direction(graph: Graph, dir_: str) -> Graph:
    return graph.set_extra(DIRECTION, "LR" if dir_ == "LR" else None)


def arrange(graph: Graph, dir_: str | None = None) -> Graph:
    """Lays the whole graph out: top-down, or left to right in bands (`dir_` "TB" or "LR"; None: the graph's own
    direction if it has one, else left to right for a chain that top-down would be taller than FIT_H). The
    direction is kept in the graph."""
    if dir_ is None and DIRECTION in graph.extra:
        dir_ = direction(graph)
    tb = auto_layout(graph)
    if dir_ is None:
        rows = [p[1] for p in tb.layout.values()]
        chain = len(set(rows)) == len(rows)  # one layer a row: a chain (branches read better top-down)
        dir_ = "LR" if chain and _extent(tb)[1] > FIT_H else "TB"
    return with_direction(_left_to_right(graph, tb) if dir_ == "LR" else tb, dir_)


def _extent(graph: Graph) -> tuple[float, float]:
    """Width and height of the drawing (boxes of NODE_W x NODE_H)."""
    if not graph.layout:
        return 0.0, 0.0
    xs = [p[0] for p in graph.layout.values()]
    ys = [p[1] for p in graph.layout.values()]
    return max(xs) - min(xs) + NODE_W, max(ys) - min(ys) + NODE_H


def _left_to_right(graph: Graph, tb: Graph) -> Graph:
    """The top-down layout `tb` turned: rows become columns, the order across a row the order down a column;
    columns wrapped into bands at WRAP_W."""
    if not tb.layout:
        return tb
    step_y_tb = NODE_H + V_GAP
    step_x = NODE_W + LR_GAP
    slot = NODE_W + H_GAP
    cols = {nid: round(y / step_y_tb) for nid, (x, y) in tb.layout.items()}
    cross = {nid: (x + NODE_W / 2) / slot for nid, (x, y) in tb.layout.items()}
    per_band = max(1, int((WRAP_W + LR_GAP) // step_x))
    layout: dict = {}
    top = 0.0
    n_bands = max(cols.values()) // per_band + 1
    for band in range(n_bands):
        members = [nid for nid, c in cols.items() if c // per_band == band]
        if not members:
            continue
        lo = min(cross[n] for n in members)
        hi = max(cross[n] for n in members)
        for nid in members:
            layout[nid] = [float((cols[nid] % per_band) * step_x), float(top + (cross[nid] - lo) * (NODE_H + V_GAP))]
        top += (hi - lo) * (NODE_H + V_GAP) + NODE_H + BAND_GAP
    # Whole pixels (a column's slots are whole steps; smoothing leaves fractions).
    return replace(tb, layout={nid: [layout[nid][0], float(round(layout[nid][1]))] for nid in tb.ids()})


def missing_positions(
    graph: Graph,
    node_width: float = NODE_W,
    node_height: float = NODE_H,
    h_gap: float = H_GAP,
    v_gap: float = V_GAP,
) -> Graph:
    """Places the nodes that have no position, keeping every other one as is.

    A node with placed inputs goes below them (e.g. a node just added after
    X goes below X); one with only placed successors goes above them; any
    other below the lowest node. If that spot is taken it moves sideways to
    the nearest free one, so it never lands on another node. A graph with no
    positions at all gets `auto_layout`.

    Returns:
        The graph with a position for every node; existing entries unchanged.
    """
    placed = {k: v for k, v in graph.layout.items() if graph.has(k)}
    missing = [nid for nid in graph.drawing_order() if nid not in placed]
    if not missing:
        return graph
    if not placed:
        return arrange(graph)
    layout = dict(graph.layout)
    step_y = node_height + v_gap
    lr = direction(graph) == "LR"
    for nid in missing:
        above = [placed[p] for p in graph.inputs_of(nid) if p in placed]
        below = [placed[s] for s in graph.successors(nid) if s in placed]
        if lr:  # after its inputs is right of them
            step_x = node_width + LR_GAP
            if above:
                x, y = max(p[0] for p in above) + step_x, sum(p[1] for p in above) / len(above)
            elif below:
                x, y = min(p[0] for p in below) - step_x, sum(p[1] for p in below) / len(below)
            else:
                x, y = min(p[0] for p in placed.values()), max(p[1] for p in placed.values()) + step_y
            y = _free_y(x, y, list(placed.values()), node_width, node_height, step_y)
            placed[nid] = layout[nid] = [float(x), float(y)]
            continue
        if above:
            x, y = sum(p[0] for p in above) / len(above), max(p[1] for p in above) + step_y
        elif below:
            x, y = sum(p[0] for p in below) / len(below), min(p[1] for p in below) - step_y
        else:
            lowest = max(placed.values(), key=lambda p: (p[1], -p[0]))
            x, y = lowest[0], lowest[1] + step_y
        x = _free_x(x, y, list(placed.values()), node_width, node_height, node_width + h_gap)
        placed[nid] = layout[nid] = [float(x), float(y)]
    return replace(graph, layout=layout)


def _layout_collapsed(graph: Graph, node_width: float, node_height: float, h_gap: float, v_gap: float) -> Graph:
    """`auto_layout` of the graph as the canvas draws it: each collapsed group is one box, at the place of its
    first layer; its other layers share that place (they are hidden until the group expands)."""
    order = {nid: i for i, nid in enumerate(graph.drawing_order())}
    rep: dict[str, str] = {}
    for group in graph.groups:
        if group.collapsed and group.nodes:
            first = min(group.nodes, key=lambda n: order.get(n, 0))
            rep.update({m: first for m in group.nodes})
    keep = [n for n in graph.nodes if rep.get(n.id, n.id) == n.id]
    edges, seen = [], set()
    for e in graph.edges:
        s, t = rep.get(e.source, e.source), rep.get(e.target, e.target)
        if s != t and (s, t) not in seen:
            seen.add((s, t))
            edges.append(Edge(s, t))
    shown = Graph(tuple(keep), tuple(edges), name=graph.name)
    layout = auto_layout(shown, node_width, node_height, h_gap, v_gap).layout
    full = {nid: list(layout[rep.get(nid, nid)]) for nid in graph.ids()}
    return replace(graph, layout=full)


def place_free(
    graph: Graph,
    node_id: str,
    xy: tuple[float, float],
    node_width: float = NODE_W,
    node_height: float = NODE_H,
    h_gap: float = H_GAP,
) -> Graph:
    """Puts `node_id` at `xy`, or on the same row at the nearest spot where it covers no other node (a layer
    dropped onto another one lands beside it)."""
    taken = [p for k, p in graph.layout.items() if k != node_id and graph.has(k)]
    x = _free_x(float(xy[0]), float(xy[1]), taken, node_width, node_height, node_width + h_gap)
    return graph.set_position(node_id, (x, float(xy[1])))


def make_room(graph: Graph, nid: str, anchor: str) -> Graph:
    """A layer added after `anchor` goes right below it (left to right: right of it), and everything downstream
    of it that lies further on moves one step, so a chain stays a straight line (not a branch drawn beside it)
    and nothing overlaps."""
    if direction(graph) == "LR":
        return _make_room_lr(graph, nid, anchor)
    ax, ay = graph.layout.get(anchor, (0.0, 0.0))
    step = after(graph, anchor)[1] - ay
    g = graph.set_position(nid, (ax, ay + step))
    for s in _downstream(g, nid):
        if s in g.layout and g.layout[s][1] > ay:
            x, y = g.layout[s]
            g = g.set_position(s, (x, y + step))
    # Another branch's layer in that row: the new one moves sideways to the nearest free spot.
    taken = [p for k, p in g.layout.items() if k != nid and g.has(k)]
    x = _free_x(ax, ay + step, taken, NODE_W, NODE_H, NODE_W + H_GAP)
    return g.set_position(nid, (x, ay + step)) if x != ax else g


def _make_room_lr(graph: Graph, nid: str, anchor: str) -> Graph:
    ax, ay = graph.layout.get(anchor, (0.0, 0.0))
    step = after(graph, anchor)[0] - ax
    g = graph.set_position(nid, (ax + step, ay))
    for s in _downstream(g, nid):
        x, y = g.layout.get(s, (None, None))
        if x is not None and x > ax and abs(y - ay) < NODE_H + V_GAP:  # further on in the same band
            g = g.set_position(s, (x + step, y))
    taken = [p for k, p in g.layout.items() if k != nid and g.has(k)]
    y = _free_y(ax + step, ay, taken, NODE_W, NODE_H, NODE_H + V_GAP)
    return g.set_position(nid, (ax + step, y)) if y != ay else g


def after(graph: Graph, nid: str) -> tuple[float, float]:
    """Where a layer after `nid` goes: below it (left to right: right of it); `make_room`'s step."""
    x, y = graph.layout.get(nid, (0.0, 0.0))
    return (x + NODE_W + LR_GAP, y) if direction(graph) == "LR" else (x, y + NODE_H + V_GAP)


def _downstream(graph: Graph, nid: str) -> set[str]:
    out: set[str] = set()
    stack = list(graph.successors(nid))
    while stack:
        s = stack.pop()
        if s not in out and s != nid:
            out.add(s)
            stack.extend(graph.successors(s))
    return out


def room_for_new(before: Graph, after: Graph) -> Graph:
    """`after` (an edit of `before`, such as a one-click fix) with each layer it added placed right below its
    input, and what was below moved down a row, so the new layer covers none of its neighbours."""
    for nid in after.ids():
        anchor = after.inputs_of(nid)[:1] if not before.has(nid) else []
        if anchor and anchor[0] in after.layout:
            after = make_room(after, nid, anchor[0])
    return after


View = tuple[float, float, float, float]  # (x0, y0, x1, y1): the part of the canvas in view, in flow coordinates


def place_in_view(
    graph: Graph,
    node_id: str,
    xy: tuple[float, float],
    view: View | None,
    node_width: float = NODE_W,
    node_height: float = NODE_H,
    downstream: bool = False,
    source: str | None = None,
) -> Graph:
    """Puts `node_id` as near `xy` as it can inside `view` (the part of the canvas the user sees), on a spot
    where its box covers no other layer (with a gap around it). With no view, or no free spot in it, it goes at
    the nearest free spot on the row of `xy` brought into view (the canvas then pans to show it).
    `downstream`: `xy` is where a layer after another goes, and the spot is never further up (left to right:
    further left) than it, so an edge never runs back against the flow. `source`: the layer it is connected
    from; the spot is one whose edge from it crosses no other layer (a branch goes beside the first, not below it)."""
    boxes = [p for k, p in graph.layout.items() if k != node_id and graph.has(k)]
    floor = None
    if downstream:
        floor = (0, xy[0]) if direction(graph) == "LR" else (1, xy[1])
    clear = None
    if source is not None and graph.has(source) and source in graph.layout:
        others = [p for k, p in graph.layout.items() if k not in (node_id, source) and graph.has(k)]
        clear = _edge_clear(graph.layout[source], others, direction(graph), node_width, node_height)
    spot = free_spot([(0.0, 0.0)], boxes, xy, view, node_width, node_height, floor=floor, clear=clear)
    if spot is None and clear is not None and boxes:
        # No such spot in view: the nearest one around the graph (the canvas pans to it).
        xs, ys = [p[0] for p in boxes] + [xy[0]], [p[1] for p in boxes] + [xy[1]]
        around = (min(xs) - 2 * node_width, min(ys) - 2 * node_height, max(xs) + 3 * node_width,
                  max(ys) + 3 * node_height + TALLER)
        spot = free_spot([(0.0, 0.0)], boxes, xy, around, node_width, node_height, floor=floor, clear=clear)
    if spot is not None:
        return graph.set_position(node_id, spot)
    if view is not None:  # no room in view: beside the layers in the way, as near the view as can be
        xy = (min(max(xy[0], view[0]), view[2] - node_width), min(max(xy[1], view[1]), view[3] - node_height - TALLER))
        if floor is not None:  # never before its input: the canvas pans to it instead
            xy = (max(xy[0], floor[1]), xy[1]) if floor[0] == 0 else (xy[0], max(xy[1], floor[1]))
    return place_free(graph, node_id, xy, node_width, node_height)


def _edge_clear(src: tuple[float, float], boxes: list, direction_: str, node_width: float = NODE_W,
                node_height: float = NODE_H):
    """A test of a spot for a layer connected from a box at `src`: the edge between them (taken straight, from
    the source's out side to the new box's in side) passes through none of `boxes`."""
    def clear(x: float, y: float) -> bool:
        if direction_ == "LR":
            a, b = (src[0] + node_width, src[1] + node_height / 2), (x, y + node_height / 2)
        else:
            a, b = (src[0] + node_width / 2, src[1] + node_height), (x + node_width / 2, y)
        lo_x, hi_x, lo_y, hi_y = min(a[0], b[0]), max(a[0], b[0]), min(a[1], b[1]), max(a[1], b[1])
        near = [(qx, qy) for qx, qy in boxes  # only boxes that meet the edge's bounding box can be crossed
                if qx < hi_x and qx + node_width > lo_x and qy < hi_y and qy + node_height > lo_y]
        for i in range(1, 16) if near else ():
            t = i / 16
            px, py = a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t
            if any(qx < px < qx + node_width and qy < py < qy + node_height for qx, qy in near):
                return False
        return True
    return clear


def free_spot(
    block: list[tuple[float, float]],
    boxes: list,
    want: tuple[float, float],
    view: View | None,
    node_width: float = NODE_W,
    node_height: float = NODE_H,
    gap: float = H_GAP / 2,
    floor: tuple[int, float] | None = None,
    clear=None,
) -> tuple[float, float] | None:
    """Where to put a block of boxes (their top-left corners, relative to the block's origin) so that the whole
    block lies inside `view`, as near `want` as can be, and none of its boxes comes within `gap` of `boxes`;
    `floor` (axis, value): the origin's coordinate on that axis (0: x, 1: y) is at least value; `clear(x, y)`:
    a further test a spot must pass. None when there is no view or no such spot in it."""
    if view is None or not block:
        return None
    bx0, by0 = min(p[0] for p in block), min(p[1] for p in block)
    bw = max(p[0] for p in block) - bx0 + node_width
    bh = max(p[1] for p in block) - by0 + node_height + TALLER  # a new box may show a message line too
    if view[2] - view[0] < bw or view[3] - view[1] < bh:
        return None
    # The origin's range that keeps the block in view.
    x0, y0, x1, y1 = view[0] - bx0, view[1] - by0, view[2] - bw - bx0, view[3] - bh - by0
    if floor is not None:
        x0, y0 = (max(x0, floor[1]), y0) if floor[0] == 0 else (x0, max(y0, floor[1]))
        if x0 > x1 or y0 > y1:
            return None
    clamp = (min(max(want[0], x0), x1), min(max(want[1], y0), y1))
    sx, sy = node_width + gap, node_height + gap

    def free(ox: float, oy: float) -> bool:
        return not any(abs(ox + px - qx) < sx and abs(oy + py - qy) < sy for px, py in block for qx, qy in boxes)

    if free(*clamp) and (clear is None or clear(*clamp)):
        return clamp
    # Candidates: the block just beside, above or below a layer, and a grid over the view; the nearest free wins
    # (and passes `clear`, tried nearest first: it costs more than the test for room).
    near = [(qx - px + dx, qy - py + dy) for qx, qy in boxes for px, py in block[:20]
            for dx, dy in ((sx, 0), (-sx, 0), (0, sy), (0, -sy))]
    cols = min(60, max(2, int((x1 - x0) // (sx / 2)) + 1))
    rows = min(60, max(2, int((y1 - y0) // (sy / 2)) + 1))
    grid = [(x0 + i * (x1 - x0) / (cols - 1), y0 + j * (y1 - y0) / (rows - 1)) for i in range(cols) for j in range(rows)]
    spots = [p for p in near[:4000] + grid if x0 <= p[0] <= x1 and y0 <= p[1] <= y1 and free(*p)]
    spots.sort(key=lambda p: ((p[0] - clamp[0]) ** 2 + (p[1] - clamp[1]) ** 2, p[1], p[0]))
    return next((p for p in spots if clear is None or clear(*p)), None)


# -- helpers ----------------------------------------------------------------
def _pairs(graph: Graph, index: dict) -> list[tuple[str, str]]:
    """Distinct edges between existing nodes, without self-loops, in edge order."""
    seen, out = set(), []
    for e in graph.edges:
        key = (e.source, e.target)
        if e.source in index and e.target in index and e.source != e.target and key not in seen:
            seen.add(key)
            out.append(key)
    return out


def _order(rows: list[list], up: dict, down: dict) -> list[list]:
    """Reorders rows by barycenter sweeps; keeps the order with fewest crossings."""
    best, best_c = [list(r) for r in rows], _crossings(rows, down)
    for _ in range(SWEEPS):
        if best_c == 0:
            break
        for downward in (True, False):
            rng = range(1, len(rows)) if downward else range(len(rows) - 2, -1, -1)
            for r in rng:
                ref = rows[r - 1] if downward else rows[r + 1]
                rows[r] = _sort_row(rows[r], up if downward else down, ref)
            c = _crossings(rows, down)
            if c < best_c:
                best, best_c = [list(r) for r in rows], c
    return best


def _sort_row(row: list, neighbours: dict, ref: list) -> list:
    """Sorts by mean neighbour position; nodes without neighbours keep their slot."""
    where = {v: i for i, v in enumerate(ref)}
    movable = []
    for i, v in enumerate(row):
        ns = [where[n] for n in neighbours[v]]
        if ns:
            movable.append((sum(ns) / len(ns), i, v))
    movable.sort(key=lambda m: (m[0], m[1]))
    it = iter(m[2] for m in movable)
    return [next(it) if neighbours[v] else v for v in row]


def _crossings(rows: list[list], down: dict) -> int:
    total = 0
    for r in range(len(rows) - 1):
        here = {v: i for i, v in enumerate(rows[r])}
        there = {v: i for i, v in enumerate(rows[r + 1])}
        edges = sorted((here[v], there[w]) for v in rows[r] for w in down[v])
        for i, (a1, b1) in enumerate(edges):
            for a2, b2 in edges[i + 1:]:
                if a1 < a2 and b1 > b2:
                    total += 1
    return total


def _coordinates(rows: list[list], up: dict, down: dict, sep: float) -> list[list[float]]:
    """Centre x of every vertex: rows centred, then pulled toward neighbours.

    Each pass moves a row's nodes as close as possible (least squares) to the
    mean x of their neighbours in the rows above and below, subject to their
    order and a gap of `sep` between centres (isotonic regression, PAVA).
    """
    sep = math.ceil(sep)
    xs = {}
    for row in rows:
        for i, v in enumerate(row):
            xs[v] = (i - (len(row) - 1) / 2) * sep
    if len(rows) > 1:
        for p in range(SMOOTHING):
            seq = range(len(rows)) if p % 2 == 0 else range(len(rows) - 1, -1, -1)
            for r in seq:
                row = rows[r]
                want = []
                for v in row:
                    ns = up[v] + down[v]
                    want.append(sum(xs[n] for n in ns) / len(ns) if ns else xs[v])
                for v, x in zip(row, _spaced(want, sep), strict=False):
                    xs[v] = x
    # Whole pixels, gaps enforced exactly, drawing centred on x = 0.
    out = []
    for row in rows:
        line: list[float] = []
        for v in row:
            x = round(xs[v])
            line.append(x if not line else max(x, line[-1] + sep))
        out.append(line)
    lo = min(row[0] for row in out if row)
    hi = max(row[-1] for row in out if row)
    shift = round(-(lo + hi) / 2)
    return [[x + shift for x in row] for row in out]


def _spaced(want: list[float], sep: float) -> list[float]:
    """Closest positions to `want` (least squares) with x[i+1] - x[i] >= sep."""
    blocks: list[list[float]] = []  # [sum, count] of pooled targets
    for i, w in enumerate(want):
        blocks.append([w - i * sep, 1])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            s, c = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += c
    ys = [s / c for s, c in blocks for _ in range(int(c))]
    return [y + i * sep for i, y in enumerate(ys)]


def _free_y(x: float, y: float, taken: list, w: float, h: float, step: float) -> float:
    """The free y nearest to `y` for a box at x: `_free_x` with the axes turned."""
    return _free_x(y, x, [(p[1], p[0]) for p in taken], h, w, step)


def _free_x(x: float, y: float, taken: list, w: float, h: float, step: float) -> float:
    """The free x nearest to `x` for a w x h box at height y: x itself, or just beside a box.

    Right of the rightmost box in the band is always free, so there is one.
    """
    band = [p[0] for p in taken if abs(p[1] - y) < h]
    candidates = [x] + [bx + d for bx in band for d in (step, -step)]
    free = [c for c in candidates if not any(abs(c - bx) < w for bx in band)]
    return min(free, key=lambda c: (abs(c - x), -c))
