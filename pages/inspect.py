"""The Inspect page: try the model on an input of your own, and look inside it."""

import streamlit as st

from builder.train.inspect import compared_models
from components import state
from components.build_cache import build_result
from components.data_panel import current_dataset
from components.export_panel import model_to_export
from components.inspect_panel import (
    choose_sample,
    render_explain,
    render_filters,
    render_inside,
    render_prediction,
    render_weights_gradients,
)
from components.navigation import ensure_navigation
from components.text import md_escape
from components.training_panel import artifact_dir, current_run

ensure_navigation()

graph = state.get_graph()
st.subheader("Inspect")
ds = current_dataset(graph)
if build_result().model is None:
    st.error("The model has errors: fix them on the Build page first.", icon=":material/error:")
    st.stop()
with st.spinner("Loading the model..."):
    model, _, about, _ = model_to_export(graph)
st.caption(md_escape(about))
if len(model.inputs) != 1:
    st.info("This model has several inputs: the views here need a model with one.")
    st.stop()
input_shape = tuple(int(d) for d in model.inputs[0].shape[1:])
job, stored = current_run()

# Only the chosen view is computed (each runs the model).
VIEWS = ["Try it", "Layer by layer", "Explain (Grad-CAM)", "Filters", "Weights and gradients"]
view = st.segmented_control("View", VIEWS, default=VIEWS[0], key="inspect_view",
                            label_visibility="collapsed") or VIEWS[0]
if view in ("Try it", "Layer by layer"):
    sample, described = choose_sample(ds, input_shape, key="try")
    if sample is not None:
        if view == "Try it":
            render_prediction(model, sample, ds, described)
        else:
            before = []
            if job is not None and job.model is model:
                try:
                    before = compared_models(job)
                except Exception as e:  # noqa: BLE001 - the trained model's outputs still show
                    st.caption(md_escape(f"The untrained model could not be made ({type(e).__name__}): only the "
                                         "trained one is shown."))
            render_inside(model, before, sample, ds, described)
elif view == "Explain (Grad-CAM)":
    render_explain(model, ds)
elif view == "Filters":
    render_filters(model)
else:
    rows = None
    if job is not None:
        rows = job.snapshot().get("inspect")
    elif stored is not None:
        from builder.train.inspect import load_rows

        rows = load_rows(artifact_dir(), stored["id"])
    render_weights_gradients(rows)
