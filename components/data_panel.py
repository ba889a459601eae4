"""Choosing the data: built-in datasets, Keras downloads and uploads; preview and compatibility.

The data choice belongs to the project (builder.data.datachoice): the store keeps it, and every page reads it from
there on every run, so a reload, a new tab or a server restart finds it. Only a user's choice writes it (the
widgets' callbacks): drawing a page never does. Uploaded files are kept beside the database under their sha1,
owned by the uploader. Built-in arrays are loaded once per process and shared read-only; an upload is read once
per session.
"""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import streamlit as st

from builder.data import compat, datachoice, datasets
from builder.data.datachoice import DataChoice, DataChoiceError
from builder.data.datasets import BUILTIN, KERAS_DATASETS, Dataset, DatasetError
from builder.model.graph import Graph, GraphError
from components import charts, state
from components.messages import flash
from components.navigation import cli_option
from components.owner import current_owner
from components.runtime import rerun
from components.text import md_escape

DATASET = state.per_project("lc_dataset")  # (choice key, Dataset) of the last data loaded in this session
DATA_ERROR = state.per_project("lc_data_error")  # (choice key, message) of data that could not be loaded
UPLOAD_ERROR = state.per_project("lc_upload_error")  # what the last upload or Load said, shown under the picker
CSV_COLUMNS = "lc_csv_columns"  # (sha1, columns) of the last CSV upload looked at
DEFAULT_DATASET = "iris"
SOURCES = ("Built-in", "Download", "Upload")
SOURCE_OF = {"builtin": "Built-in", "keras": "Download", "upload": "Upload"}


@st.cache_resource(show_spinner=False, max_entries=32)
def load_shared(name: str) -> Dataset:
    """A built-in or downloaded dataset, loaded once per process (its arrays are never written to)."""
    ds = datasets.load(name)
    for arr in (ds.x_train, ds.y_train, ds.x_test, ds.y_test):
        arr.setflags(write=False)
    return ds


def load_choice(choice: DataChoice) -> Dataset:
    """The data of a choice: an upload read from where it is kept, a built-in or download loaded once per process.

    Raises:
        DatasetError: it cannot be loaded; the message says what to do.
    """
    return datachoice.load(choice, uploads_dir()) if choice.kind == "upload" else load_shared(choice.name)


def uploads_dir():
    """Where uploaded data files are kept: in the artifact folder every server sees (as imported models are)."""
    from builder.store import artifact_dir

    return artifact_dir("uploads")


def project_choice(graph: Graph | None = None) -> DataChoice:
    """The open project's data choice, read from the store (another tab may have changed it); else the one its
    graph carries (a template's, a run's, a share link's), the `--dataset` option, or iris."""
    from builder.store import StoreError

    pid = state.project_id()
    stored = None
    if pid:
        try:
            stored = DataChoice.from_dict(state.get_store().project_data(pid))
        except StoreError:
            stored = None
    graph = graph if graph is not None else state.get_graph()
    return (stored or datachoice.in_graph(graph) or datachoice.named(cli_option("dataset"))
            or DataChoice("builtin", DEFAULT_DATASET))


def saved_name(graph: Graph) -> str | None:
    """The project's built-in or Keras dataset name (for the training script), None for an upload."""
    choice = project_choice(graph)
    return None if choice.kind == "upload" else choice.name


def with_data(graph: Graph) -> Graph:
    """`graph` carrying the project's data choice in its `training` field: for the graph file and share links."""
    return datachoice.into_graph(graph, project_choice(graph))


def _unavailable(choice: DataChoice) -> str | None:
    """Why this session may not read the chosen data (someone else's private upload), else None."""
    if choice.kind != "upload" or state.get_store().owns_upload(choice.id, current_owner()):
        return None
    if state.read_only():
        return (f"This project uses {choice.name}, a file its owner uploaded. Uploaded data stays private to its "
                "owner: it is not shown here.")
    return (f"This project's data, {choice.name}, was uploaded by someone else and stays private to them: choose "
            "data for your copy (a built-in dataset, or upload your own).")


def current_dataset(graph: Graph) -> Dataset | None:
    """The project's data, loaded (None when it cannot be: `data_problem` says why)."""
    choice = project_choice(graph)
    cached = st.session_state.get(DATASET)
    if cached is not None and cached[0] == choice.key:
        return cached[1]
    failed = st.session_state.get(DATA_ERROR)
    if failed is not None and failed[0] == choice.key:
        return None
    problem = _unavailable(choice)
    if problem is None:
        try:
            with st.spinner(f"Reading {md_escape(choice.name)}...") if choice.kind == "upload" else nullcontext():
                ds = load_choice(choice)
        except DatasetError as e:
            problem = str(e)
        except Exception as e:  # noqa: BLE001 - a parser bug must not reach the user as a traceback
            problem = f"{choice.name} could not be read ({type(e).__name__}): upload it again on the Data page."
    if problem is not None:
        st.session_state[DATA_ERROR] = (choice.key, problem)
        return None
    st.session_state[DATASET] = (choice.key, ds)
    return ds


