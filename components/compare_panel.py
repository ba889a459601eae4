"""The "Compare architectures" panel: two training runs side by side (layers, training settings, final metrics)."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from builder.model.compare import (
    ADDED,
    CHANGED,
    REMOVED,
    SAME,
    Change,
    Comparison,
    NodeDiff,
    compare,
    settings_changes,
    show,
)
from builder.model.graph import Node
from components.canvas import key_params_text
from components.text import clip, md_escape

CELL_LIMIT = 120  # characters of one table cell (a param list from a graph file may be long)
MARKS = {SAME: "", CHANGED: "changed", ADDED: "added", REMOVED: "removed"}  # plain words: the table font lacks ✎ and ＋
# Translucent, so the rows read in the light and the dark theme alike.
COLOURS = {SAME: "", CHANGED: "background-color: rgba(255, 164, 33, 0.18)",
           ADDED: "background-color: rgba(33, 195, 84, 0.16)", REMOVED: "background-color: rgba(255, 43, 43, 0.14)"}


def render_compare(run_a: dict, run_b: dict) -> None:
    """Draws how run B differs from run A: a headline, the layers side by side, the training settings that
    differ and the final metrics.

    Args:
        run_a: A run as the store gives it: `{"id", "name", "graph" (Graph or None), "final_metrics" (dict or
            None), "settings" (dict)}`; optional "dataset", and "param_counts" (node id -> parameter count).
        run_b: The run compared with it.
    """
    st.caption(f"Run A: {_label(run_a)} · Run B: {_label(run_b)}")
    unreadable = [r for r in (run_a, run_b) if r.get("graph") is None]
    for run in unreadable:
        st.warning(f"This run's graph cannot be read: {_label(run)}.", icon=":material/broken_image:")
    if unreadable:
        return
    c = compare(run_a["graph"], run_b["graph"], run_a.get("param_counts"), run_b.get("param_counts"))
    st.markdown(f"**{c.headline()}**")
    _connections_caption(c)
    rows = list(c.rows)
    if c.same and c.same < len(rows) and st.toggle("Only the differences", key=f"compare_diff:{run_a.get('id')}:{run_b.get('id')}"):
        rows = [r for r in rows if r.status != SAME or r.count_changed]
    st.dataframe(_layers_table(rows), hide_index=True,
                 column_config={"what changed": st.column_config.TextColumn(width="large")})

    st.markdown("**Training settings**")
    changes = settings_changes(run_a.get("settings"), run_b.get("settings"))
    if run_a.get("dataset") != run_b.get("dataset"):
        changes.insert(0, Change("dataset", run_a.get("dataset"), run_b.get("dataset")))
    if changes:
        st.dataframe({"setting": [ch.name.replace("_", " ") for ch in changes],
                      "run A": [_cell(show(ch.a)) for ch in changes], "run B": [_cell(show(ch.b)) for ch in changes]},
                     hide_index=True)
    else:
        st.caption("The same training settings.")

    st.markdown("**Final metrics**")
    metrics_a, metrics_b = run_a.get("final_metrics") or {}, run_b.get("final_metrics") or {}
    if metrics_a or metrics_b:
        st.dataframe(_metrics_table(metrics_a, metrics_b), hide_index=True,
                     column_config={k: st.column_config.NumberColumn(format="%.4f") for k in ("run A", "run B", "B − A")})
    else:
        st.caption("Neither run has final metrics yet.")


def _label(run: dict) -> str:
    """`name (abc123)`, escaped for Markdown."""
    return f"{md_escape(clip(run.get('name') or 'unnamed'))} ({md_escape(str(run.get('id') or '')[:6])})"


def _connections_caption(c: Comparison) -> None:
    parts = []
    if c.connections_added or c.connections_removed:
        parts.append(f"{len(c.connections_added)} connection{'s' * (len(c.connections_added) != 1)} added, "
                     f"{len(c.connections_removed)} removed")
    if c.outputs_changed:
        parts.append(f"model outputs {', '.join(c.outputs_a) or 'none'} → {', '.join(c.outputs_b) or 'none'}")
    if parts:
        st.caption(md_escape(clip("; ".join(parts), 400)))


def _side(node: Node | None, count: int | None) -> str:
    """`Dense · units 16 · relu · 136 params`, or "—" when the run has no such layer."""
    if node is None:
        return "—"
    parts = [node.type, key_params_text(node)]
    if not node.trainable:
        parts.append("frozen")
    if count is not None:
        parts.append(f"{count:,} params")
    return _cell(" · ".join(p for p in parts if p))


def _layers_table(rows: list[NodeDiff]):
    data = pd.DataFrame({
        "layer": [r.id for r in rows],
        "status": [MARKS[r.status] for r in rows],
        "run A": [_side(r.node_a, r.count_a) for r in rows],
        "run B": [_side(r.node_b, r.count_b) for r in rows],
        "what changed": [_cell("; ".join(r.changes() + ([r.count_text()] if r.count_changed else []))) for r in rows],
    })
    colours = [COLOURS[r.status] for r in rows]
    return data.style.apply(lambda column: colours, axis=0)


def _metrics_table(a: dict, b: dict) -> dict:
    names = list(dict.fromkeys([*a, *b]))
    va, vb = [a.get(n) for n in names], [b.get(n) for n in names]
    if all(_numeric(v) or v is None for v in va + vb):
        diff = [y - x if _finite(x) and _finite(y) else None for x, y in zip(va, vb, strict=False)]
        return {"metric": names, "run A": va, "run B": vb, "B − A": diff}
    return {"metric": names, "run A": [_cell(show(v)) for v in va], "run B": [_cell(show(v)) for v in vb]}


def _numeric(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _finite(v) -> bool:
    return _numeric(v) and math.isfinite(v)


def _cell(text: str) -> str:
    return clip(text, CELL_LIMIT)
