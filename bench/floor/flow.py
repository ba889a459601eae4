"""Floor app: Streamlit and streamlit-flow alone (no LayerCanvas code).

A number box and a metric above a canvas of N Markdown nodes (N from the
`n` query parameter, 3 by default); every edit changes one node's text, as an
inspector edit changes its node's drawing, so the canvas gets a new state.
"""
import streamlit as st
from streamlit_flow import streamlit_flow
from streamlit_flow.elements import StreamlitFlowEdge, StreamlitFlowNode
from streamlit_flow.layouts import ManualLayout
from streamlit_flow.state import StreamlitFlowState

n = int(st.query_params.get("n", 3))
units = st.number_input("units", min_value=1, value=64)
st.metric("Total params", f"{units * 1000:,}")
nodes = [StreamlitFlowNode(f"n{i}", (0, 90 * i), {"content": f"**Dense** {units if i == n // 2 else 64}"},
                           "default", "bottom", "top") for i in range(n)]
edges = [StreamlitFlowEdge(f"e{i}", f"n{i}", f"n{i + 1}") for i in range(n - 1)]
streamlit_flow("flow", StreamlitFlowState(nodes, edges), height=600, layout=ManualLayout())
