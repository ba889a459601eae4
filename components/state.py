"""Session keys and the current project: one graph and one model builder per session."""

from __future__ import annotations

import sys

import streamlit as st

from builder.graph import Graph
from builder.templates import TEMPLATES, template

GRAPH = "lc_graph"
BUILDER = "lc_builder"
RESULT = "lc_result"
DEFAULT_TEMPLATE = "iris_mlp"


def cli_option(name: str, default: str | None = None) -> str | None:
    """`streamlit run app.py -- --template mlp`: options after `--`."""
    args = sys.argv[1:]
    flag = f"--{name}"
    if flag in args and args.index(flag) + 1 < len(args):
        return args[args.index(flag) + 1]
    return default


def get_graph() -> Graph:
    if GRAPH not in st.session_state:
        key = cli_option("template", DEFAULT_TEMPLATE)
        st.session_state[GRAPH] = template(key if key in TEMPLATES else DEFAULT_TEMPLATE)
    return st.session_state[GRAPH]


def set_graph(graph: Graph) -> None:
    st.session_state[GRAPH] = graph


def build_result():
    """The BuildResult of the current graph, rebuilt only when the graph changed."""
    from builder.build import ModelBuilder

    graph = get_graph()
    cached = st.session_state.get(RESULT)
    if cached is not None and cached[0] is graph:
        return cached[1]
    builder = st.session_state.setdefault(BUILDER, ModelBuilder())
    result = builder.build(graph)
    st.session_state[RESULT] = (graph, result)
    return result
