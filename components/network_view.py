"""The network view (streamlit-agraph): the model's layers, frozen ones in grey; a click toggles freezing.

streamlit-agraph has no `key` and puts `title` into innerHTML: titles are built
only from node ids (which match `[A-Za-z_][A-Za-z0-9_]*`) and words of ours, and
are HTML-escaped anyway. Labels are drawn by vis-network as plain text on a
canvas (`font.multi` off), so they carry the text as it is: a type read from a
graph file shows literally, where HTML-escaping it would show `&lt;`.
"""

from __future__ import annotations

import hashlib
import html

import streamlit as st
from streamlit_agraph import Config, Edge, Node, agraph

from builder.model.build import BuildResult
from builder.model.graph import Graph
from components.text import clip

HANDLED = "lc_netview_handled"
TRAINABLE, FROZEN, NO_WEIGHTS = "#4C8BF5", "#B0B0B0", "#E8E8E8"


def view_data(graph: Graph, result: BuildResult | None) -> tuple[list[Node], list[Edge]]:
    """Nodes and edges for agraph: a node's label is its id, type and parameter count."""
    nodes = []
    for node in graph.nodes:
        info = result.infos.get(node.id) if result is not None else None
        params = info.params if info is not None else 0
        frozen = not node.trainable
        color = NO_WEIGHTS if not params else FROZEN if frozen else TRAINABLE
        state = "frozen" if frozen and params else "trainable" if params else "no weights"
        text = f"{node.id}\n{clip(node.type)}\n{params:,} params, {state}"
        # A long type (from a graph file) wraps, instead of drawing a box over its neighbours.
        wrap = {"widthConstraint": {"maximum": 150}} if len(node.type) > 24 else {}
        nodes.append(Node(id=node.id, label=text, title=html.escape(f"{node.id}: {state}"), color=color,
                          shape="box", font={"color": "#FFFFFF" if color == TRAINABLE else "#222222", "multi": False},
                          **wrap))
    edges = [Edge(source=e.source, target=e.target) for e in graph.edges]
    return nodes, edges


def render_network_view(graph: Graph, result: BuildResult | None, height: int = 420) -> str | None:
    """Draws the view; returns the id of a node clicked since the last call (each click once), or None."""
    nodes, edges = view_data(graph, result)
    config = Config(width=800, height=height, directed=True, physics=False, hierarchical=True,
                    direction="UD", sortMethod="directed", levelSeparation=90, nodeSpacing=160)
    config.width = "100%"  # Config appends "px" to whatever it is given
    clicked = agraph(nodes=nodes, edges=edges, config=config)
    if not clicked or not graph.has(clicked):
        return None
    # The component keeps returning its last click on later reruns while its data is the same.
    signature = hashlib.sha1(repr([(n.id, n.color) for n in nodes]).encode()).hexdigest()
    if st.session_state.get(HANDLED) == (signature, clicked):
        return None
    st.session_state[HANDLED] = (signature, clicked)
    return clicked
