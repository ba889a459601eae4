"""One test per class of validation issue: the node it is pinned to, the message, and the fix."""

import itertools

import pytest

from builder.model.build import ModelBuilder, build, validate
from builder.model.graph import Edge, Graph, Node
from builder.model.validate import apply_fix, check_structure


def g_of(nodes, edges, **kw) -> Graph:
    return Graph(tuple(Node(*n) for n in nodes), tuple(Edge(*e) for e in edges), **kw)


def only(issues, code):
    found = [i for i in issues if i.code == code]
    assert found, f"no {code} issue in {[i.line() for i in issues]}"
    return found[0]


def fixed_builds(graph, issue):
    """Applying the issue's fix gives a graph without errors."""
    assert issue.fix is not None
    fixed = apply_fix(graph, issue.fix)
    result = build(fixed)
    assert result.errors == [], [i.line() for i in result.errors]
    return fixed


def test_no_input():
    g = g_of([("d", "Dense", {"units": 2})], [])
    i = only(check_structure(g), "no_input")
    assert i.node_id is None and "no Input" in i.message
    assert apply_fix(g, i.fix).input_ids() == ["input"]


def test_unknown_type_suggests_the_closest():
    g = g_of([("x", "Input", {"shape": [4]}), ("d", "Dense2", {})], [("x", "d")])
    i = only(check_structure(g), "unknown_type")
    assert i.node_id == "d" and "'Dense'" in i.message


def test_unknown_param_names_it_and_removes_it():
    g = g_of([("x", "Input", {"shape": [4]}), ("d", "Dense", {"units": 2, "unitz": 3})], [("x", "d")])
    i = only(check_structure(g), "unknown_param")
    assert i.node_id == "d" and "'unitz'" in i.message and "did you mean 'units'" in i.message
    fixed_builds(g, i)


@pytest.mark.parametrize(
    "params,fragment",
    [
        ({"units": "64"}, "got '64'"),
        ({"units": -5}, "got -5"),
        ({"units": 4, "activation": "relu6x"}, "got 'relu6x'"),
        ({"units": 4, "use_bias": "yes"}, "got 'yes'"),
    ],
)
def test_bad_param_value_names_node_param_and_value(params, fragment):
    g = g_of([("x", "Input", {"shape": [4]}), ("head", "Dense", params)], [("x", "head")])
    i = only(check_structure(g), "bad_param")
    assert i.node_id == "head" and i.message.startswith("Dense 'head'") and fragment in i.message
    fixed_builds(g, i)


def test_input_shape_with_zero_or_negative():
    for shape in ([28, 0], [-1, 3]):
        g = g_of([("x", "Input", {"shape": shape}), ("d", "Dense", {"units": 1})], [("x", "d")])
        i = only(check_structure(g), "bad_param")
        assert i.node_id == "x" and str(shape[0] if shape[0] < 1 else shape[1]) in i.message


def test_missing_required_param():
    g = g_of([("x", "Input", {"shape": [4]}), ("d", "Dense", {})], [("x", "d")])
    i = only(check_structure(g), "missing_param")
    assert i.node_id == "d" and "'units'" in i.message
    fixed_builds(g, i)


def test_wrapped_layer_params_are_checked():
    g = g_of([("x", "Input", {"shape": [5, 3]}), ("bi", "Bidirectional", {"layer": {"type": "LSTM", "params": {"units": 0}}})], [("x", "bi")])
    i = only(check_structure(g), "bad_param")
    assert i.node_id == "bi" and "wrapped LSTM" in i.message


def test_edge_to_missing_node():
    g = g_of([("x", "Input", {"shape": [4]}), ("d", "Dense", {"units": 1})], [("x", "d"), ("ghost", "d")])
    i = only(check_structure(g), "bad_edge")
    assert i.node_id == "d" and "'ghost'" in i.message


def test_port_out_of_range_or_repeated():
    nodes = [("a", "Input", {"shape": [4]}), ("b", "Input", {"shape": [4]}), ("add", "Add", {})]
    for ports in ((0, 5), (1, 1)):
        g = g_of(nodes, [("a", "add", ports[0]), ("b", "add", ports[1])])
        i = only(check_structure(g), "port")
        assert i.node_id == "add" and "0 to 1" in i.message
        fixed_builds(g, i)


