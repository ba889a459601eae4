"""builder.model.profile: the cost of every layer for one sample, checked against TensorFlow's profiler and hand counts.

The references:
- TensorFlow's profiler (`tf.compat.v1.profiler`, `float_operation()`) on the frozen graph of the built model at
  batch 1. It counts 2 FLOPs per multiply-accumulate for MatMul, BatchMatMul and the convolutions, so MACs =
  its FLOPs of those ops / 2. It has no count for `Einsum` (MultiHeadAttention's QKᵀ and attention×V): those are
  counted here from the equation and the operand shapes. It cannot see inside a `while` loop (recurrent layers:
  rebuilt here with `unroll=True`, same arithmetic) nor inside a function call (Keras compiles grouped
  convolutions into one with XLA on CPU: those cases are hand counts only).
- A hand count for every case of tests/layer_cases.py, written below with its arithmetic.
"""

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder.kerasenv import load_keras
from builder.model.build import build
from builder.model.catalog import LAYERS, Cost
from builder.model.graph import Graph, Node
from builder.model.profile import Profile, profile
from builder.model.summary import summarize
from builder.model.templates import TEMPLATES, template
from tests.layer_cases import CASES, case_graph
from tests.strategies import graphs

keras = load_keras()
# TensorFlow itself, once builder.kerasenv has set Keras up.
import tensorflow as tf  # noqa: E402
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2  # noqa: E402

