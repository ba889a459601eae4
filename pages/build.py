"""The Build page: palette, canvas and inspector; issues with fixes; summary and code."""

import streamlit as st

from builder.graph import GraphError
from builder.kerasenv import keras_loaded
from builder.layout import auto_layout, missing_positions
from builder.validate import apply_fix
from components import state
from components.canvas import render_canvas
from components.code_panel import render_code
from components.inspector import render_inspector
from components.palette import render_palette
from components.summary_panel import render_issues, render_summary, render_summary_text

state.ensure_navigation()

FIT = "lc_fit"
FORCE = "lc_force_canvas"

graph = state.get_graph()
if any(nid not in graph.layout for nid in graph.ids()):
    graph = missing_positions(graph)  # placed once and kept, so the canvas's replies match the graph
    state.replace(graph)
selected = state.selected()

tools = st.container(horizontal=True)
if tools.button("Undo", icon=":material/undo:", disabled=not state.can_undo(), shortcut="Mod+Z", key="undo"):
    state.undo()
    st.rerun()
if tools.button("Redo", icon=":material/redo:", disabled=not state.can_redo(), shortcut="Mod+Shift+Z", key="redo"):
    state.redo()
    st.rerun()
if tools.button("Auto-layout", icon=":material/account_tree:", key="layout", help="Arrange the layers top-down, in layers."):
    state.commit(auto_layout(graph))
    st.session_state[FIT] = True
    st.rerun()
if tools.button("Delete selected", icon=":material/delete:", disabled=selected is None, key="delete_selected"):
    state.commit(graph.remove_node(selected, bridge=True))
    state.select(None)
    st.rerun()

left, middle, right = st.columns([1.2, 4, 2], gap="small")
with left:
    st.markdown("**Layers**")
    clicked = render_palette()
    if clicked:
        try:
            new_graph, new_id = graph.add_layer(clicked, selected)
            state.commit(new_graph)
            state.select(new_id)
            st.session_state[FIT] = True
        except GraphError as e:
            state.flash("error", str(e))
        st.rerun()

result = state.build_result() if keras_loaded() else state.cached_result()
current = result if result is not None and result.graph is graph else None

with right:
    edited, new_selection = render_inspector(graph, current, selected)
    if edited is not None or new_selection != selected:
        if edited is not None:
            state.commit(edited)
        state.select(new_selection)
        st.rerun()

if current is not None:
    fix = render_issues(current)
    if fix is not None:
        try:
            state.commit(apply_fix(graph, fix))
        except GraphError as e:
            state.flash("error", f"That fix no longer applies: {e}")
        st.rerun()
    # Only the chosen panel is computed: formatting the code of a big graph takes a while.
    view = st.segmented_control("Show", ["Summary", "model.summary()", "Code"], default="Summary", key="bottom_view",
                                label_visibility="collapsed") or "Summary"
    if view == "Summary":
        render_summary(current)
    elif view == "model.summary()":
        render_summary_text(current)
    else:
        render_code(graph, current)

# The canvas comes last: each new canvas state makes the canvas reply, and a reply that
# arrived mid-run would cut the run short before the summary was drawn.
with middle:
    change = render_canvas(graph, current, selected, force=st.session_state.pop(FORCE, False),
                           fit=st.session_state.pop(FIT, False) or current is None or "lc_flow" not in st.session_state)
    st.caption("Drag from a layer's bottom handle to another's top handle to connect. Right-click the canvas to add "
               "a layer by name, a layer or a connection to delete it.")
for message in change.errors:
    state.flash("error", message)
if change.graph is not None:
    state.commit(change.graph)
elif change.moved is not None:
    state.replace(change.moved)
if change.selection_changed:
    state.select(change.selected)
if change.graph is not None or change.selection_changed or change.errors:
    if change.errors:
        st.session_state[FORCE] = True
    st.rerun()

if current is None:
    with st.spinner("Loading TensorFlow and building the model…"):
        state.build_result()
    st.rerun()
