"""The palette: layer types by category, with a search box. Returns the type clicked."""

from __future__ import annotations

import streamlit as st

from builder.catalog import by_category, search


def _buttons(specs, prefix: str) -> str | None:
    clicked = None
    for spec in specs:
        if st.button(spec.type, key=f"{prefix}:{spec.type}", help=spec.help, width="stretch", type="tertiary"):
            clicked = spec.type
    return clicked


def render_palette() -> str | None:
    """Draws the palette; returns the layer type the user clicked, if any."""
    query = st.text_input("Search layers", key="palette_query", placeholder="conv, lstm, merge…",
                          label_visibility="collapsed")
    if query.strip():
        found = search(query)
        if not found:
            st.caption("No layer matches. Try conv, dense, pool, lstm or merge.")
            return None
        return _buttons(found, "pal_found")
    clicked = None
    for category, specs in by_category().items():
        with st.expander(category.capitalize(), expanded=category in ("input", "core")):
            clicked = _buttons(specs, f"pal_{category}") or clicked
    return clicked
