"""The one adapter around the drag-and-drop canvas (streamlit-flow-component).

The graph is the truth. Each time it changes, the canvas gets a fresh state
(new timestamp) drawn from it; what the user does on the canvas (move, connect,
delete, add from the right-click menu, select) comes back as a whole new node
and edge list, which `render_canvas` turns into graph edits.

Node text is Markdown rendered with raw HTML allowed, so everything shown in a
node goes through `md_escape`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st
from streamlit_flow import streamlit_flow
from streamlit_flow.elements import StreamlitFlowEdge, StreamlitFlowNode
from streamlit_flow.layouts import ManualLayout
from streamlit_flow.state import StreamlitFlowState

from builder.build import BuildResult, fmt_shape
from builder.catalog import LAYERS
from builder.graph import Graph, GraphError, describe
from builder.layout import missing_positions
from builder.validate import Issue
from components.text import clip, md_escape

FLOW = "lc_flow"  # (graph the state was drawn from, selected id, StreamlitFlowState)
FLOW_KEY = "lc_canvas"
VERSION = "lc_flow_version"
HEIGHT = 640

STYLE = {
    "base": {"border": "1px solid #9aa5b1", "background": "#ffffff", "padding": "6px 10px", "fontSize": "12px",
             "borderRadius": "8px", "textAlign": "left", "width": "220px", "color": "#1f2933", "overflowWrap": "anywhere"},
    "input": {"background": "#eef7ee", "border": "1px solid #5c9e5c"},
    "frozen": {"background": "#eceff1", "color": "#52606d"},
    "warning": {"border": "2px solid #e6a100", "background": "#fff8e6"},
    "error": {"border": "2px solid #d32f2f", "background": "#fdecea"},
    "selected": {"boxShadow": "0 0 0 3px #4c8bf5"},
}


def _short(value) -> str:
    if isinstance(value, list):
        return "×".join(_short(v) for v in value)
    if isinstance(value, dict) and "type" in value:
        inner = value.get("params", {})
        units = inner.get("units", inner.get("filters"))
        return f"{value['type']}({units})" if units is not None else value["type"]
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


def node_content(node, result: BuildResult | None, issues: list[Issue]) -> str:
    """The Markdown of a node: type and id, key params, output shape and params, first issue."""
    lines = [f"**{md_escape(clip(node.type))}** · {md_escape(node.id)}"]
    params = key_params_text(node)
    if params:
        lines.append(md_escape(params))
    info = result.infos.get(node.id) if result is not None else None
    if info is not None:
        lines.append(f"{md_escape(fmt_shape(info.output_shape))} · {info.params:,} params")
    elif result is None:
        lines.append("building…")
    if not node.trainable:
        lines.append("*frozen*")
    problems = [i for i in issues if i.severity == "error"] or issues
    if problems:
        # The node already shows its type and id, and the full message is listed under the canvas: keep the
        # box short (a long message made it taller than its row and it covered the next node).
        msg = problems[0].message.removeprefix(describe(node)).lstrip(" :")
        msg = msg if len(msg) <= 72 else msg[:71] + "…"
        lines.append(("**Error:** " if problems[0].severity == "error" else "**Warning:** ") + md_escape(msg))
    return "  \n".join(lines)


def _style(node, issues: list[Issue], selected: bool) -> dict:
    style = dict(STYLE["base"])
    spec = LAYERS.get(node.type)
    if spec is not None and spec.is_input:
        style.update(STYLE["input"])
    if not node.trainable:
        style.update(STYLE["frozen"])
    if any(i.severity == "error" for i in issues):
        style.update(STYLE["error"])
    elif issues:
        style.update(STYLE["warning"])
    if selected:
        style.update(STYLE["selected"])
    return style


def edge_id(source: str, target: str, port: int | None) -> str:
    return f"e:{source}:{target}:{'' if port is None else port}"


def flow_state(graph: Graph, result: BuildResult | None, selected: str | None, version: int = 0) -> StreamlitFlowState:
    """The canvas drawn from the graph (every node placed; issues in red or amber).

    Args:
        version: Stamped into every node's data, so that a reply to an older
            state (still in flight when the graph changed) can be told apart.
    """
    graph = missing_positions(graph)  # normally a no-op: the page places new nodes first
    by_node: dict[str | None, list[Issue]] = {}
    for issue in result.issues if result is not None else []:
        by_node.setdefault(issue.node_id, []).append(issue)
    nodes = []
    for node in graph.nodes:
        spec = LAYERS.get(node.type)
        issues = by_node.get(node.id, [])
        nodes.append(StreamlitFlowNode(
            node.id, tuple(graph.layout[node.id]), {"content": node_content(node, result, issues), "v": version},
            node_type="input" if spec is not None and spec.is_input else "default",
            source_position="bottom", target_position="top", connectable=True, selectable=True, deletable=True,
            style=_style(node, issues, node.id == selected),
        ))
    edges = []
    for node in graph.nodes:
        in_edges = graph.in_edges(node.id)
        for i, e in enumerate(in_edges):
            info = result.infos.get(e.source) if result is not None else None
            label = fmt_shape(info.output_shape) if info is not None else ""
            if len(in_edges) > 1:
                label = f"{i}: {label}" if label else str(i)
            edges.append(StreamlitFlowEdge(
                edge_id(e.source, e.target, e.port), e.source, e.target, edge_type="smoothstep", label=label,
                label_show_bg=True, deletable=True, marker_end={"type": "arrowclosed"},
            ))
    return StreamlitFlowState(nodes, edges)


@dataclass
class CanvasChange:
    """What the user did on the canvas, as graph terms."""

    graph: Graph | None = None  # the edited graph, or None when nothing structural changed
    moved: Graph | None = None  # positions only (no undo step)
    selected: str | None = None
    selection_changed: bool = False
    errors: list[str] = field(default_factory=list)


def _type_from_text(text: str) -> str | None:
    """The layer type a user typed in the canvas's "new node" box (case and spaces ignored)."""
    wanted = "".join(str(text).split()).lower()
    for type_ in LAYERS:
        if type_.lower() == wanted:
            return type_
    return None