@pytest.mark.parametrize(
    "nodes,edges,node,fragment",
    [
        ([("x", "Input", {"shape": [4]}), ("d", "Dense", {"units": 1})], [], "d", "has no input"),
        ([("x", "Input", {"shape": [4]}), ("y", "Input", {"shape": [4]}), ("d", "Dense", {"units": 1})], [("x", "d"), ("y", "d")], "d", "takes 1 input, got 2"),
        ([("x", "Input", {"shape": [4]}), ("add", "Add", {})], [("x", "add")], "add", "at least 2 inputs, got 1"),
        ([("x", "Input", {"shape": [4]}), ("y", "Input", {"shape": [4]})], [("x", "y")], "y", "takes no inputs"),
    ],
)
def test_wrong_number_of_inputs(nodes, edges, node, fragment):
    i = only(check_structure(g_of(nodes, edges)), "arity")
    assert i.node_id == node and fragment in i.message


def test_cycle_is_pinned_to_its_nodes_and_fixable():
    g = g_of(
        [("x", "Input", {"shape": [4]}), ("a", "Dense", {"units": 4}), ("b", "Dense", {"units": 4}), ("add", "Add", {})],
        [("x", "add", 0), ("b", "add", 1), ("add", "a"), ("a", "b")],
    )
    issues = [i for i in check_structure(g) if i.code == "cycle"]
    assert {i.node_id for i in issues} == {"a", "b", "add"}
    assert "cycle" in issues[0].message
    fixed = apply_fix(g, issues[0].fix)
    assert [i.code for i in check_structure(fixed) if i.code == "cycle"] == []


def test_outputs_that_do_not_exist_and_unused_nodes():
    g = g_of([("x", "Input", {"shape": [4]}), ("a", "Dense", {"units": 2}), ("b", "Dense", {"units": 2})],
             [("x", "a"), ("x", "b")], outputs=("a",))
    i = only(check_structure(g), "unused")
    assert i.node_id == "b" and i.severity == "warning"
    assert build(g).model is not None  # a warning does not stop the build
    g2 = g_of([("x", "Input", {"shape": [4]})], [], outputs=("zzz",))
    assert "'zzz'" in only(check_structure(g2), "bad_output").message


def test_input_not_connected_is_a_warning():
    g = g_of([("x", "Input", {"shape": [4]}), ("y", "Input", {"shape": [3]}), ("d", "Dense", {"units": 1})], [("x", "d")])
    i = only(check_structure(g), "disconnected")
    assert i.node_id == "y" and i.severity == "warning"


def test_conv2d_on_flat_input_needs_reshape():
    g = g_of([("x", "Input", {"shape": [784]}), ("conv1", "Conv2D", {"filters": 8, "kernel_size": 3})], [("x", "conv1")])
    i = only(validate(g), "rank")
    assert i.node_id == "conv1"
    assert "(None, 784)" in i.message and "Reshape" in i.message
    fixed = fixed_builds(g, i)
    reshape = next(n for n in fixed.nodes if n.type == "Reshape")
    assert reshape.params["target_shape"] == [28, 28, 1]


def test_recurrent_layer_on_2d_data_after_lstm_sets_return_sequences():
    g = g_of([("x", "Input", {"shape": [10, 3]}), ("l1", "LSTM", {"units": 4}), ("l2", "LSTM", {"units": 4})], [("x", "l1"), ("l1", "l2")])
    i = only(validate(g), "rank")
    assert i.node_id == "l2" and "(None, 4)" in i.message and "return_sequences" in i.message
    fixed = fixed_builds(g, i)
    assert fixed.node("l1").params["return_sequences"] is True


def test_recurrent_layer_after_bidirectional_sets_inner_return_sequences():
    g = g_of([("x", "Input", {"shape": [10, 3]}), ("bi", "Bidirectional", {"layer": {"type": "GRU", "params": {"units": 4}}}),
              ("l2", "LSTM", {"units": 4})], [("x", "bi"), ("bi", "l2")])
    fixed = fixed_builds(g, only(validate(g), "rank"))
    assert fixed.node("bi").params["layer"]["params"]["return_sequences"] is True


def test_recurrent_layer_on_plain_features_gets_reshape():
    g = g_of([("x", "Input", {"shape": [6]}), ("rnn", "SimpleRNN", {"units": 4})], [("x", "rnn")])
    i = only(validate(g), "rank")
    assert "(batch, steps, features)" in i.message
    fixed_builds(g, i)


