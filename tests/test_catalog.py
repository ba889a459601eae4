"""The catalog against Keras itself: every layer builds, every formula counts as Keras does."""

import inspect
import math

import numpy as np
import pytest

from builder.kerasenv import load_keras
from builder.model.build import build
from builder.model.catalog import (
    ACTIVATIONS,
    CATEGORIES,
    LAYERS,
    REQUIRED,
    STARTERS,
    by_category,
    search,
)
from builder.model.summary import summarize
from tests.layer_cases import CASES, all_cases, case_graph

keras = load_keras()


def test_every_layer_has_a_test_row():
    assert set(CASES) == set(LAYERS)


def test_required_layers_are_covered():
    wanted = ["Input", "Dense", "Activation", "Dropout", "Flatten", "Reshape", "Permute", "RepeatVector", "Rescaling", "BatchNormalization", "LayerNormalization", "Conv1D", "Conv2D", "Conv3D", "SeparableConv2D", "DepthwiseConv2D", "Conv2DTranspose", "MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "UpSampling2D", "Resizing", "ZeroPadding2D", "Cropping2D", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "SimpleRNN", "LSTM", "GRU", "Bidirectional", "TimeDistributed", "Embedding", "MultiHeadAttention", "Attention", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot", "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast"]
    assert sorted(set(wanted) - set(LAYERS)) == []


@pytest.mark.parametrize("case_id,type_,inputs,params", list(all_cases()), ids=[c[0] for c in all_cases()])
def test_layer_builds_and_counts_like_keras(case_id, type_, inputs, params):
    result = build(case_graph(type_, inputs, params))
    assert result.errors == [], [i.message for i in result.errors]
    model = result.model
    assert model is not None
    info = result.infos["layer"]
    layer = model.get_layer("layer")
    assert info.params == layer.count_params()
    assert info.trainable_params == sum(math.prod(w.shape) for w in layer.trainable_weights)
    assert tuple(info.output_shape) == tuple(model.get_layer("layer").output.shape)
    spec = LAYERS[type_]
    if not spec.is_input:
        shapes = [tuple(model.get_layer(f"in_{i}").output.shape) for i in range(len(inputs))]
        _, formula_count, formula_frozen = spec.count(shapes, params)
        assert formula_count == layer.count_params()
        assert formula_frozen == sum(math.prod(w.shape) for w in layer.non_trainable_weights)
    s = summarize(result)
    assert s.total_params == model.count_params()
    assert s.trainable_params + s.non_trainable_params == s.total_params


def _keras_callable(type_):
    return keras.Input if type_ == "Input" else LAYERS[type_].keras_class().__init__


@pytest.mark.parametrize("type_", sorted(LAYERS))
def test_param_defaults_are_keras_defaults(type_):
    sig = inspect.signature(_keras_callable(type_)).parameters
    for ps in LAYERS[type_].params:
        assert ps.name in sig, f"{type_} has no kwarg {ps.name}"
        keras_default = sig[ps.name].default
        if ps.default is REQUIRED:
            assert keras_default is inspect.Parameter.empty or (type_, ps.name) == ("Input", "shape")
        else:
            assert ps.default == keras_default, f"{type_}.{ps.name}: {ps.default!r} != {keras_default!r}"
            assert ps.problem(ps.default) is None


@pytest.mark.parametrize("type_", sorted(LAYERS))
def test_every_layer_documents_itself(type_):
    spec = LAYERS[type_]
    assert spec.help and spec.category in CATEGORIES
    assert all(p.help for p in spec.params)
    for name, value in STARTERS.get(type_, {}).items():
        assert spec.param(name).problem(value) is None


def test_seed_examples_formula_text():
    text, n, _ = LAYERS["Conv2D"].count([(None, 32, 32, 3)], {"filters": 32, "kernel_size": [3, 3]})
    assert (text, n) == ("3×3×3×32 + 32 = 896", 896)
    text, n, _ = LAYERS["Dense"].count([(None, 100)], {"units": 64})
    assert (text, n) == ("100×64 + 64 = 6,464", 6464)
    text, n, frozen = LAYERS["BatchNormalization"].count([(None, 8, 8, 16)], {})
    assert (n, frozen) == (64, 32) and "non-trainable" in text
    _, n, _ = LAYERS["LSTM"].count([(None, 10, 3)], {"units": 4})
    assert n == 4 * (4 * (3 + 4) + 4)
    _, n, _ = LAYERS["Embedding"].count([(None, 5)], {"input_dim": 1000, "output_dim": 32})
    assert n == 32000


