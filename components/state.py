"""Session keys and the current project: graph, undo/redo, selection, autosave.

Each browser session edits one project. Its id is in the URL (`?project=...`),
and every edit is saved to the store, so a page reload or a server restart
loses no work. Undo history lives in the session only.
"""

from __future__ import annotations

import contextlib
import sys
import time

import streamlit as st

from builder.graph import Graph
from builder.templates import TEMPLATES, template

GRAPH = "lc_graph"
UNDO = "lc_undo"
REDO = "lc_redo"
SELECTED = "lc_selected"
BUILDER = "lc_builder"
RESULT = "lc_result"
PROJECT = "lc_project"
FLASH = "lc_flash"
DEFAULT_TEMPLATE = "iris_mlp"
HISTORY = 100  # undo steps kept


def cli_option(name: str, default: str | None = None) -> str | None:
    """`streamlit run app.py -- --template mlp`: options after `--`."""
    args = sys.argv[1:]
    flag = f"--{name}"
    if flag in args and args.index(flag) + 1 < len(args):
        return args[args.index(flag) + 1]
    return default


@st.cache_resource
def get_store():
    """The process-wide store (SQLite; thread-safe). Runs left running by a dead server are marked interrupted."""
    from builder.store import Store, default_path

    store = Store(default_path())
    store.mark_interrupted()
    return store


INSIDE_APP = "lc_inside_app"
SEEN_APP = "lc_seen_app"


@contextlib.contextmanager
def app_run():
    """app.py runs its page inside this: pages then know they were reached through the app."""
    st.session_state[INSIDE_APP] = st.session_state[SEEN_APP] = True
    try:
        yield
    finally:
        st.session_state.pop(INSIDE_APP, None)


def ensure_navigation() -> None:
    """Called first by every page: a deep link (`/train`) as the first request of a new server goes through app.py.

    Until app.py has called `st.navigation` once in this process, Streamlit treats `pages/` as an old-style
    multipage folder and runs a linked page's file on its own, without the app's set-up (project, sidebar,
    layout). A new session that arrives that way is run again, through app.py. (AppTest runs every page that
    way after the first run; its sessions have been through app.py, so they go on, and keep their clicks.)
    """
    if st.session_state.get(INSIDE_APP):
        return
    from streamlit.runtime.pages_manager import PagesManager

    PagesManager.uses_pages_directory = False
    if not st.session_state.get(SEEN_APP):
        st.rerun()


def default_graph() -> Graph:
    key = cli_option("template", DEFAULT_TEMPLATE)
    return template(key if key in TEMPLATES else DEFAULT_TEMPLATE)


FLASH_SECONDS = 15


def flash(kind: str, text: str) -> None:
    """A message shown at the top of the page for a while, across reruns (the canvas causes some)."""
    st.session_state.setdefault(FLASH, []).append((kind, text, time.monotonic()))


def take_flashes() -> list[tuple[str, str]]:
    """The messages still to show (younger than FLASH_SECONDS)."""
    now = time.monotonic()
    live = [f for f in st.session_state.get(FLASH, []) if now - f[2] < FLASH_SECONDS]
    st.session_state[FLASH] = live
    return [(kind, text) for kind, text, _ in live]


def init_project() -> None:
    """Finds this session's project: a share link, the project in the URL, or a new one."""
    if PROJECT in st.session_state:
        return
    from builder.share import ShareLinkError, decode
    from builder.store import new_project_id

    store = get_store()
    params = st.query_params
    graph = None
    token = params.get("g")
    if token:
        try:
            graph = decode(token)
        except ShareLinkError as e:
            flash("error", f"This share link cannot be opened: {e}. Your project is unchanged.")
        del params["g"]
    pid = params.get("project")
    if graph is None and pid:
        try:
            graph = store.load_project(pid)
        except Exception:  # noqa: BLE001 - a bad id in the URL just means a new project
            graph = None
        if graph is None:
            flash("warning", "That project was not found: here is a new one.")
    if graph is None or token:
        pid = new_project_id()
        graph = graph or default_graph()
        store.save_project(pid, graph)
    st.session_state[PROJECT] = pid
    st.session_state[GRAPH] = graph
    st.session_state[UNDO], st.session_state[REDO] = [], []
    params["project"] = pid


def keep_project_in_url() -> None:
    """Puts the project id back into the URL on every run: a page switch drops the query, and a reload of
    `/data` without it would open a new project."""
    pid = st.session_state.get(PROJECT)
    if pid and st.query_params.get("project") != pid:
        st.query_params["project"] = pid


def project_id() -> str:
    return st.session_state[PROJECT]


def get_graph() -> Graph:
    if GRAPH not in st.session_state:
        st.session_state[GRAPH] = default_graph()
    return st.session_state[GRAPH]


def _save(graph: Graph) -> None:
    pid = st.session_state.get(PROJECT)
    if pid:
        get_store().save_project(pid, graph)


def commit(graph: Graph) -> None:
    """Makes `graph` current, as one undoable step, and saves it."""
    current = get_graph()
    if graph is current:
        return
    undo = st.session_state.setdefault(UNDO, [])
    undo.append(current)
    del undo[:-HISTORY]
    st.session_state[REDO] = []
    st.session_state[GRAPH] = graph
    _save(graph)


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


def select_many(ids: list[str]) -> None:
    """The canvas's selection: the inspector shows the one selected layer (none when several are, or a
    collapsed group is)."""
    select(ids[0] if len(ids) == 1 and get_graph().has(ids[0]) else None)


def build_result():
    """The BuildResult of the current graph, rebuilt only when the graph changed."""
    from builder.build import ModelBuilder

    graph = get_graph()
    cached = st.session_state.get(RESULT)
    if cached is not None and cached[0] is graph:
        return cached[1]
    builder = st.session_state.setdefault(BUILDER, ModelBuilder())
    result = builder.build(graph)
    st.session_state[RESULT] = (graph, result)
    return result


def cached_result():
    """The last BuildResult, even of an older graph (None before the first build)."""
    cached = st.session_state.get(RESULT)
    return None if cached is None else cached[1]
