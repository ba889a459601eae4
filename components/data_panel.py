"""Choosing the data: built-in datasets, Keras downloads and uploads; preview and compatibility.

The chosen dataset lives in the session (uploads can be large and are one
user's). Built-in arrays are loaded once per process and shared read-only.
A built-in choice is also written into the graph's `training.dataset`, so a
reload, the training script and the CLI pick the same data.
"""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from builder import compat, datasets
from builder.datasets import BUILTIN, KERAS_DATASETS, Dataset, DatasetError
from builder.graph import Graph, GraphError
from components import charts, state
from components.text import md_escape

DATASET = state.per_project("lc_dataset")
PARSED = "lc_parsed_upload"
DEFAULT_DATASET = "iris"


@st.cache_resource(show_spinner=False, max_entries=32)
def load_shared(name: str) -> Dataset:
    """A built-in or downloaded dataset, loaded once per process (its arrays are never written to)."""
    ds = datasets.load(name)
    for arr in (ds.x_train, ds.y_train, ds.x_test, ds.y_test):
        arr.setflags(write=False)
    return ds


def saved_name(graph: Graph) -> str | None:
    training = graph.extra.get("training")
    name = training.get("dataset") if isinstance(training, dict) else None
    return name if isinstance(name, str) and (name in BUILTIN or name in KERAS_DATASETS) else None


def current_dataset(graph: Graph) -> Dataset | None:
    """The session's dataset; at first the graph's `training.dataset`, the `--dataset` option or iris."""
    ds = st.session_state.get(DATASET)
    if ds is not None:
        return ds
    name = saved_name(graph) or state.cli_option("dataset") or DEFAULT_DATASET
    try:
        ds = load_shared(name if name in BUILTIN or name in KERAS_DATASETS else DEFAULT_DATASET)
    except DatasetError:
        return None  # a Keras download that fails offline: the Data page says so when it is picked
    st.session_state[DATASET] = ds
    return ds


def use(ds: Dataset, builtin_name: str | None = None) -> None:
    st.session_state[DATASET] = ds
    graph = state.get_graph()
    if builtin_name and saved_name(graph) != builtin_name:
        training = dict(graph.extra.get("training") or {}) if isinstance(graph.extra.get("training"), dict) else {}
        training["dataset"] = builtin_name
        state.replace(graph.set_extra("training", training))


def _input_image_shape(graph: Graph) -> tuple | None:
    ids = graph.input_ids()
    shape = graph.node(ids[0]).params.get("shape") if len(ids) == 1 else None
    return tuple(shape) if isinstance(shape, list) and len(shape) == 3 else None


def render_picker(graph: Graph) -> None:
    """The source choice and its controls; loads the chosen data into the session."""
    current = st.session_state.get(DATASET)
    source = st.segmented_control("Source", ["Built-in", "Download", "Upload"], default="Built-in",
                                  key="data_source", label_visibility="collapsed") or "Built-in"
    if source == "Built-in":
        names = list(BUILTIN)
        index = names.index(current.name) if current is not None and current.name in BUILTIN else 0
        name = st.selectbox("Dataset", names, index=index, key="data_builtin",
                            format_func=lambda n: f"{n}: {BUILTIN[n].description}")
        if current is None or current.name != name:
            with st.spinner(f"Loading {name}..."):
                use(load_shared(name), name)
            st.rerun()
    elif source == "Download":
        st.caption("Downloaded by Keras the first time (needs an internet connection), then kept on disk.")
        name = st.selectbox("Dataset", KERAS_DATASETS, key="data_keras")
        if st.button("Load", key="data_keras_load", icon=":material/download:"):
            try:
                with st.spinner(f"Downloading {name}..."):
                    use(load_shared(name), name)
                st.rerun()
            except DatasetError as e:
                st.error(md_escape(str(e)), icon=":material/cloud_off:")
    else:
        _upload(graph)


def _upload(graph: Graph) -> None:
    limit = datasets.MAX_UPLOAD_BYTES // datasets.MB
    st.caption(f"A CSV table (a column of labels), an NPZ file (x_train, y_train, optional x_test, y_test) or a "
               f"zip of image folders (one folder per class). Up to {limit} MB.")
    file = st.file_uploader("Data file", type=["csv", "npz", "zip"], key="data_upload", label_visibility="collapsed")
    if file is None:
        return
    data = file.getvalue()
    digest = hashlib.sha1(data).hexdigest()
    ext = file.name.rsplit(".", 1)[-1].lower()
    options: tuple = ()
    if ext == "csv":
        try:
            columns = datasets.csv_columns(data, file.name)
        except DatasetError as e:
            st.error(md_escape(str(e)), icon=":material/error:")
            return
        c1, c2 = st.columns([2, 1])
        # Options are plain text (not Markdown): a column name shows as it is.
        target = c1.selectbox("Label column", columns, index=len(columns) - 1, key="data_target", format_func=str)
        scale = c2.checkbox("Standardize features", value=True, key="data_standardize")
        options = (target, scale)
    elif ext == "zip":
        shape = _input_image_shape(graph)
        options = (shape,)
        st.caption(f"Images are resized to the model's input, {shape}." if shape else
                   "The model's input is not an image (H, W, C): images keep the first one's size, at most 64x64.")
    key = (digest, ext, options)
    parsed = st.session_state.get(PARSED)
    if parsed is None or parsed[0] != key:
        try:
            with st.spinner("Reading the file..."):
                if ext == "csv":
                    ds = datasets.parse_csv(data, file.name, target=options[0], standardize=options[1])
                elif ext == "npz":
                    ds = datasets.parse_npz(data, file.name)
                else:
                    ds = datasets.parse_image_zip(data, file.name, image_shape=options[0])
            parsed = (key, ds, None)
        except DatasetError as e:
            parsed = (key, None, str(e))
        except Exception as e:  # noqa: BLE001 - a parser bug must not reach the user as a traceback
            parsed = (key, None, f"{file.name} could not be read ({type(e).__name__}).")
        st.session_state[PARSED] = parsed
    _, ds, error = parsed
    if error:
        st.error(md_escape(error), icon=":material/error:")
    elif st.session_state.get(DATASET) is not ds:
        use(ds)
        st.rerun()


