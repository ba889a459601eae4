"""Normalization's statistics from data: what `keras.layers.Normalization.adapt` computes, written into the graph.

A Normalization node without `mean` and `variance` keeps them as non-trainable weights (2 × channels + 1, as
Keras counts them), which an imported model brings along. `adapt_normalization` instead computes them from a
dataset and sets them as the node's params: the graph file, its generated code and every export then carry them,
and the layer has no weights.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from builder.model.catalog import LAYERS
from builder.model.graph import Graph, GraphError, describe

MAX_ADAPT_SAMPLES = 10_000  # enough for a mean and a variance; a larger dataset is sampled evenly


def adapt_normalization(graph: Graph, node_id: str, x: Any, batch_size: int = 256,
                        max_samples: int = MAX_ADAPT_SAMPLES) -> Graph:
    """The graph with Normalization `node_id`'s mean and variance computed from the data `x`.

    The statistics are those of what reaches the node: `x` passed through the layers before it (a Rescaling
    first, say), along the node's own `axis`.

    Args:
        graph: A graph whose layers up to the node build.
        node_id: A Normalization node.
        x: The model's input data (a list of arrays for several inputs), samples first.
        batch_size: Samples per step through the layers before the node.
        max_samples: At most this many samples, taken evenly from `x`.

    Returns:
        A new graph; `graph` is unchanged.

    Raises:
        GraphError: the node is not a Normalization, the layers before it do not build, or `x` does not fit the
            model's inputs.
    """
    from builder.kerasenv import load_keras
    from builder.model.build import build

    node = graph.node(node_id)
    spec = LAYERS.get(node.type)
    if spec is None or not spec.adapts:  # the catalog says which layers adapt (house rule 2)
        raise GraphError(f"{describe(node)} is not a Normalization layer: only Normalization adapts to data", node_id)
    result = build(graph)
    if result.model is None:
        why = f": {result.errors[0].message}" if result.errors else ""
        raise GraphError(f"{describe(node)} cannot adapt while the model does not build{why}", node_id)
    keras = load_keras()
    inputs = list(x) if isinstance(x, (list, tuple)) else [x]
    if len(inputs) != len(graph.input_ids()):
        raise GraphError(f"{describe(node)}: the model has {len(graph.input_ids())} input(s) but the data gives "
                         f"{len(inputs)}: give one array per Input", node_id)
    n = len(inputs[0])
    if n == 0 or any(len(a) != n for a in inputs):
        raise GraphError(f"{describe(node)}: the data has no samples, or its inputs differ in length", node_id)
    pick = np.linspace(0, n - 1, min(n, max_samples)).astype(int)
    inputs = [np.asarray(a)[pick] for a in inputs]
    model = keras.Model(result.model.inputs, result.model.get_layer(node_id).input)  # what reaches the node
    try:
        feed = inputs[0] if len(inputs) == 1 else inputs
        reached = model.predict(feed, batch_size=batch_size, verbose=0)
    except Exception as e:  # noqa: BLE001 - Keras's refusal of the data, in one line
        shapes = ", ".join(str(tuple(a.shape[1:])) for a in inputs)
        raise GraphError(f"{describe(node)}: the data (samples of {shapes}) does not fit the model's input: "
                         f"{str(e).splitlines()[0][:160]}", node_id) from None
    params = dict(node.params)
    probe = keras.layers.Normalization(axis=_axis(params.get("axis", -1)))
    probe.adapt(reached)
    # adapt_mean and adapt_variance have the kept axes' sizes: the shape the `mean` and `variance` params take
    params["mean"] = np.asarray(probe.adapt_mean, dtype="float64").tolist()
    params["variance"] = np.asarray(probe.adapt_variance, dtype="float64").tolist()
    return graph.set_params(node_id, params)


def _axis(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value
