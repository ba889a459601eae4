"""Floor app: Streamlit alone, one line of text."""
import streamlit as st

st.write("ready")