def render_preview(ds: Dataset) -> None:
    """Sizes, a table or an image grid, and the class balance."""
    s = ds.summary()
    cols = st.columns(3)
    cols[0].metric("Input shape", " x ".join(str(d) for d in ds.input_shape))
    cols[1].metric("Classes" if ds.task == "classification" else "Task",
                   ds.classes if ds.task == "classification" else "regression")
    cols[2].metric("Train / test samples", f"{s['train_size']:,} / {s['test_size']:,}")
    notes = [ds.description, *getattr(ds, "notes", [])]
    if any(notes):
        st.caption(md_escape(" ".join(n for n in notes if n)))
    left, right = st.columns([3, 2])
    with left:
        if ds.kind == "image":
            render_images(ds, range(min(24, len(ds.x_train))), ds.x_train, ds.y_train)
        else:
            st.dataframe(preview_table(ds), hide_index=True, height=260)
    with right:
        if ds.task == "classification":
            st.plotly_chart(charts.class_balance(ds.class_counts()), key="balance")
        else:
            import plotly.graph_objects as go

            fig = go.Figure(go.Histogram(x=np.ravel(ds.y_train), marker_color=charts.TRAIN))
            st.plotly_chart(charts.layout(fig, "Target values (training data)", "value", "samples", 260),
                            key="targets")


def label_name(ds: Dataset, value) -> str:
    if ds.task == "classification" and 0 <= int(value) < len(ds.class_names):
        return str(ds.class_names[int(value)])
    return f"{float(np.ravel(value)[0]):.4g}"


def preview_table(ds: Dataset, rows: int = 20) -> dict:
    """The first rows as columns: features (flattened when not a table) and the label."""
    x = ds.x_train[:rows].reshape(min(rows, len(ds.x_train)), -1)
    names = ds.feature_names if ds.feature_names and len(ds.feature_names) == x.shape[1] else \
        [f"x{i}" for i in range(x.shape[1])]
    table = {str(n): x[:, i].tolist() for i, n in enumerate(names[:30])}
    table["label"] = [label_name(ds, y) for y in ds.y_train[:rows]]
    return table


def render_images(ds: Dataset, indices, x, y, captions: list[str] | None = None, per_row: int = 8) -> None:
    """A grid of images (grey or colour) with their labels (or the given captions)."""
    indices = list(indices)
    for start in range(0, len(indices), per_row):
        cols = st.columns(per_row)
        for col, pos in zip(cols, range(start, min(start + per_row, len(indices))), strict=False):
            i = indices[pos]
            text = captions[pos] if captions else label_name(ds, y[i])
            col.image(to_picture(x[i]), caption=md_escape(text), width="stretch")


def to_picture(sample) -> np.ndarray:
    """One image sample (H×W×1 or ×3, any range) as 8-bit grey or RGB, stretched to its own min and max."""
    img = np.asarray(sample, dtype="float32")
    img = img[..., 0] if img.shape[-1] == 1 else img[..., :3]
    lo, hi = float(img.min()), float(img.max())
    img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
    return (img * 255).astype("uint8")


def render_compat(graph: Graph, ds: Dataset) -> bool:
    """The model-versus-data check, with "Apply to the model" where a message names the change; True when
    nothing blocks training.

    A click commits the fix as one undoable step (the Build page's Undo reverts it) and reruns.
    """
    issues = compat.check(graph, ds)
    for issue in issues:
        where = f"{issue.node_id}: " if issue.node_id else ""
        # Messages and labels quote node ids and types from graph files: shown as text, never as markup.
        text = md_escape(where + issue.message)
        box = st
        if issue.fix is not None:
            box, side = st.columns([5, 1], vertical_alignment="center")
            if side.button("Apply to the model", key=f"compat_fix:{issue.code}:{issue.node_id}",
                           icon=":material/build:", help=md_escape(issue.fix.label), width="stretch"):
                try:
                    state.commit(compat.apply_fix(graph, issue))
                except GraphError as e:
                    st.error(md_escape(f"That change no longer applies: {e}"), icon=":material/error:")
                else:
                    state.flash("success", f"Changed {issue.fix.label}. Undo on the Build page reverts it.")
                    st.rerun()
        if issue.level == "error":
            box.error(text, icon=":material/error:")
        else:
            box.warning(text, icon=":material/warning:")
    if not issues:
        st.success("The model fits this data: input shape, output units and activation match the labels.",
                   icon=":material/check_circle:")
    return not any(i.level == "error" for i in issues)
