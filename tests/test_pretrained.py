"""builder.files.pretrained: the keras.applications table, preprocessing that matches each network, weights files,
offline downloads, and the transfer-learning graph."""

from __future__ import annotations

import inspect
import os
import urllib.error

import h5py
import numpy as np
import pytest

from builder.files.pretrained import (
    APPLICATIONS,
    BASE_GROUP,
    PretrainedError,
    WeightsUnavailable,
    calibrate_batch_norm,
    default_size,
    drop_broken_downloads,
    size_problem,
    start_graph,
    weights_cache_dir,
)
from builder.kerasenv import load_keras
from builder.model.build import build

keras = load_keras()

# Keras's own modules, once builder.kerasenv has set Keras up.
from keras.src.legacy.saving import legacy_h5_format  # noqa: E402
from keras.src.utils import file_utils  # noqa: E402

from builder.model.build import apply_weights  # noqa: E402


def _legacy_file(model, path) -> str:
    """The model's weights in Keras's published layout (the `…_notop.h5` files keras.applications downloads)."""
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    return str(path)


def _random_base(name: str, size: int, seed: int = 3, **kwargs):
    """The network with random weights, its constant-initialized ones (BN statistics, biases) made random too, so
    a preprocessing or channel-order mistake shows."""
    keras.utils.set_random_seed(seed)
    model = getattr(keras.applications, name)(include_top=False, weights=None, input_shape=(size, size, 3), **kwargs)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        arrays = layer.get_weights()
        if not arrays:
            continue
        changed = []
        for w, var in zip(arrays, layer.weights, strict=False):
            if "variance" in var.path or "moving_var" in var.path:
                changed.append(rng.uniform(0.5, 1.5, w.shape).astype(w.dtype))
            elif w.ndim <= 1 and "count" not in var.path:
                changed.append((w + rng.normal(0, 0.1, w.shape)).astype(w.dtype))
            else:
                changed.append(w)
        layer.set_weights(changed)
    return model


def test_the_table_is_every_keras_application():
    """Exactly the networks keras.applications offers, each with its figures."""
    offered = {n for n, f in inspect.getmembers(keras.applications) if n[:1].isupper() and callable(f)}
    assert set(APPLICATIONS) == offered
    for app in APPLICATIONS.values():
        assert 0 < app.top1 < 100 and app.params > 1e6 and app.min_size <= app.size
        assert app.preprocessing in ("tf", "torch", "caffe", "builtin")
        assert app.macs is not None and app.macs > 1e7, app.name


# (network, its keras.applications module, preprocessing kind)
CASES = [("MobileNetV2", "mobilenet_v2"), ("VGG16", "vgg16"), ("DenseNet121", "densenet"),
         ("MobileNetV3Small", "mobilenet_v3")]


@pytest.mark.parametrize("name,module", CASES, ids=[c[0] for c in CASES])
def test_predicts_as_the_application_with_its_preprocess_input(name, module, tmp_path):
    """Same weights file, same images: the graph given [0, 1] pixels computes what keras.applications computes on
    `preprocess_input(255 * x)` (tf, caffe, torch and built-in scaling)."""
    size = 32
    reference = _random_base(name, size)
    path = _legacy_file(reference, tmp_path / f"{name}_notop.h5")
    made = start_graph(name, (size, size, 3), 5, size=size, weights=path)
    result = build(made.graph)
    assert result.model is not None, [e.message for e in result.errors][:3]
    loaded = apply_weights(result.model, made.weights)
    assert len(loaded) == sum(1 for layer in reference.layers if layer.weights)
    base_out = made.graph.groups[0].nodes[-1]
    features = keras.Model(result.model.inputs, result.model.get_layer(base_out).output)
    x = np.random.default_rng(0).random((3, size, size, 3)).astype("float32")
    expected = reference.predict(getattr(keras.applications, module).preprocess_input(x * 255.0), verbose=0)
    got = features.predict(x, verbose=0)
    assert got.shape == expected.shape
    scale = float(np.abs(expected).max())
    assert scale > 0
    assert float(np.abs(got - expected).max()) <= 1e-4 * scale


