"""Streamlit UI pieces. Each render_x() draws and returns values."""
