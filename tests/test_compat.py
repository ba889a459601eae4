"""Model against data: input shape, output units and activation against the labels (no Keras)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder.data.compat import ERROR, WARNING, CompatIssue, apply_fix, check
from builder.data.datasets import Dataset, load
from builder.model.catalog import ACTIVATIONS, DTYPES, LAYERS
from builder.model.graph import Graph, GraphError
from builder.model.templates import template


def data(input_shape=(4,), classes=3, n=40, y=None, x_dtype="float32", kind="table") -> Dataset:
    """A small dataset: `classes` 0 means regression with targets `y` (default: standard normal)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, *input_shape)).astype(x_dtype)
    if classes:
        y = np.arange(n) % classes
        task, names = "classification", [str(i) for i in range(classes)]
    else:
        y = rng.normal(size=n).astype("float32") if y is None else np.asarray(y, "float32")
        task, names = "regression", []
    cut = n * 3 // 4
    return Dataset("test", task, x[:cut], y[:cut], x[cut:], y[cut:], classes, names, kind)


def chain(shape, *layers, dtype=None) -> Graph:
    """Input -> layers, each (type, params); the last one gets the id 'head'."""
    g, last = Graph().add_node("Input", {"shape": list(shape), **({"dtype": dtype} if dtype else {})}, node_id="x")
    for i, (type_, params) in enumerate(layers):
        g, last = g.add_node(type_, params, node_id="head" if i == len(layers) - 1 else None, after=last)
    return g


def mlp(shape=(4,), **head) -> Graph:
    return chain(shape, ("Dense", {"units": 8, "activation": "relu"}), ("Dense", head))


def errors(issues):
    return [i for i in issues if i.level == ERROR]


def only(issues, level=ERROR) -> CompatIssue:
    assert len(issues) == 1 and issues[0].level == level, issues
    return issues[0]


# -- models that fit ---------------------------------------------------------------
@pytest.mark.parametrize("head, classes", [
    ({"units": 3, "activation": "softmax"}, 3),
    ({"units": 3}, 3),  # logits
    ({"units": 3, "activation": "linear"}, 3),
    ({"units": 1, "activation": "sigmoid"}, 2),  # binary
    ({"units": 1}, 2),  # binary logits
    ({"units": 2, "activation": "softmax"}, 2),
])
def test_fitting_classifiers_give_no_issues(head, classes):
    assert check(mlp(**head), data(classes=classes)) == []


def test_templates_fit_their_built_in_datasets():
    assert check(template("iris_mlp"), load("iris")) == []
    assert check(template("lstm_text"), load("tokens")) == []  # int32 tokens into an int32 Input
    assert check(template("conv1d_series"), load("waves")) == []
    assert check(template("mnist_cnn"), data((28, 28, 1), 10, kind="image")) == []
    assert check(template("cifar_cnn"), data((32, 32, 3), 10, kind="image")) == []


def test_regression_with_a_linear_unit_fits():
    assert check(mlp(units=1), data(classes=0)) == []
    assert check(mlp(units=1, activation="linear"), data(classes=0)) == []
    several = data(classes=0)
    several.y_train, several.y_test = np.ones((len(several.x_train), 3), "float32"), np.ones((10, 3), "float32")
    assert check(mlp(units=3), several) == []
    assert "outputs 1 values but each target has 3 values: use Dense(3)" in only(check(mlp(units=1), several)).message


# -- inputs ---------------------------------------------------------------------------
def test_an_input_shape_mismatch_says_what_to_set():
    issue = only(check(template("mnist_cnn"), data((8, 8, 1), 10)))
    assert issue.node_id == "input"
    assert issue.message == "Input 'input' expects (28, 28, 1) but the data has (8, 8, 1): set its shape to [8, 8, 1]."
    flat = only(check(mlp(), data((13,)))).message
    assert flat == "Input 'x' expects (4,) but the data has (13,): set its shape to [13]."