def test_add_with_mismatched_shapes_names_both_inputs():
    g = g_of(
        [("x", "Input", {"shape": [8, 8, 3]}), ("conv_a", "Conv2D", {"filters": 4, "kernel_size": 1}),
         ("conv_b", "Conv2D", {"filters": 5, "kernel_size": 1}), ("add", "Add", {})],
        [("x", "conv_a"), ("x", "conv_b"), ("conv_a", "add", 0), ("conv_b", "add", 1)],
    )
    i = only(validate(g), "merge_shape")
    assert i.node_id == "add"
    assert "conv_a (None, 8, 8, 4)" in i.message and "conv_b (None, 8, 8, 5)" in i.message


def test_concatenate_with_mismatched_shapes():
    g = g_of([("a", "Input", {"shape": [4, 5]}), ("b", "Input", {"shape": [3, 6]}), ("cat", "Concatenate", {})],
             [("a", "cat", 0), ("b", "cat", 1)])
    i = only(validate(g), "merge_shape")
    assert i.node_id == "cat" and "a (None, 4, 5)" in i.message and "b (None, 3, 6)" in i.message


@pytest.mark.parametrize("type_,params", [("Conv2D", {"filters": 4, "kernel_size": 9}), ("MaxPooling2D", {"pool_size": [16, 16]})])
def test_kernel_larger_than_input(type_, params):
    g = g_of([("x", "Input", {"shape": [8, 8, 3]}), ("big", type_, params)], [("x", "big")])
    i = only(validate(g), "window")
    assert i.node_id == "big" and "larger than the input" in i.message and "(None, 8, 8, 3)" in i.message
    fixed_builds(g, i)


def test_keras_shape_errors_are_pinned_and_explained():
    g = g_of([("x", "Input", {"shape": [12]}), ("r", "Reshape", {"target_shape": [5, 5]})], [("x", "r")])
    i = only(validate(g), "shape")
    assert i.node_id == "r" and i.message.startswith("Reshape 'r' got (None, 12)")
    assert "\n" not in i.message


def test_dense_on_images_warns_and_offers_flatten():
    g = g_of([("x", "Input", {"shape": [13, 13, 64]}), ("head", "Dense", {"units": 10})], [("x", "head")])
    i = only(validate(g), "flat_hint")
    assert i.severity == "warning" and "Dense 'head' got (None, 13, 13, 64)" in i.message and "Flatten" in i.fix.label
    fixed = apply_fix(g, i.fix)
    assert build(fixed).model.output.shape == (None, 10)


def test_huge_layer_is_refused_before_allocating():
    g = g_of([("x", "Input", {"shape": [224, 224, 3]}), ("flat", "Flatten", {}), ("huge", "Dense", {"units": 10**7})],
             [("x", "flat"), ("flat", "huge")])
    result = ModelBuilder().build(g)
    i = only(result.issues, "too_large")
    assert i.node_id == "huge" and f"{150528 * 10**7 + 10**7:,} parameters" in i.message
    assert "TB of weights" in i.message and "limit" in i.message
    assert result.model is None and "huge" not in result.infos


def test_big_layer_warns_with_memory_estimate():
    g = g_of([("x", "Input", {"shape": [1000]}), ("big", "Dense", {"units": 2000})], [("x", "big")])
    result = ModelBuilder(warn_params=1_000_000).build(g)
    i = only(result.issues, "large")
    assert i.severity == "warning" and "2,002,000 parameters" in i.message and "MB" in i.message
    assert result.model is not None


def test_errors_downstream_of_an_error_are_not_repeated():
    g = g_of([("x", "Input", {"shape": [784]}), ("conv", "Conv2D", {"filters": 8, "kernel_size": 3}), ("flat", "Flatten", {}),
              ("d", "Dense", {"units": 2})], [("x", "conv"), ("conv", "flat"), ("flat", "d")])
    result = build(g)
    assert [i.node_id for i in result.errors] == ["conv"]
    assert set(result.infos) == {"x"}  # nothing downstream pretends to have a shape


