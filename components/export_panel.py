"""The Export page's parts: which model to export, a download per format with how to load it, the TFLite variants
compared on the test data, and the run's TensorBoard logs."""

from __future__ import annotations

import streamlit as st

from builder.files.export import (
    COMPARE_LIMIT,
    FORMATS,
    TFLITE,
    ExportError,
    export_bytes,
    file_name,
    load_snippet,
    serving_signature,
    tflite_comparison,
)
from builder.model.graph import Graph
from components import state
from components.build_cache import build_result
from components.runtime import rerun
from components.text import md_escape
from components.training_panel import WEIGHTS, current_run, restore_weights, stored_model

PREPARED = state.per_project("lc_export_prepared")  # (model key, format) -> bytes or an error message
MODEL = state.per_project("lc_export_model")
COMPARED = state.per_project("lc_export_compared")  # (model key, the TFLite comparison or an error message)
SLOW = ("savedmodel", *TFLITE, "onnx")  # prepared on request: each takes seconds
GROUPS = [("Keras and TensorFlow", ["keras", "h5", "savedmodel", "weights"]),
          ("Phones and other runtimes", [*TFLITE, "onnx"]),
          ("Code", ["python", "script", "notebook", "graph"])]


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
    if build_result().model is None:
        return None, graph, "The model has errors: fix them on the Build page first.", None
    restore_weights(job, stored)
    weights = st.session_state.get(WEIGHTS)
    model, loaded = _fresh_model(graph, weights)
    key = f"graph:{id(graph)}:{id(weights)}"
    text = weights_note(model, loaded)
    if text:
        return model, graph, text, key
    text = ("Not trained yet: these files hold the architecture with random weights. Train it on the Train page "
            "first to export what it learned.")
    return model, graph, text, key


NAMED_UNTRAINED = 5  # untrained layers named in the note (then "and N more")


def weights_note(model, loaded: list[str]) -> str | None:
    """What the export holds when some layers got imported or earlier weights (`loaded`, node ids), or None when
    no layer with weights got any. Only layers that have weights count: Flatten, Dropout or Input are neither
    trained nor untrained."""
    with_weights, loaded = [layer.name for layer in model.layers if layer.weights], set(loaded)
    trained = [name for name in with_weights if name in loaded]
    if not trained:
        return None
    text = (f"The current graph with the weights imported or trained before ({len(trained)} "
            f"layer{'s' if len(trained) != 1 else ''})")
    untrained = [name for name in with_weights if name not in loaded]
    if not untrained:
        return text + "."
    named = ", ".join(untrained[:NAMED_UNTRAINED])
    more = f" and {len(untrained) - NAMED_UNTRAINED} more" if len(untrained) > NAMED_UNTRAINED else ""
    return text + f"; not trained yet: {named}{more}."


def _fresh_model(graph: Graph, weights: dict | None):
    """A model of its own for export (not the Build page's), with the weights that fit; cached per graph."""
    from builder.model.build import apply_weights, build_model

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


def _render_format(fmt: str, model, graph: Graph, key: str) -> None:
    spec = FORMATS[fmt]
    store = st.session_state.get(PREPARED, {})
    name = file_name(graph, fmt)
    with st.container(border=True):
        left, right = st.columns([3, 1], vertical_alignment="center")
        left.markdown(f"**{spec.label}**  \n{spec.description}")
        ready = store.get(fmt) if store.get("model") == key else None
        if fmt in SLOW and ready is None:
            if right.button("Prepare", key=f"prepare:{fmt}", icon=":material/build:", width="stretch"):
                with st.spinner(f"Exporting {spec.label}..."):
                    _prepare(key, fmt, model, graph)
                rerun()
        else:
            data = _prepare(key, fmt, model, graph)
            if isinstance(data, bytes):
                right.download_button("Download", data, file_name=name, mime=spec.mime, key=f"download:{fmt}",
                                      icon=":material/download:", width="stretch", on_click="ignore")
            else:
                left.error(md_escape(data), icon=":material/error:")
        with left.expander("How to load it"):
            st.code(load_snippet(graph, fmt), language=spec.load_language)
            if fmt == "savedmodel" and isinstance(ready, bytes):
                st.caption("Serving signature:")
                try:
                    st.code(serving_signature(ready), language=None)
                except Exception:  # noqa: BLE001 - the signature is extra information only
                    st.caption("(could not be read)")


def render_formats(model, graph: Graph, key: str) -> None:
    grouped = [f for _, keys in GROUPS for f in keys]
    for i, (title, keys) in enumerate(GROUPS):
        if i == len(GROUPS) - 1:  # a format added later still shows
            keys = keys + [f for f in FORMATS if f not in grouped]
        st.markdown(f"##### {title}")
        for fmt in keys:
            if fmt in FORMATS:
                _render_format(fmt, model, graph, key)
        if "tflite" in keys:
            render_tflite_comparison(model, graph, key)


