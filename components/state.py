"""The session's project: the store, opening one (new, copied, read-only), its graph, undo/redo, selection, autosave.

Each browser session edits one project. Its id is in the URL (`?project=...`),
and every edit is saved to the store, so a page reload or a server restart
loses no work. Undo history lives in the session only.

Elsewhere: flash messages in components.messages, whose work it is in
components.owner, the model built from the graph in components.build_cache,
how a run reaches its page in components.navigation.
"""

from __future__ import annotations

import contextlib

import streamlit as st

from builder.classes import may_view
from builder.model.graph import Graph
from builder.model.templates import TEMPLATES, template
from components.messages import flash
from components.navigation import cli_option
from components.owner import bring_browser_work, current_owner

GRAPH = "lc_graph"
UNDO = "lc_undo"
REDO = "lc_redo"
SELECTED = "lc_selected"
SELECTED_MANY = "lc_selected_many"  # the layers selected together on the canvas, when more than one
PROJECT = "lc_project"
DEFAULT_TEMPLATE = "iris_mlp"
HISTORY = 100  # undo steps kept


@st.cache_resource
def _open_store():
    """The process-wide store (SQLite or PostgreSQL, LAYERCANVAS_DB; thread-safe) and what happened opening it. A
    damaged database file is set aside and a new one started; runs left running by a dead server are marked
    interrupted."""
    from builder.store import open_or_set_aside

    store, note = open_or_set_aside()
    store.mark_interrupted()
    return store, note


def get_store():
    store, note = _open_store()
    if note and not st.session_state.get("lc_store_note_seen"):
        st.session_state["lc_store_note_seen"] = True
        flash("error", note)
    return store


def default_graph() -> Graph:
    key = cli_option("template", DEFAULT_TEMPLATE)
    return template(key if key in TEMPLATES else DEFAULT_TEMPLATE)


READ_ONLY = "lc_read_only"
NO_PROJECT = "lc_no_project"  # the URL named a project that is not there: the Projects page says so


def init_project() -> None:
    """Finds this session's project: a share link (a copy of its graph), the project in the URL, this owner's
    latest project, or a new one. A project id that is not there opens nothing: the Projects page says so."""
    if PROJECT in st.session_state:
        return
    from builder.model.share import ShareLinkError, decode

    store = get_store()
    me = current_owner()
    bring_browser_work(store, me)
    params = st.query_params
    token = params.get("g")
    if token:
        del params["g"]
        try:
            graph = decode(token)
        except ShareLinkError as e:
            flash("error", f"This share link cannot be opened: {e}.")
        else:
            new_project(_unique_name(store, me, graph, "shared"))  # a share link carries a copy, never the original
            return
    pid = params.get("project")
    if pid:
        if open_project(pid, quiet=True):
            return
        st.session_state[PROJECT] = None
        st.session_state[NO_PROJECT] = str(pid)[:40]
        del params["project"]
        return
    latest = store.list_projects(limit=1, owner=me)
    if latest and open_project(latest[0]["id"], quiet=True):
        return
    new_project(default_graph())


FIT = "lc_fit"  # the Build page fits the canvas's view to the graph once
# Session keys that belong to the open project (more are declared with per_project by the panels).
_PER_PROJECT: set[str] = {UNDO, REDO, SELECTED, SELECTED_MANY, NO_PROJECT}


# The modules that declare per-project keys (a page may open another project before any of them was imported).
def per_project(key: str) -> str:
    """Declares `key` a session key of the open project's (its run, weights, data, exports...): it is cleared when
    another project opens. Returns the key. Called at a module's top level: a module's keys are declared when it is
    imported, before it can set any, so the keys declared so far are all a session can hold (the modules not
    imported yet, training's and export's on a first page, need not be)."""
    _PER_PROJECT.add(key)
    return key


def _reset_session(pid: str | None, graph: Graph | None, read_only: bool) -> None:
    """The session now edits another project: its graph, nothing left of the previous one's session state."""
    for key in _PER_PROJECT:
        st.session_state.pop(key, None)
    st.session_state[UNDO], st.session_state[REDO] = [], []
    st.session_state[PROJECT] = pid
    st.session_state[READ_ONLY] = read_only
    if graph is not None:
        st.session_state[GRAPH] = graph
        st.session_state[FIT] = True
    if pid:
        st.query_params["project"] = pid
    st.query_params.pop("run", None)
    st.query_params.pop("search", None)


def open_project(pid: str, quiet: bool = False) -> bool:
    """Makes project `pid` this session's, read-only when it is someone else's.

    Returns:
        Whether it opened (False: no such project; a message is flashed unless `quiet`).
    """
    from builder.store import StoreError

    store = get_store()
    try:
        info = store.project_info(pid)
        graph = store.load_project(pid) if info is not None and info["deleted_at"] is None else None
    except StoreError:
        info = graph = None
    if graph is None:
        if not quiet:
            flash("error", "That project is not there any more (deleted, or a wrong link).")
        return False
    me = current_owner()
    if not may_view(store, pid, me):  # a class project: only its student and its teacher
        if not quiet:
            flash("error", "That project is in a class: only its student and their teacher can open it.")
        return False
    mine = info["owner"] == me or (info["owner"] is None and store.claim_project(pid, me))
    _reset_session(pid, graph, read_only=not mine)
    return True


