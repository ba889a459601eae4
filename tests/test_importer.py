"""Import of saved Keras models: templates and applications round trip, nested models, refusals."""

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from builder.files.importer import (
    LAMBDA_MESSAGE,
    ModelImportError,
    _translate,
    import_model,
    unique_ids,
)
from builder.kerasenv import load_keras
from builder.model.build import apply_weights, build_model
from builder.model.graph import Edge, valid_id
from builder.model.templates import TEMPLATES, template
from tests.layer_cases import all_cases, case_graph

keras = load_keras()
layers = keras.layers
FORMATS = ("keras", "h5")


def save(model, tmp_path, name):
    path = tmp_path / name
    model.save(str(path))
    return str(path)


def random_inputs(model, batch=2, seed=0):
    rng = np.random.default_rng(seed)
    xs = []
    for t in model.inputs:
        shape = (batch,) + tuple(d or 5 for d in t.shape[1:])
        if "int" in str(t.dtype):
            xs.append(rng.integers(0, 5, size=shape).astype(str(t.dtype)))
        else:
            xs.append(rng.random(shape, dtype=np.float32))
    return xs


def predict(model, xs):
    out = model(xs if len(xs) > 1 else xs[0], training=False)
    return [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]


def assert_same_predictions(original, result, atol=1e-6):
    """Builds the imported graph, loads the imported weights, compares outputs."""
    rebuilt = build_model(result.graph)
    loaded = apply_weights(rebuilt, result.weights)
    assert sorted(loaded) == sorted(result.weights)
    assert rebuilt.count_params() == original.count_params()
    xs = random_inputs(original)
    for a, b in zip(predict(original, xs), predict(rebuilt, xs), strict=False):
        np.testing.assert_allclose(a, b, atol=atol, rtol=0)
    return rebuilt


def roundtrip(model, tmp_path, fmt="keras", name="m"):
    return import_model(save(model, tmp_path, f"{name}.{fmt}"))


def refused(path_or_bytes, match, **kw):
    with pytest.raises(ModelImportError, match=match) as info:
        import_model(path_or_bytes, **kw)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


# ---------------------------------------------------------------------------
# Templates: graph -> build -> save -> import -> the same graph
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_template_round_trip(key, fmt, tmp_path):
    g = template(key)
    model = build_model(g)
    result = roundtrip(model, tmp_path, fmt, key)
    got = result.graph
    # layout and extra (description, training, compile) are not part of a saved model.
    assert got.nodes == g.nodes
    assert got.edges == g.edges
    assert got.outputs == g.outputs
    assert got.name == g.name
    assert result.renamed == {} and result.notes == []
    assert_same_predictions(model, result)


# ---------------------------------------------------------------------------
# keras.applications: parameter counts, per-layer configs, predictions
# ---------------------------------------------------------------------------
APPS = {
    "MobileNetV2": (keras.applications.MobileNetV2, 3_538_984),
    "ResNet50": (keras.applications.ResNet50, 25_636_712),
}


@pytest.fixture(scope="module")
def app_files(tmp_path_factory):
    """Each application built once and saved in both formats."""
    tmp = tmp_path_factory.mktemp("apps")
    out = {}
    for name, (make, _) in APPS.items():
        model = make(weights=None)
        out[name] = (model, {fmt: save(model, tmp, f"{name}.{fmt}") for fmt in FORMATS})
    return out


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("app", sorted(APPS))
def test_application_imports_exactly(app, fmt, app_files):
    original, paths = app_files[app]
    result = import_model(paths[fmt])
    assert result.notes == [] and result.renamed == {}
    assert len(result.graph.nodes) == len(original.layers)
    rebuilt = build_model(result.graph)
    assert rebuilt.count_params() == original.count_params() == APPS[app][1]
    # Every layer rebuilds with exactly the original's config: nothing is
    # ignored (name, trainable and dtype policy match too).
    for layer in original.layers:
        assert rebuilt.get_layer(layer.name).get_config() == layer.get_config(), layer.name
    assert sorted(apply_weights(rebuilt, result.weights)) == sorted(result.weights)
    x = np.random.default_rng(1).random((2, 224, 224, 3), dtype=np.float32)
    np.testing.assert_allclose(np.asarray(original(x, training=False)), np.asarray(rebuilt(x, training=False)),
                               atol=1e-5, rtol=0)


@pytest.mark.parametrize("app", sorted(APPS))
def test_application_code_round_trip(app, app_files):
    """Imported graph -> generated code -> exec: the same model, and with the imported weights the same predictions."""
    from builder.files.codegen import generate_code

    original, paths = app_files[app]
    result = import_model(paths["keras"])
    code = generate_code(result.graph)
    scope: dict = {}
    exec(compile(code, "<generated>", "exec"), scope)
    regenerated = scope["build_model"]()
    assert json.dumps(regenerated.get_config(), sort_keys=True, default=str) == json.dumps(
        build_model(result.graph).get_config(), sort_keys=True, default=str)
    assert regenerated.count_params() == APPS[app][1]
    assert sorted(apply_weights(regenerated, result.weights)) == sorted(result.weights)
    x = np.random.default_rng(2).random((2, 224, 224, 3), dtype=np.float32)
    np.testing.assert_allclose(np.asarray(original(x, training=False)), np.asarray(regenerated(x, training=False)),
                               atol=1e-5, rtol=0)


