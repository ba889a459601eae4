"""LayerCanvas: design Keras models visually. Run: streamlit run app.py"""

import streamlit as st

st.set_page_config(page_title="LayerCanvas", page_icon="🧱", layout="wide")

page = st.navigation([st.Page("pages/build.py", title="Build", icon="🧱", default=True)])
page.run()
