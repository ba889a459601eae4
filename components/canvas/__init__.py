"""The one adapter around LayerCanvas's canvas component (React Flow in a Streamlit components-v2 component).

Graph in, edits out. `canvas_data` turns the graph and its build into what the canvas draws; the canvas sends
back events (add, connect, delete, move, select, paste, group, ...) as a queue in its state value, each with a
sequence number and the version of the graph it was made on. `take_events` applies the new ones to the graph
before the page draws anything, so an edit costs one script run. An event made on a graph that something
else (the inspector, undo, a template) has changed since is ignored, never applied to the wrong graph.

The frontend lives in `frontend/` (TypeScript, built with Vite into `dist/`, which is committed). The bundle
is served as a file from `dist/` (the component's asset directory), not sent inline with every message.
"""

from __future__ import annotations

import json
import math
import pathlib
import re
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from builder.model.build import BuildResult, fmt_shape
from builder.model.catalog import LAYERS, by_category
from builder.model.graph import Graph, GraphError, printable, valid_id
from builder.model.layout import (
    NODE_H,
    NODE_W,
    View,
    after,
    arrange,
    direction,
    free_spot,
    make_room,
    missing_positions,
    place_in_view,
)
from builder.model.space import searched as search_marks

HERE = pathlib.Path(__file__).resolve().parent
DIST = HERE / "dist"
NAME = "layercanvas.canvas"
KEY = "lc_canvas"
META = "lc_canvas_meta"
MAX_DRAWN = 1500  # boxes drawn at once; a bigger graph shows a message (or its groups, collapsed)
DRAW_ALL = 150  # up to this many boxes the canvas draws them all; above it only those in view
MAX_PASTE = 500  # layers in one paste
MAX_EVENTS = 50  # events read from one reply (the canvas keeps no more in its queue)
# What the canvas must know of Python's sizes and limits travels in the payload (schema.json: Box, Limits), so each
# is set once: here, or in builder/model/layout.py.
BOX = {"w": NODE_W, "h": NODE_H}
LIMITS = {"events": MAX_EVENTS, "drawAll": DRAW_ALL}


def _short(value) -> str:
    if isinstance(value, list):
        return "×".join(_short(v) for v in value)
    if isinstance(value, dict) and "type" in value:
        inner = value.get("params", {})
        units = inner.get("units", inner.get("filters")) if isinstance(inner, dict) else None
        return f"{value['type']}({units})" if units is not None else str(value["type"])
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def key_params_text(node) -> str:
    """`units 64 · relu`: a node's key params, as the canvas shows them."""
    spec = LAYERS.get(node.type)
    if spec is None:
        return "unknown type"
    parts = []
    for name in spec.key_params:
        if name in node.params:
            value = node.params[name]
            parts.append(_short(value) if name == "activation" else f"{name} {_short(value)}")
    return " · ".join(parts)


def edge_id(source: str, target: str, port: int | None) -> str:
    return f"e:{source}:{target}:{'' if port is None else port}"


def parse_edge_id(text: Any) -> tuple[str, str, int | None] | None:
    """(source, target, port) of an edge id, or None when it is not one (node ids hold no ':')."""
    parts = str(text).split(":")
    if len(parts) != 4 or parts[0] != "e":
        return None
    port = int(parts[3]) if parts[3].isdigit() else None
    return parts[1], parts[2], port


def palette() -> list[dict]:
    """Every catalog layer for the palette and the quick-add box, by category."""
    return [{"type": s.type, "cat": s.category, "help": s.help} for specs in by_category().values() for s in specs]


_PALETTE = palette()