def test_palette_groups_and_search():
    groups = by_category()
    assert sum(len(v) for v in groups.values()) == len(LAYERS)
    assert [s.type for s in search("conv2d")][:1] == ["Conv2D"]
    assert {s.type for s in search("merge")} >= {"Add", "Concatenate"}
    assert search("zzzz") == []


@pytest.mark.parametrize(
    "type_,name,value,fragment",
    [
        ("Dense", "units", 0, ">= 1"),
        ("Dense", "units", "64", "whole number"),
        ("Dense", "units", True, "whole number"),
        ("Dense", "units", 3.0, "whole number"),
        ("Dropout", "rate", 1.0, "< 1"),
        ("Dropout", "rate", float("nan"), "number"),
        ("Dense", "activation", "relux", "one of"),
        ("Conv2D", "kernel_size", [3, 3, 3], "list of 2"),
        ("Conv2D", "kernel_size", [0, 3], ">= 1"),
        ("Input", "shape", [28, 0], ">= 1"),
        ("Input", "shape", [-1], ">= 1"),
        ("Input", "shape", [], "non-empty"),
        ("Reshape", "target_shape", [-1, -1], "at most one"),
        ("Dense", "kernel_regularizer", {"l3": 1}, "l1"),
        ("Dense", "kernel_regularizer", {"l2": -1}, "between 0"),
        ("Bidirectional", "layer", {"type": "Dense", "params": {}}, "can wrap"),
        ("RandomZoom", "height_factor", [0.3, 0.1], "low <= high"),
        ("ZeroPadding2D", "padding", [1, 2, 3], "expected"),
    ],
)
def test_bad_param_values_are_explained(type_, name, value, fragment):
    problem = LAYERS[type_].param(name).problem(value)
    assert problem is not None and fragment in problem


@pytest.mark.parametrize(
    "type_,n_inputs,labels",
    [
        ("MultiHeadAttention", 0, ["query", "value", "key"]),
        ("MultiHeadAttention", 2, ["query", "value", "key"]),
        ("Attention", 1, ["query", "value", "key"]),
        ("Add", 0, ["0", "1"]),  # the fewest inputs it needs
        ("Add", 2, ["0", "1", "2"]),  # one free port to connect to
        ("Concatenate", 4, ["0", "1", "2", "3", "4"]),
        ("Subtract", 2, ["0", "1"]),  # capped at its most inputs
        ("Dot", 5, ["0", "1"]),
        ("Dense", 1, []),  # one plain handle
        ("Dense", 0, []),
        ("Input", 0, []),
    ],
)
def test_port_labels(type_, n_inputs, labels):
    assert LAYERS[type_].port_labels(n_inputs) == labels


def test_named_ports_match_arity():
    for spec in LAYERS.values():
        if spec.ports:
            assert spec.arity[1] is None or len(spec.ports) >= spec.arity[1], spec.type
    assert LAYERS["MultiHeadAttention"].ports == ("query", "value", "key")
    assert LAYERS["Dense"].ports == ()


@pytest.mark.parametrize("rank, expected", [
    (2, ("Dense", {"units": 32})), (3, ("Dense", {"units": 32})),
    (4, ("Conv2D", {"filters": 32, "kernel_size": 1})), (5, ("Conv3D", {"filters": 32, "kernel_size": 1})),
])
def test_the_projection_to_a_width_keeps_the_other_axes(rank, expected):
    from builder.model.catalog import channel_projection

    type_, params = channel_projection(rank, 32)
    assert (type_, params) == expected
    spec = LAYERS[type_]
    assert all(spec.param(k) is not None for k in params)  # real params of a real catalog layer
    assert spec.input_rank is None or rank in spec.input_rank


def _sentences(text: str) -> list[str]:
    """Sentences end with . ! or ? followed by a space or the end (so 1/255, 0.5 and 3×3 do not split)."""
    import re

    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


