"""Flash messages: what an action says, shown at the top of the page for a while, across reruns.

app.py draws them (`take_flashes`) in a slot that is always there; anything in the app says one with `flash`.
"""

from __future__ import annotations

import time

import streamlit as st

FLASH = "lc_flash"  # session: [(kind, text, time.monotonic())]
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
