"""Plotly figures: training curves, confusion matrix, class balance, run overlays.

Pure functions of plain data (no streamlit), so they are easy to test.
"""

from __future__ import annotations

import html
import math

import plotly.graph_objects as go

TRAIN, VAL = "#1f77b4", "#ff7f0e"
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf"]


def plain(text) -> str:
    """User text (class names, run names) for a chart, at most 60 characters: plotly reads a few HTML tags
    (<b>, <a href>, <br>) and entities in text, so it is HTML-escaped, and shows as typed."""
    return html.escape(str(text)[:60], quote=False)


def layout(fig: go.Figure, title: str, x: str, y: str, height: int = 300) -> go.Figure:
    # No plotly template: Streamlit's own theme styles the charts, and a named template costs about 20 ms a
    # figure to expand, which the live curves paid every second for every watching session.
    fig.update_layout(_layout(title, x, y, height))
    return fig


def _layout(title: str, x: str, y: str, height: int = 300) -> dict:
    return {"title": {"text": title, "font": {"size": 14}}, "height": height,
            "margin": {"l": 50, "r": 10, "t": 40, "b": 40}, "xaxis": {"title": {"text": x}},
            "yaxis": {"title": {"text": y}}, "legend": {"orientation": "h", "y": -0.25}, "hovermode": "x unified"}


def metric_names(history: list[dict], batches: list[dict]) -> list[str]:
    """Training metrics seen so far, loss first (no `val_` names)."""
    names = []
    for row in [*history[-1:], *batches[-1:]]:
        for key in row:
            if key not in ("epoch", "step", "partial") and not key.startswith("val_") and key not in names:
                names.append(key)
    return sorted(names, key=lambda n: (n != "loss", n))


def join_phases(earlier: list[dict], history: list[dict], batches: list[dict], label: str | None
                ) -> tuple[list[dict], list[dict], list[tuple[float, str]]]:
    """The epochs of the runs a run continues (fine-tuning), then its own, numbered on.

    Args:
        earlier: The earlier runs, oldest first: `{"history": [per-epoch rows], "label": text marking where that
            run started (None for the first)}`.
        history, batches: The run's own rows (epochs from 1) and sampled batches (fractional epochs from 0).
        label: Marks where the run starts.

    Returns:
        (history, batches, marks): the rows with epochs shifted past the earlier runs', and `marks`, the
        (epoch, label) of each boundary.
    """
    rows, marks, offset = [], [], 0

    def add(rows_in: list[dict], mark: str | None) -> int:
        if offset and mark:
            marks.append((offset, mark))
        rows.extend({**r, "epoch": r["epoch"] + offset} for r in rows_in if "epoch" in r)
        return max((r["epoch"] for r in rows_in if "epoch" in r), default=0)

    for phase in earlier:
        offset += add(phase["history"], phase.get("label"))
    add(history, label)
    shifted = [{**b, "epoch": b["epoch"] + offset} for b in batches] if offset else batches
    return rows, shifted, marks


