"""The Export page's parts: which model to export, and a download per format with how to load it."""

from __future__ import annotations

import streamlit as st

from builder.export import (
    FORMATS,
    ExportError,
    export_bytes,
    file_name,
    serving_signature,
)
from builder.graph import Graph
from components import state
from components.text import md_escape
from components.training_panel import WEIGHTS, current_run, restore_weights, stored_model

PREPARED = state.per_project("lc_export_prepared")  # (model key, format) -> bytes or an error message
MODEL = state.per_project("lc_export_model")
SLOW = ("savedmodel", "tflite")  # prepared on request: each takes seconds


def model_to_export(graph: Graph):
    """(model, graph, description, key): the trained model of this session's run, else the graph built with the
    imported or trained weights, else untrained."""
    job, stored = current_run()
    if job is None and stored is not None and stored.get("artifact_path"):
        model = stored_model(stored)
        if model is not None:
            test = stored.get("final_metrics") or {}
            score = ", ".join(f"test {k} {v:.4f}" for k, v in test.items() if isinstance(v, (int, float)))
            text = (f"The model trained in run {stored['id'][:6]} ({stored['status']}, saved when it ended"
                    f"{', ' + score if score else ''}).")
            run_graph = stored.get("graph") or graph
            if run_graph != graph:
                text += " The graph changed since: the code files describe the model as trained."
            return model, run_graph, text, f"run:{stored['id']}"
    if job is not None and job.model is not None and not job.active:
        test = (job.result or {}).get("metrics", {})
        score = ", ".join(f"test {k} {v:.4f}" for k, v in test.items())
        text = f"The model trained in run {job.id[:6]} ({job.status}, {job.epoch} epochs{', ' + score if score else ''})."
        if job.graph != graph:
            text += " The graph changed since: the code files describe the model as trained."
        return job.model, job.graph, text, f"run:{job.id}"
    if state.build_result().model is None:
        return None, graph, "The model has errors: fix them on the Build page first.", None
    restore_weights(job, stored)
    weights = st.session_state.get(WEIGHTS)
    model, loaded = _fresh_model(graph, weights)
    key = f"graph:{id(graph)}:{id(weights)}"
    if loaded:
        text = (f"The current graph with the weights imported or trained before ({len(loaded)} layers); the other "
                "layers are not trained.")
        return model, graph, text, key
    text = ("Not trained yet: these files hold the architecture with random weights. Train it on the Train page "
            "first to export what it learned.")
    return model, graph, text, key


def _fresh_model(graph: Graph, weights: dict | None):
    """A model of its own for export (not the Build page's), with the weights that fit; cached per graph."""
    from builder.build import build_model
    from builder.importer import apply_weights

    cached = st.session_state.get(MODEL)
    if cached is not None and cached[0] is graph and cached[1] is weights:
        return cached[2], cached[3]
    model = build_model(graph)
    loaded = apply_weights(model, weights) if weights else []
    st.session_state[MODEL] = (graph, weights, model, loaded)
    return model, loaded


def _prepare(key: str, fmt: str, model, graph: Graph) -> bytes | str:
    """The file's bytes, or the error message (kept per model, so a rerun does not export again)."""
    store = st.session_state.setdefault(PREPARED, {})
    if store.get("model") != key:
        store.clear()
        store["model"] = key
    if fmt not in store:
        from components.data_panel import saved_name

        try:
            store[fmt] = export_bytes(fmt, model=model, graph=graph, dataset=saved_name(graph))
        except ExportError as e:
            store[fmt] = str(e)
        except Exception as e:  # noqa: BLE001 - never a traceback on the page
            store[fmt] = f"could not export: {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
    return store[fmt]


def render_formats(model, graph: Graph, key: str) -> None:
    store = st.session_state.get(PREPARED, {})
    for fmt, spec in FORMATS.items():
        name = file_name(graph, fmt)
        with st.container(border=True):
            left, right = st.columns([3, 1], vertical_alignment="center")
            left.markdown(f"**{spec.label}**  \n{spec.description}")
            ready = store.get(fmt) if store.get("model") == key else None
            if fmt in SLOW and ready is None:
                if right.button("Prepare", key=f"prepare:{fmt}", icon=":material/build:", width="stretch"):
                    with st.spinner(f"Exporting {spec.label}..."):
                        _prepare(key, fmt, model, graph)
                    st.rerun()
            else:
                data = _prepare(key, fmt, model, graph)
                if isinstance(data, bytes):
                    right.download_button("Download", data, file_name=name, mime=spec.mime, key=f"download:{fmt}",
                                          icon=":material/download:", width="stretch", on_click="ignore")
                else:
                    left.error(md_escape(data), icon=":material/error:")
            with left.expander("How to load it"):
                st.code(spec.load.format(file=name), language="python")
                if fmt == "savedmodel" and isinstance(ready, bytes):
                    st.caption("Serving signature:")
                    try:
                        st.code(serving_signature(ready), language=None)
                    except Exception:  # noqa: BLE001 - the signature is extra information only
                        st.caption("(could not be read)")


def render_export(graph: Graph) -> None:
    model, export_graph, text, key = model_to_export(graph)
    if model is None:
        st.error(text, icon=":material/error:")
        return
    st.info(md_escape(text), icon=":material/info:")
    render_formats(model, export_graph, key)