def test_the_graph_a_start_makes():
    """Grey 8×8 digits into MobileNetV2: resized, made RGB, scaled; the base one frozen collapsed group; the head
    sized from the classes; exported as .keras it predicts the same."""
    made = start_graph("MobileNetV2", (8, 8, 1), 10, size=32)
    g = made.graph
    types = [g.node(n).type for n in g.topological_order()[:4]]
    assert types == ["Input", "Resizing", "Concatenate", "Rescaling"]
    (group,) = g.groups
    assert group.id == BASE_GROUP and group.collapsed and "frozen" in group.name
    assert all(not g.node(n).trainable for n in group.nodes)
    assert all(g.node(n).trainable for n in g.ids() if n not in group.nodes)
    out = g.node(g.output_ids()[0])
    assert out.type == "Dense" and out.params == {"units": 10, "activation": "softmax"}
    result = build(g)
    assert result.model is not None
    assert result.model.output_shape == (None, 10)
    trainable = sum(int(np.prod(w.shape)) for w in result.model.trainable_weights)
    assert trainable == 1280 * 10 + 10  # the head only
    assert made.base_params == sum(int(np.prod(w.shape)) for n in group.nodes
                                   for w in result.model.get_layer(n).weights)


def test_two_classes_and_regression_heads():
    g2 = start_graph("MobileNetV2", (32, 32, 3), 2).graph
    assert g2.node(g2.output_ids()[0]).params == {"units": 1, "activation": "sigmoid"}
    gr = start_graph("MobileNetV2", (32, 32, 3), 1, task="regression").graph
    assert gr.node(gr.output_ids()[0]).params == {"units": 1}


def test_small_images_are_offered_a_resize():
    app = APPLICATIONS["MobileNetV2"]
    problem = size_problem(app, (8, 8, 1))
    assert "8×8" in problem and "at least 32×32" in problem and "Resizing" in problem
    assert default_size(app, (8, 8, 1)) == 32
    assert size_problem(app, (40, 40, 3)) is None and default_size(app, (40, 40, 3)) == 40
    with pytest.raises(PretrainedError, match="at least 32×32"):
        start_graph("MobileNetV2", (8, 8, 1), 10, resize=False)
    assert "choose an image dataset" in size_problem(app, (4,))
    with pytest.raises(PretrainedError, match="choose an image dataset"):
        start_graph("MobileNetV2", (4,), 3)
    with pytest.raises(PretrainedError, match="from 75 to 1024"):
        start_graph("InceptionV3", (32, 32, 3), 3, size=32)


def test_a_weights_file_for_another_network_names_the_first_layer(tmp_path):
    other = _legacy_file(keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(32, 32, 3),
                                                        alpha=0.5), tmp_path / "half.h5")
    with pytest.raises(PretrainedError, match=r"its layer 'Conv1' holds 3×3×3×16, where MobileNetV2's layer 'Conv1' "
                                              r"needs 3×3×3×32"):
        start_graph("MobileNetV2", (32, 32, 3), 3, weights=other)
    top = _legacy_file(keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3)), tmp_path / "top.h5")
    with pytest.raises(PretrainedError, match=r"more layers than MobileNetV2 without its top, from 'predictions' on"):
        start_graph("MobileNetV2", (32, 32, 3), 3, weights=top)
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5 at all")
    with pytest.raises(PretrainedError, match="not an HDF5 file"):
        start_graph("MobileNetV2", (32, 32, 3), 3, weights=str(junk))


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    from keras.src.backend import config

    (tmp_path / "keras_home").mkdir()
    monkeypatch.setattr(config, "_KERAS_DIR", str(tmp_path / "keras_home"))
    assert weights_cache_dir() == str(tmp_path / "keras_home" / "models")
    return tmp_path / "keras_home"


def test_offline_says_so_with_the_files_address(keras_home, monkeypatch):
    def offline(url, target, *args):
        raise urllib.error.URLError(OSError(-3, "Temporary failure in name resolution"))

    monkeypatch.setattr(file_utils, "urlretrieve", offline)
    with pytest.raises(WeightsUnavailable) as info:
        start_graph("MobileNetV2", (32, 32, 3), 3, weights="imagenet")
    e = info.value
    assert e.url.startswith("https://") and e.url.endswith("_no_top.h5")
    assert e.filename == "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"
    assert "could not be downloaded" in str(e) and "Choose random weights, or upload the weights file" in str(e)
    assert os.listdir(weights_cache_dir()) == []


