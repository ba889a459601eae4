"""The Export page (not built yet)."""

import streamlit as st

from components import state

state.ensure_navigation()

st.title("Export")
st.info("This page is not built yet. For now, design your model on the Build page; its code and training script "
        "are in the Build page's Code tab.")