@pytest.mark.parametrize("first", [[], [("conv", "Conv2D", {"filters": 4, "kernel_size": 3})]], ids=["image", "conv"])
@pytest.mark.parametrize("between", [[], [("drop", "Dropout", {"rate": 0.1})]], ids=["direct", "dropout"])
def test_flatten_fix_goes_before_the_dense_that_first_got_the_image(first, between):
    chain = [("x", "Input", {"shape": [28, 28, 1]}), *first, ("dense", "Dense", {"units": 8}), *between, ("dense_1", "Dense", {"units": 2})]
    g = g_of(chain, [(a[0], b[0]) for a, b in itertools.pairwise(chain)])
    into_dense = chain[len(first)][0]  # the node feeding 'dense': x or conv
    hints = {i.node_id: i for i in validate(g) if i.code == "flat_hint"}
    assert set(hints) == {"dense", "dense_1"}
    for i in hints.values():  # dense_1 got image axes only because dense kept them
        assert i.fix.label == "Insert Flatten before dense"
        assert i.fix.args == {"source": into_dense, "target": "dense", "type_": "Flatten"}
    assert "come through Dense 'dense'" in hints["dense_1"].message and "before 'dense'" in hints["dense_1"].message
    fixed = apply_fix(g, hints["dense_1"].fix)
    result = build(fixed)
    assert [i.code for i in result.issues] == [] and result.model.output.shape == (None, 2)
    assert fixed.inputs_of("dense") == ["flatten"] and fixed.inputs_of("flatten") == [into_dense]


def test_flatten_fix_after_a_conv_goes_before_its_own_dense():
    # Dense on the image's channels then Conv2D: the conv's images are meant, so 'head' gets its own fix.
    chain = [("x", "Input", {"shape": [8, 8, 3]}), ("mix", "Dense", {"units": 4}), ("conv", "Conv2D", {"filters": 4, "kernel_size": 3}),
             ("head", "Dense", {"units": 2})]
    g = g_of(chain, [(a[0], b[0]) for a, b in itertools.pairwise(chain)])
    hints = {i.node_id: i for i in validate(g) if i.code == "flat_hint"}
    assert hints["head"].fix.args == {"source": "conv", "target": "head", "type_": "Flatten"}
    assert hints["mix"].fix.args == {"source": "x", "target": "mix", "type_": "Flatten"}
    assert build(apply_fix(g, hints["head"].fix)).model.output.shape == (None, 2)


@pytest.mark.parametrize("type_", ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"])
def test_merge_of_different_widths_offers_a_projection(type_):
    g = g_of([("a", "Input", {"shape": [32]}), ("b", "Input", {"shape": [8]}), ("m", type_, {})], [("a", "m", 0), ("b", "m", 1)])
    i = only(validate(g), "merge_shape")
    assert i.node_id == "m" and i.fix.label == "Insert Dense(32) before m on the input from b"
    assert "insert Dense(32) before m on the input from b" in i.message
    fixed = fixed_builds(g, i)
    assert fixed.inputs_of("m") == ["a", "dense"] and fixed.node("dense").params["units"] == 32
    model = build(fixed).model
    assert [tuple(t.shape) for t in model.get_layer("m").input] == [(None, 32), (None, 32)]


def test_merge_of_images_with_different_channels_offers_a_1x1_conv():
    g = g_of([("x", "Input", {"shape": [8, 8, 3]}), ("conv_a", "Conv2D", {"filters": 16, "kernel_size": 1}),
              ("conv_b", "Conv2D", {"filters": 4, "kernel_size": 1}), ("add", "Add", {})],
             [("x", "conv_a"), ("x", "conv_b"), ("conv_a", "add", 0), ("conv_b", "add", 1)])
    i = only(validate(g), "merge_shape")
    assert i.fix.label == "Insert Conv2D(16, 1) before add on the input from conv_b"
    fixed = fixed_builds(g, i)
    assert build(fixed).model.output.shape == (None, 8, 8, 16)
    assert [i.code for i in build(fixed).issues] == []  # no Flatten warning, as a Dense on images would draw


def test_merge_of_different_sizes_has_no_projection_fix():
    g = g_of([("a", "Input", {"shape": [6, 6, 4]}), ("b", "Input", {"shape": [5, 5, 16]}), ("add", "Add", {})],
             [("a", "add", 0), ("b", "add", 1)])
    assert only(validate(g), "merge_shape").fix is None