def new_project(graph: Graph, weights_run: str | None = None) -> str:
    """Starts a new project of this owner's with `graph` (the current one stays in the list) and opens it."""
    from builder.model.layout import missing_positions
    from builder.store import new_project_id

    graph = missing_positions(graph)  # placed when made: the Build page then has nothing to place (and save)
    pid = new_project_id()
    store = get_store()
    store.save_project(pid, graph, current_owner(), params=_count_params(graph))
    if weights_run:
        store.set_weights_run(pid, weights_run)
    _reset_session(pid, graph, read_only=False)
    return pid


def _unique_name(store, me: str, graph: Graph, tag: str) -> Graph:
    """`graph` named so it differs from this owner's other projects: "mlp (shared)", "mlp (shared 2)", ..."""
    from builder.model.graph import GraphError

    taken = {p["name"] for p in store.list_projects(limit=1000, owner=me, search=graph.name)}
    if graph.name not in taken:
        return graph
    for n in range(1, 1000):
        name = f"{graph.name} ({tag}{'' if n == 1 else f' {n}'})"
        if name not in taken:
            try:
                return graph.set_name(name)
            except GraphError:
                return graph  # a name at its length limit: kept as it is
    return graph


def _count_params(graph: Graph) -> int | None:
    """The graph's parameter total for the projects list, when TensorFlow is loaded already (else the Build page
    counts it when it first builds the model)."""
    from builder.kerasenv import keras_loaded

    if not keras_loaded():
        return None
    try:
        from builder.model.build import ModelBuilder

        model = ModelBuilder().build(graph).model
        return None if model is None else int(model.count_params())
    except Exception:  # noqa: BLE001 - a count for a list: never a reason to fail making the project
        return None


def save_copy() -> str:
    """A project of one's own from the one open read-only (someone else's), with its data choice (someone else's
    uploaded data stays theirs: the copy then asks for data)."""
    from components.data_panel import with_data

    graph = with_data(get_graph())
    pid = new_project(_unique_name(get_store(), current_owner(), graph, "copy"))
    flash("success", f"Saved a copy of {graph.name}: this one is yours.")
    return pid


def read_only() -> bool:
    """Whether the open project is someone else's (opened by its link): it can be looked at and copied only."""
    return bool(st.session_state.get(READ_ONLY))


def has_project() -> bool:
    return bool(st.session_state.get(PROJECT))


def missing_project() -> str | None:
    """The project id the URL named that is not there (shown on the Projects page), if any."""
    return st.session_state.get(NO_PROJECT)


def keep_project_in_url() -> None:
    """Puts the project id back into the URL on every run: a page switch drops the query, and a reload of
    `/data` without it would open a new project."""
    pid = st.session_state.get(PROJECT)
    if pid and st.query_params.get("project") != pid:
        st.query_params["project"] = pid


def project_id() -> str | None:
    return st.session_state.get(PROJECT)


def get_graph() -> Graph:
    if GRAPH not in st.session_state:
        st.session_state[GRAPH] = default_graph()
    return st.session_state[GRAPH]


UNSAVED = "lc_unsaved"  # the project whose latest graph the database has not taken yet (it did not answer)
UNSAVED_MESSAGE = ("Not saved yet: the project database does not answer. Your edits stay in this tab and are saved "
                   "as soon as it answers.")


_ASK = object()  # _save's arguments not given: read them from the session


def _save(graph: Graph, *, pid=_ASK, store=None, owner=None, params=_ASK) -> None:
    """Saves the graph; when the database does not answer, the session keeps it and marks it "not saved yet"
    (`render_unsaved` tries again every few seconds, and so does every next edit). `commit` passes what it read
    beforehand, so that nothing between setting the graph and saving it can stop the run."""
    from builder.store import StoreUnavailable

    if pid is _ASK:
        pid = st.session_state.get(PROJECT)
        if not pid or read_only():
            return
        store, owner, params = get_store(), current_owner(), _known_params(pid, graph)
    if not pid:
        return
    try:
        store.save_project(pid, graph, owner, params=params)
    except StoreUnavailable:
        st.session_state[UNSAVED] = pid
    else:
        st.session_state.pop(UNSAVED, None)


def unsaved() -> bool:
    """Whether this session's project has edits the database has not taken yet."""
    pid = st.session_state.get(UNSAVED)
    if pid is not None and pid != st.session_state.get(PROJECT):
        st.session_state.pop(UNSAVED, None)  # another project was opened since
        return False
    return pid is not None


def render_unsaved() -> None:
    """The "not saved yet" notice, trying the save again every 3 seconds; once saved, the page is drawn again."""

    @st.fragment(run_every=3.0)
    def notice():
        _save(get_graph())
        if not unsaved():
            from components.runtime import rerun

            flash("success", "Saved: the project database answers again.")
            rerun()
        st.warning(UNSAVED_MESSAGE, icon=":material/cloud_off:")

    notice()


