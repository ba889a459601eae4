"""Flash messages: what an action says, shown as a toast in the page's top-right corner.

Anything in the app says one with `flash`; app.py shows them (`show_flashes`). A toast lies over the page: a message
that came or went never moves what is below it (a button that jumps as a message above it goes loses the click
aimed at it).
"""

from __future__ import annotations

import streamlit as st

from components.text import md_escape

FLASH = "lc_flash"  # session: [(kind, text)] not shown yet
ICONS = {"success": ":material/check_circle:", "info": ":material/info:", "warning": ":material/warning:",
         "error": ":material/error:"}


def flash(kind: str, text: str) -> None:
    """A message for the next time the page is drawn (the action's own run often ends in a rerun)."""
    st.session_state.setdefault(FLASH, []).append((kind, text))


def show_flashes() -> None:
    """Shows the messages not shown yet, each once, as a toast, in plain text (no Markdown from a user's names).

    An error stays until it is closed; the others for ten seconds. A message leaves the queue only once its toast
    is sent: a run that a click stops at the toast shows it in the next run."""
    while st.session_state.get(FLASH):
        kind, text = st.session_state[FLASH][0]
        st.toast(md_escape(text), icon=ICONS.get(kind), duration="infinite" if kind == "error" else "long")
        st.session_state[FLASH] = st.session_state[FLASH][1:]