def test_same_values_in_another_shape_suggests_a_reshape_too():
    issue = only(check(mlp((64,), units=10, activation="softmax"), data((8, 8, 1), 10)))
    assert "Input 'x' expects (64,) but the data has (8, 8, 1) (the same 64 values)" in issue.message
    assert "set its shape to [8, 8, 1] and add a Reshape to [64] after it, so the layers after it still get (64,)" \
        in issue.message


def test_free_sizes_match_any_length():
    g = chain([None], ("Embedding", {"input_dim": 50, "output_dim": 4}), ("GlobalAveragePooling1D", {}),
              ("Dense", {"units": 2, "activation": "softmax"}), dtype="int32")
    assert check(g, load("tokens")) == []


def test_an_integer_input_warns_when_the_data_has_fractions():
    g = chain((4,), ("Dense", {"units": 3, "activation": "softmax"}), dtype="int32")
    issue = only(check(g, data()), WARNING)
    assert issue.node_id == "x" and "dtype int32 but the data holds fractions" in issue.message
    assert check(g, data(x_dtype="int32")) == []


# -- outputs: classification ---------------------------------------------------------------
def test_wrong_units_give_the_concrete_layer_to_use():
    issue = only(check(mlp(units=1, activation="sigmoid"), data(classes=10)))
    assert issue.node_id == "head"
    assert issue.message == "The model ends in Dense(1, sigmoid) ('head') but the data has 10 classes: use Dense(10, softmax)."
    logits = only(check(mlp(units=3), data(classes=10))).message
    assert "ends in Dense(3) ('head') but the data has 10 classes: use Dense(10)." in logits  # keeps logits
    more = only(check(mlp(units=10, activation="softmax"), data(classes=3))).message
    assert "use Dense(3, softmax)" in more


def test_softmax_over_one_unit_is_refused():
    issue = only(check(mlp(units=1, activation="softmax"), data(classes=2)))
    assert issue.message == ("Dense 'head': softmax over 1 unit always outputs 1: use Dense(1, sigmoid) or "
                             "Dense(2, softmax).")
    many = only(check(mlp(units=1, activation="softmax"), data(classes=5))).message
    assert "softmax over 1 unit always outputs 1" in many and "use Dense(5, softmax)" in many


@pytest.mark.parametrize("act", ["relu", "tanh", "log_softmax"])
def test_odd_last_activations_of_a_classifier_warn(act):
    issue = only(check(mlp(units=3, activation=act), data(classes=3)), WARNING)
    assert f"Dense 'head' ends in {act}, which is unusual for a classifier: use softmax" in issue.message


def test_sigmoid_over_several_classes_warns():
    issue = only(check(mlp(units=2, activation="sigmoid"), data(classes=2)), WARNING)
    assert "scores each of the 2 classes on its own: use softmax, or Dense(1, sigmoid)" in issue.message


def test_output_layers_without_units_are_judged_by_activation_or_built_shape():
    softmax_last = chain((4,), ("Dense", {"units": 3}), ("Activation", {"activation": "softmax"}))
    assert check(softmax_last, data(classes=3)) == []  # no units param: no guess
    dropout_last = chain((4,), ("Dense", {"units": 3, "activation": "softmax"}), ("Dropout", {"rate": 0.2}))
    assert check(dropout_last, data(classes=3)) == []
    assert check(dropout_last, data(classes=3), output_shape=(None, 3)) == []
    issue = only(check(dropout_last, data(classes=5), output_shape=(None, 3)))
    assert "ends in Dropout(3) ('head') but the data has 5 classes" in issue.message


def test_an_output_with_image_axes_needs_flattening():
    g = chain((8, 8, 1), ("Conv2D", {"filters": 10, "kernel_size": 3}))
    issue = only(check(g, data((8, 8, 1), 10), output_shape=(None, 6, 6, 10)))
    assert issue.node_id == "head"
    assert "Conv2D 'head' outputs (6, 6, 10) per sample but each label is one class: add Flatten" in issue.message
    regression = only(check(g, data((8, 8, 1), classes=0), output_shape=(None, 6, 6, 10))).message
    assert "outputs (6, 6, 10) per sample but each target is one number" in regression