def curve(metric: str, history: list[dict], batches: list[dict], marks: list[tuple[float, str]] = ()) -> go.Figure:
    """One metric over epochs: training per batch (thin, sampled), per epoch, and validation per epoch; `marks`
    draws a dashed line with a label at each (epoch, label), where a fine-tuning phase starts.

    Built from plain dicts without plotly's validation (about 30 times faster): the live page redraws it
    every second in every session that watches a run. tests/test_charts.py checks that it validates.
    """
    data = []
    points = [b for b in batches if metric in b]
    if points:
        data.append({"type": "scatter", "x": [b["epoch"] for b in points], "y": [b[metric] for b in points],
                     "mode": "lines", "name": f"train {metric} (batches)", "line": {"color": TRAIN, "width": 1},
                     "opacity": 0.35})
    rows = [r for r in history if metric in r]
    if rows:
        data.append({"type": "scatter", "x": [r["epoch"] for r in rows], "y": [r[metric] for r in rows],
                     "mode": "lines+markers", "name": f"train {metric}", "line": {"color": TRAIN, "width": 2}})
    val = [r for r in history if f"val_{metric}" in r]
    if val:
        data.append({"type": "scatter", "x": [r["epoch"] for r in val], "y": [r[f"val_{metric}"] for r in val],
                     "mode": "lines+markers", "name": f"validation {metric}", "line": {"color": VAL, "width": 2}})
    lay = _layout(metric, "epoch", metric)
    last = max((x for trace in data for x in trace["x"]), default=0)
    if last <= 12:  # few epochs: a tick per epoch (plotly would label 1.2, 1.4, ...)
        lay["xaxis"] = {**lay["xaxis"], "tickmode": "linear", "tick0": 0, "dtick": 1}
    if marks:
        lay["shapes"] = [{"type": "line", "xref": "x", "yref": "paper", "x0": x, "x1": x, "y0": 0, "y1": 1,
                          "line": {"color": "#7f7f7f", "width": 1.5, "dash": "dash"}} for x, _ in marks]
        # Above the plot, where no curve runs; toward the middle, so the text stays inside the figure.
        right = max((x for trace in data for x in trace["x"]), default=0)
        lay["annotations"] = [{"x": x, "xref": "x", "y": 1, "yref": "paper", "text": plain(text), "showarrow": False,
                               "xanchor": "left" if x <= right * 0.6 else "right", "yanchor": "bottom",
                               "font": {"size": 11, "color": "#7f7f7f"}} for x, text in marks]
    return go.Figure({"data": data, "layout": lay}, _validate=False)