# (MACs, other ops) of ONE sample, by case id "Type-i" of tests/layer_cases.py (IMG 8×8×3, SEQ 10×3, VEC 4).
HAND = {
    "Input-0": (0, 0), "Input-1": (0, 0),
    "Dense-0": (4 * 3, 3),  # 4 inputs × 3 units; 3 bias adds
    "Dense-1": (4 * 5, 5),  # no bias; relu on 5 outputs
    "Dense-2": (10 * 3 * 2, 10 * 2),  # 10 positions × 3 × 2 units; bias on 10×2 outputs
    "Activation-0": (0, 4),
    "Dropout-0": (0, 0), "Dropout-1": (0, 0), "Flatten-0": (0, 0), "Reshape-0": (0, 0), "Reshape-1": (0, 0), "Permute-0": (0, 0),
    "RepeatVector-0": (0, 0),
    "Rescaling-0": (0, 2 * 4),  # multiply and add per value
    "BatchNormalization-0": (0, 2 * 6), "BatchNormalization-1": (0, 2 * 8 * 8 * 3),
    "BatchNormalization-2": (0, 2 * 8 * 8 * 3),
    "LayerNormalization-0": (0, 5 * 6 * (5 + 2)), "LayerNormalization-1": (0, 5 * 6 * (5 + 1)),
    # Normalization: subtract the mean, divide by the deviation (invert: multiply and add); LayerScale: one product
    "Normalization-0": (0, 2 * 8 * 8 * 3), "Normalization-1": (0, 2 * 4), "Normalization-2": (0, 2 * 8 * 8 * 3),
    "Normalization-3": (0, 2 * 5 * 6 * 3), "LayerScale-0": (0, 8 * 8 * 3),
    "Conv1D-0": (8 * 3 * 3 * 4, 8 * 4),  # out 10-3+1 = 8 positions × kernel 3 × 3 channels × 4 filters
    "Conv1D-1": (10 * 2 * (4 // 2) * 6, 10 * 6),  # same padding; 2 groups: each filter sees 2 of the 4 channels
    "Conv2D-0": (6 * 6 * 3 * 3 * 3 * 4, 6 * 6 * 4),
    "Conv2D-1": (3 * 3 * 3 * 3 * 1 * 6, 0),  # stride 2: (8-3)//2+1 = 3; 3 groups of 1 channel; no bias
    "Conv2D-2": (8 * 8 * 3 * 3 * 3 * 2, 8 * 8 * 2),  # dilation keeps 9 taps; same padding
    "Conv3D-0": (4 * 4 * 4 * 3 * 3 * 3 * 2 * 4, 4 * 4 * 4 * 4),
    "SeparableConv2D-0": (6 * 6 * (3 * 3 * 3 + 3 * 4), 6 * 6 * 4),  # depthwise 3×3 on 3 channels, pointwise 3→4
    "SeparableConv2D-1": (6 * 6 * (3 * 3 * 6 + 6 * 4), 0),  # depth_multiplier 2: 6 intermediate channels
    "DepthwiseConv2D-0": (6 * 6 * 3 * 3 * 3, 6 * 6 * 3),
    "DepthwiseConv2D-1": (6 * 6 * 3 * 3 * 6, 0),
    "Conv2DTranspose-0": (8 * 8 * 3 * 3 * 3 * 4, 16 * 16 * 4),  # every input position × whole kernel × filters
    "MaxPooling1D-0": (0, 5 * 3 * 2), "MaxPooling2D-0": (0, 4 * 4 * 3 * 4), "MaxPooling2D-1": (0, 8 * 8 * 3 * 9),
    "AveragePooling1D-0": (0, 5 * 3 * 2), "AveragePooling2D-0": (0, 4 * 4 * 3 * 4),
    "GlobalMaxPooling1D-0": (0, 10 * 3), "GlobalMaxPooling2D-0": (0, 8 * 8 * 3),
    "GlobalAveragePooling1D-0": (0, 10 * 3), "GlobalAveragePooling2D-0": (0, 8 * 8 * 3),
    "UpSampling2D-0": (0, 0),  # nearest: copies
    "Resizing-0": (0, 0), "Resizing-1": (0, 0),  # nearest: copies
    "ZeroPadding2D-0": (0, 0), "ZeroPadding2D-1": (0, 0), "Cropping2D-0": (0, 0), "Cropping2D-1": (0, 0),
    "SpatialDropout1D-0": (0, 0), "SpatialDropout2D-0": (0, 0), "GaussianNoise-0": (0, 0),
    "ReLU-0": (0, 4), "ReLU-1": (0, 4), "LeakyReLU-0": (0, 4), "PReLU-0": (0, 8 * 8 * 3), "PReLU-1": (0, 8 * 8 * 3),
    "ELU-0": (0, 4), "Softmax-0": (0, 4),
    # recurrent: steps × gates × (inputs + units) × units; other ops per step and unit: per gate the input and
    # state parts added, the bias(es), the activation; then the state update (LSTM 5, GRU 5, SimpleRNN 0)
    "SimpleRNN-0": (10 * (3 + 4) * 4, 10 * 4 * 3), "SimpleRNN-1": (10 * (3 + 4) * 4, 10 * 4 * 2),
    "LSTM-0": (10 * 4 * (3 + 4) * 4, 10 * 4 * (4 * 3 + 5)), "LSTM-1": (10 * 4 * (3 + 3) * 3, 10 * 3 * (4 * 3 + 5)),
    "GRU-0": (10 * 3 * (3 + 4) * 4, 10 * 4 * (3 * 4 + 5)),  # reset_after: two biases per gate
    "GRU-1": (10 * 3 * (3 + 4) * 4, 10 * 4 * (3 * 3 + 5)),
    "Bidirectional-0": (2 * 10 * 4 * (3 + 4) * 4, 2 * 10 * 4 * 17),  # concat: no merging arithmetic
    "Bidirectional-1": (2 * 10 * 3 * (3 + 3) * 3, 2 * 10 * 3 * 17 + 10 * 3),  # sum of 10×3 outputs
    "TimeDistributed-0": (10 * 3 * 4, 10 * 4),
    "TimeDistributed-1": (4 * 6 * 6 * 3 * 3 * 3 * 2, 4 * 6 * 6 * 2),
    "Embedding-0": (0, 0),
    # query 5×8, value 6×8; 2 heads of 4: Q, K, V projections, QKᵀ, attention×V, output projection
    "MultiHeadAttention-0": (5 * 8 * 8 + 6 * 8 * 8 + 6 * 8 * 8 + 2 * 5 * 6 * 4 + 2 * 5 * 6 * 4 + 5 * 8 * 8,
                             (5 * 8 + 6 * 8 + 6 * 8 + 5 * 8) + 5 * 8 + 2 * 5 * 6),  # biases, query scaling, softmax
    # query 5×8, value 6×6, key 6×7; 3 heads, key_dim 4, value_dim 5; no biases
    "MultiHeadAttention-1": (5 * 8 * 12 + 6 * 7 * 12 + 6 * 6 * 15 + 3 * 5 * 6 * 4 + 3 * 5 * 6 * 5 + 5 * 15 * 8,
                             5 * 12 + 3 * 5 * 6),
    "Attention-0": (5 * 6 * 8 + 5 * 6 * 8, 5 * 6),  # QKᵀ and attention×V; softmax
    "Attention-1": (5 * 6 * 8, 5 * 6 * 8 * 4 + 2 * 5 * 6),  # concat scores are element-wise: tanh(scale·(q+k)) summed
    "Add-0": (0, 4 * 2), "Subtract-0": (0, 4), "Multiply-0": (0, 4), "Average-0": (0, 4 * 2), "Maximum-0": (0, 4),
    "Minimum-0": (0, 4), "Concatenate-0": (0, 0), "Concatenate-1": (0, 0),
    "CustomScaleLayer-0": (0, 2 * 8 * 8 * 3),  # shortcut + scale × residual: a product and a sum per value
    "Dot-0": (4, 0), "Dot-1": (3 * 5 * 4, 3 * (3 * 4 + 5 * 4)),  # normalize: square, add, scale per input value
    "RandomFlip-0": (0, 0), "RandomRotation-0": (0, 0), "RandomZoom-0": (0, 0), "RandomTranslation-0": (0, 0),
    "RandomContrast-0": (0, 0),
}

# The cases TensorFlow's profiler cannot see (Keras runs grouped convolutions as an XLA-compiled function call).
PROFILER_BLIND = {"Conv1D-1", "Conv2D-1"}

MAC_OPS = {"MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "Conv2D", "Conv3D", "DepthwiseConv2dNative",
           "Conv2DBackpropInput"}
POOL_OPS = {"MaxPool", "AvgPool", "Mean"}
HIDDEN = {"StatefulPartitionedCall", "PartitionedCall", "While", "StatelessWhile", "Enter"}


def _walk(node):
    for child in node.children:
        yield child
        yield from _walk(child)


def _einsum_macs(op) -> int:
    """A two-operand einsum multiplies and adds once per combination of all its index letters."""
    equation = op.get_attr("equation").decode()
    assert "." not in equation, equation
    sizes = {}
    for term, tensor in zip(equation.split("->")[0].split(","), op.inputs, strict=True):
        sizes.update(zip(term, (int(d) for d in tensor.shape), strict=True))
    return math.prod(sizes.values())


def profiler_counts(model) -> dict | None:
    """TensorFlow's profiler on the model's frozen graph at batch 1: {op type: FLOPs}, with "Einsum" as MACs
    counted here; None when part of the graph is hidden from it (a loop or a function call)."""
    specs = [tf.TensorSpec((1,) + tuple(t.shape[1:]), t.dtype) for t in model.inputs]
    fn = tf.function(lambda *xs: model(list(xs) if len(xs) > 1 else xs[0], training=False))
    graph = convert_variables_to_constants_v2(fn.get_concrete_function(*specs)).graph
    if {op.type for op in graph.get_operations()} & HIDDEN:
        return None
    builder = tf.compat.v1.profiler.ProfileOptionBuilder
    options = builder(builder.float_operation()).with_empty_output().build()
    tree = tf.compat.v1.profiler.profile(graph, cmd="scope", options=options)
    counts = {}
    for node in _walk(tree):
        if node.float_ops:
            kind = graph.get_operation_by_name(node.name).type
            counts[kind] = counts.get(kind, 0) + node.float_ops
    einsums = [_einsum_macs(op) for op in graph.get_operations() if op.type == "Einsum"]
    if einsums:
        counts["Einsum"] = sum(einsums)
    return counts


def profiler_macs(counts: dict) -> int:
    flops = sum(v for k, v in counts.items() if k in MAC_OPS)
    assert flops % 2 == 0  # 2 FLOPs per multiply-accumulate
    return flops // 2 + counts.get("Einsum", 0)


def _unrolled(config):
    """A layer config with every recurrent loop unrolled (and dropout off: it does nothing when predicting)."""
    if isinstance(config, dict):
        out = {}
        for k, v in config.items():
            if k == "unroll":
                v = True
            elif k in ("dropout", "recurrent_dropout"):
                v = 0.0
            out[k] = _unrolled(v)
        return out
    if isinstance(config, list):
        return [_unrolled(v) for v in config]
    return config


def reference_model(model):
    """The model itself, or for a recurrent layer the same layer unrolled (the profiler sees no loops)."""
    layer = model.get_layer("layer")
    config = layer.get_config()
    if "unroll" not in str(config):
        return model
    inputs = [keras.Input(tuple(t.shape[1:]), dtype=t.dtype) for t in model.inputs]
    copy = layer.__class__.from_config(_unrolled(config))
    return keras.Model(inputs, copy(inputs[0] if len(inputs) == 1 else inputs))


def _row(p: Profile, name: str):
    return next(r for r in p.rows if r.name == name)


def test_every_case_has_a_hand_count():
    ids = {f"{t}-{i}" for t, rows in CASES.items() for i in range(len(rows))}
    assert set(HAND) == ids
    assert set(CASES) == set(LAYERS)


@pytest.mark.parametrize("type_", sorted(LAYERS))
def test_every_layer_has_a_cost_formula(type_):
    spec = LAYERS[type_]
    assert callable(spec.cost), f"{type_} has no cost formula"


@pytest.mark.parametrize("type_", sorted(LAYERS))
def test_layer_macs_match_the_profiler_and_the_hand_count(type_):
    for i, (inputs, params) in enumerate(CASES[type_]):
        case = f"{type_}-{i}"
        result = build(case_graph(type_, inputs, params))
        assert result.model is not None, [e.message for e in result.errors]
        row = _row(profile(result), "layer")
        assert (row.macs, row.other_ops) == HAND[case], case
        assert row.arithmetic
        if LAYERS[type_].is_input:
            continue
        counts = profiler_counts(reference_model(result.model))
        if case in PROFILER_BLIND:
            assert counts is None, f"{case}: the profiler now sees it: compare with it"
            continue
        assert counts is not None, case
        assert row.macs == profiler_macs(counts), (case, counts)
        spec = LAYERS[type_]
        if spec.category == "pooling" and any(k in POOL_OPS for k in counts):
            # pooling counts one op per window value read, as the profiler does
            assert row.other_ops == sum(v for k, v in counts.items() if k in POOL_OPS), (case, counts)
        if spec.merge == "same":
            # element-wise merges: the profiler's element-wise ops are exactly the other ops
            assert row.other_ops == sum(counts.values()), (case, counts)


def test_the_arithmetic_reads_as_a_sum():
    c = LAYERS["Conv2D"].count_cost([(None, 32, 32, 3)], (None, 30, 30, 32), {"filters": 32, "kernel_size": [3, 3]})
    assert c.text.startswith("30×30 positions × 3×3×3 × 32 = 777,600 MACs")
    c = LAYERS["Dense"].count_cost([(None, 10, 3)], (None, 10, 2), {"units": 2})
    assert c.text.startswith("10 positions × 3 × 2 = 60 MACs")
    c = LAYERS["MaxPooling2D"].count_cost([(None, 8, 8, 3)], (None, 4, 4, 3), {})
    assert (c.macs, c.other_ops) == (0, 192) and "192" in c.text
    c = LAYERS["Flatten"].count_cost([(None, 4, 4, 2)], (None, 32), {})
    assert (c.macs, c.other_ops) == (0, 0) and "no arithmetic" in c.text


@pytest.mark.parametrize("interpolation,taps", [("bilinear", 4), ("bicubic", 16), ("nearest", 0)])
def test_resizing_interpolation_counts_its_taps(interpolation, taps):
    """Interpolation is a weighted sum of neighbours: MACs (hand count; the profiler has no count for resizes)."""
    g = case_graph("UpSampling2D", [[4, 4, 2]], {"size": [2, 3], "interpolation": interpolation})
    row = _row(profile(g), "layer")
    assert row.output_shape == (None, 8, 12, 2)
    assert (row.macs, row.other_ops) == (8 * 12 * 2 * taps, 0)
    g = case_graph("Resizing", [[4, 4, 2]], {"height": 7, "width": 5, "interpolation": interpolation})
    row = _row(profile(g), "layer")
    assert row.output_shape == (None, 7, 5, 2)
    assert (row.macs, row.other_ops) == (7 * 5 * 2 * taps, 0)


def test_transposed_convolution_with_valid_padding():
    """Hand count: every input position meets the whole kernel. (The profiler estimates Conv2DBackpropInput
    from the OUTPUT size / stride², 9×9/4 here, which is not a whole number of positions.)"""
    g = case_graph("Conv2DTranspose", [[4, 4, 3]], {"filters": 5, "kernel_size": 3, "strides": 2})
    row = _row(profile(g), "layer")
    assert row.output_shape == (None, 9, 9, 5)
    assert row.macs == 4 * 4 * 3 * 3 * 3 * 5


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_every_template_profiles(key):
    result = build(template(key))
    p = profile(result)
    assert [r.name for r in p.rows] == [r.name for r in summarize(result).rows]
    assert p.total_macs == sum(r.macs for r in p.rows)
    assert p.total_other_ops == sum(r.other_ops for r in p.rows)
    assert p.total_params == result.model.count_params() == sum(r.params for r in p.rows)
    assert p.total_param_bytes == 4 * p.total_params
    for r in p.rows:
        assert r.activation_bytes == 4 * math.prod(r.output_shape[1:])
        assert r.param_bytes == 4 * r.params
    assert p.total_activation_bytes == sum(r.activation_bytes for r in p.rows)
    assert p.unknown == ()
    counts = profiler_counts(result.model)
    if counts is not None:  # the whole model at once: every template without a recurrent loop
        assert p.total_macs == profiler_macs(counts)
    assert p.to_json()["total_macs"] == p.total_macs


def test_cifar_cnn_by_hand_and_its_heaviest_layers():
    p = profile(template("cifar_cnn"))
    macs = {r.name: r.macs for r in p.rows}
    assert macs["conv2d"] == 30 * 30 * 3 * 3 * 3 * 32
    assert macs["conv2d_1"] == 13 * 13 * 3 * 3 * 32 * 64
    assert macs["conv2d_2"] == 4 * 4 * 3 * 3 * 64 * 64
    assert macs["dense"] == 1024 * 64 and macs["head"] == 64 * 10
    assert macs["pool"] == macs["flatten"] == macs["input"] == 0
    assert [r.name for r in p.heaviest(2)] == ["conv2d_1", "conv2d"]
    assert [r.name for r in p.heaviest(100)] == ["conv2d_1", "conv2d", "conv2d_2", "dense", "head"]  # no 0-MAC rows
    assert p.heaviest(0) == []
    assert abs(sum(p.share(r) for r in p.rows) - 1) < 1e-9


def test_json_has_exactly_the_contract_keys():
    data = profile(template("mlp")).to_json()
    assert set(data) == {"total_params", "total_macs", "layers"}
    assert all(set(layer) == {"name", "type", "output_shape", "params", "macs", "activation_bytes"}
               for layer in data["layers"])
    assert data["total_macs"] == 4 * 16 + 16 * 8 + 8 * 1 and data["total_params"] == 225
    assert data["layers"][1] == {"name": "dense", "type": "Dense", "output_shape": [None, 16], "params": 80,
                                 "macs": 64, "activation_bytes": 64}


def test_a_size_unknown_until_run_time_is_not_guessed():
    g = Graph((Node("seq", "Input", {"shape": [None, 3]}), Node("rnn", "LSTM", {"units": 4}),
               Node("head", "Dense", {"units": 2})), (), name="m").connect("seq", "rnn").connect("rnn", "head")
    p = profile(g)
    rnn, head = _row(p, "rnn"), _row(p, "head")
    assert rnn.macs is None and rnn.other_ops is None and "unknown" in rnn.arithmetic
    assert _row(p, "seq").activation_bytes is None
    assert head.macs == 4 * 2  # after the LSTM, the sizes are known again
    assert p.unknown == ("rnn",) and p.total_macs == 8
    assert p.to_json()["layers"][1]["macs"] is None
    assert "rnn" in p.text()


def test_a_graph_with_errors_profiles_what_built():
    g = template("mlp")
    g2, _ = g.add_node("Conv2D", {"filters": 2, "kernel_size": 3}, node_id="bad", after="output")
    result = build(g2)
    assert result.model is None
    p = profile(result)
    assert [r.name for r in p.rows] == ["input", "dense", "dense_1", "output"]
    assert p.total_macs == 4 * 16 + 16 * 8 + 8


def test_text_table_lists_every_layer_and_the_totals():
    p = profile(template("small_resnet"))
    text = p.text()
    for r in p.rows:
        assert r.name in text
    assert f"{p.total_macs:,}" in text and "heaviest:" in text


# -- properties ----------------------------------------------------------------
FAST = settings(max_examples=40, deadline=None)
BUILDS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.lists(st.integers(1, 6), max_size=2), st.integers(1, 64), st.integers(1, 64), st.integers(2, 5))
def test_dense_macs_are_inputs_times_units_per_position(positions, width, units, k):
    shape = (None, *positions, width)
    out = (None, *positions, units)
    one = LAYERS["Dense"].count_cost([shape], out, {"units": units})
    more = LAYERS["Dense"].count_cost([shape], (None, *positions, units * k), {"units": units * k})
    assert one.macs == math.prod(positions) * width * units
    assert more.macs == k * one.macs  # linear in units


def _out_size(n, kernel, stride, padding):
    return -(-n // stride) if padding == "same" else (n - kernel) // stride + 1


@BUILDS
@given(st.integers(3, 10), st.integers(3, 10), st.integers(1, 3), st.integers(1, 2), st.sampled_from(["valid", "same"]),
       st.integers(1, 3), st.integers(1, 8))
def test_conv2d_macs_follow_the_real_output_size_and_scale_with_filters(h, w, kernel, stride, padding, c, filters):
    def macs(f):
        g = case_graph("Conv2D", [[h, w, c]], {"filters": f, "kernel_size": kernel, "strides": stride, "padding": padding})
        return _row(profile(g), "layer").macs

    oh, ow = _out_size(h, kernel, stride, padding), _out_size(w, kernel, stride, padding)
    assert macs(filters) == oh * ow * kernel * kernel * c * filters
    assert macs(2 * filters) == 2 * macs(filters)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(graphs())
def test_profile_never_raises_and_totals_add_up(g):
    result = build(g)
    p = profile(result)
    assert {r.name for r in p.rows} <= set(result.infos)
    assert p.total_macs == sum(r.macs or 0 for r in p.rows)
    assert p.total_other_ops == sum(r.other_ops or 0 for r in p.rows)
    assert set(p.unknown) == {r.name for r in p.rows if r.macs is None}
    for r in p.rows:
        assert r.macs is None or (isinstance(r.macs, int) and r.macs >= 0)
        assert isinstance(r.arithmetic, str) and r.arithmetic
    assert isinstance(LAYERS["Dense"].count_cost([(None, 4)], (None, 2), {"units": 2}), Cost)