def canvas_data(graph: Graph, result: BuildResult | None, *, version: int = 0, ack: int = 0,
                sel: tuple[int, list[str]] = (0, []), fit: int = 0, reveal: tuple[int, list[str]] = (0, []),
                copy: tuple[int, list[str]] = (0, []),
                toast: dict | None = None,
                read_only: bool = False, cost=None, wait: bool = False, present: bool = False,
                head: dict | None = None, sync: int = 0) -> dict:
    """What the canvas draws: nodes (type, id, key params, shape, params, issues, ports), edges with shapes,
    groups with their in/out shapes and totals, the palette, and above the graph `head` (the model's totals and
    whether Undo / Redo can be used; none by default); `sync`: when it changes, the canvas sends a sync event once
    it has painted. Pure: no Streamlit."""
    graph = missing_positions(graph)
    infos = result.infos if result is not None else {}
    by_node: dict[str | None, list] = {}
    for issue in result.issues if result is not None else []:
        by_node.setdefault(issue.node_id, []).append(issue)
    member = {nid: g.id for g in graph.groups for nid in g.nodes}
    macs = {r.name: r.macs for r in cost.rows} if cost is not None else {}
    heavy = {r.name: round(cost.share(r) * 100) for r in cost.heaviest(3)} if cost is not None else {}
    searched = search_marks(graph) if "search" in graph.extra else {}
    nodes = []
    for node in graph.nodes:
        spec = LAYERS.get(node.type)
        info = infos.get(node.id)
        n_in = len(graph.in_edges(node.id))
        issues = sorted(by_node.get(node.id, []), key=lambda i: i.severity != "error")
        x, y = graph.layout[node.id]
        nodes.append({
            "id": node.id, "type": printable(node.type, 80), "cat": spec.category if spec else "unknown",
            "keyp": key_params_text(node), "shape": fmt_shape(info.output_shape) if info is not None else "",
            "params": info.params if info is not None else None, "frozen": not node.trainable,
            "input": bool(spec and spec.is_input),
            "issues": [{"sev": i.severity, "msg": i.message} for i in issues],
            "ports": spec.port_labels(n_in) if spec is not None else [],
            # What the canvas's connect rules read (frontend/src/rules.ts): Graph.connect's facts, from the catalog.
            # A type the catalog does not know takes any number of inputs there, so here too.
            "nin": n_in, "maxin": spec.arity[1] if spec is not None else None,
            "raw": {"params": node.params, "trainable": node.trainable},
            "x": _finite(x), "y": _finite(y), "group": member.get(node.id),
            "macs": macs.get(node.id), "heavy": heavy.get(node.id), "searched": searched.get(node.id),
        })
    edges = []
    for node in graph.nodes:
        ins = graph.in_edges(node.id)
        for i, e in enumerate(ins):
            info = infos.get(e.source)
            edges.append({"id": edge_id(e.source, e.target, e.port), "source": e.source, "target": e.target,
                          "port": i if e.port is not None or len(ins) > 1 else None,
                          "label": fmt_shape(info.output_shape) if info is not None else ""})
    groups = [_group_data(graph, g, infos, by_node) for g in graph.groups]
    folded = {g.id for g in graph.groups if g.collapsed}
    drawn = sum(1 for nid in graph.ids() if member.get(nid) not in folded)
    big = None
    if drawn > MAX_DRAWN:
        big = (f"This graph has {len(graph.nodes):,} layers: too many to draw at once (the canvas draws up to "
               f"{MAX_DRAWN:,}). Its totals, summary and code are below. Group its layers into blocks (the graph "
               f"file's \"groups\" field) to draw it with the blocks collapsed.")
    return {
        "v": version, "ack": ack, "nodes": [] if big else nodes, "edges": [] if big else edges, "groups": groups,
        "palette": _PALETTE, "sel": {"n": sel[0], "ids": list(sel[1])}, "fit": fit,
        "reveal": {"n": reveal[0], "ids": list(reveal[1])}, "copy": {"n": copy[0], "ids": list(copy[1])},
        "toast": toast,
        "building": result is None, "big": big, "ro": bool(read_only), "wait": bool(wait), "box": dict(BOX),
        "dir": direction(graph),
        "limits": dict(LIMITS),
        "present": bool(present),
        "head": head if head is not None else {"totals": [], "undo": False, "redo": False},
        "sync": sync,
    }


def _finite(v: float) -> float:
    return float(v) if math.isfinite(v) else 0.0


