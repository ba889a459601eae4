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
