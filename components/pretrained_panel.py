"""The "Start from a pretrained network" page: a keras.applications base, its preprocessing and a new head.

The graph comes from `builder.files.pretrained.start_graph`; this module picks the network, the data, the input size
and the weights, and opens the result as a new project (the weights kept beside the database, as an imported
model's are).
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import tempfile

import streamlit as st

from builder.data import datasets
from builder.data.datasets import BUILTIN, Dataset, DatasetError
from builder.files.pretrained import (
    APPLICATIONS,
    FAMILIES,
    PREPROCESSING,
    PretrainedError,
    WeightsUnavailable,
    application,
    default_size,
    image_size,
    macs_text,
    parameter_text,
    size_problem,
    start_graph,
)
from components import state
from components.messages import flash
from components.owner import current_owner
from components.runtime import rerun
from components.text import md_escape

APP_KEY = "pt_app"
DATA_KEY = "pt_data"
SIZE_KEY = "pt_size"
WEIGHTS_KEY = "pt_weights"
RESIZE_KEY = "pt_resize"
UPLOADED = "lc_pt_upload"  # (digest, Dataset or None, error) of the image zip read on this page
OFFLINE = "lc_pt_offline"  # the last WeightsUnavailable message, with its URL
WEIGHT_OPTIONS = {"imagenet": "ImageNet (Keras downloads them)", "random": "Random (no download)",
                  "file": "Upload a weights file (.h5)"}
UPLOAD_CHOICE = "Upload an image zip…"
PROJECT_DATA = "This project's data"
DEFAULT_APP = "MobileNetV2"


def _label(name: str) -> str:
    a = APPLICATIONS[name]
    return f"{name} · {parameter_text(a.params)} params · {macs_text(a.macs)} MACs · {a.top1:.1f}% top-1"


def table_rows() -> list[dict]:
    """Every network, by family, with the figures of Keras's table (for the page's comparison table)."""
    return [{"family": a.family, "network": a.name, "parameters": parameter_text(a.params),
             "MACs": macs_text(a.macs), "ImageNet top-1": f"{a.top1:.1f}%", "trained at": f"{a.size}×{a.size}",
             "smallest input": f"{a.min_size}×{a.min_size}", "expects": PREPROCESSING[a.preprocessing]}
            for family in FAMILIES for a in APPLICATIONS.values() if a.family == family]


def _project_data() -> Dataset | None:
    from components.data_panel import current_dataset

    return current_dataset(state.get_graph()) if state.has_project() else None


def _data_choices() -> list[str]:
    choices = []
    current = _project_data()
    if current is not None and image_size(current.input_shape) is not None:
        choices.append(PROJECT_DATA)
    choices += [n for n, info in BUILTIN.items() if image_size(info.input_shape) is not None]
    return choices + [UPLOAD_CHOICE]


def _chosen_data(choice: str) -> Dataset | None:
    from components.data_panel import load_shared

    if choice == PROJECT_DATA:
        return _project_data()
    if choice in BUILTIN:
        return load_shared(choice)
    limit = datasets.MAX_UPLOAD_BYTES // datasets.MB
    file = st.file_uploader(f"A zip of image folders, one folder per class (up to {limit} MB)", type=["zip"],
                            key="pt_zip")
    if file is None:
        return None
    data = file.getvalue()
    digest = hashlib.sha1(data).hexdigest()
    kept = st.session_state.get(UPLOADED)
    if kept is None or kept[0] != digest:
        try:
            with st.spinner("Reading the images..."):
                kept = (digest, datasets.parse_image_zip(data, file.name), None, file.name)
        except DatasetError as e:
            kept = (digest, None, str(e), file.name)
        except Exception as e:  # noqa: BLE001 - never a traceback
            kept = (digest, None, f"{file.name} could not be read ({type(e).__name__}).", file.name)
        st.session_state[UPLOADED] = kept
    if kept[2]:
        st.error(md_escape(kept[2]), icon=":material/error:")
    return kept[1]


def _weights_file() -> str | None:
    """The uploaded weights file, saved to a temporary path (Keras reads weights from a path)."""
    file = st.file_uploader("Weights file", type=["h5"], key="pt_weights_file",
                            help="Keras's .h5 file for this network without its top (…_notop.h5), or a .weights.h5.")
    if file is None:
        return None
    folder = pathlib.Path(tempfile.gettempdir()) / "layercanvas-weights"
    folder.mkdir(exist_ok=True)
    path = folder / f"{hashlib.sha1(file.getvalue()).hexdigest()}.h5"
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".h5")
        with os.fdopen(fd, "wb") as f:
            f.write(file.getvalue())
        os.replace(tmp, path)  # whole or not at all
    return str(path)


def render() -> None:
    st.subheader("Start from a pretrained network")
    st.caption("A network trained on ImageNet's 1.2 million photos already knows edges, textures and shapes. "
               "Its layers come in as one frozen group, with a new head for your classes: train the head first, "
               "then fine-tune the top of the network on the Train page.")
    left, right = st.columns([3, 2], gap="large")
    with left:
        names = list(APPLICATIONS)
        c1, c2 = st.columns([1, 2])
        family = c1.selectbox("Family", FAMILIES, index=FAMILIES.index(APPLICATIONS[DEFAULT_APP].family),
                              key="pt_family")
        shown = [n for n in names if APPLICATIONS[n].family == family]
        if st.session_state.get(APP_KEY) not in shown:
            st.session_state[APP_KEY] = DEFAULT_APP if DEFAULT_APP in shown else shown[0]
        name = c2.selectbox("Network", shown, key=APP_KEY, format_func=_label)
        app = application(name)
        st.caption(md_escape(f"Trained at {app.size}×{app.size}; takes {app.min_size}×{app.min_size} and up. "
                             f"Expects {PREPROCESSING[app.preprocessing]}: LayerCanvas adds the layers that do it."))
        rows = table_rows()

        def fit(key: str) -> int:  # pixels for a column's longest name ("InceptionResNetV2"), so none is cut
            return 8 * max(len(r[key]) for r in rows) + 24

        st.dataframe(rows, hide_index=True, height=420,
                     column_config={"network": st.column_config.TextColumn(width=fit("network")),
                                    "family": st.column_config.TextColumn(width=fit("family")),
                                    "expects": st.column_config.TextColumn(width="large")})
        st.caption("Parameters and ImageNet top-1 from Keras's documentation (with the 1,000-class top); MACs of "
                   "one image at the size it was trained at, as LayerCanvas counts them.")
    with right:
        choice = st.selectbox("Data", _data_choices(), key=DATA_KEY,
                              format_func=lambda c: c if c in (PROJECT_DATA, UPLOAD_CHOICE)
                              else f"{c}: {BUILTIN[c].description}")
        ds = _chosen_data(choice)
        if ds is None:
            return
        img = image_size(ds.input_shape)
        if img is None:
            st.error(md_escape(size_problem(app, ds.input_shape)), icon=":material/error:")
            return
        st.caption(md_escape(f"{ds.name}: {len(ds.x_train):,} training images of {img[0]}×{img[1]}"
                             f"{' grey' if img[2] == 1 else ''}, {ds.classes} classes."))
        problem = size_problem(app, ds.input_shape)
        resize = True
        if problem:
            st.warning(md_escape(problem[0].upper() + problem[1:] + "."), icon=":material/photo_size_select_large:")
            resize = st.checkbox(f"Resize the images to {default_size(app, ds.input_shape)}×"
                                 f"{default_size(app, ds.input_shape)}", key=RESIZE_KEY)
        size = int(st.number_input("Input size (pixels a side)", min_value=app.min_size, max_value=1024,
                                   value=default_size(app, ds.input_shape), key=f"{SIZE_KEY}:{name}:{img[0]}",
                                   help="Larger inputs see more detail and cost more (MACs grow with its square)."))
        if (img[0], img[1]) != (size, size) and not problem:
            st.caption(f"A Resizing layer scales the {img[0]}×{img[1]} images to {size}×{size}.")
        weights = st.radio("Weights", list(WEIGHT_OPTIONS), format_func=WEIGHT_OPTIONS.get, key=WEIGHTS_KEY,
                           horizontal=False)
        offline = st.session_state.get(OFFLINE)
        if weights == "imagenet" and offline and offline[0] == name:
            _offline_message(offline[1], offline[2])
        path = _weights_file() if weights == "file" else None
        ready = resize and (weights != "file" or path is not None)
        if not resize:
            st.caption("Tick “Resize” above to go on.")
        elif weights == "file" and path is None:
            st.caption("Upload the weights file to go on.")
        if st.button("Create the project", type="primary", icon=":material/add_circle:", key="pt_create",
                     disabled=not ready, width="stretch"):
            _create(name, ds, size, weights, path, choice)


def _offline_message(text: str, url: str | None) -> None:
    st.error(md_escape(text[0].upper() + text[1:] + "."), icon=":material/cloud_off:")
    if url:
        st.caption("On a machine that is online, download")
        st.code(url, language=None)
        st.caption("then choose “Upload a weights file” and upload it here.")


def _data_choice(choice: str):
    """The new project's data choice (builder.data.datachoice) for the page's choice, the uploaded zip kept with it.

    Returns:
        The DataChoice, or None when an upload could not be kept (the message is flashed).
    """
    from builder.data import datachoice
    from components.data_panel import keep_upload, project_choice

    if choice == PROJECT_DATA:
        return project_choice()
    if choice in BUILTIN:
        return datachoice.DataChoice("builtin", choice)
    file = st.session_state.get("pt_zip")
    if file is None:
        return None
    data = file.getvalue()
    return keep_upload(datachoice.upload(data, file.name), data)


def _create(name: str, ds: Dataset, size: int, weights: str, path: str | None, choice: str) -> None:
    from builder.data import datachoice
    from components.data_panel import DATASET
    from components.training_panel import WEIGHTS

    arg = {"imagenet": "imagenet", "random": None}.get(weights, path)
    try:
        with st.spinner(f"Making {name} at {size}×{size}..."):
            made = start_graph(name, ds.input_shape, ds.classes, ds.task, size=size, weights=arg)
    except WeightsUnavailable as e:
        st.session_state[OFFLINE] = (name, str(e), e.url)
        rerun()
    except PretrainedError as e:
        st.error(md_escape(str(e)[0].upper() + str(e)[1:] + "."), icon=":material/error:")
        return
    except Exception as e:  # noqa: BLE001 - never a traceback
        st.error(md_escape(f"{name} could not be made ({type(e).__name__}). Nothing was changed."), icon=":material/error:")
        return
    st.session_state.pop(OFFLINE, None)
    from builder.model.build import apply_weights, build
    from builder.model.layout import arrange

    graph = arrange(made.graph)
    model = build(graph).model  # built once: for the statistics and for the file a reload starts from
    if model is not None:
        apply_weights(model, made.weights)
        if arg is None:
            from builder.files.pretrained import calibrate_batch_norm

            with st.spinner("Measuring BatchNormalization statistics on your images..."):
                made.weights = calibrate_batch_norm(model, graph, made.weights, ds.x_train)
            made.notes.append(f"With random weights, BatchNormalization statistics were measured on "
                              f"{min(256, len(ds.x_train))} training images, so the random features do not fade away")
    data = _data_choice(choice)
    graph = datachoice.into_graph(graph, data)  # the project keeps the data it was made with
    pid = state.new_project(graph)
    if data is not None:
        state.get_store().set_project_data(pid, data.to_dict(), owner=current_owner())
        st.session_state[DATASET] = (data.key, ds)
    st.session_state[WEIGHTS] = made.weights
    if model is not None:
        from components.sidebar import keep_project_model

        with st.spinner("Keeping the weights..."):
            keep_project_model(pid, ".keras", model.save, "The starting weights are kept for this session only")
    flash("success", f"New project from {name}: {len(graph.nodes)} layers, the base frozen. "
                     + " ".join(n + "." for n in made.notes[1:]))
    st.switch_page("pages/build.py")
