"""Graph -> Keras model: the seeds' numbers, several inputs/outputs, freezing, incremental rebuilds."""

import json

import numpy as np
import pytest

from builder.kerasenv import load_keras
from builder.model.build import BuildError, ModelBuilder, build, build_model
from builder.model.graph import Edge, Graph, Node
from builder.model.summary import summarize, summary_text
from builder.model.templates import TEMPLATES, template
from tests.layer_cases import all_cases, case_graph

keras = load_keras()


def test_seed_cifar_cnn_has_122570_params():
    s = summarize(build(template("cifar_cnn")))
    assert (s.total_params, s.trainable_params, s.non_trainable_params) == (122570, 122570, 0)
    assert [r.output_shape for r in s.rows][-1] == (None, 10)


def test_seed_mlp_has_225_params():
    assert summarize(build(template("mlp"))).total_params == 225


def test_seed_single_layers():
    g = Graph((Node("x", "Input", {"shape": [100]}), Node("d", "Dense", {"units": 64})), (Edge("x", "d"),))
    assert summarize(build(g)).total_params == 6464
    g = Graph((Node("x", "Input", {"shape": [32, 32, 3]}), Node("c", "Conv2D", {"filters": 32, "kernel_size": [3, 3]})), (Edge("x", "c"),))
    result = build(g)
    assert summarize(result).total_params == 896 and result.infos["c"].formula == "3×3×3×32 + 32 = 896"


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_every_template_builds_with_its_names(key):
    g = template(key)
    result = build(g)
    assert result.errors == [], [i.line() for i in result.errors]
    model = result.model
    assert sorted(layer.name for layer in model.layers) == sorted(g.ids())
    assert summarize(result).total_params == model.count_params()


def test_layer_names_are_node_ids_even_in_other_threads():
    import threading

    names = []
    t = threading.Thread(target=lambda: names.extend(layer.name for layer in build_model(template("mlp")).layers))
    t.start()
    t.join()
    assert names == ["input", "dense", "dense_1", "output"]


def test_two_inputs_and_two_outputs():
    m = build_model(template("two_inputs"))
    assert [t.shape for t in m.inputs] == [(None, 8, 8, 1), (None, 4)]
    out = m.predict([np.zeros((2, 8, 8, 1)), np.zeros((2, 4))], verbose=0)
    assert out.shape == (2, 10)
    m2 = build_model(template("two_outputs"))
    assert [o.shape for o in m2.outputs] == [(None, 3), (None, 1)]


def test_ports_decide_input_order():
    nodes = (Node("a", "Input", {"shape": [4]}), Node("b", "Input", {"shape": [4]}), Node("sub", "Subtract", {}))
    fwd = build_model(Graph(nodes, (Edge("a", "sub", 0), Edge("b", "sub", 1))))
    rev = build_model(Graph(nodes, (Edge("a", "sub", 1), Edge("b", "sub", 0))))
    a, b = np.ones((1, 4)), np.full((1, 4), 3.0)
    assert fwd.predict([a, b], verbose=0)[0, 0] == -2.0
    assert rev.predict([a, b], verbose=0)[0, 0] == 2.0


def test_multi_head_attention_ports_query_value_key():
    nodes = (Node("q", "Input", {"shape": [5, 8]}), Node("v", "Input", {"shape": [7, 6]}),
             Node("mha", "MultiHeadAttention", {"num_heads": 2, "key_dim": 4}))
    m = build_model(Graph(nodes, (Edge("v", "mha", 1), Edge("q", "mha", 0))))
    assert m.output.shape == (None, 5, 8)  # the query's length and width


def test_frozen_layers_count_as_non_trainable():
    g = template("cifar_cnn").set_trainable("conv2d", False).set_trainable("dense", False)
    s = summarize(build(g))
    assert s.non_trainable_params == 896 + 65600
    assert s.trainable_params == 122570 - 896 - 65600
    assert [r.trainable for r in s.rows if r.name in ("conv2d", "dense")] == [False, False]


def test_freezing_a_kept_layer_in_the_editor_moves_its_count():
    builder = ModelBuilder()
    g = template("cifar_cnn")
    assert summarize(builder.build(g)).non_trainable_params == 0
    frozen = builder.build(g.set_trainable("dense", False))  # the same layer, kept: counted again as frozen
    assert (summarize(frozen).non_trainable_params, frozen.infos["dense"].trainable_params) == (65600, 0)
    again = builder.build(g)
    assert (summarize(again).non_trainable_params, again.infos["dense"].trainable_params) == (0, 65600)