def test_application_blocks_open_grouped(app_files):
    g = import_model(app_files["ResNet50"][1]["keras"]).graph
    assert [(x.id, x.name, x.collapsed) for x in g.groups] == [(f"conv{i}", f"conv{i}", True) for i in (2, 3, 4, 5)]
    for x in g.groups:
        assert all(n.startswith(f"{x.id}_block") for n in x.nodes)
    assert sum(len(x.nodes) for x in g.groups) == len(g.nodes) - 9  # input, conv1 and pool1 stem, head
    g = import_model(app_files["MobileNetV2"][1]["h5"]).graph
    assert [x.id for x in g.groups] == [f"block_{i}" for i in range(1, 17)]
    assert g.group_of("block_1_expand").id == "block_1" and g.group_of("expanded_conv_project") is None


def test_nasnet_opens_as_its_cells():
    """NASNetMobile's 771 layers open as 16 cells (53 boxes on the canvas), named after the cells."""
    from builder.files.importer import import_keras_model

    g = import_keras_model(keras.applications.NASNetMobile(weights=None)).graph
    assert len(g.nodes) == 771
    ids = [x.id for x in g.groups]
    assert ids == ["cell_stem_1", "cell_stem_2", "cell_0", "cell_1", "cell_2", "cell_3", "cell_reduce_4", "cell_5",
                   "cell_6", "cell_7", "cell_8", "cell_reduce_8", "cell_9", "cell_10", "cell_11", "cell_12"]
    assert g.group_of("separable_conv_1_bn_normal_left1_5").id == "cell_5"
    assert g.group_of("reduction_concat_reduce_4").id == "cell_reduce_4"
    assert all(x.collapsed for x in g.groups)
    assert len(g.nodes) - sum(len(x.nodes) for x in g.groups) + len(g.groups) <= 60


