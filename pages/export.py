"""The Export page: download the model in every format, each with how to load it."""

import streamlit as st

from components import state
from components.export_panel import render_export
from components.navigation import ensure_navigation

ensure_navigation()

st.subheader("Export")
render_export(state.get_graph())