def _group_data(graph: Graph, group, infos: dict, by_node: dict) -> dict:
    inside = set(group.nodes)
    order = [nid for nid in graph.drawing_order() if nid in inside]
    entering = [e for nid in order for e in graph.in_edges(nid) if e.source not in inside]
    leaving = [nid for nid in order if any(t not in inside for t in graph.successors(nid))
               or not graph.successors(nid)]
    in_info = infos.get(entering[0].source) if entering else None
    first = infos.get(order[0]) if order and not entering else None
    out_info = infos.get(leaving[-1]) if leaving else (infos.get(order[-1]) if order else None)
    params = [infos[n].params for n in order if n in infos]
    return {
        "id": group.id, "name": printable(group.name, 80), "nodes": list(group.nodes), "collapsed": group.collapsed,
        "inShape": fmt_shape((in_info or first).output_shape) if (in_info or first) is not None else "",
        "outShape": fmt_shape(out_info.output_shape) if out_info is not None else "",
        "params": sum(params) if len(params) == len(order) else None,
        "errors": sum(1 for n in order for i in by_node.get(n, []) if i.severity == "error"),
    }


# -- events ----------------------------------------------------------------------------------------------


@dataclass
class CanvasChange:
    """What the canvas's events did, in graph terms."""

    graph: Graph | None = None  # the edited graph (one undo step), or None
    selected: list[str] | None = None  # the selection the canvas reports or an add made; None: unchanged
    select_pushed: bool = False  # the selection came from Python (an add, a paste): tell the canvas
    errors: list[str] = field(default_factory=list)
    fit: bool = False
    last_seq: int = 0
    stale: int = 0  # events ignored because the graph had changed under them
    ready: bool = False  # the canvas said it has painted
    sync: bool = False  # the canvas has painted what a run asked a sync for (Meta.sync_n)
    commands: list[str] = field(default_factory=list)  # "undo", "redo", "present": for the page, in order


class _Refused(Exception):
    """An event that cannot be applied; the message says why."""


def _require_type(type_: Any) -> str:
    if not isinstance(type_, str) or type_ not in LAYERS:
        raise _Refused(f"“{printable(type_, 40)}” is not a layer type: pick one from the palette, such as Dense")
    return type_


def _xy(ev: dict) -> tuple[float, float] | None:
    x, y = ev.get("x"), ev.get("y")
    if all(isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c) for c in (x, y)):
        return float(x), float(y)
    return None


def _view(ev: dict) -> View | None:
    """The part of the canvas the user sees (flow coordinates), clear of the toolbar, the zoom buttons and the
    minimap, as the canvas sends it with an add or a paste; None when absent or not four finite numbers."""
    v = ev.get("view")
    if not isinstance(v, list) or len(v) != 4:
        return None
    if not all(isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c) for c in v):
        return None
    x0, y0, x1, y1 = (float(c) for c in v)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def _node_ids(graph: Graph, ids: Any) -> list[str]:
    return [i for i in ids if isinstance(i, str) and graph.has(i)] if isinstance(ids, list) else []


Applied = tuple[Graph, list[str] | None, bool]  # (the new graph, the ids to select or None, whether to fit)


def apply_event(graph: Graph, ev: dict) -> Applied:
    """Applies one canvas event.

    Returns:
        (the new graph, the ids to select (None: leave the selection), whether to fit the view).

    Raises:
        _Refused, GraphError: the event cannot be applied (the message says why).
    """
    kind = ev.get("kind")
    apply = _APPLY.get(kind) if isinstance(kind, str) else None
    if apply is None:
        raise _Refused(f"the canvas sent an unknown action {printable(kind, 30)!r}")
    return apply(graph, ev)


def _add(graph: Graph, ev: dict) -> Applied:
    """A layer from the palette, a drop or the quick-add box. Added after a layer, it goes right below it (what
    was below moves down a row) and the canvas pans to show it if it must; added on its own, it goes inside
    the view, clear of every other layer."""
    type_ = _require_type(ev.get("type"))
    at, view = _xy(ev), _view(ev)
    edge = parse_edge_id(ev["edge"]) if ev.get("edge") else None
    if ev.get("edge") and edge is None:
        raise _Refused("that connection is gone: drop the layer again")
    if edge is not None:
        # Into the connection: right below its source, and what was below moves down a row.
        g, nid = graph.insert_between(edge[0], edge[1], type_)
        g = make_room(g, nid, edge[0])
    elif ev.get("connect"):
        source = ev["connect"]
        graph.node(source)
        g, nid = graph.add_node(type_)
        # Its only successor: right below it (the view pans if it must); a branch: as near below it as there is
        # room in view, so the view stays where it is.
        g = make_room(g.connect(source, nid), nid, source) if not graph.successors(source) else \
            place_in_view(g.connect(source, nid), nid, after(graph, source), view, downstream=True, source=source)
    elif ev.get("after") is not None or at is None:
        prev = ev.get("after")
        g, nid = graph.add_layer(type_, prev if isinstance(prev, str) and graph.has(prev) else None)
        anchor = g.inputs_of(nid)
        if anchor:
            g = make_room(g, nid, anchor[0])
        else:  # the first layer, or an Input: somewhere in view
            x, y = (view[0], view[1]) if view is not None else (0.0, 0.0)
            g = place_in_view(g, nid, (x + 40, y + 20), view)
    else:
        g, nid = graph.add_node(type_)
        g = place_in_view(g, nid, at, view)
    return g, [nid], False