def test_an_interrupted_download_leaves_nothing(keras_home, monkeypatch):
    def half(url, target, *args):
        with open(target, "wb") as f:
            f.write(b"\x89HDF\r\n\x1a\n" + b"\0" * 1000)  # the first kilobyte of a weights file
        raise ConnectionResetError("connection reset by peer")

    monkeypatch.setattr(file_utils, "urlretrieve", half)
    with pytest.raises(WeightsUnavailable):
        start_graph("MobileNetV2", (32, 32, 3), 3, weights="imagenet")
    assert os.listdir(weights_cache_dir()) == []


def test_a_half_file_left_by_a_killed_process_is_dropped(keras_home, monkeypatch):
    """A half file under the final name (a process killed mid-download) is removed before Keras would load it,
    so the user gets the download's own message, not an HDF5 error every time."""
    folder = weights_cache_dir()
    os.makedirs(folder, exist_ok=True)
    whole = keras_home / "models" / "whole.h5"
    with h5py.File(whole, "w") as f:
        f["x"] = np.zeros(3)
    broken = os.path.join(folder, "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5")
    with open(broken, "wb") as f:
        f.write(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)

    def offline(url, target, *args):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(file_utils, "urlretrieve", offline)
    with pytest.raises(WeightsUnavailable):
        start_graph("MobileNetV2", (32, 32, 3), 3, weights="imagenet")
    assert sorted(os.listdir(folder)) == ["whole.h5"]
    assert drop_broken_downloads() == []


def test_the_parameter_limit_names_its_setting(monkeypatch):
    import builder.model.build

    monkeypatch.setattr(builder.model.build, "MAX_PARAMS", 1_000_000)
    with pytest.raises(PretrainedError, match="set LAYERCANVAS_MAX_PARAMS to allow more"):
        start_graph("MobileNetV2", (32, 32, 3), 3)


def test_random_weights_get_measured_statistics():
    """Random MobileNetV2 in inference mode fades its input to nothing; with BatchNormalization statistics
    measured on the images, the features keep their scale and the head's outputs differ from image to image."""
    made = start_graph("MobileNetV2", (32, 32, 3), 2, size=32)
    result = build(made.graph)
    x = np.random.default_rng(1).random((64, 32, 32, 3)).astype("float32")
    features = keras.Model(result.model.inputs, result.model.get_layer("pool").output)

    def scale(weights):
        apply_weights(result.model, weights)
        return float(np.abs(features.predict(x, verbose=0)).mean())

    assert scale(made.weights) < 1e-6
    calibrated = calibrate_batch_norm(result.model, made.graph, made.weights, x)
    assert 0.05 < scale(calibrated) < 10
    assert float(np.std(result.model.predict(x, verbose=0))) > 1e-3
    changed = [n for n in calibrated if not all(np.array_equal(a, b) for a, b in zip(calibrated[n], made.weights[n], strict=False))]
    assert changed and all(result.model.get_layer(n).__class__.__name__ == "BatchNormalization" for n in changed)


def test_the_generated_code_and_the_saved_model_predict_the_same(tmp_path):
    """The exported code's model and the exported .keras file, given the same weights, predict what the app's
    model does (grey digits through Resizing, Concatenate and the caffe-style ResNet50 input)."""
    from builder.files.codegen import generate_code
    from tests.test_codegen import run_code

    made = start_graph("ResNet50", (8, 8, 1), 10, size=32)
    app_model = build(made.graph).model
    apply_weights(app_model, made.weights)
    everything = {layer.name: layer.get_weights() for layer in app_model.layers if layer.weights}  # the head too
    code_model = run_code(generate_code(made.graph))
    assert sorted(apply_weights(code_model, everything)) == sorted(everything)
    app_model.save(tmp_path / "m.keras")
    saved = keras.models.load_model(tmp_path / "m.keras")
    x = np.random.default_rng(4).random((3, 8, 8, 1)).astype("float32")
    expected = app_model.predict(x, verbose=0)
    assert float(np.std(expected)) > 0
    np.testing.assert_allclose(code_model.predict(x, verbose=0), expected, atol=1e-6)
    np.testing.assert_allclose(saved.predict(x, verbose=0), expected, atol=1e-6)
    assert [layer.trainable for layer in saved.layers] == [layer.trainable for layer in app_model.layers]
