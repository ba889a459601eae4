"""The sidebar: project name, New from template, Open and Save, the share link, and signing in."""

from __future__ import annotations

import streamlit as st

from builder.files.codegen import safe_filename
from builder.model.graph import Graph, GraphError, GraphFormatError
from builder.model.share import link
from builder.model.templates import TEMPLATES, template
from components import state
from components.messages import flash
from components.runtime import rerun
from components.text import md_escape

MAX_GRAPH_FILE = 5 * 1024 * 1024


def _import(upload) -> None:
    """A trained .keras / .h5 model: its graph onto the canvas, its weights kept for training and export."""
    from builder.files.importer import MAX_BYTES, ModelImportError, import_model
    from components.training_panel import WEIGHTS

    if upload.size > MAX_BYTES:
        flash("error", f"{upload.name} is {upload.size / 2**20:.0f} MB; a model file is at most "
                       f"{MAX_BYTES // 2**20} MB. Nothing was changed.")
        return
    try:
        with st.spinner(f"Reading {md_escape(upload.name)}..."):  # spinner text is Markdown
            result = import_model(upload.getvalue(), filename=upload.name)
    except ModelImportError as e:
        flash("error", f"{upload.name} cannot be imported: {e}. Your project is unchanged.")
        return
    except Exception as e:  # noqa: BLE001 - never a traceback: say what failed
        flash("error", f"{upload.name} cannot be imported ({type(e).__name__}). Your project is unchanged.")
        return
    from builder.model.layout import arrange

    pid = state.new_project(arrange(result.graph))
    st.session_state[WEIGHTS] = result.weights
    _keep_model_file(pid, upload)
    layers = sum(1 for w in result.weights.values() if w)
    notes = " ".join(result.notes)
    flash("success", f"Imported {upload.name}: {len(result.graph.nodes)} layers, weights for {layers}. "
                     f"Freeze layers and train on the Train page. {notes}".strip())


def _keep_model_file(pid: str, upload) -> None:
    """Keeps the imported file beside the database, so a reload or another day starts from its weights too."""
    ext = ".h5" if upload.name.lower().endswith(".h5") else ".keras"

    def write(path: str) -> None:
        with open(path, "wb") as f:
            f.write(upload.getvalue())

    keep_project_model(pid, ext, write, "The imported weights are kept for this session only")


def keep_project_model(pid: str, ext: str, write, failed: str) -> None:
    """Writes the project's starting model beside the database (`imports/<pid><ext>`, whole or not at all) and
    records it as the project's weights file.

    Args:
        write: Called with a temporary path in that folder; writes the model there.
        failed: What the warning says when it cannot be kept, before the reason.
    """
    import os
    import pathlib
    import tempfile

    from builder.store import artifact_dir

    folder = artifact_dir("imports")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=ext)
        os.close(fd)
        try:
            write(tmp)
            target = folder / f"{pid}{ext}"
            os.replace(tmp, target)  # whole or not at all
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        state.get_store().set_weights_file(pid, pathlib.Path(target))
    except Exception as e:  # noqa: BLE001 - the project works; only a reload would start without these weights
        reason = e.strerror if isinstance(e, OSError) and e.strerror else type(e).__name__
        flash("warning", f"{failed}: the file could not be saved ({reason}).")


def open_upload(upload) -> None:
    """A graph file or a Keras model, as a new project (the current one stays in the Projects list)."""
    if upload.name.lower().endswith((".keras", ".h5")):
        _import(upload)
        return
    if upload.size > MAX_GRAPH_FILE:
        flash("error", f"{upload.name} is {upload.size / 1e6:.1f} MB; a graph file is at most 5 MB. Nothing was changed.")
        return
    try:
        graph = Graph.loads(upload.getvalue())
    except GraphFormatError as e:
        flash("error", f"{upload.name} cannot be opened: {e}. Your project is unchanged.")
        return
    state.new_project(graph)
    flash("success", f"Opened {upload.name} as a new project.")


def new_from_template(choice: str) -> None:
    state.new_project(template(choice))
    flash("success", f"New project: {TEMPLATES[choice][0]}. The previous one is in Projects.")


def render_login() -> None:
    """Sign in / out, when Streamlit's login is configured (see the README: a classroom server)."""
    from components.owner import login_configured, signed_in_user

    if not login_configured():
        return
    user = signed_in_user()
    if user:
        st.caption(f"Signed in as {md_escape(user)}")
        if st.button("Sign out", width="stretch", icon=":material/logout:", key="logout"):
            st.logout()
    elif st.button("Sign in", width="stretch", icon=":material/login:", key="login",
                   help="Your projects and runs then follow you to any browser."):
        st.login()


def render_sidebar() -> None:
    if not state.has_project():
        with st.sidebar:
            render_login()
        return
    graph = state.get_graph()
    read_only = state.read_only()
    with st.sidebar:
        st.markdown("**LayerCanvas** designs Keras models visually.")
        st.caption("Start from a template here, or drag layers from the palette onto the canvas; then pick data, "
                   "train and export.")
        render_login()
        name = st.text_input("Project name", value=graph.name, key=f"project_name:{graph.name}",
                             help="Also the Keras model name.", disabled=read_only)
        if name != graph.name and not read_only:
            try:
                state.commit(graph.set_name(name))
                rerun()
            except GraphError as e:
                st.error(md_escape(str(e)))  # it quotes the name typed
        keys = list(TEMPLATES)
        choice = st.selectbox("New project from template", keys, format_func=lambda k: TEMPLATES[k][0], key="template_choice")
        if st.button("New from template", width="stretch", icon=":material/add_circle:"):
            new_from_template(choice)
            rerun()
        upload = st.file_uploader("Open a graph file or a model", type=["json", "keras", "h5"], key="open_graph",
                                  max_upload_size=upload_limit_mb(), help="A LayerCanvas graph (.json), or a Keras "
                                  "model (.keras or .h5) to edit, fine-tune and export: its weights come along. "
                                  f"At most {upload_limit_mb()} MB here (LAYERCANVAS_MAX_UPLOAD_MB on the server); "
                                  "`python -m builder import` reads larger files.")
        if upload is not None and st.session_state.get("lc_opened") != upload.file_id:
            st.session_state["lc_opened"] = upload.file_id
            open_upload(upload)
            rerun()
        from components.data_panel import with_data

        carried = with_data(graph)  # the graph file and the link name the project's data
        st.download_button("Save graph file", carried.dumps(), file_name=safe_filename(graph.name, ".json"),
                           mime="application/json", width="stretch", icon=":material/save:")
        base = (st.context.url or "").split("?")[0]
        # A text box, not st.code: the code view's highlighter is 1.5 MB of script the first paint would wait for.
        url = link(base, carried)
        st.text_input("Share link", value=url, key=f"share:{hash(url)}",
                      help="The whole graph is in this link: copy it to share the model.")


def upload_limit_mb() -> int:
    """The upload limit in MB (LAYERCANVAS_MAX_UPLOAD_MB), for the file uploaders."""
    from builder.data.datasets import MB, max_upload_bytes

    return max(1, max_upload_bytes() // MB)
