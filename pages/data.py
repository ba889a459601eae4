"""The Data page: pick or upload data, preview it, and check it against the model."""

import streamlit as st

from components import state
from components.data_panel import (
    current_dataset,
    data_problem,
    project_choice,
    render_compat,
    render_picker,
    render_preview,
)
from components.navigation import ensure_navigation
from components.text import md_escape

ensure_navigation()

graph = state.get_graph()
st.subheader("Data")
render_picker(graph)
ds = current_dataset(graph)
if ds is None:
    problem = data_problem(graph)
    st.warning(md_escape(problem) if problem else "Pick a dataset, or upload one.", icon=":material/dataset:")
else:
    st.markdown(f"**Using:** {md_escape(project_choice(graph).label)}")
    render_preview(ds)
    st.markdown("**Model and data**")
    render_compat(graph, ds)