# -- outputs: regression ---------------------------------------------------------------------
def test_regression_with_softmax_or_many_units_is_refused():
    issue = only(check(mlp(units=1, activation="softmax"), data(classes=0)))
    assert issue.node_id == "head" and "ends in softmax" in issue.message
    assert issue.message.endswith("use Dense(1) with no activation.")
    wide = only(check(mlp(units=10), data(classes=0))).message
    assert wide == "Dense 'head' outputs 10 values but each target is one number: use Dense(1) with no activation."


def test_bounded_activations_warn_only_when_the_targets_leave_their_range():
    unit = data(classes=0, y=np.linspace(0, 1, 40))
    assert check(mlp(units=1, activation="sigmoid"), unit) == []
    wide = data(classes=0, y=np.linspace(-3, 5, 40))
    issue = only(check(mlp(units=1, activation="sigmoid"), wide), WARNING)
    assert "sigmoid, which outputs values between 0 and 1, but the targets range from -3 to 5" in issue.message
    assert issue.message.endswith("use Dense(1) with no activation.")
    assert "relu, which outputs values at least 0" in only(check(mlp(units=1, activation="relu"), wide), WARNING).message
    assert check(mlp(units=1, activation="relu"), data(classes=0, y=np.linspace(0, 9, 40))) == []


# -- the model as a whole -----------------------------------------------------------------------
def test_several_inputs_or_outputs_are_refused():
    issue = only(check(template("two_inputs"), data((8, 8, 1), 10)))
    assert issue.node_id is None
    assert issue.message == "Training here needs one input and one output; this model has 2 inputs (image, table)."
    two = only(check(template("two_outputs"), data((16,), 3))).message
    assert two.endswith("this model has 2 outputs (class_head, value_head).")


def test_a_bare_input_is_not_a_model():
    issue = only(check(template("empty"), data()))
    assert issue.node_id == "input" and "add layers after it" in issue.message


def test_errors_come_first_and_every_output_message_names_its_node():
    g = chain((28, 28, 1), ("Flatten", {}), ("Dense", {"units": 10, "activation": "relu"}))
    issues = check(g, data((8, 8, 1), classes=10))
    assert [i.level for i in issues] == [ERROR, WARNING]
    assert all("'x'" in i.message or "'head'" in i.message for i in issues)
    assert errors(check(g, data((28, 28, 1), classes=10))) == []


# -- fixes: "Apply to the model" ---------------------------------------------------------------------
def regression(y=None, targets=1, input_shape=(4,)) -> Dataset:
    ds = data(input_shape, classes=0, y=y)
    if targets > 1:
        ds.y_train = np.ones((len(ds.x_train), targets), "float32")
        ds.y_test = np.ones((len(ds.x_test), targets), "float32")
    return ds


WIDE = np.linspace(-3, 5, 40)
# (graph, dataset, issue code, node, the node's params after the fix)
FIXES = {
    "input shape": (mlp(units=3), data((13,)), "input_shape", "x", {"shape": [13]}),
    "input dtype": (chain((4,), ("Dense", {"units": 3, "activation": "softmax"}), dtype="int32"), data(),
                    "input_dtype", "x", {"shape": [4], "dtype": "float32"}),
    "too few classes": (mlp(units=1, activation="sigmoid"), data(classes=10), "classes", "head",
                        {"units": 10, "activation": "softmax"}),
    "too many classes": (mlp(units=10, activation="relu"), data(classes=3), "classes", "head",
                         {"units": 3, "activation": "softmax"}),
    "classes of logits": (mlp(units=3), data(classes=10), "classes", "head", {"units": 10}),
    "softmax over 1 unit, 5 classes": (mlp(units=1, activation="softmax"), data(classes=5), "classes", "head",
                                       {"units": 5, "activation": "softmax"}),
    "softmax over 1 unit, 2 classes": (mlp(units=1, activation="softmax"), data(classes=2), "softmax_one_unit", "head",
                                       {"units": 1, "activation": "sigmoid"}),
    "sigmoid over classes": (mlp(units=2, activation="sigmoid"), data(classes=2), "classifier_activation", "head",
                             {"units": 2, "activation": "softmax"}),
    "odd classifier activation": (mlp(units=3, activation="tanh"), data(classes=3), "classifier_activation", "head",
                                  {"units": 3, "activation": "softmax"}),
    "Activation layer classifier": (chain((4,), ("Dense", {"units": 3}), ("Activation", {"activation": "relu"})),
                                    data(classes=3), "classifier_activation", "head", {"activation": "softmax"}),
    "regression units": (mlp(units=10, activation="relu"), regression(), "targets", "head", {"units": 1}),
    "regression units of logits": (mlp(units=1), regression(targets=3), "targets", "head", {"units": 3}),
    "LSTM regression units": (chain((5, 3), ("LSTM", {"units": 4})), regression(input_shape=(5, 3)), "targets", "head",
                              {"units": 1, "activation": "linear"}),  # LSTM's default activation is tanh
    "regression softmax": (mlp(units=1, activation="softmax"), regression(), "regression_activation", "head",
                           {"units": 1}),
    "Activation layer regression": (chain((4,), ("Dense", {"units": 1}), ("Activation", {"activation": "softmax"})),
                                    regression(), "regression_activation", "head", {"activation": "linear"}),
    "bounded regression": (mlp(units=1, activation="sigmoid"), regression(WIDE), "target_range", "head", {"units": 1}),
}


