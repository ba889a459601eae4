"""The code panel: Functional (or Sequential) Keras code, with copy and download."""

from __future__ import annotations

import streamlit as st

from builder.files.codegen import (
    CodegenError,
    generate_code,
    generate_script,
    is_chain,
    safe_filename,
)
from builder.model.build import BuildResult
from builder.model.graph import Graph
from components.text import md_escape

CODE = "lc_code"  # (graph, style) -> code, for the last graph


def _code(graph: Graph, style: str) -> str:
    cached = st.session_state.get(CODE)
    if cached is not None and cached[0] is graph and cached[1] == style:
        return cached[2]
    code = generate_code(graph, style)
    st.session_state[CODE] = (graph, style, code)
    return code


def render_code(graph: Graph, result: BuildResult | None) -> None:
    if result is not None and result.errors:
        st.info("The code appears when the graph has no errors: see the messages above.")
        return
    style = "functional"
    try:
        if is_chain(graph):
            style = st.segmented_control("Style", ["functional", "sequential"], default="functional",
                                         key="code_style", help="A single chain of layers can also be written as Sequential.") or "functional"
        code = _code(graph, style)
    except CodegenError as e:
        st.info(md_escape(str(e)))
        return
    st.code(code, language="python")
    c1, c2 = st.columns(2)
    c1.download_button("Download model code", code, file_name=safe_filename(graph.name, ".py"), mime="text/x-python", icon=":material/download:")
    c2.download_button("Download training script", lambda: generate_script(graph),
                       file_name=safe_filename(graph.name, "_train.py"), mime="text/x-python", icon=":material/download:")
