"""The Build page: pick a template, see its shapes, parameter counts and summary."""

import streamlit as st

from builder.templates import TEMPLATES, template
from components import state
from components.summary_panel import render_issues, render_summary

graph = state.get_graph()
keys = list(TEMPLATES)
with st.sidebar:
    choice = st.selectbox("Template", keys, format_func=lambda k: TEMPLATES[k][0], key="template_choice",
                          index=keys.index(state.cli_option("template", state.DEFAULT_TEMPLATE)) if state.cli_option("template", state.DEFAULT_TEMPLATE) in keys else 0)
    if st.button("New from template", width="stretch"):
        state.set_graph(template(choice))
        st.rerun()

graph = state.get_graph()
st.title(graph.name)
description = graph.extra.get("description")
if isinstance(description, str):
    st.caption(description)
with st.spinner("Loading TensorFlow and building the model…"):
    result = state.build_result()
render_issues(result)
render_summary(result)
