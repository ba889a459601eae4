"""AppTest: the Export page's note on a model with imported or earlier weights counts only layers that have
weights, and names the ones still untrained."""

import numpy as np

from builder.model.build import build_model
from builder.model.templates import template
from components import state
from components.training_panel import WEIGHTS
from tests.test_app_build import fresh_browser, messages, run_app


def export_note(graph, weights) -> str:
    at = run_app(browser=fresh_browser())
    at.session_state[state.GRAPH] = graph
    at.session_state[WEIGHTS] = weights
    at.switch_page("pages/export.py").run()
    assert not at.exception, [e.value for e in at.exception]
    (note,) = [m for m in messages(at.info) if "weights" in m or "trained" in m]
    return note


def trained_weights(graph) -> dict:
    """What "Open in editor" on a run gives the session: the run model's weights, for the layers that have any."""
    model = build_model(graph)
    return {layer.name: [w + 0.5 for w in layer.get_weights()] for layer in model.layers if layer.weights}


def test_every_layer_with_weights_trained_says_nothing_of_other_layers():
    graph = template("digits_cnn")  # Input, MaxPooling2D, Flatten and Dropout have no weights
    weights = trained_weights(graph)
    assert sorted(weights) == ["conv2d", "conv2d_1", "dense", "head"]
    assert len(graph.ids()) > len(weights)
    note = export_note(graph, weights)
    assert note == "The current graph with the weights imported or trained before (4 layers)."


def test_untrained_layers_with_weights_are_named():
    graph = template("digits_cnn")
    weights = trained_weights(graph)
    del weights["head"]
    weights["flatten"] = []  # a layer without weights "loads" nothing: it is not counted
    note = export_note(graph, weights)
    assert note == "The current graph with the weights imported or trained before (3 layers); not trained yet: head."


def test_a_note_names_at_most_five_untrained_layers():
    from types import SimpleNamespace as Layer

    from components.export_panel import weights_note

    layers = [Layer(name="input", weights=[]), *(Layer(name=f"d{i}", weights=[np.zeros(1)]) for i in range(8)),
              Layer(name="drop", weights=[])]
    model = Layer(layers=layers)

    assert weights_note(model, ["input", "drop"]) is None  # no layer with weights got any: not trained
    assert weights_note(model, ["d0", "drop"]) == ("The current graph with the weights imported or trained before "
                                                      "(1 layer); not trained yet: d1, d2, d3, d4, d5 and 2 more.")