def _connect(graph: Graph, ev: dict) -> Applied:
    port = ev.get("port")
    return graph.connect(ev.get("source"), ev.get("target"), port if isinstance(port, int) else None), None, False


def _delete(graph: Graph, ev: dict) -> Applied:
    g = graph
    for eid in ev.get("edges", []) if isinstance(ev.get("edges"), list) else []:
        parsed = parse_edge_id(eid)
        if parsed and g.has(parsed[0]) and g.has(parsed[1]) and parsed[0] in g.inputs_of(parsed[1]):
            g = g.disconnect(parsed[0], parsed[1])
    for nid in _node_ids(g, ev.get("nodes")):
        if g.has(nid):
            g = g.remove_node(nid, bridge=True)
    return g, [], False


def _move(graph: Graph, ev: dict) -> Applied:
    g = graph
    positions = ev.get("positions")
    for nid, xy in positions.items() if isinstance(positions, dict) else []:
        at = _xy({"x": xy[0], "y": xy[1]}) if isinstance(xy, list) and len(xy) == 2 else None
        if at is not None and g.has(nid):
            g = g.set_position(nid, (round(at[0], 1), round(at[1], 1)))
    return g, None, False


def _select(graph: Graph, ev: dict) -> Applied:
    return graph, _node_ids(graph, ev.get("ids")) + [i for i in ev.get("ids", []) if isinstance(i, str)
                                                      and i.startswith("g:")], False


def _group(graph: Graph, ev: dict) -> Applied:
    ids = _node_ids(graph, ev.get("ids"))
    if not ids:
        raise _Refused("select the layers to group first")
    g, _gid = graph.group(ids)
    return g, None, False


def _ungroup(graph: Graph, ev: dict) -> Applied:
    gid = str(ev.get("group"))
    folded = graph.group_by_id(gid).collapsed
    g = graph.ungroup(gid)
    return (arrange(g, direction(g)), None, True) if folded else (g, None, False)


def _collapse(graph: Graph, ev: dict) -> Applied:
    # Collapsing or expanding changes what is drawn: the graph is laid out again around it.
    g = graph.set_group_collapsed(str(ev.get("group")), bool(ev.get("collapsed")))
    return arrange(g, direction(g)), None, True


def _rename_group(graph: Graph, ev: dict) -> Applied:
    return graph.rename_group(str(ev.get("group")), str(ev.get("name", ""))[:200]), None, False


def _layout(graph: Graph, ev: dict) -> Applied:
    """Auto-layout: in the direction asked for ("TB" or "LR": the toolbar's toggle), else the graph's own."""
    dir_ = ev.get("dir") if ev.get("dir") in ("TB", "LR") else direction(graph)
    return arrange(graph, dir_), None, True


