"""The Build page: the totals on top; the canvas (with its palette) beside the inspector; summary and code below."""

import time
from typing import NoReturn

import streamlit as st

from builder.kerasenv import keras_loaded
from builder.model.graph import GraphError
from builder.model.layout import missing_positions
from builder.model.validate import apply_fix
from components import canvas, presenter, state
from components.build_cache import build_result, cached_result, summary_and_cost
from components.code_panel import render_code
from components.inspector import render_inspector, render_selection
from components.navigation import ensure_navigation
from components.runtime import freeze_after_first_page, in_fragment_run, rerun
from components.state import database_guard
from components.summary_panel import (
    render_issues,
    render_summary,
    render_summary_text,
    totals,
)

ensure_navigation()

FIT = state.FIT
BOTTOM = "bottom_view"  # what is shown below the editor: "Summary", "model.summary()", "Code" or None
BOTTOM_OF = "lc_bottom_of"  # the graph it shows
PAINT_WAIT = 2.0  # seconds the first build waits for the canvas to say it has painted


@st.fragment(run_every=0.5)
def wait_for_paint() -> None:
    """Reruns the page once the canvas has painted (or after PAINT_WAIT s, if it never says so)."""
    since = st.session_state.setdefault("lc_paint_wait", time.monotonic())
    if canvas.painted() or time.monotonic() - since > PAINT_WAIT:
        canvas.meta().painted = True
        rerun()


@st.fragment
def editor() -> tuple:
    """The totals, the canvas and the inspector: an edit reruns this part alone (the sidebar and what is below
    it are not run again), unless what is below shows the graph (then the whole page reruns).

    Returns:
        (the build result for the graph as it is, its summary, its cost), for what is below.
    """
    with database_guard():
        graph = state.get_graph()
        if any(nid not in graph.layout for nid in graph.ids()):
            graph = missing_positions(graph)  # placed once, saved with the next edit: looking writes nothing
            state.place(graph)

        # What the canvas sent comes first: the rest of the page then draws the edited graph in the same run.
        change = canvas.take_events(graph)
        if change.graph is not None:
            state.commit(change.graph)
            canvas.committed()
        if change.selected is not None:
            state.select_many(change.selected)
        for command in change.commands:  # the canvas's Undo, Redo and Present buttons (and Ctrl+Z, Ctrl+Shift+Z)
            _command(command)
        if st.session_state.pop(FIT, False):
            canvas.request_fit()
        graph = state.get_graph()
        if in_fragment_run() and (_stale_below(graph) or state.unsaved()):
            rerun()  # what is below the editor shows the graph as it was (or the page must say it was not saved)
        selected = state.selected()

        result = build_result() if keras_loaded() else cached_result()
        current = result if result is not None and result.graph is graph else None
        # For the totals and the table; the cost (MACs per layer) also for the nodes and the inspector.
        summary, cost = summary_and_cost(current) if current is not None else (None, None)

        # The first paint of a session is the canvas alone (and TensorFlow waits for it): the inspector and the
        # sidebar's widgets follow in the next run, once the canvas has said it has painted.
        first_paint = canvas.first_paint()
        main, side = st.columns([3.5, 1.25], gap="small")
        with main:
            # The totals and Undo / Redo / Present are drawn by the canvas itself, above the graph: an edit sends the
            # browser one element for them all, and the new totals show in the same frame as the node.
            head = {"totals": totals(current, graph, summary, cost), "undo": state.can_undo(), "redo": state.can_redo()}
            canvas.render_canvas(graph, current, read_only=state.read_only(), cost=cost, present=presenter.presenting(),
                                 head=head)  # first: the canvas paints before the inspector's widgets
        with side, st.container(height="stretch", key="lc_side"):
            fix = render_issues(current, selected) if current is not None else None
            if fix is not None:
                try:
                    fixed = apply_fix(graph, fix)
                    state.commit(fixed)
                    canvas.reveal([nid for nid in fixed.ids() if not graph.has(nid)])
                except GraphError as e:
                    canvas.say(f"That fix no longer applies: {e}")
                _rerun_editor()
            if state.read_only():
                st.caption("Read-only: select layers to see them; Save a copy to change them.")
            elif not first_paint and state.selected_many():
                edited = render_selection(graph, current, state.selected_many(), cost)
                if edited is not None:
                    state.commit(edited)
                    state.select(None)
                    canvas.push_selection([])
                    _rerun_editor()
            elif not first_paint:
                edited, new_selection = render_inspector(graph, current, selected, cost)
                if selected and edited is None and new_selection == selected and current is not None:
                    from components.inspect_panel import render_live_output

                    render_live_output(current, selected, graph)
                if edited is not None or new_selection != selected:
                    if edited is not None:
                        state.commit(edited)
                    state.select(new_selection)
                    canvas.push_selection([new_selection] if new_selection else [])
                    _rerun_editor()
        if summary is not None and not current.errors:
            state.note_params(summary.total_params)  # for the projects list; last: the page is drawn first
        return current, summary, cost
    return None, None, None


def _command(command: str) -> None:
    """Undo, redo (not in a read-only project), or presenter mode on / off (which reruns the whole page: the
    sidebar comes or goes)."""
    if command == "present":
        presenter.toggle()
        canvas.request_fit()
        rerun()
    elif state.read_only():
        return
    elif command == "undo":
        state.undo()  # nothing to undo: nothing happens (as redo)
    else:
        state.redo()


def _bottom_shown() -> bool:
    """Whether the summary table, model.summary() or the code is shown below the editor."""
    return bool(st.session_state.get(BOTTOM))


def _stale_below(graph) -> bool:
    """Whether what is shown below the editor shows another graph than `graph` (an edit since it was drawn)."""
    return _bottom_shown() and st.session_state.get(BOTTOM_OF) is not graph


def _rerun_editor() -> NoReturn:
    """After an edit in the editor: the editor alone reruns, or the whole page when what is below shows the graph
    (or the page must say that the edit was not saved)."""
    rerun("app" if _bottom_shown() or state.unsaved() else "fragment")


current, summary, cost = editor()

if current is not None:
    # Only the chosen panel is computed: formatting the code of a big graph takes a while.
    view = st.segmented_control("Show", ["Summary", "model.summary()", "Code"], default=None, key=BOTTOM,
                                label_visibility="collapsed", help="Shown up to date below the canvas; "
                                "an edit is quicker while none is shown.")
    if view == "Summary":
        render_summary(current, summary, cost)
    elif view == "model.summary()":
        render_summary_text(current)
    elif view == "Code":
        render_code(current.graph, current)
    st.session_state[BOTTOM_OF] = current.graph
    freeze_after_first_page()
elif canvas.painted():
    with st.spinner("Loading TensorFlow and building the model…"):
        build_result()
    rerun()
else:
    wait_for_paint()