def test_batchnorm_statistics_are_non_trainable():
    g = Graph((Node("x", "Input", {"shape": [8, 8, 16]}), Node("bn", "BatchNormalization", {})), (Edge("x", "bn"),))
    s = summarize(build(g))
    assert (s.total_params, s.trainable_params, s.non_trainable_params) == (64, 32, 32)


def test_summary_text_and_json_rows():
    result = build(template("mlp"))
    text = summary_text(result.model)
    assert 'Model: "mlp"' in text and "Total params: 225" in text and "output (Dense)" in text
    js = summarize(result).to_json()
    assert js["total_params"] == 225
    assert js["layers"][1] == {"name": "dense", "type": "Dense", "output_shape": [None, 16], "params": 80, "trainable": True}
    json.dumps(js)


def test_summary_ignores_optimizer_variables_after_training():
    result = build(template("mlp"))
    m = result.model
    m.compile(optimizer="adam", loss=keras.losses.MeanSquaredError())
    m.fit(np.zeros((8, 4)), np.zeros((8, 1)), epochs=1, verbose=0)
    assert summarize(result).total_params == 225


def test_build_model_raises_build_error_with_issues():
    g = Graph((Node("x", "Input", {"shape": [4]}), Node("d", "Dense", {"units": -1})), (Edge("x", "d"),))
    with pytest.raises(BuildError) as e:
        build_model(g)
    assert e.value.node_id == "d" and e.value.issues[0].code == "bad_param"


def _config(model) -> str:
    return json.dumps(model.get_config(), sort_keys=True, default=str)


def test_incremental_rebuild_equals_fresh_build_and_keeps_upstream_weights():
    builder = ModelBuilder()
    g = template("cifar_cnn")
    first = builder.build(g).model
    kernel = first.get_layer("conv2d").get_weights()[0]
    head_kernel = first.get_layer("head").get_weights()[0]
    g2 = g.set_param("dense", "units", 32)
    second = builder.build(g2).model
    assert _config(second) == _config(build_model(g2))
    assert second.count_params() == build_model(g2).count_params()
    np.testing.assert_array_equal(second.get_layer("conv2d").get_weights()[0], kernel)  # upstream: same layer
    assert second.get_layer("head").get_weights()[0].shape == (32, 10)  # its input changed: new layer
    g3 = g2.set_param("dense", "activation", "tanh")  # dense's output shape unchanged: head is called again
    third = builder.build(g3).model
    np.testing.assert_array_equal(third.get_layer("conv2d").get_weights()[0], kernel)
    assert _config(third) == _config(build_model(g3))
    assert head_kernel.shape == (64, 10)


def test_an_edit_calls_no_layer_after_it_whose_input_is_unchanged_until_the_model_is_asked_for():
    nodes = [Node("input", "Input", {"shape": [64]})] + [
        Node(f"n{i}", "Dense", {"units": 64}) if i % 2 == 0 else Node(f"n{i}", "Dropout", {"rate": 0.1})
        for i in range(50)]
    g = Graph(tuple(nodes), tuple(Edge(a.id, b.id) for a, b in zip(nodes, nodes[1:], strict=False)))
    builder = ModelBuilder()
    builder.build(g).model  # noqa: B018
    last = builder.build(g).model.get_layer("n48")
    calls = len(last._inbound_nodes)
    edited = builder.build(g.set_param("n24", "units", 65))
    assert len(last._inbound_nodes) == calls  # counted, shaped, not called
    assert summarize(edited).total_params == build_model(g.set_param("n24", "units", 65)).count_params()
    assert edited.infos["n48"].output_shape == (None, 64) and edited.infos["n25"].output_shape == (None, 65)
    model = edited.model
    assert len(last._inbound_nodes) == calls + 1 and model.get_layer("n48") is last
    assert _config(model) == _config(build_model(g.set_param("n24", "units", 65)))


def _sample(model, rng):
    xs = []
    for t in model.inputs:
        shape = [2] + [5 if d is None else d for d in t.shape[1:]]
        xs.append(rng.integers(0, 3, size=shape).astype(t.dtype) if "int" in str(t.dtype)
                  else rng.normal(size=shape).astype(t.dtype))
    return xs[0] if len(xs) == 1 else xs