def apply_canvas(graph: Graph, state: StreamlitFlowState) -> CanvasChange:
    """Turns the canvas's node and edge lists into graph edits."""
    change = CanvasChange(selected=state.selected_id)
    g = graph
    canvas_ids = [n.id for n in state.nodes]
    for nid in [n for n in graph.ids() if n not in canvas_ids]:  # deleted from the node menu
        g = g.remove_node(nid, bridge=True)  # as the inspector's Delete: a chain stays whole
    bridged = {(e.source, e.target) for e in g.edges} - {(e.source, e.target) for e in graph.edges}
    for fn in state.nodes:
        if graph.has(fn.id):
            continue
        type_ = _type_from_text(fn.data.get("content", ""))
        if type_ is None:
            change.errors.append(
                f"“{str(fn.data.get('content', ''))[:40]}” is not a layer type: type a name from the palette, such as Dense")
            continue
        try:
            g, new_id = g.add_node(type_, position=(fn.position["x"], fn.position["y"]))
            if change.selected == fn.id:
                change.selected = new_id
        except GraphError as e:
            change.errors.append(str(e))
    wanted = [(e.source, e.target) for e in state.edges] + sorted(bridged)
    current = [(e.source, e.target) for e in g.edges]
    for source, target in current:
        if (source, target) not in wanted and g.has(target):
            try:
                g = g.disconnect(source, target)
            except GraphError:
                pass
    for source, target in wanted:
        if (source, target) not in [(e.source, e.target) for e in g.edges] and g.has(source) and g.has(target):
            try:
                g = g.connect(source, target)
            except GraphError as e:
                change.errors.append(str(e))
    if g.edges != graph.edges or g.nodes != graph.nodes:
        change.graph = g
    moved = graph if change.graph is None else change.graph
    for fn in state.nodes:
        if moved.has(fn.id):
            xy = [round(float(fn.position["x"]), 1), round(float(fn.position["y"]), 1)]
            old = moved.layout.get(fn.id)
            if old is None or abs(old[0] - xy[0]) > 0.5 or abs(old[1] - xy[1]) > 0.5:
                moved = moved.set_position(fn.id, xy)
    if change.graph is not None:
        change.graph = moved
    elif moved is not graph:
        change.moved = moved
    return change


def _stale(reply: StreamlitFlowState, version: int) -> bool:
    """A reply about an older state: acting on it would undo the newest edits."""
    return any(n.data.get("v", version) != version for n in reply.nodes)


def render_canvas(graph: Graph, result: BuildResult | None, selected: str | None, force: bool = False,
                  fit: bool = False) -> CanvasChange:
    """Draws the canvas and returns what the user changed on it.

    Args:
        force: Push the graph to the canvas even if it did not change (to undo
            a refused connection that the canvas already drew).
        fit: Zoom to show the whole graph (after loading a project or a layout).
    """
    pushed = st.session_state.get(FLOW)
    version = st.session_state.get(VERSION, 0)
    if force or pushed is None or pushed[0] is not graph or pushed[1] is not result or pushed[2] != selected:
        version += 1
        st.session_state[VERSION] = version
        state = flow_state(graph, result, selected, version)
        st.session_state[FLOW] = (graph, result, selected, state)
    else:
        state = pushed[3]
    new_state = streamlit_flow(
        FLOW_KEY, state, height=HEIGHT, fit_view=fit, show_controls=True, show_minimap=False,
        allow_new_edges=True, animate_new_edges=False, layout=ManualLayout(), get_node_on_click=True,
        get_edge_on_click=True, pan_on_drag=True, allow_zoom=True, min_zoom=0.2, enable_pane_menu=True,
        enable_node_menu=True, enable_edge_menu=True, hide_watermark=True,
    )
    if new_state is state or _stale(new_state, version):
        return CanvasChange(selected=selected)
    # The reply is compared with the graph, and the pushed state stays the one passed back: passing the
    # reply back (its timestamp is the canvas's own) would make the canvas reload and reply again, forever.
    change = apply_canvas(graph, new_state)
    after = change.graph or graph
    if change.selected is None or not after.has(change.selected):
        # No node in the reply: the canvas echoing a pushed state, a drag's end, a pane or edge click.
        # None of these should drop the selection (the inspector has its own "deselect").
        change.selected = selected
    change.selection_changed = change.selected != selected
    return change
