"""The summary panel: the totals (the canvas shows them), per-layer table, issues and `model.summary()` text."""

from __future__ import annotations

import streamlit as st

from builder.config import fmt_bytes
from builder.model.build import BuildResult
from builder.model.summary import Summary, summarize, summary_text
from components import state
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
    read_only = state.read_only()
    for n, issue in enumerate(issues):
        # Messages quote user values: shown as text, never as markup.
        if issue.severity == "error":
            st.error(md_escape(issue.message), icon=":material/error:")
        else:
            st.warning(md_escape(issue.message), icon=":material/warning:")
        # Button labels are Markdown too, and a fix label can quote a param name from a graph file.
        if issue.fix is not None and st.button(md_escape(issue.fix.label), key=f"fix:{n}:{issue.code}:{issue.node_id}",
                                               icon=":material/build:", width="stretch", disabled=read_only,
                                               help="Save a copy of this project to change it." if read_only else None):
            clicked = issue.fix
    return clicked


def compact(n: int | None) -> str:
    """1,234,567 as 1.2M: a count that must fit a metric or a node."""
    if n is None:
        return "?"
    for size, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= size:
            return f"{n / size:.3g}{unit}"
    return f"{n:,}"


def totals(result: BuildResult | None, graph, summary: Summary | None = None, cost=None) -> list[dict]:
    """The totals shown above the canvas, as [{"label", "value", "help"}]: total / trainable / non-trainable
    parameters, the model size, its MACs, the layers, errors and warnings. `summary`: the result's, when made."""
    if result is None:
        return [{"label": "Total params", "value": "…", "help": "Building the model…"},
                {"label": "Layers", "value": f"{len(graph.nodes):,}", "help": ""}]
    s = summary or summarize(result)
    out = [{"label": "Total params", "value": f"{s.total_params:,}", "help": ""},
           {"label": "Trainable", "value": f"{s.trainable_params:,}", "help": ""},
           {"label": "Non-trainable", "value": f"{s.non_trainable_params:,}", "help": ""},
           {"label": "Model size", "value": fmt_bytes(s.size_bytes), "help": "Memory taken by the weights."}]
    if cost is not None:
        out.append({"label": "MACs", "value": compact(cost.total_macs),
                    "help": f"{cost.total_macs:,} multiply-accumulates to run one sample through the model (its "
                            "compute cost; the heaviest layers are marked on the canvas)."})
    out += [{"label": "Layers", "value": f"{len(graph.nodes):,}", "help": ""},
            {"label": "Errors", "value": f"{len(result.errors):,}",
             "help": "Layers with a problem are red (errors) or amber (warnings) on the canvas: select one to see "
                     "its message and fix."},
            {"label": "Warnings", "value": f"{len(result.warnings):,}", "help": ""}]
    return out


def render_summary(result: BuildResult, summary: Summary | None = None, cost=None) -> Summary:
    """Draws the training-memory note and the per-layer table (with each layer's MACs and output size, the
    heaviest marked, when `cost` is given); returns the Summary."""
    s = summary or summarize(result)
    if result.infos and result.memory is not None:
        st.caption(f"Training with batch {result.memory.batch_size} needs {result.memory.describe()}.",
                   help="float32 weights, their gradients, Adam's two slots per weight, and every layer's output for "
                        "the batch twice (kept for the backward pass, and its gradient). A floor: Keras adds workspace.")
    rows = s.table()
    config = {"params": st.column_config.NumberColumn("params", format="localized")}
    if cost is not None:
        by_name = {r.name: r for r in cost.rows}
        heavy = {r.name for r in cost.heaviest(3)}
        for row in rows:
            c = by_name.get(row["name"])
            row["MACs"] = c.macs if c is not None else None
            row["share"] = round(cost.share(c) * 100, 1) if c is not None and c.macs else None
            row["output size"] = fmt_bytes(c.activation_bytes) if c is not None and c.activation_bytes else ""
            row["heaviest"] = "●" if row["name"] in heavy else ""
        config.update({"MACs": st.column_config.NumberColumn("MACs", format="localized",
                                                             help="Multiply-accumulates for one sample"),
                       "share": st.column_config.ProgressColumn("share of MACs", format="%.1f%%", min_value=0,
                                                                max_value=100),
                       "heaviest": st.column_config.TextColumn("", width="small",
                                                               help="One of the three heaviest layers")})
        st.caption(f"Total: {s.total_params:,} parameters, {cost.total_macs:,} MACs for one sample"
                   + (f" (not counted: {', '.join(cost.unknown[:5])}, whose sizes are known only at run time)"
                      if cost.unknown else "") + ".")
    st.dataframe(rows, hide_index=True, width="stretch", column_config=config)
    return s


def render_summary_text(result: BuildResult) -> None:
    """Keras's own `model.summary()` (a separate view: rendering it takes a third of an edit's server time)."""
    if result.model is None:
        st.info("The model has errors: model.summary() needs a model that builds.")
        return
    st.code(summary_text(result.model), language=None)
