"""Normalization adapted to data: the statistics become the node's params and match Keras's own adapt."""

from itertools import pairwise

import numpy as np
import pytest

from builder.data.adapt import adapt_normalization
from builder.files.codegen import generate_code
from builder.kerasenv import load_keras
from builder.model.build import build_model
from builder.model.graph import Edge, Graph, GraphError, Node

keras = load_keras()


def chain(shape, *nodes):
    ns = [Node("x", "Input", {"shape": list(shape)}), *nodes]
    return Graph(tuple(ns), tuple(Edge(a.id, b.id) for a, b in pairwise(ns)), name="adapt")


@pytest.mark.parametrize("params,stat_shape", [({}, (3,)), ({"axis": None}, ()), ({"axis": [1, 2]}, (4, 5))])
def test_adapted_statistics_are_what_keras_computes_from_what_reaches_the_node(params, stat_shape):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (40, 4, 5, 3)).astype("float32")
    g = chain((4, 5, 3), Node("scale", "Rescaling", {"scale": 1 / 255}), Node("norm", "Normalization", params))
    adapted = adapt_normalization(g, "norm", x)
    got = adapted.node("norm").params
    assert np.shape(got["mean"]) == np.shape(got["variance"]) == stat_shape
    reference = keras.layers.Normalization(**{k: tuple(v) if isinstance(v, list) else v for k, v in params.items()})
    reference.adapt(x / 255)
    np.testing.assert_allclose(got["mean"], np.asarray(reference.adapt_mean), rtol=1e-5)
    np.testing.assert_allclose(got["variance"], np.asarray(reference.adapt_variance), rtol=1e-5)
    model = build_model(adapted)
    assert model.get_layer("norm").count_params() == 0  # constants now, not weights
    out = model.predict(x, verbose=0)
    np.testing.assert_allclose(out, reference(x / 255), atol=1e-4)
    scope: dict = {}
    exec(compile(generate_code(adapted), "<generated>", "exec"), scope)
    np.testing.assert_allclose(scope["build_model"]().predict(x, verbose=0), out, atol=1e-6)
    assert g.node("norm").params == params  # the graph given is unchanged


def test_adapt_refuses_what_it_cannot_do():
    g = chain((3,), Node("dense", "Dense", {"units": 2}), Node("norm", "Normalization", {}))
    with pytest.raises(GraphError, match="Dense 'dense' is not a Normalization layer"):
        adapt_normalization(g, "dense", np.zeros((4, 3)))
    with pytest.raises(GraphError, match=r"does not fit the model's input"):
        adapt_normalization(g, "norm", np.zeros((4, 7)))
    with pytest.raises(GraphError, match="1 input\\(s\\) but the data gives 2"):
        adapt_normalization(g, "norm", [np.zeros((4, 3)), np.zeros((4, 3))])
    broken = g.set_params("norm", {"axis": 5})  # an axis its input lacks
    with pytest.raises(GraphError, match="cannot adapt while the model does not build: Normalization 'norm'"):
        adapt_normalization(broken, "norm", np.zeros((4, 3)))
