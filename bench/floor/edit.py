"""Floor app: Streamlit alone (no LayerCanvas code): a number box and a metric that follows it.

What an edit -> updated total costs a Streamlit page by itself: the floor under the canvas edit benchmarks.
"""
import streamlit as st

units = st.number_input("units", min_value=1, value=64)
st.metric("Total params", f"{units * 1000:,}")