def _paste(graph: Graph, ev: dict) -> Applied:
    nodes, edges = ev.get("nodes"), ev.get("edges")
    if not isinstance(nodes, list) or not isinstance(edges, list) or not nodes:
        raise _Refused("the clipboard holds no LayerCanvas layers: select layers and press Ctrl+C first")
    if len(nodes) > MAX_PASTE:
        raise _Refused(f"the clipboard holds {len(nodes):,} layers; at most {MAX_PASTE} can be pasted at once")
    g, ids = graph, {}
    xs = [n.get("x") for n in nodes if isinstance(n, dict)]
    ys = [n.get("y") for n in nodes if isinstance(n, dict)]
    at, view = _xy(ev), _view(ev)
    shift = (40.0, 40.0)
    block = [(float(x), float(y)) for x, y in zip(xs, ys, strict=True)
             if _xy({"x": x, "y": y}) is not None] if len(xs) == len(ys) else []
    if block and len(block) == len(nodes):
        # The copy at the pointer (or beside its original), moved as one block to the nearest place in view
        # where it covers no layer.
        x0, y0 = min(p[0] for p in block), min(p[1] for p in block)
        want = at if at is not None else (x0 + 40.0, y0 + 40.0)
        rel = [(x - x0, y - y0) for x, y in block]
        spot = free_spot(rel, [p for k, p in graph.layout.items() if graph.has(k)], want, view)
        origin = spot if spot is not None else want
        shift = (origin[0] - x0, origin[1] - y0)
    for n in nodes:
        if not isinstance(n, dict):
            raise _Refused("the clipboard holds something that is not a layer: nothing was pasted")
        type_ = _require_type(n.get("type"))
        params = n.get("params") if isinstance(n.get("params"), dict) else {}
        pos = _xy(n)
        old = n.get("id")
        # A copy is named after its original (flat -> flat_1, dense_1 -> dense_2).
        fresh = g.fresh_id(re.sub(r"_\d+$", "", old)) if isinstance(old, str) and valid_id(old) else None
        g, nid = g.add_node(type_, params, node_id=fresh, trainable=n.get("trainable", True) is not False,
                            position=None if pos is None else (pos[0] + shift[0], pos[1] + shift[1]))
        if isinstance(old, str):
            ids[old] = nid
    ordered = sorted((e for e in edges if isinstance(e, dict)),
                     key=lambda e: (str(e.get("target")), e.get("port") if isinstance(e.get("port"), int) else 0))
    for e in ordered:
        s, t = ids.get(e.get("source")), ids.get(e.get("target"))
        if s and t:
            g = g.connect(s, t)
    return g, list(ids.values()) or [nid], False


# The edit each event kind makes. With "ready" (the canvas has painted: apply_events notes it), these are the
# kinds of event the canvas sends.
_APPLY = {"add": _add, "connect": _connect, "delete": _delete, "move": _move, "select": _select, "paste": _paste,
          "group": _group, "ungroup": _ungroup, "collapse": _collapse, "rename_group": _rename_group,
          "layout": _layout}
COMMANDS = frozenset({"undo", "redo", "present"})  # events the page carries out itself (not graph edits)
EVENT_KINDS = frozenset(_APPLY) | {"ready", "sync"} | COMMANDS


def apply_events(graph: Graph, events: Any, *, last_seq: int, external_version: int) -> CanvasChange:
    """Applies the canvas's new events (sequence number above `last_seq`) in order.

    An edit made on a graph version older than `external_version` (the last change that did not come from
    the canvas) is ignored: the user saw another graph when they made it.
    """
    change = CanvasChange(last_seq=last_seq)
    if not isinstance(events, list):
        return change
    g = graph
    for ev in sorted((e for e in events[-MAX_EVENTS:] if isinstance(e, dict) and isinstance(e.get("seq"), int)),
                     key=lambda e: e["seq"]):
        if ev["seq"] <= change.last_seq:
            continue
        change.last_seq = ev["seq"]
        v = ev.get("v") if isinstance(ev.get("v"), int) else -1
        if ev.get("kind") in ("ready", "sync"):
            setattr(change, ev["kind"], True)
            continue
        if ev.get("kind") in COMMANDS:
            change.commands.append(ev["kind"])
            continue
        if v < external_version and ev.get("kind") != "select":
            change.stale += 1
            continue
        try:
            new, select, fit = apply_event(g, ev)
        except (_Refused, GraphError) as e:
            change.errors.append(_sentence(str(e)))
            continue
        except (TypeError, ValueError, KeyError, AttributeError, IndexError):
            change.errors.append("The canvas sent an action LayerCanvas could not read; nothing was changed.")
            continue
        g = new
        change.fit = change.fit or fit
        if select is not None:
            change.selected = select
            change.select_pushed = ev.get("kind") != "select"
    if g is not graph:
        change.graph = g
    return change


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