# ---------------------------------------------------------------------------
# Blocks and nested models open as collapsed groups
# ---------------------------------------------------------------------------
def staged_model(blocks: int):
    """A small ResNet-style Functional model named as keras.applications names layers."""
    x = inputs = keras.Input((8, 8, 3), name="image")
    x = layers.Conv2D(4, 3, padding="same", name="conv1_conv")(x)
    x = layers.ReLU(name="conv1_relu")(x)
    for stage in ("conv2", "conv3"):
        for b in range(1, blocks + 1):
            name = f"{stage}_block{b}"
            y = layers.Conv2D(4, 1, name=f"{name}_1_conv")(x)
            y = layers.BatchNormalization(name=f"{name}_1_bn")(y)
            y = layers.ReLU(name=f"{name}_1_relu")(y)
            y = layers.Conv2D(4, 3, padding="same", name=f"{name}_2_conv")(y)
            y = layers.BatchNormalization(name=f"{name}_2_bn")(y)
            shortcut = layers.Activation("linear", name="shortcut" if (stage, b) == ("conv3", 1) else f"{name}_0_id")(x)
            x = layers.Add(name=f"{name}_add")([y, shortcut])
            x = layers.ReLU(name=f"{name}_out")(x)
    x = layers.Conv2D(4, 1, name="block_1_expand")(x)  # MobileNetV2 style
    x = layers.ReLU(name="block_1_expand_relu")(x)
    x = layers.Conv2D(4, 1, name="block_1_project")(x)
    x = layers.Conv2D(4, 1, name="block1a_expand_conv")(x)  # EfficientNet style
    x = layers.BatchNormalization(name="block1a_expand_bn")(x)
    x = layers.ReLU(name="block1a_expand_activation")(x)
    x = layers.Conv2D(4, 1, name="block2a_conv")(x)  # two layers only: no group
    x = layers.ReLU(name="block2a_relu")(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return keras.Model(inputs, layers.Dense(3, name="predictions")(x), name="staged")


def test_blocks_of_a_large_model_are_grouped(tmp_path):
    model = staged_model(blocks=3)
    assert len(model.layers) > 40
    result = roundtrip(model, tmp_path)
    g = result.graph
    assert [(x.id, x.name, x.collapsed) for x in g.groups] == [
        ("conv2", "conv2", True), ("conv3", "conv3", True), ("block_1", "block_1", True), ("block1a", "block1a", True)]
    conv2 = g.group_by_id("conv2").nodes
    assert len(conv2) == 3 * 8 and conv2[0].startswith("conv2_block1_") and conv2[-1] == "conv2_block3_out"
    assert "shortcut" in g.group_by_id("conv3").nodes  # an unnamed layer inside a block belongs to it
    assert g.group_by_id("block_1").nodes == ("block_1_expand", "block_1_expand_relu", "block_1_project")
    for nid in ("image", "conv1_conv", "block2a_conv", "avg_pool", "predictions"):
        assert g.group_of(nid) is None
    assert result.notes == [] and result.renamed == {}
    from builder.model.graph import Graph

    assert Graph.loads(g.dumps()) == g
    assert_same_predictions(model, result)  # groups change nothing in the model


def test_small_models_stay_ungrouped(tmp_path):
    model = staged_model(blocks=1)
    assert len(model.layers) <= 40
    assert roundtrip(model, tmp_path, "h5").graph.groups == ()


def test_nested_models_form_groups(tmp_path):
    inner = keras.Sequential([keras.Input((6,)), layers.Dense(4, name="d1"), layers.ReLU(name="r1"),
                              layers.Dense(4, name="d2")], name="encoder block")
    tiny = keras.Sequential([keras.Input((4,)), layers.Dense(4, name="t1")], name="tiny")
    x = keras.Input((6,), name="x")
    model = keras.Model(x, layers.Dense(2, name="out")(tiny(inner(x))))
    result = roundtrip(model, tmp_path)
    g = result.graph
    assert [(x.id, x.name, x.nodes, x.collapsed) for x in g.groups] == [
        ("encoder_block", "encoder block", ("d1", "r1", "d2"), True)]  # 'tiny' has fewer than 3 layers
    assert_same_predictions(model, result)


# ---------------------------------------------------------------------------
# Nested models are expanded
# ---------------------------------------------------------------------------
def test_nested_backbone_is_expanded(tmp_path):
    base = keras.applications.MobileNetV2(weights=None, include_top=False, input_shape=(96, 96, 3))
    base.trainable = False  # the usual transfer-learning setup: a frozen backbone
    image = keras.Input((96, 96, 3), name="image")
    features = base(image, training=False)
    pooled = layers.GlobalAveragePooling2D(name="pool")(features)
    head = layers.Dense(5, activation="softmax", name="head")(pooled)
    model = keras.Model(image, head, name="transfer")
    result = roundtrip(model, tmp_path)
    g = result.graph
    assert {n.type for n in g.nodes}.isdisjoint({"Functional", "Sequential", "Model"})
    assert len(g.nodes) == len(base.layers) - 1 + 3  # the backbone's own Input disappears
    assert g.input_ids() == ["image"] and g.output_ids() == ["head"]
    first = base.layers[1].name  # the backbone's first layer now reads the outer input
    assert g.inputs_of(first) == ["image"]
    assert g.inputs_of("pool") == [base.layers[-1].name]
    frozen = {n.id for n in g.nodes if not n.trainable}
    assert frozen == {layer.name for layer in base.layers[1:]}
    assert any("expanded" in note for note in result.notes)
    # The backbone opens as one collapsed group named after it (its blocks are not grouped apart:
    # a node is in one group at most).
    assert [(x.name, x.collapsed) for x in g.groups] == [(base.name, True)]
    assert set(g.groups[0].nodes) == {layer.name for layer in base.layers[1:]}
    rebuilt = assert_same_predictions(model, result, atol=1e-5)
    assert len(rebuilt.trainable_weights) == len(model.trainable_weights) == 2


def test_nested_sequential_and_name_clash(tmp_path):
    inner = keras.Sequential([keras.Input((6,)), layers.Dense(4, activation="relu", name="dense")], name="inner")
    x = keras.Input((6,), name="x")
    y = layers.Dense(2, name="dense")(inner(x))
    model = keras.Model(x, y)
    result = roundtrip(model, tmp_path, "h5")
    g = result.graph
    assert [(n.id, n.type) for n in g.nodes] == [("x", "Input"), ("dense", "Dense"), ("dense_1", "Dense")]
    assert result.renamed == {"dense": "dense_1"}  # the outer one; the nested one keeps its name
    assert g.node("dense").params == {"units": 4, "activation": "relu"}
    assert_same_predictions(model, result)


def test_sequential_with_a_functional_backbone(tmp_path):
    i = keras.Input((8,), name="bin")
    backbone = keras.Model(i, layers.Dense(6, activation="tanh", name="b_dense")(i), name="backbone")
    model = keras.Sequential([keras.Input((8,), name="features"), backbone, layers.Dense(3, name="out")], name="seq")
    result = roundtrip(model, tmp_path)
    assert result.graph.ids() == ["features", "b_dense", "out"]
    assert result.graph.edges == (Edge("features", "b_dense"), Edge("b_dense", "out"))
    assert_same_predictions(model, result)


# ---------------------------------------------------------------------------
# Layer kinds and structures
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_sequential_model(fmt, tmp_path):
    model = keras.Sequential([
        keras.Input((12, 12, 1), name="pixels"),
        layers.Conv2D(4, 3, activation="relu", name="conv"),
        layers.MaxPooling2D(name="pool"),
        layers.Flatten(name="flat"),
        layers.Dense(3, activation="softmax", name="head"),
    ], name="seq_cnn")
    result = roundtrip(model, tmp_path, fmt)
    g = result.graph
    assert g.name == "seq_cnn"
    assert [(n.id, n.type, n.params) for n in g.nodes] == [
        ("pixels", "Input", {"shape": [12, 12, 1]}),
        ("conv", "Conv2D", {"filters": 4, "kernel_size": [3, 3], "activation": "relu"}),
        ("pool", "MaxPooling2D", {}),  # strides = pool_size is Keras's default: not written out
        ("flat", "Flatten", {}),
        ("head", "Dense", {"units": 3, "activation": "softmax"}),
    ]
    assert g.edges == tuple(Edge(a, b) for a, b in [("pixels", "conv"), ("conv", "pool"), ("pool", "flat"), ("flat", "head")])
    assert g.outputs is None
    assert_same_predictions(model, result)


@pytest.mark.parametrize("fmt", FORMATS)
def test_bidirectional_and_time_distributed(fmt, tmp_path):
    x = keras.Input((7, 5), name="seq")
    h = layers.Bidirectional(layers.GRU(4, return_sequences=True, name="whatever"), merge_mode="sum", name="bi")(x)
    h = layers.TimeDistributed(layers.Dense(3, activation="relu"), name="td")(h)
    y = layers.Bidirectional(layers.LSTM(2), name="bi2")(h)
    model = keras.Model(x, y, name="rnn")
    result = roundtrip(model, tmp_path, fmt)
    g = result.graph
    assert g.node("bi").params == {"layer": {"type": "GRU", "params": {"units": 4, "return_sequences": True}}, "merge_mode": "sum"}
    assert g.node("td").params == {"layer": {"type": "Dense", "params": {"units": 3, "activation": "relu"}}}
    assert g.node("bi2").params == {"layer": {"type": "LSTM", "params": {"units": 2}}}
    assert_same_predictions(model, result)


def test_multi_input_ports_follow_call_order(tmp_path):
    a = keras.Input((3,), name="a")
    b = keras.Input((5,), name="b")
    da = layers.Dense(4, name="da")(a)
    db = layers.Dense(2, name="db")(b)
    joined = layers.Concatenate(name="joined")([db, da, db])
    model = keras.Model([b, a], layers.Dense(1, name="out")(joined))
    result = roundtrip(model, tmp_path)
    g = result.graph
    assert g.input_ids() == ["b", "a"]  # model input order
    assert [e for e in g.edges if e.target == "joined"] == [Edge("db", "joined", 0), Edge("da", "joined", 1), Edge("db", "joined", 2)]
    assert_same_predictions(model, result)


def test_multi_output_order_is_kept(tmp_path):
    x = keras.Input((6,), name="x")
    body = layers.Dense(8, activation="relu", name="body")(x)
    first = layers.Dense(2, name="first")(body)
    second = layers.Dense(3, name="second")(body)
    model = keras.Model(x, [second, first, body])  # not the default order, and body is also an output
    result = roundtrip(model, tmp_path, "h5")
    assert result.graph.output_ids() == ["second", "first", "body"]
    assert result.graph.outputs == ("second", "first", "body")
    assert_same_predictions(model, result)
    plain = keras.Model(x, [first, second])  # the default order: outputs stay implicit
    assert roundtrip(plain, tmp_path, "keras", "plain").graph.outputs is None


@pytest.mark.parametrize("fmt", FORMATS)
def test_multi_head_attention_ports(fmt, tmp_path):
    q = keras.Input((5, 8), name="q")
    v = keras.Input((6, 8), name="v")
    k = keras.Input((6, 4), name="k")
    cross = layers.MultiHeadAttention(2, 4, name="cross")(q, value=v)
    full = layers.MultiHeadAttention(2, 3, value_dim=5, name="full")(query=cross, value=v, key=k)
    selfatt = layers.MultiHeadAttention(1, 2, name="self_att")(full, full)
    model = keras.Model([q, v, k], selfatt)
    result = roundtrip(model, tmp_path, fmt)
    g = result.graph
    assert g.in_edges("cross") == [Edge("q", "cross", 0), Edge("v", "cross", 1)]
    assert g.in_edges("full") == [Edge("cross", "full", 0), Edge("v", "full", 1), Edge("k", "full", 2)]
    assert g.in_edges("self_att") == [Edge("full", "self_att", 0), Edge("full", "self_att", 1)]
    assert g.node("full").params == {"num_heads": 2, "key_dim": 3, "value_dim": 5}
    assert_same_predictions(model, result)


def test_frozen_layers_stay_frozen(tmp_path):
    x = keras.Input((4,), name="x")
    frozen = layers.Dense(8, name="frozen")
    bn = layers.BatchNormalization(name="bn")
    y = layers.Dense(2, name="head")(bn(frozen(x)))
    model = keras.Model(x, y)
    frozen.trainable = False
    bn.trainable = False
    result = roundtrip(model, tmp_path)
    assert {n.id: n.trainable for n in result.graph.nodes} == {"x": True, "frozen": False, "bn": False, "head": True}
    rebuilt = assert_same_predictions(model, result)
    assert len(rebuilt.trainable_weights) == 2 and len(rebuilt.non_trainable_weights) == 6


def test_embedding_mask_and_int_input(tmp_path):
    tokens = keras.Input((6,), dtype="int32", name="tokens")
    e = layers.Embedding(10, 4, mask_zero=True, name="emb")(tokens)
    y = layers.LSTM(3, name="lstm")(e)
    model = keras.Model(tokens, y)
    result = roundtrip(model, tmp_path)
    g = result.graph
    assert g.ids() == ["tokens", "emb", "lstm"]  # the mask's keras.ops step is Keras's own: dropped
    assert g.node("tokens").params == {"shape": [6], "dtype": "int32"}
    assert g.node("emb").params == {"input_dim": 10, "output_dim": 4, "mask_zero": True}
    rebuilt = assert_same_predictions(model, result)
    ids = np.array([[1, 2, 0, 0, 0, 0], [3, 0, 0, 0, 0, 0]], dtype="int32")
    np.testing.assert_allclose(np.asarray(model(ids)), np.asarray(rebuilt(ids)), atol=1e-6)


def test_initializers_regularizers_and_padding(tmp_path):
    x = keras.Input((8, 8, 3), name="x")
    h = layers.ZeroPadding2D(((1, 2), (0, 1)), name="pad")(x)
    h = layers.Conv2D(4, 3, kernel_initializer="he_normal", kernel_regularizer=keras.regularizers.L2(0.001),
                      bias_regularizer=keras.regularizers.L1L2(l1=0.01, l2=0.02), name="conv")(h)
    h = layers.Flatten(name="flat")(h)
    y = layers.Dense(2, kernel_initializer=keras.initializers.RandomNormal(stddev=0.02),
                     kernel_regularizer=keras.regularizers.L1L2(l1=0.0, l2=0.5), name="head")(h)
    model = keras.Model(x, y)
    result = roundtrip(model, tmp_path)
    g = result.graph
    assert g.node("pad").params == {"padding": [[1, 2], [0, 1]]}
    assert g.node("conv").params == {
        "filters": 4, "kernel_size": [3, 3], "kernel_initializer": "he_normal",
        "kernel_regularizer": {"l2": 0.001}, "bias_regularizer": {"l1": 0.01, "l2": 0.02},
    }
    assert g.node("head").params == {"units": 2, "kernel_initializer": "random_normal", "kernel_regularizer": {"l2": 0.5}}
    assert len(result.notes) == 1
    assert "'head'" in result.notes[0] and "RandomNormal" in result.notes[0] and "'random_normal'" in result.notes[0]
    assert_same_predictions(model, result)


def test_names_that_are_not_ids(tmp_path):
    x = keras.Input((4,), name="in put")
    h = x
    names = ["my layer", "my_layer", "1st", "q'\"uote", "new\nline", "ünï", "层", "x" * 80]
    for name in names:
        h = layers.Dense(3, name=name)(h)
    model = keras.Model(x, h)
    result = roundtrip(model, tmp_path)
    ids = result.graph.ids()
    assert all(valid_id(i) for i in ids) and len(set(ids)) == len(ids)
    assert result.renamed == {
        "in put": "in_put",
        "my layer": "my_layer_1",  # "my_layer" is a real layer's name: it keeps it
        "1st": "n_1st",
        "q'\"uote": "q_uote",
        "new\nline": "new_line",
        "ünï": "uni",
        "层": "layer",
        "x" * 80: "x" * 64,
    }
    assert set(result.weights) == set(ids[1:])
    assert_same_predictions(model, result)
    # The mapping is stable: importing again gives the same ids.
    assert roundtrip(model, tmp_path, "h5").renamed == result.renamed


def test_unique_ids_is_deterministic():
    names = ["block_1/conv", "block_1_conv", "a b", "a_b", "a/b", "", "9", "_ok", "_ok", "y" * 70, "y" * 70]
    ids = unique_ids(names)
    assert ids == ["block_1_conv_1", "block_1_conv", "a_b_1", "a_b", "a_b_2", "layer", "n_9", "_ok", "_ok_1",
                   "y" * 64, "y" * 62 + "_1"]
    assert ids == unique_ids(list(names)) and all(valid_id(i) for i in ids)


def test_bytes_file_objects_and_misnamed_content(tmp_path):
    model = build_model(template("mlp"))
    path = save(model, tmp_path, "m.keras")
    data = Path(path).read_bytes()
    expected = template("mlp").nodes
    assert import_model(data, filename="upload.keras").graph.nodes == expected
    assert import_model(data).graph.nodes == expected  # no name: recognized by content
    with open(path, "rb") as f:
        assert import_model(f).graph.nodes == expected
    h5 = Path(save(model, tmp_path, "m.h5")).read_bytes()
    assert import_model(io.BytesIO(h5), filename="really_hdf5.keras").graph.nodes == expected


def test_apply_weights_skips_edited_layers(tmp_path):
    result = roundtrip(build_model(template("mlp")), tmp_path)
    edited = result.graph.set_param("dense_1", "units", 5)
    model = build_model(edited)
    assert sorted(apply_weights(model, result.weights)) == ["dense"]  # dense_1 and output changed shape
    assert apply_weights(model, {"nope": [np.zeros(3)]}) == []


def test_importer_imports_without_tensorflow():
    code = "import sys, builder.files.importer; print(sorted(m for m in ('keras', 'tensorflow', 'h5py') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False,
                         cwd=str(Path(__file__).resolve().parents[1]))
    assert out.returncode == 0, out.stderr[-1000:]
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------------------
# Refusals: one clear line each, never a traceback
# ---------------------------------------------------------------------------
def lambda_model():
    x = keras.Input((4,), name="x")
    return keras.Model(x, layers.Lambda(lambda t: t * 2, name="double")(x))