@pytest.mark.parametrize("type_", sorted(LAYERS))
def test_every_layer_explains_itself_to_students(type_):
    text = LAYERS[type_].explain
    assert isinstance(text, str) and text.strip() == text and text, f"{type_} has no explanation"
    assert 2 <= len(_sentences(text)) <= 4, (type_, _sentences(text))
    assert len(text) < 400, (type_, len(text))
    assert all(s[0].isupper() and s[-1] in ".!?" for s in _sentences(text)), type_
    assert text != LAYERS[type_].help  # more than the one-line help
    assert "\n" not in text and "  " not in text


def test_no_two_layers_share_an_explanation():
    texts = [s.explain for s in LAYERS.values()]
    assert len(set(texts)) == len(texts)
    assert len({s.explain.split(".")[0] for s in LAYERS.values()}) == len(texts)  # nor a first sentence


def test_every_keras_activation_is_offered_but_two_a_name_cannot_use():
    from keras.src.activations import ALL_OBJECTS_DICT

    offered = set(ACTIVATIONS) - {None}
    assert offered <= set(ALL_OBJECTS_DICT)
    assert set(ALL_OBJECTS_DICT) - offered == {"threshold", "glu"}
    assert {"hard_silu", "hard_swish"} <= offered
    x = keras.Input((8,))
    for name in offered:
        model = keras.Model(x, keras.layers.Activation(name)(x))
        assert model.predict(np.ones((1, 8)), verbose=0).shape == (1, 8), name
    # The two left out: threshold needs two more arguments; glu halves its axis while Keras declares (None, 8).
    with pytest.raises(Exception, match="threshold"):
        keras.Model(x, keras.layers.Activation("threshold")(x)).predict(np.ones((1, 8)), verbose=0)
    glu = keras.layers.Activation("glu")(x)
    assert tuple(glu.shape) == (None, 8) and keras.Model(x, glu).predict(np.ones((1, 8)), verbose=0).shape == (1, 4)


def test_layers_keras_defines_outside_keras_layers_are_its_own_classes():
    from keras.src.applications.convnext import LayerScale
    from keras.src.applications.inception_resnet_v2 import CustomScaleLayer

    assert LAYERS["LayerScale"].keras_class() is LayerScale
    assert LAYERS["CustomScaleLayer"].keras_class() is CustomScaleLayer
    assert LAYERS["Dense"].keras_class() is keras.layers.Dense
    # a legacy .h5 names them by class name alone: Keras finds them among its custom objects
    assert keras.saving.get_custom_objects()["LayerScale"] is LayerScale
    assert not hasattr(keras.layers, "LayerScale")  # else the catalog should take it from there


@pytest.mark.parametrize("params,count,frozen", [
    ({}, 2 * 16 + 1, 2 * 16 + 1),  # mean and variance per channel, and Keras's count
    ({"axis": None}, 3, 3),
    ({"axis": [1, 2]}, 2 * 8 * 8 + 1, 2 * 8 * 8 + 1),
    ({"mean": 0.5, "variance": 2.0}, 0, 0),  # given statistics are constants, not weights
])
def test_normalization_counts_its_statistics_as_keras_does(params, count, frozen):
    spec = LAYERS["Normalization"]
    text, n, nt = spec.count([(None, 8, 8, 16)], params)
    layer = keras.layers.Normalization(**{k: tuple(v) if isinstance(v, list) else v for k, v in params.items()})
    layer.build((None, 8, 8, 16))
    keras_frozen = sum(math.prod(w.shape) for w in layer.non_trainable_weights)
    assert (n, nt) == (count, frozen) == (layer.count_params(), keras_frozen)
    if count:
        assert text.startswith("2×") and "non-trainable" in text


@pytest.mark.parametrize("value,fragment", [
    ([1.0, "2"], "list of numbers"), ([], "list of numbers"), ([[1.0, 2.0], [3.0]], "equal lengths"),
    ([1.0, -2.0], ">= 0"), (-1.0, ">= 0"), (float("inf"), "a number"), ("1,2", "list of numbers"), ([[1.0], 2.0], "list of numbers"),
])
def test_normalization_statistics_are_numbers(value, fragment):
    problem = LAYERS["Normalization"].param("variance").problem(value)
    assert problem is not None and fragment in problem, problem
    for ok in (2.0, [1.0, 2, 3], [[1.0, 2.0], [3.0, 4.0]], None):
        assert LAYERS["Normalization"].param("variance").problem(ok) is None
