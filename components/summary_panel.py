"""The summary panel: totals as metrics, per-layer table, issues and `model.summary()` text."""

from __future__ import annotations

import streamlit as st

from builder.build import BuildResult
from builder.config import fmt_bytes
from builder.summary import Summary, summarize, summary_text
from components.text import md_escape


def render_issues(result: BuildResult):
    """Each issue pinned to its node, with a one-click fix where there is one.

    Returns:
        The Fix whose button was clicked, or None.
    """
    clicked = None
    for n, issue in enumerate(result.issues):
        # Messages quote user values: shown as text, never as markup.
        if issue.severity == "error":
            st.error(md_escape(issue.message), icon=":material/error:")
        else:
            st.warning(md_escape(issue.message), icon=":material/warning:")
        # Button labels are Markdown too, and a fix label can quote a param name from a graph file.
        if issue.fix is not None and st.button(md_escape(issue.fix.label), key=f"fix:{n}:{issue.code}:{issue.node_id}", icon=":material/build:"):
            clicked = issue.fix
    return clicked


def render_summary(result: BuildResult) -> Summary:
    """Draws totals, the layer table and the summary text; returns the Summary."""
    s = summarize(result)
    cols = st.columns(4)
    cols[0].metric("Total params", f"{s.total_params:,}")
    cols[1].metric("Trainable", f"{s.trainable_params:,}")
    cols[2].metric("Non-trainable", f"{s.non_trainable_params:,}")
    cols[3].metric("Model size", fmt_bytes(s.size_bytes), help="Memory taken by the weights.")
    if result.infos and result.memory is not None:
        st.caption(f"Training with batch {result.memory.batch_size} needs {result.memory.describe()}.",
                   help="float32 weights, their gradients, Adam's two slots per weight, and every layer's output for "
                        "the batch twice (kept for the backward pass, and its gradient). A floor: Keras adds workspace.")
    st.dataframe(
        s.table(), hide_index=True, width="stretch",
        column_config={"params": st.column_config.NumberColumn("params", format="localized")},
    )
    return s


def render_summary_text(result: BuildResult) -> None:
    """Keras's own `model.summary()` (a separate view: rendering it takes a third of an edit's server time)."""
    if result.model is None:
        st.info("The model has errors: model.summary() needs a model that builds.")
        return
    st.code(summary_text(result.model), language=None)