def confusion(matrix: list[list[int]], names: list[str]) -> go.Figure:
    """A heatmap: rows are the true classes, columns the predicted ones."""
    k = len(matrix)
    labels = [plain(n) for n in names[:k]] + [str(i) for i in range(len(names), k)]
    fig = go.Figure(go.Heatmap(z=matrix, x=labels, y=labels, colorscale="Blues", showscale=False,
                               text=[[str(v) for v in row] for row in matrix], texttemplate="%{text}",
                               hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>"))
    # Heatmap cells take no clicks in Streamlit's selection: an all but invisible square marker over each cell
    # does (`hoverinfo="none"`, not "skip", which would drop the click too).
    fig.add_trace(go.Scatter(x=[c for _ in labels for c in labels], y=[r for r in labels for _ in labels],
                             mode="markers", hoverinfo="none", showlegend=False,
                             marker={"symbol": "square", "size": max(8, min(36, 300 // max(k, 1))), "opacity": 0.01}))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category")
    fig = layout(fig, "Confusion matrix (test data): click a cell for its examples", "predicted", "true",
                 height=max(300, 40 * k + 120))
    fig.update_layout(hovermode="closest")  # a click picks the cell under the pointer, not its whole column
    return fig


def class_balance(counts: dict[str, int]) -> go.Figure:
    fig = go.Figure(go.Bar(x=[plain(k) for k in counts], y=list(counts.values()), marker_color=TRAIN))
    fig.update_xaxes(type="category")
    return layout(fig, "Class balance (training data)", "class", "samples", height=260)


def overlay(runs: list[dict], metric: str) -> go.Figure:
    """Per-epoch curves of several runs: solid training, dotted validation, a colour per run."""
    fig = go.Figure()
    for i, run in enumerate(runs):
        color = PALETTE[i % len(PALETTE)]
        rows = [e["metrics"] for e in run.get("epochs", [])]
        for key, dash, what in ((metric, "solid", "train"), (f"val_{metric}", "dot", "val")):
            pts = [r for r in rows if key in r]
            if pts:
                fig.add_trace(go.Scatter(x=[r["epoch"] for r in pts], y=[r[key] for r in pts], mode="lines+markers",
                                         name=f"{plain(run['label'])} ({what})", line={"color": color, "dash": dash}))
    return layout(fig, metric, "epoch", metric, height=340)


def log_axis(values) -> dict:
    """A log axis labelled at powers of ten only ("0.1", "1", "10", "10⁻³"), spanning whole decades.

    Plotly's own log ticks add 2 and 5 between the powers, as bare digits ("5, 2, 0.1, 5, 2, 0.01"), which
    read as other numbers. With one label a decade, the range is widened to whole decades, so at least two
    labels show even when every value lies within one decade.
    """
    axis = {"type": "log", "dtick": 1, "exponentformat": "power", "showexponent": "all"}
    logs = [math.log10(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v) and v > 0]
    if logs:
        lo, hi = math.floor(min(logs)), math.ceil(max(logs))
        hi = max(hi, lo + 1)
        axis["range"] = [lo - 0.05, hi + 0.05]  # a margin, so a point on a power of ten is drawn whole
        axis["dtick"] = max(1, math.ceil((hi - lo) / 8))  # at most about 8 labels: they stay apart
    return axis


def norms(rows: list[dict], what: str, title: str) -> go.Figure:
    """Each layer's weight or gradient norm (`what`, a key of the rows) over epochs, a line per layer; gradient
    norms on a log axis (they span decades between layers)."""
    fig = go.Figure()
    for layer in dict.fromkeys(r["layer"] for r in rows):
        pts = [r for r in rows if r["layer"] == layer and r.get(what) is not None]
        fig.add_trace(go.Scatter(x=[r["epoch"] for r in pts], y=[r[what] for r in pts], mode="lines+markers",
                                 name=plain(layer)))
    fig.update_layout(height=300, margin={"l": 10, "r": 10, "t": 30, "b": 30}, title=title,
                      xaxis_title="epoch (0: before training)", legend={"orientation": "h", "y": -0.3})
    if what == "grad_norm":
        fig.update_yaxes(log_axis([r.get(what) for r in rows]))
    return fig


def search_scatter(trials: list[dict], x: str, objective: str, higher_is_better: bool) -> go.Figure:
    """The finished trials of a search: `objective` against `x` ("macs", "total_params" or a searched key), the
    best trial ringed; against a cost (MACs, params) the Pareto front is drawn: no other trial is as cheap and
    better."""
    from builder.train.search import pareto

    done = [t for t in trials if t.get("status") == "ok" and t.get("score") is not None]
    cost_axis = x in ("macs", "total_params")

    def x_of(t):
        v = t.get(x) if cost_axis else t["values"].get(x)
        return json_text(v) if isinstance(v, (list, tuple)) else v

    pts = [(x_of(t), t["score"], t) for t in done if x_of(t) is not None]
    fig = go.Figure()
    hover = [plain(", ".join(f"{k}={json_text(v)}" for k, v in t["values"].items())) for _, _, t in pts]
    fig.add_trace(go.Scatter(
        x=[p[0] for p in pts], y=[p[1] for p in pts], mode="markers+text", name="trials",
        text=[str(t["number"]) for _, _, t in pts], textposition="top center",
        hovertext=[f"trial {t['number']}: {h}" for (_, _, t), h in zip(pts, hover, strict=True)], hoverinfo="text+y",
        marker={"size": 10, "color": PALETTE[0], "opacity": 0.8}))
    if pts:
        best = (max if higher_is_better else min)(pts, key=lambda p: p[1])
        fig.add_trace(go.Scatter(x=[best[0]], y=[best[1]], mode="markers", name="best",
                                 marker={"size": 18, "color": "rgba(0,0,0,0)", "line": {"width": 2, "color": "#d62728"}},
                                 hoverinfo="skip"))
    if cost_axis and pts:
        front_flags = pareto([(p[0], p[1]) for p in pts], higher_is_better)
        front = sorted((p for p, on in zip(pts, front_flags, strict=True) if on), key=lambda p: p[0])
        fig.add_trace(go.Scatter(x=[p[0] for p in front], y=[p[1] for p in front], mode="lines+markers",
                                 name="Pareto front", line={"shape": "hv", "color": "#2ca02c", "dash": "dot"},
                                 marker={"size": 12, "symbol": "diamond-open", "color": "#2ca02c"}, hoverinfo="skip"))
    label = {"macs": "MACs per sample", "total_params": "parameters"}.get(x, x)
    fig.update_layout(_layout(f"{objective} by {label}", label, objective, height=360))
    fig.update_layout(hovermode="closest")
    if cost_axis:
        fig.update_xaxes(type="log")
    return fig


def json_text(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return "×".join(str(x) for x in v)
    return str(v)
