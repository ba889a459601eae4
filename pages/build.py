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
from components.inspector import build_view, info_text, render_inspector, render_selection
from components.navigation import ensure_navigation
from components.runtime import freeze_after_first_page, in_fragment_run, partial_reruns, rerun
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


EDITOR = "lc_editor"  # the fragment of the canvas and the column beside it
CANVAS = "lc_canvas_part"  # the fragment inside it of the canvas alone
SIDE_VIEW = "lc_side_view"  # _side_view of what the column beside the canvas last drew
IN_EDITOR = "lc_in_editor"  # set while the editor runs: canvas_part then runs as part of it


@st.fragment(key=EDITOR)
def editor() -> tuple:
    """The canvas (with the totals above it) and the column beside it: the layer's issues and its inspector. The
    canvas alone reruns after what is done on it, or a value typed in the inspector (`canvas_part`); when the column
    beside it shows something else, the canvas asks for it once it has painted (a "sync" event) and this reruns.
    Unless what is below the editor shows the graph: then the whole page reruns.

    Returns:
        (the build result for the graph as it is, its summary, its cost), for what is below.
    """
    with database_guard():
        main, side = st.columns([3.5, 1.25], gap="small")
        with side, st.container(height="stretch", key="lc_side"):
            # The issues and the inspector's title, its info line (written by canvas_part), then the rest.
            # (A container, not st.empty: Streamlit lets a fragment write into its parent's containers only.)
            top, info, rest = st.container(), st.container(), st.container()
        st.session_state[IN_EDITOR] = True
        try:
            with main:
                current, summary, cost = canvas_part(info)  # first: the canvas paints before the inspector's widgets
        finally:
            st.session_state.pop(IN_EDITOR, None)
        graph, selected = state.get_graph(), state.selected()
        with rest:
            _side(graph, current, selected, cost, top)
        return current, summary, cost
    return None, None, None


@st.fragment(key=CANVAS)
def canvas_part(info) -> tuple:
    """The canvas's events taken, the graph built, the canvas drawn, and the inspector's info line (output, params,
    cost of its layer) written in `info`, a slot in the column beside the canvas. Run alone (not as part of the
    editor), it asks the canvas for a "sync" when the column beside it shows something else than it would now.

    Returns:
        (the build result for the graph as it is, its summary, its cost).
    """
    alone = partial_reruns() and not st.session_state.get(IN_EDITOR)
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

        result = build_result() if keras_loaded() else cached_result()
        current = result if result is not None and result.graph is graph else None
        # For the totals and the table; the cost (MACs per layer) also for the nodes and the inspector.
        summary, cost = summary_and_cost(current) if current is not None else (None, None)
        shown = st.session_state.get(SIDE_VIEW)
        if alone and shown != _side_view(graph, current):
            canvas.request_sync()  # the column beside the canvas follows once the canvas has painted

        # The totals and Undo / Redo / Present are drawn by the canvas itself, above the graph: an edit sends the
        # browser one element for them all, and the new totals show in the same frame as the node.
        head = {"totals": totals(current, graph, summary, cost), "undo": state.can_undo(), "redo": state.can_redo()}
        canvas.render_canvas(graph, current, read_only=state.read_only(), cost=cost, present=presenter.presenting(),
                             head=head, on_change=_canvas_changed)
        # The info line of the layer whose inspector is shown (alone, the one it showed until the sync). Written at
        # every run, if only as nothing: a fragment may write only where it wrote in the last full run.
        nid = (shown["layer"] if alone and shown else state.selected()) if _inspecting() else None
        text = info_text(current, nid, cost) if nid is not None and graph.has(nid) else None
        if text is None:
            info.empty()
        else:
            info.text(text)
        if summary is not None and not current.errors:
            state.note_params(summary.total_params)  # for the projects list; last: the page is drawn first
        return current, summary, cost
    return None, None, None


def _inspecting() -> bool:
    """Whether the inspector of one layer is shown beside the canvas (not on the first paint, not read-only)."""
    return not canvas.first_paint() and not state.read_only() and not state.selected_many()


def _side_view(graph, result) -> dict:
    """What the column beside the canvas shows, as far as the graph, its build and the selection decide it: while
    this is as it was, a rerun of the canvas alone leaves the column right. "layer": the inspected layer."""
    from builder.model.space import node_marks

    selected, many = state.selected(), tuple(state.selected_many() or ())
    view = {"layer": selected if _inspecting() else None, "many": many, "read_only": state.read_only(),
            "first_paint": canvas.first_paint(), "built": result is not None}
    node = graph.node(selected) if selected is not None and graph.has(selected) else None
    if node is None or many or st.session_state.get("live_open"):
        # Every issue, the selection's totals, or a layer's output on a sample: any new graph changes them. (The
        # undo history holds the graphs: an id is not given to another graph meanwhile.)
        return {**view, "graph": id(graph)}
    return {**view, "node": node, "inputs": tuple(graph.inputs_of(selected)), "build": build_view(result, node),
            "marks": node_marks(graph, selected)}


def _canvas_changed() -> None:
    """The canvas sent something: its "sync" (it has painted, and the column beside it is behind) reruns the editor;
    anything else the canvas alone (canvas_part), which asks for a sync when the column must follow."""
    if partial_reruns() and canvas.sync_sent():
        st.rerun(EDITOR)


def _value_taken(nid: str, quiet: bool) -> None:
    """A value typed in the inspector was taken (a box's run, the box alone so far): when the column beside the canvas
    shows all it would now but the info line (the layer's issues, its Trainable offer, its inputs as they were;
    nothing below the canvas; `quiet`: no refused value's message was showing), the canvas alone reruns. Otherwise
    the editor reruns (and the whole page from there when what is below shows the graph)."""
    if not partial_reruns():
        return  # AppTest: every rerun is whole
    if quiet and not (_bottom_shown() or state.unsaved()) and keras_loaded():
        before, now = st.session_state.get(SIDE_VIEW), _side_view(state.get_graph(), build_result())
        # The layer itself differs (its box shows the new value): nothing else may.
        if before is not None and "node" in before and {**before, "node": None} == {**now, "node": None}:
            st.session_state[SIDE_VIEW] = now
            st.rerun(CANVAS)
    st.rerun(EDITOR)


def _side(graph, current, selected, cost, top) -> None:
    """The column beside the canvas: the selected layer's issues (all of them when none is), then the inspector
    of the selection (its title in `top`, above the info line)."""
    st.session_state[SIDE_VIEW] = _side_view(graph, current)
    with top:
        fix = render_issues(current, selected) if current is not None else None
    if fix is not None:
        try:
            fixed = apply_fix(graph, fix)
            state.commit(fixed)
            canvas.reveal([nid for nid in fixed.ids() if not graph.has(nid)])
        except GraphError as e:
            canvas.say(f"That fix no longer applies: {e}")
        _rerun_editor()
    # The first paint of a session is the canvas alone (and TensorFlow waits for it): the inspector and the
    # sidebar's widgets follow in the next run, once the canvas has said it has painted.
    first_paint = canvas.first_paint()
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
        edited, new_selection = render_inspector(graph, current, selected, cost, top=top, after=_value_taken)
        if selected and edited is None and new_selection == selected and current is not None:
            from components.inspect_panel import render_live_output

            render_live_output(current, selected, graph)
        if edited is not None or new_selection != selected:
            if edited is not None:
                state.commit(edited)
            state.select(new_selection)
            canvas.push_selection([new_selection] if new_selection else [])
            _rerun_editor()


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
