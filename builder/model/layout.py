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
NODE_W, NODE_H, H_GAP, V_GAP = 240, 84, 40, 40
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
        return auto_layout(graph, node_width, node_height, h_gap, v_gap)
    layout = dict(graph.layout)
    step_y = node_height + v_gap
    for nid in missing:
        above = [placed[p] for p in graph.inputs_of(nid) if p in placed]
        below = [placed[s] for s in graph.successors(nid) if s in placed]
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


def _free_x(x: float, y: float, taken: list, w: float, h: float, step: float) -> float:
    """The free x nearest to `x` for a box at height y: x itself, or just beside a box.

    Right of the rightmost box in the band is always free, so there is one.
    """
    band = [p[0] for p in taken if abs(p[1] - y) < h]
    candidates = [x] + [bx + d for bx in band for d in (step, -step)]
    free = [c for c in candidates if not any(abs(c - bx) < w for bx in band)]
    return min(free, key=lambda c: (abs(c - x), -c))
