"""The Data page: pick or upload data, preview it, and check it against the model."""

import streamlit as st

from components import state
from components.data_panel import (
    current_dataset,
    render_compat,
    render_picker,
    render_preview,
)
from components.text import md_escape

state.ensure_navigation()

graph = state.get_graph()
st.subheader("Data")
render_picker(graph)
ds = current_dataset(graph)
if ds is None:
    st.info("Pick a dataset, or upload one.")
else:
    st.markdown(f"**Using:** {md_escape(ds.name)}")
    render_preview(ds)
    st.markdown("**Model and data**")
    render_compat(graph, ds)
