"""The Inspect page: try the model on an input of your own, and look inside it."""

import streamlit as st

from components import state
from components.data_panel import current_dataset
from components.export_panel import model_to_export
from components.inspect_panel import choose_sample, render_prediction
from components.text import md_escape

state.ensure_navigation()

graph = state.get_graph()
st.subheader("Inspect")
ds = current_dataset(graph)
if state.build_result().model is None:
    st.error("The model has errors: fix them on the Build page first.", icon=":material/error:")
    st.stop()
with st.spinner("Loading the model..."):
    model, _, about, _ = model_to_export(graph)
st.caption(md_escape(about))
if len(model.inputs) != 1:
    st.info("This model has several inputs: trying it on one input of your own needs a model with one.")
    st.stop()
input_shape = tuple(int(d) for d in model.inputs[0].shape[1:])

# Only the chosen view is computed (each runs the model).
view = st.segmented_control("View", ["Try it"], default="Try it", key="inspect_view",
                            label_visibility="collapsed") or "Try it"
if view == "Try it":
    sample, described = choose_sample(ds, input_shape)
    if sample is not None:
        render_prediction(model, sample, ds, described)
