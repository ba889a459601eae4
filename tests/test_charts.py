"""The plotly figures: valid for plotly (the live curves skip its validation), with the traces they promise."""

import plotly.graph_objects as go
from hypothesis import given, settings
from hypothesis import strategies as st

from components import charts

finite = st.floats(-1e6, 1e6, allow_nan=False)


@settings(max_examples=15, deadline=None)
@given(epochs=st.integers(0, 30), batches=st.integers(0, 200), val=st.booleans(), value=finite)
def test_curve_is_a_valid_figure_with_one_trace_per_series(epochs, batches, val, value):
    history = [{"epoch": e + 1, "loss": value, **({"val_loss": value / 2} if val else {})} for e in range(epochs)]
    points = [{"epoch": b / 10, "loss": value} for b in range(batches)]
    fig = charts.curve("loss", history, points)
    checked = go.Figure(fig.to_dict())  # plotly's validation: raises on any bad property
    names = [t.name for t in checked.data]
    assert names == ([*(["train loss (batches)"] if batches else []), *(["train loss"] if epochs else []),
                      *(["validation loss"] if val and epochs else [])])
    if epochs:
        assert list(checked.data[names.index("train loss")].x) == list(range(1, epochs + 1))
    assert checked.layout.title.text == "loss" and checked.layout.xaxis.title.text == "epoch"
    assert checked.layout.height == 300 and checked.layout.hovermode == "x unified"


def test_other_charts_validate_and_escape_user_text():
    for fig in [charts.confusion([[3, 1], [0, 4]], ["<b>a</b>", "b"]), charts.class_balance({"x<y": 3, "b": 5})]:
        checked = go.Figure(fig.to_dict())
        assert checked.layout.height >= 260
        assert "<b>" not in str(checked.to_dict()["data"])


def test_a_fine_tuning_run_continues_the_epochs_of_the_run_before_with_a_marked_boundary():
    phase1 = [{"epoch": e, "loss": 1.0 / e, "val_loss": 1.1 / e} for e in (1, 2, 3)]
    phase2 = [{"epoch": e, "loss": 0.2 / e} for e in (1, 2)]
    batches = [{"epoch": 0.5, "loss": 0.3}, {"epoch": 1.5, "loss": 0.15}]
    history, points, marks = charts.join_phases([{"history": phase1, "label": None}], phase2, batches,
                                                "fine-tuning: top 2 unfrozen")
    assert [r["epoch"] for r in history] == [1, 2, 3, 4, 5] and history[3]["loss"] == 0.2
    assert [p["epoch"] for p in points] == [3.5, 4.5] and batches[0]["epoch"] == 0.5  # the input is not changed
    assert marks == [(3, "fine-tuning: top 2 unfrozen")]
    fig = go.Figure(charts.curve("loss", history, points, marks).to_dict())
    assert list(fig.data[1].x) == [1, 2, 3, 4, 5] and list(fig.data[2].x) == [1, 2, 3]
    assert [(s.x0, s.x1, s.line.dash) for s in fig.layout.shapes] == [(3, 3, "dash")]
    assert [a.text for a in fig.layout.annotations] == ["fine-tuning: top 2 unfrozen"]
    # a third phase: two boundaries; a run that continues nothing is drawn as it is
    h3, _, m3 = charts.join_phases([{"history": phase1, "label": None}, {"history": phase2, "label": "top 2"}],
                                   phase2, [], "top 4")
    assert [r["epoch"] for r in h3] == [1, 2, 3, 4, 5, 6, 7] and m3 == [(3, "top 2"), (5, "top 4")]
    assert charts.join_phases([], phase2, batches, None) == (phase2, batches, [])
    assert not go.Figure(charts.curve("loss", phase2, []).to_dict()).layout.shapes


def test_the_gradient_norm_axis_is_labelled_at_powers_of_ten_only():
    rows = [{"layer": layer, "epoch": e, "weight_norm": 3.0, "grad_norm": g * 0.7 ** e}
            for layer, g in (("conv", 0.09), ("head", 0.15)) for e in range(6)]
    fig = go.Figure(charts.norms(rows, "grad_norm", "Gradient norm").to_dict())
    y = fig.layout.yaxis
    # dtick 1 on a log axis: a tick at each power of ten, none at 2 and 5 (plotly's default labels those with
    # bare digits: "5, 2, 0.1, 5, 2, 0.01"); labels as 10^k, whole decades from 0.01 to 1
    assert y.type == "log" and y.dtick == 1 and y.exponentformat == "power"
    assert [round(v) for v in y.range] == [-2, 0] and y.range[0] < -2 and y.range[1] > 0
    assert [t.name for t in fig.data] == ["conv", "head"] and list(fig.data[0].x) == list(range(6))
    # values within one decade still get two labelled ticks; no positive value: no range
    assert [round(v) for v in charts.log_axis([0.031, 0.05])["range"]] == [-2, -1]
    assert [round(v) for v in charts.log_axis([10.0])["range"]] == [1, 2]
    assert "range" not in charts.log_axis([0.0, None, float("nan")])
    wide = charts.log_axis([1e-12, 1e4])  # 16 decades: a label every second power, so they do not crowd
    assert wide["dtick"] == 2 and [round(v) for v in wide["range"]] == [-12, 4]
    weights = go.Figure(charts.norms(rows, "weight_norm", "Weight norm").to_dict())
    assert weights.layout.yaxis.type in (None, "-", "linear")


def test_a_short_run_gets_a_tick_per_epoch_and_a_long_one_plotlys_own():
    short = charts.curve("loss", [{"epoch": 1, "loss": 2.0}, {"epoch": 2, "loss": 1.0}], [])
    assert short.layout.xaxis.dtick == 1 and short.layout.xaxis.tickmode == "linear"
    long = charts.curve("loss", [{"epoch": e, "loss": 1.0 / e} for e in range(1, 51)], [])
    assert long.layout.xaxis.dtick is None
    go.Figure(short.to_dict())  # still a valid figure