def data_problem(graph: Graph) -> str | None:
    """Why the project's data is not loaded (call after `current_dataset`), or None."""
    failed = st.session_state.get(DATA_ERROR)
    return failed[1] if failed is not None and failed[0] == project_choice(graph).key else None


def choose(choice: DataChoice, ds: Dataset | None = None) -> bool:
    """The user chose `choice`: it becomes the project's data (the store, and the graph's `training` field).

    Returns:
        Whether it was recorded (not in someone else's project).
    """
    if state.read_only():
        flash("warning", state.READ_ONLY_MESSAGE)
        return False
    pid = state.project_id()
    if pid:
        state.get_store().set_project_data(pid, choice.to_dict(), owner=current_owner())
    graph = state.get_graph()
    new = datachoice.into_graph(graph, choice)
    if new is not graph:
        state.replace(new)
    st.session_state.pop(DATA_ERROR, None)
    st.session_state.pop(UPLOAD_ERROR, None)
    if ds is not None:
        st.session_state[DATASET] = (choice.key, ds)
    return True


def _input_image_shape(graph: Graph) -> tuple | None:
    ids = graph.input_ids()
    shape = graph.node(ids[0]).params.get("shape") if len(ids) == 1 else None
    return tuple(shape) if isinstance(shape, list) and len(shape) == 3 else None


# -- the picker: widgets draw the project's choice; only their callbacks write ---------------------------------------

def _on_builtin(key: str) -> None:
    name = st.session_state.get(key)
    choice = datachoice.named(name)
    if choice is not None:
        choose(choice)


def _on_keras(key: str) -> None:
    name = st.session_state.get(key)
    try:
        ds = load_shared(name)
    except DatasetError as e:
        st.session_state[UPLOAD_ERROR] = str(e)
        return
    choose(DataChoice("keras", name), ds)


def keep_upload(choice: DataChoice, data: bytes) -> DataChoice | None:
    """Keeps an uploaded file beside the database, as this owner's: their projects may then use it.

    Returns:
        The choice, or None when the file could not be kept (UPLOAD_ERROR says why).
    """
    try:
        datachoice.keep_upload(uploads_dir(), choice, bytes(data))
    except OSError as e:
        st.session_state[UPLOAD_ERROR] = (f"{choice.name} could not be kept on the server "
                                          f"({e.strerror or type(e).__name__}): nothing was changed.")
        return None
    state.get_store().add_upload(choice.id, current_owner(), choice.name, choice.format, len(data))
    return choice


def _use_upload(choice: DataChoice, data: bytes) -> None:
    """Reads an uploaded file with its options; when it reads, keeps it and makes it the project's data."""
    st.session_state.pop(UPLOAD_ERROR, None)
    try:
        ds = datachoice.read(choice, data)
    except DatasetError as e:
        st.session_state[UPLOAD_ERROR] = str(e)
        return
    except Exception as e:  # noqa: BLE001 - a parser bug must not reach the user as a traceback
        st.session_state[UPLOAD_ERROR] = f"{choice.name} could not be read ({type(e).__name__})."
        return
    if keep_upload(choice, data) is not None:
        choose(choice, ds)


def _on_upload(key: str) -> None:
    file = st.session_state.get(key)
    if file is None:
        return
    data = file.getvalue()
    try:
        choice = datachoice.upload(data, file.name)
        if choice.format == "csv":
            columns = datasets.csv_columns(data, choice.name)
            choice = datachoice.with_options(choice, label=columns[-1], standardize=True)
        elif choice.format == "zip":
            shape = _input_image_shape(state.get_graph())
            choice = datachoice.with_options(choice, image_shape=list(shape) if shape else None)
    except (DataChoiceError, DatasetError) as e:
        st.session_state[UPLOAD_ERROR] = str(e)
        return
    _use_upload(choice, data)


def _on_upload_option(choice: DataChoice, option: str, key: str) -> None:
    """A CSV's label column or standardization, or a zip's image size, changed: the kept file is read again."""
    value = st.session_state.get(key)
    if option == "image_shape":
        value = list(value) if value else None
    try:
        new = datachoice.with_options(choice, **{option: value})
        data = datachoice.upload_path(uploads_dir(), choice).read_bytes()
    except (DataChoiceError, OSError):
        st.session_state[UPLOAD_ERROR] = (f"The uploaded file {choice.name} is no longer on the server: upload it "
                                          "again.")
        return
    _use_upload(new, data)


def _csv_columns(choice: DataChoice) -> list[str]:
    cached = st.session_state.get(CSV_COLUMNS)
    if cached is not None and cached[0] == choice.id:
        return cached[1]
    try:
        columns = datasets.csv_columns(datachoice.upload_path(uploads_dir(), choice).read_bytes(), choice.name)
    except (DatasetError, DataChoiceError, OSError):
        columns = []
    st.session_state[CSV_COLUMNS] = (choice.id, columns)
    return columns


