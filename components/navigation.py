"""How the app is started and how a script run reaches its page.

`streamlit run app.py -- --template mlp` passes options after `--` (`cli_option`). app.py runs every page inside
`app_run`; each page calls `ensure_navigation` first, so a page reached without app.py goes through it.
"""

from __future__ import annotations

import contextlib
import sys

import streamlit as st

from components.runtime import rerun

INSIDE_APP = "lc_inside_app"
SEEN_APP = "lc_seen_app"


def cli_option(name: str, default: str | None = None) -> str | None:
    """`streamlit run app.py -- --template mlp`: options after `--`."""
    args = sys.argv[1:]
    flag = f"--{name}"
    if flag in args and args.index(flag) + 1 < len(args):
        return args[args.index(flag) + 1]
    return default


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
        rerun()