# -- Streamlit ---------------------------------------------------------------------------------------------


@dataclass
class Meta:
    """Per-session bookkeeping of the canvas (session_state[META])."""

    version: int = 0
    external: int = 0  # the version of the last change that did not come from the canvas
    graph: Graph | None = None  # the graph last drawn
    from_canvas: Graph | None = None  # the graph the canvas's own events made
    last_seq: int = 0
    sel_n: int = 0
    sel_ids: list[str] = field(default_factory=list)
    fit_n: int = 1
    reveal_n: int = 0
    reveal_ids: list[str] = field(default_factory=list)
    copy_n: int = 0
    copy_ids: list[str] = field(default_factory=list)
    toast_n: int = 0
    sync_n: int = 0  # asks the canvas for a sync event once it has painted, when it changes
    toast: dict | None = None
    painted: bool = False  # the canvas has painted once in this session (or cannot: no browser)
    # An edit taken from the canvas that the page has not committed yet (`committed()`), and the graph it was made
    # on: a run that Streamlit stops in between (at any session-state access, for a newer click) leaves it here,
    # and the next run commits it instead of losing it.
    uncommitted: Graph | None = None
    uncommitted_base: Graph | None = None


def meta() -> Meta:
    m = st.session_state.get(META)
    if not isinstance(m, Meta):
        m = Meta()
        st.session_state[META] = m
    return m


def _queued() -> Any:
    """The canvas's event queue, as its state holds it (None when there is none or it cannot be read)."""
    value = st.session_state.get(KEY)
    try:
        return value.get("events") if hasattr(value, "get") else None
    except Exception:  # noqa: BLE001 - a state read that fails means no events
        return None


def take_events(graph: Graph) -> CanvasChange:
    """Applies what the canvas sent since the last run (read from its state before the canvas is drawn). The page
    commits `change.graph` and then calls `committed()`; until then the edit is kept, so that a run stopped in
    between (Streamlit stops a run at any session-state access when a newer click is waiting) loses nothing."""
    m = meta()
    events = _queued()
    # An edit an earlier run took but did not commit: the new events go on top of it, and it is committed now.
    base = m.uncommitted if m.uncommitted is not None and m.uncommitted_base is graph else graph
    change = apply_events(base, events, last_seq=m.last_seq, external_version=m.external)
    if change.graph is None and base is not graph:
        change.graph = base
    # No session-state access from here until the edit is recorded: each is a point where the run may stop.
    m.last_seq = change.last_seq
    m.painted = m.painted or change.ready
    m.uncommitted, m.uncommitted_base = (change.graph, graph) if change.graph is not None else (None, None)
    if change.graph is not None:
        m.from_canvas = change.graph
    # What the canvas is to do with it (a message, a fit, a selection, a pan) is kept the same way, on `m` itself.
    if change.errors:
        _say(m, change.errors[-1], "error")
    elif change.stale:
        _say(m, "A change made on the canvas while the graph was being changed elsewhere was ignored: do it again.",
             "warning")
    if change.fit:
        m.fit_n += 1
    if change.select_pushed and change.selected is not None:
        push_selection(change.selected, m)
        reveal(change.selected, m)
    return change


def request_sync() -> None:
    """Makes the canvas send a sync event once it has painted this run's data (the page then draws what depends
    on it, after the canvas)."""
    meta().sync_n += 1


def sync_sent() -> bool:
    """Whether the canvas's events not taken yet hold a sync (read in the canvas's callback, before the run)."""
    events, last = _queued(), meta().last_seq
    return isinstance(events, list) and any(
        isinstance(e, dict) and e.get("kind") == "sync" and isinstance(e.get("seq"), int) and e["seq"] > last
        for e in events)


def committed() -> None:
    """The page has committed the edit `take_events` returned."""
    m = meta()
    m.uncommitted = m.uncommitted_base = None


def painted() -> bool:
    """Whether the canvas has painted in this session: until then the page leaves TensorFlow alone, so loading
    it (seconds of CPU) does not hold up the canvas's first paint."""
    return meta().painted


