"""Presenter mode, for a projector: no sidebar, the canvas and the page using the whole width, larger node text and
high contrast on the canvas.

It is on with `?present=1` in the URL, or the Present button on the Build page, and stays in the URL from page to
page (a reload keeps it). It belongs to the browser tab, not to the project: turning it on or off writes nothing.
"""

from __future__ import annotations

import streamlit as st

PRESENT = "lc_present"  # session: presenter mode is on
PARAM = "present"  # the URL's query parameter

# The sidebar and its open button gone; the page starts at the top left.
CSS = ("<style>section[data-testid='stSidebar'],[data-testid='stSidebarCollapsedControl'],"
       "[data-testid='stExpandSidebarButton'],[data-testid='stSidebarCollapseButton']{display:none !important}"
       "[data-testid='stMainBlockContainer']{padding:0.8rem 1rem 1rem !important;max-width:100% !important}</style>")


def presenting() -> bool:
    """Whether presenter mode is on in this tab (read from the URL on the tab's first run)."""
    if PRESENT not in st.session_state:
        st.session_state[PRESENT] = st.query_params.get(PARAM) == "1"
    return bool(st.session_state[PRESENT])


def keep() -> None:
    """Called on every run: keeps `?present=1` in the URL while it is on (a page switch drops the query), and
    draws the page without its sidebar."""
    if presenting():
        if st.query_params.get(PARAM) != "1":
            st.query_params[PARAM] = "1"
        st.html(CSS)


def toggle() -> None:
    """Turns presenter mode on or off (the caller reruns the page)."""
    on = not presenting()
    st.session_state[PRESENT] = on
    if on:
        st.query_params[PARAM] = "1"
    else:
        st.query_params.pop(PARAM, None)
