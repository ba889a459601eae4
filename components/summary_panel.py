"""The summary panel: totals as metrics, per-layer table, issues and `model.summary()` text."""

from __future__ import annotations

import streamlit as st

from builder.build import BuildResult
from builder.summary import Summary, summarize, summary_text


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def render_issues(result: BuildResult) -> None:
    for issue in result.issues:
        where = f"**{issue.node_id}**: " if issue.node_id else ""
        # User text (node ids are checked, messages quote values) is shown as text, never as markup.
        (st.error if issue.severity == "error" else st.warning)(where + _escape(issue.message))


def _escape(text: str) -> str:
    """Markdown-escapes text for st.error/st.warning/st.markdown."""
    out = []
    for ch in text:
        out.append("\\" + ch if ch in "\\`*_{}[]()#+-.!|<>~$" else ch)
    return "".join(out)


def render_summary(result: BuildResult) -> Summary:
    """Draws totals, the layer table and the summary text; returns the Summary."""
    s = summarize(result)
    cols = st.columns(4)
    cols[0].metric("Total params", f"{s.total_params:,}")
    cols[1].metric("Trainable", f"{s.trainable_params:,}")
    cols[2].metric("Non-trainable", f"{s.non_trainable_params:,}")
    cols[3].metric("Model size", _size(s.size_bytes), help="Memory taken by the weights.")
    st.dataframe(
        s.table(), hide_index=True, width="stretch",
        column_config={"params": st.column_config.NumberColumn("params", format="localized")},
    )
    if result.model is not None:
        with st.expander("model.summary()", expanded=False):
            st.code(summary_text(result.model), language=None)
    return s