def first_paint() -> bool:
    """The first run of a session while TensorFlow is still loading: the page draws the canvas alone, so that
    it paints first; the rest follows once the canvas has painted."""
    from builder.kerasenv import keras_loaded

    return not painted() and not keras_loaded()


def say(text: str, kind: str = "error") -> None:
    """A message shown inside the canvas (its text is shown as text)."""
    _say(meta(), text, kind)


def _say(m: Meta, text: str, kind: str) -> None:
    m.toast_n += 1
    m.toast = {"n": m.toast_n, "kind": kind, "text": str(text)[:400]}


def request_fit() -> None:
    meta().fit_n += 1


def reveal(ids: list[str], m: Meta | None = None) -> None:
    """Makes the canvas pan, if it must, so that the layers `ids` (just added) are in view."""
    m = m or meta()
    m.reveal_n += 1
    m.reveal_ids = list(ids)


def request_copy(ids: list[str]) -> None:
    """Makes the canvas copy the layers `ids` to its clipboard (Ctrl+V then pastes them)."""
    m = meta()
    m.copy_n += 1
    m.copy_ids = list(ids)


def push_selection(ids: list[str], m: Meta | None = None) -> None:
    """Makes the canvas select `ids` (after an add, or when the inspector deselects)."""
    m = m or meta()
    m.sel_n += 1
    m.sel_ids = list(ids)


def _register(manager) -> None:
    """Registers the component with this runtime's registry, with `dist/` as its asset directory, so the
    bundle is served as a file (`/_stcore/bidi-components/layercanvas.canvas/canvas-<hash>.js`). Checked on
    the registry itself, not cached by runtime: a new runtime (every AppTest run has one) may reuse an old
    one's id."""
    from streamlit.components.v2.manifest_scanner import (
        ComponentConfig,
        ComponentManifest,
    )

    if manager.get_component_asset_root(NAME) is not None:
        return
    manager.register_from_manifest(
        ComponentManifest(name="layercanvas", version="1", components=[ComponentConfig(name="canvas", asset_dir="dist")]),
        HERE,
    )


@st.cache_resource
def _component():
    return st.components.v2.component(NAME, js="canvas-*.js", css="canvas-*.css", isolate_styles=True)


def _mount():
    """The component's mount function, or None where no Streamlit runtime with components runs (bare mode).
    AppTest has one: its tests read what the page sends the canvas (the element's JSON bytes)."""
    from streamlit.components.v2.component_manager import BidiComponentManager
    from streamlit.runtime import Runtime

    if not Runtime.exists() or not isinstance(Runtime.instance().bidi_component_registry, BidiComponentManager):
        return None
    _register(Runtime.instance().bidi_component_registry)
    return _component()


def render_canvas(graph: Graph, result: BuildResult | None, read_only: bool = False, cost=None,
                  present: bool = False, head: dict | None = None, on_change=None) -> None:
    """Draws the canvas for `graph` (events were taken by `take_events` earlier in the run); `read_only`: it can
    be looked at, not changed (someone else's project); `present`: presenter mode (larger, high contrast); `head`:
    what it shows above the graph (canvas_data); `on_change`: a callback when the canvas sends events (before
    the run they cause: it may choose what reruns)."""
    m = meta()
    if m.graph is not graph:
        m.version += 1
        if graph is not m.from_canvas:
            m.external = m.version  # an edit from elsewhere: events made before it are stale
        m.graph = graph
    data = canvas_data(graph, result, version=m.version, ack=m.last_seq, sel=(m.sel_n, m.sel_ids),
                       fit=m.fit_n, reveal=(m.reveal_n, m.reveal_ids),
                       copy=(m.copy_n, m.copy_ids), toast=m.toast, read_only=read_only, cost=cost, wait=not m.painted,
                       present=present, head=head, sync=m.sync_n)
    mount = _mount()
    if mount is None:
        st.caption(f"Canvas: {len(graph.nodes)} layers.")
        m.painted = True
        return
    # As JSON bytes: a dict would be scanned for dataframes, which imports pandas and pyarrow (a quarter of a
    # second on the first paint) for data that never holds one.
    payload = json.dumps(data, ensure_ascii=False, allow_nan=False).encode("utf-8")
    mount(key=KEY, data=payload, on_events_change=on_change or (lambda: None), width="stretch")