@pytest.mark.parametrize("fmt", FORMATS)
def test_lambda_is_refused(fmt, tmp_path):
    path = save(lambda_model(), tmp_path, f"lam.{fmt}")  # saving works; loading must not run it
    message = refused(path, "Lambda")
    assert "'double'" in message and LAMBDA_MESSAGE in message


def test_keras_safe_mode_error_is_translated(tmp_path):
    path = save(lambda_model(), tmp_path, "lam.keras")
    with pytest.raises(Exception) as info:
        keras.models.load_model(path, safe_mode=True, compile=False)
    translated = _translate(info.value, "'lam.keras'")
    assert isinstance(translated, ModelImportError) and LAMBDA_MESSAGE in str(translated)


def test_damaged_and_foreign_files(tmp_path):
    good = Path(save(build_model(template("mlp")), tmp_path, "good.keras")).read_bytes()
    (tmp_path / "half.keras").write_bytes(good[: len(good) // 2])
    refused(str(tmp_path / "half.keras"), r"^'half\.keras' is truncated or damaged: it starts like a \.keras archive")
    (tmp_path / "noise.keras").write_bytes(np.random.default_rng(0).bytes(4096))
    refused(str(tmp_path / "noise.keras"), r"^'noise\.keras' is not a Keras model: it is neither a \.keras archive \(zip\) nor an HDF5")
    with zipfile.ZipFile(tmp_path / "text.keras", "w") as zf:
        zf.writestr("notes.txt", "hello")
    refused(str(tmp_path / "text.keras"), r"^'text\.keras' is a zip archive but not a Keras model: it has no config\.json")
    (tmp_path / "empty.keras").write_bytes(b"")
    refused(str(tmp_path / "empty.keras"), r"^'empty\.keras' is empty \(0 bytes\)")
    refused(good, r"^'model\.txt' is not a Keras model file: expected a name ending in \.keras or \.h5", filename="model.txt")
    refused(str(tmp_path / "missing.keras"), "there is no such file")
    refused(good, r"^'good\.keras' is .*: the limit for uploaded models is 1 kB: set LAYERCANVAS_MAX_UPLOAD_MB to "
                  r"allow more, or import the file with 'python -m builder import'", filename="good.keras", max_bytes=1024)
    refused(io.BytesIO(good), r"is more than 1 kB: the limit for uploaded models", filename="good.keras", max_bytes=1024)
    (tmp_path / "half.h5").write_bytes(Path(save(build_model(template("mlp")), tmp_path, "good.h5")).read_bytes()[:3000])
    refused(str(tmp_path / "half.h5"), r"^'half\.h5' is truncated or damaged: it starts like an HDF5")


def test_weights_only_files(tmp_path):
    model = build_model(template("mlp"))
    model.save_weights(str(tmp_path / "w.weights.h5"))
    refused(str(tmp_path / "w.weights.h5"), "is a weights file: it holds no model architecture")
    import shutil

    shutil.copyfile(tmp_path / "w.weights.h5", tmp_path / "renamed.h5")
    refused(str(tmp_path / "renamed.h5"), "holds weights only, no model architecture")


@pytest.mark.parametrize("fmt", FORMATS)
def test_unsupported_layers_are_named(fmt, tmp_path):
    x = keras.Input((8, 8, 3), name="x")
    y = layers.RandomCrop(4, 4, name="shrink")(x)
    refused(save(keras.Model(x, y), tmp_path, f"r.{fmt}"), r"^layer 'shrink' is a RandomCrop, which LayerCanvas does not support yet$")
    crop = layers.CenterCrop(4, 4, name="crop")
    refused(save(keras.Model(x, crop(x)), tmp_path, f"n.{fmt}"), r"^layer 'crop' is a CenterCrop, which LayerCanvas does not support yet$")


def test_custom_layers_and_objects(tmp_path):
    @keras.saving.register_keras_serializable(package="tests")
    class Doubler(layers.Layer):
        def call(self, x):
            return x * 2

    x = keras.Input((4,), name="x")
    refused(save(keras.Model(x, Doubler(name="twice")(x)), tmp_path, "c.keras"),
            r"^layer 'twice' is a custom layer class \('Doubler'\), which LayerCanvas cannot import")

    def my_activation(t):
        return t * 3

    y = layers.Dense(2, activation=my_activation, name="odd")(x)
    message = refused(save(keras.Model(x, y), tmp_path, "f.keras"), "custom")
    assert "my_activation" in message


def test_settings_the_graph_cannot_express_are_refused(tmp_path):
    x = keras.Input((3, 8, 8), name="x")
    y = layers.Conv2D(2, 3, data_format="channels_first", name="cf")(x)
    refused(save(keras.Model(x, y), tmp_path, "cf.keras"),
            r"^layer 'cf' \(Conv2D\) has data_format='channels_first', which LayerCanvas cannot represent")
    s = keras.Input((5, 3), name="s")
    out, _h, _c = layers.LSTM(4, return_state=True, name="stateful_lstm")(s)
    refused(save(keras.Model(s, out), tmp_path, "rs.keras"), r"layer 'stateful_lstm' \(LSTM\) has return_state=True")
    shared = layers.Dense(2, name="shared")
    a, b = keras.Input((4,), name="a"), keras.Input((4,), name="b")
    refused(save(keras.Model([a, b], layers.Add(name="sum")([shared(a), shared(b)])), tmp_path, "sh.keras"),
            r"^layer 'shared' is used 2 times \(shared weights\)")
    d = layers.Dropout(0.5, name="mc")(a, training=True)
    refused(save(keras.Model(a, d), tmp_path, "mc.keras"), r"^layer 'mc' is called with training=True")


def test_keras_ops_in_the_data_path_are_refused(tmp_path):
    x = keras.Input((4,), name="x")
    squared = keras.ops.square(x)  # a keras.ops operation that no layer computes (x * 2.0 becomes Rescaling)
    model = keras.Model(x, layers.Dense(2, name="after")(squared))
    refused(save(model, tmp_path, "ops.keras"), r"^layer 'after' reads '.+', a keras.ops Square operation \(not a layer\)")


def test_config_is_checked_before_keras_loads(tmp_path, monkeypatch):
    """A Lambda hidden in a wrapper of an edited file is refused without calling load_model."""
    path = save(build_model(template("lstm_text")), tmp_path, "t.keras")
    with zipfile.ZipFile(path) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    config = json.loads(files["config.json"])
    lstm = next(e for e in config["config"]["layers"] if e["class_name"] == "LSTM")
    lstm["class_name"] = "Bidirectional"
    lstm["config"] = {"name": "lstm", "layer": {"class_name": "Lambda", "config": {"name": "evil", "function": "x"}}}
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "evil.keras", "w") as zf:
        for n, data in files.items():
            zf.writestr(n, data)
    monkeypatch.setattr(keras.models, "load_model", lambda *a, **k: pytest.fail("load_model was called"))
    refused(str(tmp_path / "evil.keras"), LAMBDA_MESSAGE.replace("(", r"\(").replace(")", r"\)"))


# ---------------------------------------------------------------------------
# Every catalog row (tests/layer_cases.py) imports back to the same layer
# ---------------------------------------------------------------------------
CASES = [c for c in all_cases() if c[1] != "Input"]


@pytest.mark.parametrize("tid,type_,inputs,params", CASES, ids=[c[0] for c in CASES])
def test_every_catalog_layer_round_trips(tid, type_, inputs, params, tmp_path):
    from builder.model.catalog import LAYERS

    model = build_model(case_graph(type_, inputs, params))
    result = roundtrip(model, tmp_path)
    node = result.graph.node("layer")
    assert node.type == type_ and result.notes == []
    spec = LAYERS[type_]
    # Only settings that differ from the catalog default are written out.
    assert all(value != spec.param(name).default for name, value in node.params.items() if spec.param(name).kind != "layer")
    rebuilt = assert_same_predictions(model, result)
    assert rebuilt.get_layer("layer").get_config() == model.get_layer("layer").get_config()


def test_damaged_copies_never_leak_a_traceback(tmp_path):
    """Bytes flipped or cut anywhere: always a ModelImportError, never another exception."""
    rng = np.random.default_rng(7)
    model = build_model(template("small_resnet"))
    for fmt in FORMATS:
        data = Path(save(model, tmp_path, f"ok.{fmt}")).read_bytes()
        for i in range(10):
            bad = bytearray(data)
            for _ in range(int(rng.integers(1, 30))):
                bad[int(rng.integers(0, len(bad)))] = int(rng.integers(0, 256))
            if i % 2:
                bad = bad[: int(rng.integers(1, len(bad)))]
            try:
                import_model(bytes(bad), filename=f"bad.{fmt}")
            except ModelImportError as e:
                assert "\n" not in str(e)


def test_cli_import(tmp_path, capsys):
    from builder.cli.main import main

    path = save(build_model(template("small_resnet")), tmp_path, "resnet.keras")
    out = tmp_path / "graph.json"
    assert main(["import", str(path), "-o", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    from builder.model.graph import Graph

    g = Graph.load(out)
    assert g.nodes == template("small_resnet").nodes and g.edges == template("small_resnet").edges
    assert main(["import", str(path)]) == 0
    assert Graph.loads(capsys.readouterr().out).nodes == g.nodes
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a model")
    assert main(["import", str(bad)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: model: ") and "Traceback" not in err[0]
    assert not (tmp_path / "bad.json").exists()


# ---------------------------------------------------------------------------
# Limits: uploads are capped by a setting; the command line reads any local file that fits in memory
# ---------------------------------------------------------------------------
def test_the_command_line_reads_model_files_above_the_upload_limit(tmp_path, monkeypatch, capsys):
    from builder.cli.main import main
    from builder.files import importer

    path = save(build_model(template("small_resnet")), tmp_path, "resnet.keras")
    monkeypatch.setattr(importer, "MAX_BYTES", 1024)  # the server's upload limit, here 1 kB
    message = refused(path, r"^'resnet\.keras' is \d+ kB: the limit for uploaded models is 1 kB: set "
                            r"LAYERCANVAS_MAX_UPLOAD_MB to allow more")
    assert "python -m builder import" in message
    assert main(["import", path, "-o", str(tmp_path / "g.json")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "g.json")
    assert main(["export", path, "--format", "keras", "-o", str(tmp_path / "again.keras")]) == 0
    # what does not fit in this machine's memory is refused, by its size, before anything is read
    monkeypatch.setattr(importer, "_memory_bytes", lambda: 2048)
    refused(path, r"^'resnet\.keras' is \d+ kB: more than this machine's memory \(2 kB\)", max_bytes=None)
    assert main(["import", path]) == 1
    assert "more than this machine's memory" in capsys.readouterr().err


def test_an_archive_that_unpacks_far_beyond_the_upload_limit_names_the_setting():
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.json", "{}")
        zf.writestr("model.weights.h5", b"\0" * (8 * 2**20))
    refused(data.getvalue(), r"unpacks to 8 MB: far more than its size, so LayerCanvas refuses it \(an uploaded model "
                             r"may unpack to at most 4 MB: set LAYERCANVAS_MAX_UPLOAD_MB to allow more\)",
            filename="bomb.keras", max_bytes=2**20)


def test_models_above_the_parameter_limit_name_the_setting(tmp_path):
    path = save(build_model(template("mlp")), tmp_path, "mlp.keras")
    refused(path, r"describes a model with 225 parameters .*; the limit is 100 parameters: set LAYERCANVAS_MAX_PARAMS "
                  r"to allow more, or import a smaller model", max_params=100)


# ---------------------------------------------------------------------------
# keras.ops arithmetic, Normalization's adapted statistics, Keras's own application layers
# ---------------------------------------------------------------------------
def test_keras_ops_arithmetic_becomes_the_layers_that_compute_the_same(tmp_path):
    x = keras.Input((4, 4, 3), name="x")
    a = layers.Conv2D(3, 1, name="a")(x)
    hard = layers.ReLU(6.0, name="relu6")(a + 3.0) * (1.0 / 6.0)  # MobileNetV3's hard sigmoid
    y = (2.0 - hard) - 1.5
    z = layers.Conv2D(3, 1, name="b")(x) + y  # ConvNeXt's residual
    out = (z * x) - a
    model = keras.Model(x, out)
    result = roundtrip(model, tmp_path)  # .keras: Keras cannot reload `x + 3.0` from a legacy .h5 itself
    types = [n.type for n in result.graph.nodes]
    assert types.count("Rescaling") == 4 and {"Add", "Multiply", "Subtract"} <= set(types)
    rescalings = sorted((n.params.get("scale"), n.params.get("offset", 0.0))
                        for n in result.graph.nodes if n.type == "Rescaling")
    assert rescalings == [(-1.0, 2.0), (1 / 6, 0.0), (1.0, -1.5), (1.0, 3.0)]
    assert any("keras.ops Add step(s) became Rescaling layers" in n for n in result.notes)
    rebuilt = assert_same_predictions(model, result, atol=0)
    assert len(rebuilt.layers) == len(model.operations)


@pytest.mark.parametrize("step", ["divide", "exp", "broadcast"])
def test_other_keras_ops_steps_are_still_refused(step, tmp_path):
    x, one = keras.Input((4,), name="x"), keras.Input((1,), name="one")
    make = {"divide": lambda: x / 3.0, "exp": lambda: keras.ops.exp(x), "broadcast": lambda: x + one}[step]
    model = keras.Model([x, one] if step == "broadcast" else x, layers.Dense(2, name="head")(make()))
    refused(save(model, tmp_path, "m.keras"), r"layer 'head' reads '\w+', a keras\.ops \w+ operation \(not a layer\)")


def test_adapted_normalization_predicts_with_its_imported_statistics(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.normal(5.0, 3.0, (64, 3)).astype("float32")
    norm = layers.Normalization(name="norm")
    norm.adapt(data)
    x = keras.Input((3,), name="x")
    model = keras.Model(x, layers.Dense(2, name="head")(norm(x)))
    result = roundtrip(model, tmp_path)
    assert result.graph.node("norm").type == "Normalization" and result.graph.node("norm").params == {}
    assert [w.shape for w in result.weights["norm"]] == [(3,), (3,), ()]
    rebuilt = build_model(result.graph)
    rebuilt.predict(data[:2], verbose=0)  # traced with the starting statistics (0 and 1)
    apply_weights(rebuilt, result.weights)
    np.testing.assert_allclose(rebuilt.predict(data[:8], verbose=0), model.predict(data[:8], verbose=0), atol=1e-6)


def test_given_normalization_statistics_are_params(tmp_path):
    x = keras.Input((4, 4, 3), name="x")
    model = keras.Model(x, layers.Normalization(mean=[1.0, 2.0, 3.0], variance=[4.0, 5.0, 6.0], name="n")(x))
    result = roundtrip(model, tmp_path)
    assert result.graph.node("n").params == {"mean": [1.0, 2.0, 3.0], "variance": [4.0, 5.0, 6.0]}
    assert result.weights == {}
    assert_same_predictions(model, result)
    whole = keras.Model(x, layers.Normalization(axis=None, name="n")(x))
    assert roundtrip(whole, tmp_path, name="whole").graph.node("n").params == {"axis": None}


@pytest.mark.parametrize("fmt", FORMATS)
def test_application_layers_round_trip_in_both_formats(fmt, tmp_path):
    from keras.src.applications.convnext import LayerScale
    from keras.src.applications.inception_resnet_v2 import CustomScaleLayer

    x = keras.Input((4, 4, 3), name="x")
    r = layers.Conv2D(3, 1, name="conv")(x)
    scaled = LayerScale(0.5, 3, name="scale")(r)
    model = keras.Model(x, CustomScaleLayer(0.17, name="join")([x, scaled]))
    model.get_layer("scale").set_weights([np.array([0.5, -1.0, 2.0], "float32")])
    result = roundtrip(model, tmp_path, fmt)
    assert result.graph.node("scale").params == {"init_values": 0.5, "projection_dim": 3}
    assert result.graph.node("join").params == {"scale": 0.17}
    assert [e.source for e in result.graph.edges if e.target == "join"] == ["x", "scale"]
    assert_same_predictions(model, result)


def test_a_custom_class_that_shares_an_application_layers_name_is_refused(tmp_path):
    @keras.saving.register_keras_serializable(package="mine")
    class LayerScale(layers.Layer):
        def __init__(self, init_values=1.0, projection_dim=1, **kwargs):
            super().__init__(**kwargs)
            self.init_values, self.projection_dim = init_values, projection_dim

        def call(self, x):
            return x * 2.0

        def get_config(self):
            return {**super().get_config(), "init_values": self.init_values, "projection_dim": self.projection_dim}

    x = keras.Input((3,), name="x")
    model = keras.Model(x, LayerScale(name="mine")(x))
    refused(save(model, tmp_path, "m.keras"), r"layer 'mine' is a custom layer class \('LayerScale'\)")