@contextlib.contextmanager
def database_guard():
    """app.py draws every page inside this: when the project database does not answer (or cannot be opened), the
    page says so in one line that names LAYERCANVAS_DB, instead of a traceback; the session keeps its edits."""
    from builder.store import StoreError

    try:
        yield
    except StoreError as e:
        from components.text import md_escape

        text = str(e)
        st.error(md_escape(text[0].upper() + text[1:] + "."), icon=":material/cloud_off:")
        st.caption("Your edits in this tab are kept. The page tries again when you click anything, or reload it.")


def _known_params(pid: str, graph: Graph) -> int | None:
    """The parameter total counted for this project's layers, if they are the same layers (a change of
    training settings or positions keeps it)."""
    noted = st.session_state.get(PARAMS_NOTED)
    if noted and noted[0] == pid and noted[2] == graph.nodes and noted[3] == graph.edges:
        return noted[1]
    return None


PARAMS_NOTED = "lc_params_noted"  # (project id, total, the nodes and edges it was counted for)
READ_ONLY_MESSAGE = "This project is someone else's: it opens read-only. Save a copy to change it."


def note_params(total: int) -> None:
    """The parameter total of the current graph, for the projects list (saved when it changed)."""
    pid = st.session_state.get(PROJECT)
    graph = get_graph()
    if pid and not read_only() and _known_params(pid, graph) != total:
        from builder.store import StoreUnavailable

        st.session_state[PARAMS_NOTED] = (pid, int(total), graph.nodes, graph.edges)
        try:
            get_store().set_project_params(pid, int(total))
        except StoreUnavailable:
            st.session_state.pop(PARAMS_NOTED, None)  # counted again, and saved, with the next build


def commit(graph: Graph) -> None:
    """Makes `graph` current, as one undoable step, and saves it (not in a read-only project: it says so).

    Every read or write of `st.session_state` is a point where Streamlit may stop this run for a newer one (a
    click that came meanwhile). So everything is read first, then the graph is set (a stop at that write happens
    before it), then the rest changes without touching `st.session_state` until the graph is saved: a run
    stopped half-way never leaves a graph set but not saved, nor an undo step without its change."""
    current = get_graph()
    if graph is current:
        return
    if read_only():
        flash("warning", READ_ONLY_MESSAGE)
        return
    undo = st.session_state.setdefault(UNDO, [])
    redo = st.session_state.setdefault(REDO, [])
    pid = st.session_state.get(PROJECT)
    store = get_store() if pid else None
    known = _known_params(pid, graph) if pid else None
    owner = current_owner()
    st.session_state[GRAPH] = graph
    undo.append(current)
    del undo[:-HISTORY]
    redo.clear()
    _save(graph, pid=pid, store=store, owner=owner, params=known)


def place(graph: Graph) -> None:
    """Makes `graph` current in this session only (positions filled in for drawing): saved with the next edit."""
    st.session_state[GRAPH] = graph


def replace(graph: Graph) -> None:
    """Makes `graph` current without an undo step (node moves), and saves it."""
    st.session_state[GRAPH] = graph
    _save(graph)


def can_undo() -> bool:
    return bool(st.session_state.get(UNDO))


def can_redo() -> bool:
    return bool(st.session_state.get(REDO))


def undo() -> None:
    if can_undo():
        st.session_state.setdefault(REDO, []).append(get_graph())
        st.session_state[GRAPH] = st.session_state[UNDO].pop()
        _save(st.session_state[GRAPH])


def redo() -> None:
    if can_redo():
        st.session_state.setdefault(UNDO, []).append(get_graph())
        st.session_state[GRAPH] = st.session_state[REDO].pop()
        _save(st.session_state[GRAPH])


def selected() -> str | None:
    """The selected node id, if it still exists."""
    nid = st.session_state.get(SELECTED)
    return nid if nid and get_graph().has(nid) else None


def select(node_id: str | None) -> None:
    st.session_state[SELECTED] = node_id
    st.session_state[SELECTED_MANY] = []


def select_many(ids: list[str]) -> None:
    """The canvas's selection: the inspector shows the one selected layer, or what several have together (a
    collapsed group counts as its layers)."""
    graph = get_graph()
    layers: list[str] = []
    for i in ids:
        inside = next((g.nodes for g in graph.groups if f"g:{g.id}" == i), (i,))
        layers.extend(n for n in inside if graph.has(n) and n not in layers)
    select(ids[0] if len(ids) == 1 and graph.has(ids[0]) else None)
    st.session_state[SELECTED_MANY] = layers if len(layers) > 1 else []


def selected_many() -> list[str]:
    """The layers selected together (two or more that still exist), else []."""
    graph = get_graph()
    ids = [i for i in st.session_state.get(SELECTED_MANY) or [] if graph.has(i)]
    return ids if len(ids) > 1 else []
