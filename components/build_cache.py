"""The model of the session's graph, built once per graph: the BuildResult, and its Summary and cost per layer.

A rerun that only selects or moves builds nothing. The ModelBuilder is kept across projects (it reuses unchanged
layers); the results belong to the open project.
"""

from __future__ import annotations

import streamlit as st

from components import state

BUILDER = "lc_builder"  # the session's ModelBuilder
RESULT = state.per_project("lc_result")  # (Graph, BuildResult) of the last build
DERIVED = state.per_project("lc_derived")  # (BuildResult, Summary, Profile) of the last result drawn


def build_result():
    """The BuildResult of the current graph, rebuilt only when the graph changed."""
    from builder.model.build import ModelBuilder

    graph = state.get_graph()
    cached = st.session_state.get(RESULT)
    if cached is not None and cached[0] is graph:
        return cached[1]
    builder = st.session_state.setdefault(BUILDER, ModelBuilder())
    result = builder.build(graph)
    st.session_state[RESULT] = (graph, result)
    return result


def summary_and_cost(result):
    """The Summary and the cost per layer (Profile) of a BuildResult, made once per result: a rerun that only
    selects or moves costs nothing here."""
    cached = st.session_state.get(DERIVED)
    if cached is not None and cached[0] is result:
        return cached[1], cached[2]
    from builder.model.profile import profile
    from builder.model.summary import summarize

    summary, cost = summarize(result), profile(result)
    st.session_state[DERIVED] = (result, summary, cost)
    return summary, cost


def cached_result():
    """The last BuildResult, even of an older graph (None before the first build)."""
    cached = st.session_state.get(RESULT)
    return None if cached is None else cached[1]