@pytest.mark.parametrize("case_id,type_,inputs,params", list(all_cases()), ids=[c[0] for c in all_cases()])
def test_the_editor_makes_a_new_layers_weights_only_with_the_model(case_id, type_, inputs, params):
    from keras.src.backend.common import global_state

    graph = case_graph(type_, inputs, params)
    builder = ModelBuilder()
    result = builder.build(graph)
    assert result.errors == [], [i.message for i in result.errors]
    layer = next((entry[0] for entry in builder._layers.values() if entry[0].name == "layer"), None)
    if layer is not None and layer.variables:  # shapes and counts without a single initial value (seeds too)
        assert all(v._value is None for v in layer.variables), case_id
        assert result.infos["layer"].params == sum(int(np.prod(v.shape)) for v in layer.weights)
    assert not global_state.get_global_attribute("uninitialized_variables")  # Keras's own list is left empty
    model = result.model
    assert all(v._value is not None for v in model.variables)
    fresh = build(graph).model
    fresh.set_weights(model.get_weights())
    x = _sample(model, np.random.default_rng(1))
    for a, b in zip(keras.tree.flatten(model(x, training=False)), keras.tree.flatten(fresh(x, training=False)),
                    strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    model.compile(optimizer="sgd", loss="mse")  # and it trains: its variables are real ones
    ys = keras.tree.map_structure(np.zeros_like, keras.tree.map_structure(np.asarray, model(x, training=False)))
    if all(np.issubdtype(np.asarray(y).dtype, np.floating) for y in keras.tree.flatten(ys)):
        assert np.isfinite(model.train_on_batch(x, ys))


def test_incremental_rebuild_reuses_layers_only_a_bounded_number_of_times():
    builder = ModelBuilder()
    g = template("mlp")
    builder.build(g)
    w = builder.build(g).model.get_layer("output").get_weights()[0]
    for i in range(20):  # each edit calls 'output' again; history must not grow without bound
        model = builder.build(g.set_param("dense", "activation", ["relu", "tanh"][i % 2])).model
    layer = model.get_layer("output")
    assert len(layer._inbound_nodes) <= 8
    np.testing.assert_array_equal(layer.get_weights()[0], w)  # replaced layers carry the weights over
    assert _config(model) == _config(build_model(g.set_param("dense", "activation", "tanh")))


def test_rebuilt_model_predicts_like_a_fresh_one_with_same_weights():
    builder = ModelBuilder()
    g = template("small_resnet")
    builder.build(g)
    g2 = g.set_param("head", "units", 5)
    inc = builder.build(g2).model
    fresh = build_model(g2)
    fresh.set_weights(inc.get_weights())
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(inc.predict(x, verbose=0), fresh.predict(x, verbose=0), rtol=1e-6)


def test_a_model_refused_over_kept_layers_is_built_again_from_scratch():
    import keras

    from builder.model.build import ModelBuilder

    graph = template("iris_mlp")
    builder = ModelBuilder()
    assert builder.build(graph).model is not None
    # A stale kept Input: same name, another layer object (the state behind 'The name "input" is used 2 times').
    sig, (_layer, tensor, info, _linked) = next((s, v) for s, v in builder._tensors.items() if v[0] is None)
    builder._tensors[sig] = [None, keras.Input(shape=tensor.shape[1:], name=tensor.name.split(":")[0]), info, True]
    edited = graph.set_param("output", "units", 4)
    result = builder.build(edited)
    assert result.model is not None, [i.message for i in result.issues]
    assert builder.fresh_builds == 1 and not result.errors
    assert result.model.count_params() == build(edited).model.count_params()


def test_incremental_rebuild_keeps_the_warnings_of_kept_layers():
    g = Graph((Node("x", "Input", {"shape": [8, 8, 1]}), Node("dense", "Dense", {"units": 4}), Node("dense_1", "Dense", {"units": 2})),
              (Edge("x", "dense"), Edge("dense", "dense_1")))
    builder = ModelBuilder()
    first = [(i.node_id, i.code, i.fix) for i in builder.build(g).issues]
    assert [(n, c) for n, c, _ in first] == [("dense", "flat_hint"), ("dense_1", "flat_hint")]
    assert [(i.node_id, i.code, i.fix) for i in builder.build(g).issues] == first  # every tensor kept
    edited = builder.build(g.set_param("dense_1", "units", 3))  # 'dense' kept, 'dense_1' new
    assert [(i.node_id, i.code, i.fix) for i in edited.issues] == first