@pytest.mark.parametrize("case", list(FIXES))
def test_every_fix_does_what_its_message_says_and_the_issue_goes(case):
    graph, ds, code, nid, params = FIXES[case]
    before = graph.to_dict()
    issue = only(check(graph, ds), ERROR if code not in ("input_dtype", "classifier_activation", "target_range")
                 else WARNING)
    assert (issue.code, issue.node_id) == (code, nid) and issue.fix is not None
    fixed = apply_fix(graph, issue)
    assert graph.to_dict() == before  # a new graph; the old one (the undo step) is untouched
    assert fixed.node(nid).params == params
    assert [n.id for n in fixed.nodes] == [n.id for n in graph.nodes] and fixed.edges == graph.edges
    assert check(fixed, ds) == []


def test_a_flat_model_meeting_images_gets_the_shape_and_a_flatten():
    from builder.model.build import build_model

    graph = mlp(units=10, activation="softmax")
    issue = only(check(graph, data((8, 8, 1), 10)))
    assert "add a Flatten after it" in issue.message and issue.fix.label.endswith("and a Flatten after it")
    fixed = apply_fix(graph, issue)
    assert fixed.node("x").params["shape"] == [8, 8, 1]
    (flat,) = [n for n in fixed.nodes if n.type == "Flatten"]
    assert [e.source for e in fixed.in_edges(flat.id)] == ["x"] and [e.source for e in fixed.in_edges("dense")] == [flat.id]
    assert check(fixed, data((8, 8, 1), 10)) == []
    assert tuple(build_model(fixed).output.shape) == (None, 10)  # one prediction per image


def test_a_fix_label_names_the_node_and_what_changes():
    issue = only(check(mlp(units=1, activation="sigmoid"), data(classes=10)))
    assert issue.fix.label == "Dense 'head': units 1 → 10, activation sigmoid → softmax"
    shape = only(check(template("mnist_cnn"), data((8, 8, 1), 10))).fix.label
    assert shape == "Input 'input': shape [28, 28, 1] → [8, 8, 1]"
    linear = only(check(mlp(units=10, activation="relu"), regression())).fix.label
    assert linear == "Dense 'head': units 10 → 1, activation relu → none"


def test_the_reshape_fix_keeps_the_layers_after_the_input_working():
    graph = mlp((64,), units=10, activation="softmax")
    ds = data((8, 8, 1), 10)
    issue = only(check(graph, ds))
    assert issue.fix.label == "Input 'x': shape [64] → [8, 8, 1], and a Reshape to [64] after it"
    fixed = apply_fix(graph, issue)
    assert check(fixed, ds) == []
    assert fixed.node("x").params["shape"] == [8, 8, 1]
    (reshape,) = fixed.successors("x")
    assert fixed.node(reshape).type == "Reshape" and fixed.node(reshape).params == {"target_shape": [64]}
    first_dense = graph.successors("x")[0]
    assert fixed.inputs_of(first_dense) == [reshape]

    from builder.model.build import build_model

    model = build_model(fixed)
    assert tuple(model.input_shape) == (None, 8, 8, 1) and tuple(model.output_shape) == (None, 10)
    assert model.count_params() == build_model(graph).count_params()  # the same layers, same weights


