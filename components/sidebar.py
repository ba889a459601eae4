"""The sidebar: project name, New from template, Open and Save, and the share link."""

from __future__ import annotations

import streamlit as st

from builder.codegen import safe_filename
from builder.graph import Graph, GraphError, GraphFormatError
from builder.share import link
from builder.templates import TEMPLATES, template
from components import state

MAX_GRAPH_FILE = 5 * 1024 * 1024


def _open(upload) -> None:
    if upload.size > MAX_GRAPH_FILE:
        state.flash("error", f"{upload.name} is {upload.size / 1e6:.1f} MB; a graph file is at most 5 MB. Nothing was changed.")
        return
    try:
        graph = Graph.loads(upload.getvalue())
    except GraphFormatError as e:
        state.flash("error", f"{upload.name} cannot be opened: {e}. Your project is unchanged.")
        return
    state.commit(graph)
    state.select(None)
    st.session_state["lc_fit"] = True
    state.flash("success", f"Opened {upload.name}.")


def render_sidebar() -> None:
    graph = state.get_graph()
    with st.sidebar:
        name = st.text_input("Project name", value=graph.name, key=f"project_name:{graph.name}",
                             help="Also the Keras model name.")
        if name != graph.name:
            try:
                state.commit(graph.set_name(name))
                st.rerun()
            except GraphError as e:
                st.error(str(e))
        keys = list(TEMPLATES)
        choice = st.selectbox("New project from template", keys, format_func=lambda k: TEMPLATES[k][0], key="template_choice")
        if st.button("New from template", width="stretch", icon=":material/add_circle:"):
            state.commit(template(choice))
            state.select(None)
            st.session_state["lc_fit"] = True
            st.rerun()
        upload = st.file_uploader("Open a graph file", type=["json"], key="open_graph", max_upload_size=5)
        if upload is not None and st.session_state.get("lc_opened") != upload.file_id:
            st.session_state["lc_opened"] = upload.file_id
            _open(upload)
            st.rerun()
        st.download_button("Save graph file", graph.dumps(), file_name=safe_filename(graph.name, ".json"),
                           mime="application/json", width="stretch", icon=":material/save:")
        base = (st.context.url or "").split("?")[0]
        st.caption("Share link: the whole graph is in it.")
        st.code(link(base, graph), language=None, wrap_lines=False)
