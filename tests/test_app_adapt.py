"""AppTest: a Normalization layer adapted to the chosen dataset from its inspector."""

import numpy as np
import pytest

from builder.data import datasets
from builder.kerasenv import load_keras
from components import state
from tests.test_app_build import press, run_app, set_graph


@pytest.fixture(autouse=True, scope="module")
def keras_loaded():
    load_keras()


def test_adapt_sets_the_mean_and_variance_of_the_training_data():
    at = run_app()
    graph, _ = at.session_state[state.GRAPH].insert_between("input", "dense", "Normalization", {"axis": -1})
    set_graph(at, graph)
    at.session_state[state.SELECTED] = "normalization"
    at.run()
    at.button(key="adapt:normalization").click().run()
    assert not at.exception, [e.value for e in at.exception]
    params = at.session_state[state.GRAPH].node("normalization").params
    x = datasets.load("iris").x_train
    np.testing.assert_allclose(params["mean"], x.mean(axis=0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(params["variance"], x.var(axis=0), rtol=1e-3, atol=1e-5)
    at.switch_page("pages/build.py").run()
    press(at, "undo")
    assert "mean" not in at.session_state[state.GRAPH].node("normalization").params