def _test_data(graph: Graph, key: str):
    """The test data to compare on: the run's own dataset while its job is in memory, else the session's."""
    from components.data_panel import current_dataset
    from components.training_panel import registry

    job = registry().get(key[4:]) if key.startswith("run:") else None
    return job.dataset if job is not None else current_dataset(graph)


def _size(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


def render_tflite_comparison(model, graph: Graph, key: str) -> None:
    """Size and test score of each TFLite file beside Keras's, computed when asked (it takes seconds)."""
    with st.container(border=True):
        left, right = st.columns([3, 1], vertical_alignment="center")
        left.markdown("**TFLite files compared**  \nFile size and the score on the test data, run with the TFLite "
                      "interpreter, beside Keras's own.")
        done = st.session_state.get(COMPARED)
        result = done[1] if done is not None and done[0] == key else None
        if right.button("Compare" if result is None else "Compare again", key="compare_tflite", icon=":material/compare:",
                        width="stretch"):
            with st.spinner("Converting and scoring the three TFLite files..."):
                result = _compare(model, graph, key)
            st.session_state[COMPARED] = (key, result)
            rerun()  # the files just made are now ready above
        if isinstance(result, str):
            st.error(md_escape(result), icon=":material/error:")
        elif result is not None:
            _comparison_table(result)


def _compare(model, graph: Graph, key: str) -> dict | str:
    from builder.train.settings import suggest_compile

    ds = _test_data(graph, key)
    if ds is None or len(ds.x_test) == 0:
        return "There is no test data: pick a dataset on the Data page."
    try:
        report = tflite_comparison(model, ds.x_test, ds.y_test, ds.task,
                                   suggest_compile(graph, ds.task, ds.classes).from_logits)
    except ExportError as e:
        return str(e)
    except Exception as e:  # noqa: BLE001 - never a traceback on the page
        return f"could not compare: {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
    store = st.session_state.setdefault(PREPARED, {})
    if store.get("model") != key:
        store.clear()
        store["model"] = key
    store.update(report.pop("files"))  # the files just made are the downloads
    report["dataset"] = ds.name
    return report


def _comparison_table(report: dict) -> None:
    base = next(r["bytes"] for r in report["rows"] if r["format"] == "tflite")
    names = {"accuracy": "Accuracy", "mae": "MAE", "mse": "MSE"}
    table = {"File": [], "Size": [], "Size vs float32": []} | {names[m]: [] for m in report["metrics"]}
    for row in report["rows"]:
        table["File"].append(row["label"])
        table["Size"].append(_size(row["bytes"]))
        table["Size vs float32"].append("" if row["format"] == "keras" else f"{row['bytes'] / base:.0%}")
        for m in report["metrics"]:
            table[names[m]].append(f"{row[m]:.1%}" if m == "accuracy" else f"{row[m]:.4g}")
    st.dataframe(table, hide_index=True)
    shown = (f"the first {report['samples']:,} of the {report['total']:,}" if report["samples"] < report["total"]
             else f"all {report['total']:,}")
    note = (" TFLite keeps weight tensors of fewer than 1,024 values as they are, so a model this small gets no "
            "smaller." if next(r["bytes"] for r in report["rows"] if r["format"] == "tflite-int8") > 0.8 * base
            else "")
    st.caption(f"On {shown} test samples of {report['dataset']} (at most {COMPARE_LIMIT:,}). The .keras file also "
               f"holds the optimizer's state.{note}")


def render_logs(run_id: str, key: str) -> None:
    """"Download logs": the run's TensorBoard folder as a zip, and how to open it; nothing when it has none."""
    from builder.train.runlogs import has_logs, log_dir, zip_logs
    from components.training_panel import artifact_dir

    try:
        folder = log_dir(artifact_dir(), run_id)
    except ValueError:
        return
    if not has_logs(folder):
        return
    row = st.container(horizontal=True, vertical_alignment="center")
    row.download_button("Download logs", lambda: zip_logs(folder), file_name=f"{run_id}.tb.zip",
                        mime="application/zip", key=f"logs:{key}", icon=":material/monitoring:", on_click="ignore",
                        help="The run's TensorBoard logs: loss and metrics per epoch, and the model's graph.")
    row.caption(f"To open them, unzip, then run `tensorboard --logdir {run_id}.tb`")


def render_export(graph: Graph) -> None:
    model, export_graph, text, key = model_to_export(graph)
    if model is None:
        st.error(text, icon=":material/error:")
        return
    st.info(md_escape(text), icon=":material/info:")
    if key.startswith("run:"):
        render_logs(key[4:], "export")
    render_formats(model, export_graph, key)