def render_picker(graph: Graph) -> None:
    """The source and the dataset, drawn from the project's choice; a change by the user is recorded by the
    widgets' callbacks (drawing writes nothing). Someone else's project shows its choice, disabled."""
    choice = project_choice(graph)
    read_only = state.read_only()
    tag = f"{state.project_id()}:{choice.key}"  # new widgets when the choice changes (another tab, a new project)
    source = st.segmented_control("Source", SOURCES, default=SOURCE_OF[choice.kind], key=f"data_source:{tag}",
                                  label_visibility="collapsed") or SOURCE_OF[choice.kind]
    if read_only:
        st.caption("Read-only: this is the data its owner chose. Save a copy to choose other data.")
    if source == "Built-in":
        names = list(BUILTIN)
        key = f"data_builtin:{tag}"
        st.selectbox("Dataset", names, index=names.index(choice.name) if choice.kind == "builtin" else None,
                     key=key, format_func=lambda n: f"{n}: {BUILTIN[n].description}", on_change=_on_builtin,
                     args=(key,), disabled=read_only, placeholder="Choose a built-in dataset")
    elif source == "Download":
        st.caption("Downloaded by Keras the first time (needs an internet connection), then kept on disk.")
        names = list(KERAS_DATASETS)
        key = f"data_keras:{tag}"
        st.selectbox("Dataset", names, index=names.index(choice.name) if choice.kind == "keras" else 0, key=key,
                     disabled=read_only)
        st.button("Load", key=f"data_keras_load:{tag}", icon=":material/download:", on_click=_on_keras, args=(key,),
                  disabled=read_only)
    else:
        _upload(graph, choice, tag, read_only)
    error = st.session_state.get(UPLOAD_ERROR)
    if error:
        st.error(md_escape(error), icon=":material/error:")


def _upload(graph: Graph, choice: DataChoice, tag: str, read_only: bool) -> None:
    limit = datasets.MAX_UPLOAD_BYTES // datasets.MB
    st.caption(f"A CSV table (a column of labels), an NPZ file (x_train, y_train, optional x_test, y_test) or a "
               f"zip of image folders (one folder per class). Up to {limit} MB. It is kept with your project.")
    key = f"data_upload:{state.project_id()}"
    st.file_uploader("Data file", type=["csv", "npz", "zip"], key=key, label_visibility="collapsed",
                     on_change=_on_upload, args=(key,), disabled=read_only,
                     max_upload_size=max(1, datasets.max_upload_bytes() // datasets.MB))
    if choice.kind != "upload" or read_only or _unavailable(choice):
        return
    if choice.format == "csv":
        columns = _csv_columns(choice)
        if columns:
            c1, c2 = st.columns([2, 1])
            label = choice.options.get("label")
            key = f"data_target:{tag}"
            # Options are plain text (not Markdown): a column name shows as it is.
            c1.selectbox("Label column", columns, index=columns.index(label) if label in columns else len(columns) - 1,
                         key=key, format_func=str, on_change=_on_upload_option, args=(choice, "label", key))
            key = f"data_standardize:{tag}"
            c2.checkbox("Standardize features", value=choice.options.get("standardize", True), key=key,
                        on_change=_on_upload_option, args=(choice, "standardize", key))
    elif choice.format == "zip":
        shape, model = choice.options.get("image_shape"), _input_image_shape(graph)
        st.caption(f"Images are resized to {tuple(shape)}." if shape else
                   "Images keep the first one's size, at most 64x64.")
        if model and list(model) != shape:
            key = f"data_resize:{tag}"
            st.session_state[key] = list(model)
            st.button(f"Read the images again at the model's input, {model}", key=f"data_resize_btn:{tag}",
                      icon=":material/photo_size_select_large:", on_click=_on_upload_option,
                      args=(choice, "image_shape", key))


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
    read_only = state.read_only()
    for issue in issues:
        where = f"{issue.node_id}: " if issue.node_id else ""
        # Messages and labels quote node ids and types from graph files: shown as text, never as markup.
        text = md_escape(where + issue.message)
        box = st
        if issue.fix is not None:
            box, side = st.columns([5, 1], vertical_alignment="center")
            if side.button("Apply to the model", key=f"compat_fix:{issue.code}:{issue.node_id}",
                           icon=":material/build:", width="stretch", disabled=read_only,
                           help="Save a copy of this project to change it." if read_only else
                           md_escape(issue.fix.label)):
                try:
                    state.commit(compat.apply_fix(graph, issue))
                except GraphError as e:
                    st.error(md_escape(f"That change no longer applies: {e}"), icon=":material/error:")
                else:
                    flash("success", f"Changed {issue.fix.label}. Undo on the Build page reverts it.")
                    rerun()
        if issue.level == "error":
            box.error(text, icon=":material/error:")
        else:
            box.warning(text, icon=":material/warning:")
    if not issues:
        st.success("The model fits this data: input shape, output units and activation match the labels.",
                   icon=":material/check_circle:")
    return not any(i.level == "error" for i in issues)
