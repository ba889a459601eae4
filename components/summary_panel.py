"""The summary panel: totals as metrics, per-layer table, issues and `model.summary()` text."""

from __future__ import annotations

import streamlit as st

from builder.build import BuildResult
from builder.config import fmt_bytes
from builder.summary import Summary, summarize, summary_text
from components.text import md_escape

MAX_LISTED = 12  # issues listed beside the canvas when no layer is selected


def render_issues(result: BuildResult, selected: str | None = None):
    """Issues with their one-click fixes: the selected layer's own first (all of them when none is selected),
    so a problem and its fix are in view beside the canvas.

    Returns:
        The Fix whose button was clicked, or None.
    """
    issues = result.issues
    if selected is not None:
        issues = [i for i in issues if i.node_id == selected]
    elif len(issues) > MAX_LISTED:
        st.caption(f"{len(issues)} problems: the first {MAX_LISTED} are listed. Select a layer to see its own.")
        issues = issues[:MAX_LISTED]
    clicked = None
    for n, issue in enumerate(issues):
        # Messages quote user values: shown as text, never as markup.
        if issue.severity == "error":
            st.error(md_escape(issue.message), icon=":material/error:")
        else:
            st.warning(md_escape(issue.message), icon=":material/warning:")
        # Button labels are Markdown too, and a fix label can quote a param name from a graph file.
        if issue.fix is not None and st.button(md_escape(issue.fix.label), key=f"fix:{n}:{issue.code}:{issue.node_id}",
                                               icon=":material/build:", width="stretch"):
            clicked = issue.fix
    return clicked


def render_totals(row, result: BuildResult | None, graph, summary: Summary | None = None) -> None:
    """Total / trainable / non-trainable parameters, the model size and the number of errors, in one row
    above the canvas (they stay in view while editing). `summary`: the result's, when already made."""
    if result is None:
        row.metric("Total params", "…", width="content")
        row.caption(f"{len(graph.nodes)} layers · building…")
        return
    s = summary or summarize(result)
    errors, warnings = len(result.errors), len(result.warnings)
    row.metric("Total params", f"{s.total_params:,}", width="content")
    row.metric("Trainable", f"{s.trainable_params:,}", width="content")
    row.metric("Non-trainable", f"{s.non_trainable_params:,}", width="content")
    row.metric("Model size", fmt_bytes(s.size_bytes), help="Memory taken by the weights.", width="content")
    row.metric("Layers", f"{len(graph.nodes):,}", width="content")
    row.metric("Errors", f"{errors:,}", width="content",
               help="Layers with a problem are red (errors) or amber (warnings) on the canvas: select one to see "
                    "its message and fix.")
    row.metric("Warnings", f"{warnings:,}", width="content")


def render_summary(result: BuildResult, summary: Summary | None = None) -> Summary:
    """Draws the training-memory note and the per-layer table; returns the Summary."""
    s = summary or summarize(result)
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