def test_issues_without_one_right_change_have_no_fix():
    two_inputs = only(check(template("two_inputs"), data((8, 8, 1), 10)))
    bare = only(check(template("empty"), data()))
    conv = chain((8, 8, 1), ("Conv2D", {"filters": 10, "kernel_size": 3}))
    axes = only(check(conv, data((8, 8, 1), 10), output_shape=(None, 6, 6, 10)))
    # Units read from the built shape of a layer that has no units param: nothing to set.
    dropout_last = chain((4,), ("Dense", {"units": 3, "activation": "softmax"}), ("Dropout", {"rate": 0.2}))
    dropout = only(check(dropout_last, data(classes=5), output_shape=(None, 3)))
    for issue, code in [(two_inputs, "inputs_outputs"), (bare, "bare_input"), (axes, "output_axes"),
                        (dropout, "classes")]:
        assert issue.code == code and issue.fix is None
        with pytest.raises(GraphError, match="no single change"):
            apply_fix(template("empty"), issue)


def test_a_fix_that_no_longer_applies_raises_a_graph_error():
    graph = mlp(units=1, activation="sigmoid")
    issue = only(check(graph, data(classes=10)))
    with pytest.raises(GraphError, match="head"):
        apply_fix(graph.remove_node("head"), issue)


def test_codes_are_unique_per_node():
    g = chain((28, 28, 1), ("Flatten", {}), ("Dense", {"units": 10, "activation": "relu"}), dtype="int32")
    issues = check(g, data((8, 8, 1), classes=10))
    assert [(i.code, i.node_id) for i in issues] == [("input_shape", "x"), ("input_dtype", "x"),
                                                      ("classifier_activation", "head")]
    assert all(i.fix is not None for i in issues)


@st.composite
def mismatches(draw):
    """A model ending in a Dense, SimpleRNN or Activation layer, and data that it may not fit."""
    shape = draw(st.lists(st.integers(1, 6), min_size=1, max_size=3))
    dtype = draw(st.sampled_from((None,) + DTYPES))
    head = draw(st.sampled_from(["Dense", "SimpleRNN", "Activation"]))
    if head == "Activation":
        layers = [("Dense", {"units": draw(st.integers(1, 12))}),
                  ("Activation", {"activation": draw(st.sampled_from(ACTIVATIONS[1:]))})]
    else:
        params = {"units": draw(st.integers(1, 12))}
        if draw(st.booleans()):
            ps = LAYERS[head].param("activation")
            params["activation"] = draw(st.sampled_from([c for c in ps.choices if ps.problem(c) is None]))
        layers = [(head, params)]
    graph = chain(shape, *layers, dtype=dtype)
    data_shape = tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=3)))
    x_dtype = draw(st.sampled_from(["float32", "int32"]))
    if draw(st.booleans()):
        ds = data(data_shape, draw(st.integers(2, 12)), x_dtype=x_dtype)
    else:
        lo = draw(st.floats(-10, 10))
        ds = regression(np.linspace(lo, lo + draw(st.floats(0, 10)), 40), draw(st.integers(1, 3)), data_shape)
        ds.x_train = ds.x_train.astype(x_dtype)
    return graph, ds


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mismatches())
def test_each_fix_removes_its_issue_and_fixing_all_leaves_a_model_that_fits(case):
    graph, ds = case
    for issue in check(graph, ds):
        if issue.fix is not None:
            fixed = apply_fix(graph, issue)
            assert (issue.code, issue.node_id) not in [(i.code, i.node_id) for i in check(fixed, ds)], issue
    for _ in range(4):  # input shape, dtype, output: one fix each at most
        fixable = [i for i in check(graph, ds) if i.fix is not None]
        if not fixable:
            break
        graph = apply_fix(graph, fixable[0])
    assert check(graph, ds) == []
