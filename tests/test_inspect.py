"""Looking inside a model: layer outputs, filters, Grad-CAM, saliency, and weights and gradients during training."""

import gc
import math
import types
import weakref
from itertools import pairwise

import numpy as np
import pytest

from builder.data import datasets
from builder.kerasenv import load_keras
from builder.model.build import build_model
from builder.model.graph import Graph
from builder.model.templates import template
from builder.train import inspect as insp
from builder.train.inspect import InspectError, layer_outputs
from builder.train.job import TrainingJob
from builder.train.settings import TrainSettings, suggest_compile


def chain(name, shape, layers):
    nodes = [{"id": "input", "type": "Input", "params": {"shape": shape}}]
    nodes += [{"id": nid, "type": t, "params": p} for nid, t, p in layers]
    ids = [n["id"] for n in nodes]
    return Graph.from_dict({"format": "layercanvas-graph", "version": 1, "name": name, "nodes": nodes,
                            "edges": [{"source": a, "target": b} for a, b in pairwise(ids)]})


def sample_for(model):
    shape = tuple(model.inputs[0].shape[1:])
    rng = np.random.default_rng(0)
    if str(model.inputs[0].dtype).startswith("int"):
        return rng.integers(0, 10, size=shape)
    return rng.random(shape).astype("float32")


def compiled(graph, task="classification", classes=3, lr=None):
    model = build_model(graph)
    comp = suggest_compile(graph, task, classes)
    if lr is not None:
        comp.learning_rate = lr
    optimizer, loss, metrics = comp.keras_objects()
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    return model


# -- layer outputs ---------------------------------------------------------------------------------------------------

def test_layer_outputs_kinds_and_shapes_on_templates():
    model = build_model(template("mnist_cnn"))
    out = layer_outputs(model, sample_for(model))
    assert list(out) == [la.name for la in model.layers[1:]]  # every layer but the input, in order
    conv = out["conv2d"]
    assert conv.kind == "image" and conv.array.shape == (26, 26, 32) and conv.channels == 32
    assert conv.array.dtype == np.float32 and conv.min <= conv.array.min() <= conv.array.max() <= conv.max
    assert out["flatten"].kind == "vector" and out["flatten"].array.shape == (1600,)
    head = out["head"]
    assert head.kind == "probabilities" and head.array.shape == (10,) and head.array.sum() == pytest.approx(1, 1e-5)
    assert not conv.capped and conv.layer_type == "Conv2D"

    model = build_model(template("lstm_text"))
    out = layer_outputs(model, sample_for(model))
    assert out["embedding"].kind == "sequence" and out["embedding"].array.shape == (20, 16)
    assert out["lstm"].kind == "vector" and out["head"].kind == "probabilities"

    model = build_model(template("conv1d_series"))  # ends in Dense(1) without activation: a value, not a probability
    out = layer_outputs(model, sample_for(model), names=["conv1d", "forecast"])
    assert list(out) == ["conv1d", "forecast"]
    assert out["conv1d"].kind == "sequence" and out["forecast"].kind == "vector"

    model = build_model(template("two_inputs"))
    out = layer_outputs(model, [np.zeros((8, 8, 1), "float32"), np.zeros(4, "float32")], names="joined")
    assert out["joined"].array.shape == (296,)


def test_layers_kept_between_builds_show_this_models_outputs():
    from builder.model.build import ModelBuilder

    builder = ModelBuilder()
    graph = template("mnist_cnn")
    first = builder.build(graph).model
    second = builder.build(graph.set_param("head", "units", 5)).model
    assert first.get_layer("conv2d") is second.get_layer("conv2d")  # reused, with its first call in `first`
    sample = sample_for(second)
    assert layer_outputs(second, sample)["head"].array.shape == (5,)
    np.testing.assert_allclose(layer_outputs(second, sample, names="pool_1")["pool_1"].array,
                               layer_outputs(first, sample, names="pool_1")["pool_1"].array)


def test_a_wide_layer_is_capped_and_keeps_its_channel_count():
    model = build_model(chain("wide", [4, 4, 1], [("wide", "Conv2D", {"filters": 2000, "kernel_size": [1, 1]})]))
    out = layer_outputs(model, np.ones((4, 4, 1), "float32"), max_channels=64)["wide"]
    assert out.array.shape == (4, 4, 64) and out.channels == 2000 and out.shape == (4, 4, 2000) and out.capped
    full = model(np.ones((1, 4, 4, 1), "float32")).numpy()[0]
    np.testing.assert_allclose(out.array, full[..., :64], rtol=1e-6)
    assert out.min == pytest.approx(full.min()) and out.max == pytest.approx(full.max())  # of the whole output


def test_a_sample_of_the_wrong_shape_says_expected_and_received():
    model = build_model(template("mnist_cnn"))
    with pytest.raises(InspectError, match=r"\(28, 28, 1\).*got \(28, 28\)"):
        layer_outputs(model, np.zeros((28, 28)))
    with pytest.raises(InspectError, match=r"got \(1, 28, 28, 1\)"):  # a batch is not one sample
        layer_outputs(model, np.zeros((1, 28, 28, 1)))
    with pytest.raises(InspectError, match="no layer named 'nope'"):
        layer_outputs(model, np.zeros((28, 28, 1)), names=["nope"])
    two = build_model(template("two_inputs"))
    with pytest.raises(InspectError, match="2 inputs"):
        layer_outputs(two, np.zeros((8, 8, 1)))


def test_the_sub_model_is_cached_per_model_and_names(monkeypatch):
    made = []
    original = insp._build_submodel
    monkeypatch.setattr(insp, "_build_submodel", lambda *a: made.append(1) or original(*a))
    model = build_model(template("iris_mlp"))
    first = layer_outputs(model, np.ones(4, "float32"))
    again = layer_outputs(model, np.zeros(4, "float32"))
    assert len(made) == 1  # the second call made no new keras.Model
    assert first["output"].array.shape == again["output"].array.shape == (3,)
    assert not np.allclose(first["dense"].array, again["dense"].array)  # but ran the new sample
    layer_outputs(model, np.ones(4, "float32"), names=["dense"])
    assert len(made) == 2  # other layers: another sub-model
    layer_outputs(model, np.ones(4, "float32"), names=["dense"])
    assert len(made) == 2
    # The same weights, not a copy: a change to the model shows at once.
    layer = model.get_layer("dense")
    layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    assert not layer_outputs(model, np.ones(4, "float32"), names=["dense"])["dense"].array.any()
    # The cache does not keep a model alive; a model that is gone takes its sub-models with it.
    ref = weakref.ref(model)
    del model, layer
    gc.collect()
    assert ref() is None


# -- filters, Grad-CAM, saliency -------------------------------------------------------------------------------------

def test_first_conv_filters():
    model = build_model(template("mnist_cnn"))
    filters = insp.first_conv_filters(model)
    assert filters.shape == (32, 3, 3, 1) and filters.min() >= 0 and filters.max() <= 1
    assert insp.first_conv_filters(model, max_filters=5).shape == (5, 3, 3, 1)
    assert insp.first_conv_filters(build_model(template("iris_mlp"))) is None


def halves_data(n=384, size=12, seed=0):
    """Noise images; class 1 has a bright square somewhere in the LEFT half, class 0 none. The right half never
    matters."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, size, size, 1)).astype("float32") * 0.3
    y = np.arange(n) % 2
    for i in np.flatnonzero(y == 1):
        r, c = rng.integers(0, size - 3), rng.integers(0, size // 2 - 3)
        x[i, r:r + 3, c:c + 3, 0] = 1.0
    return x, y


def trained_halves(head):
    load_keras().utils.set_random_seed(0)
    graph = chain("halves", [12, 12, 1], [
        ("conv", "Conv2D", {"filters": 8, "kernel_size": [3, 3], "activation": "relu", "padding": "same"}),
        *head, ("head", "Dense", {"units": 2, "activation": "softmax"}),
    ])
    model = compiled(graph, classes=2, lr=0.01)
    x, y = halves_data()
    model.fit(x, y, epochs=5, batch_size=32, verbose=0)
    assert model.evaluate(x, y, verbose=0, return_dict=True)["accuracy"] > 0.9
    return model, x[y == 1][:8]


def left_weighs_more(heats):
    for heat in heats:
        assert heat.shape == (12, 12) and heat.dtype == np.float32
        assert heat.min() >= 0 and heat.max() == pytest.approx(1) and heat.std() > 0  # not constant
    mean = np.mean(heats, axis=0)
    return mean[:, :6].mean() > 2 * mean[:, 6:].mean()


def test_grad_cam_looks_at_the_half_that_decides():
    model, ones = trained_halves([("gap", "GlobalAveragePooling2D", {})])
    assert left_weighs_more([insp.grad_cam(model, img, class_index=1, method="grad_cam") for img in ones])
    # Default class: the predicted one; layer by name works too.
    np.testing.assert_allclose(insp.grad_cam(model, ones[0], layer_name="conv"), insp.grad_cam(model, ones[0]))
    kind, heat = insp.heatmap(model, ones[0])
    assert kind == "grad_cam" and heat.shape == (12, 12)
    with pytest.raises(InspectError, match="feature maps"):
        insp.grad_cam(model, ones[0], layer_name="head")
    with pytest.raises(InspectError, match="class_index"):
        insp.grad_cam(model, ones[0], class_index=5)


def test_grad_cam_behind_flatten_falls_back_to_hires_cam():
    model, ones = trained_halves([("pool", "MaxPooling2D", {}), ("flat", "Flatten", {})])
    # Here every feature map's average gradient is negative: plain Grad-CAM shows nothing...
    assert not any(insp.grad_cam(model, img, class_index=1, method="grad_cam").any() for img in ones)
    # ...and "auto" (the default) shows what each position adds.
    assert left_weighs_more([insp.grad_cam(model, img, class_index=1) for img in ones])


def test_saliency_is_the_fallback_without_convolutions():
    load_keras().utils.set_random_seed(0)
    graph = chain("flat_image", [12, 12, 1], [("flat", "Flatten", {}),
                                              ("head", "Dense", {"units": 2, "activation": "softmax"})])
    model = compiled(graph, classes=2, lr=0.01)
    x, y = halves_data()
    model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    with pytest.raises(InspectError, match="saliency"):
        insp.grad_cam(model, x[1])
    kind, heat = insp.heatmap(model, x[1])
    assert kind == "saliency" and heat.shape == (12, 12) and heat.min() >= 0 and heat.max() == pytest.approx(1)
    np.testing.assert_array_equal(heat, insp.saliency(model, x[1]))


def test_grad_cam_and_saliency_refuse_models_that_take_no_image():
    for key in ("iris_mlp", "lstm_text", "two_inputs"):
        model = build_model(template(key))
        for explain in (insp.grad_cam, insp.saliency):
            with pytest.raises(InspectError, match="image"):
                explain(model, np.zeros(4, "float32"))


def test_untrained_copy_keeps_the_model_untouched():
    model = build_model(template("iris_mlp"))
    start = model.get_weights()
    copy = insp.model_with_weights(model, [w * 0 for w in start])
    assert copy is not model and not layer_outputs(copy, np.ones(4, "float32"), names="dense")["dense"].array.any()
    for a, b in zip(model.get_weights(), start, strict=True):
        np.testing.assert_array_equal(a, b)


# -- weights and gradients during training ---------------------------------------------------------------------------

def iris_fit(epochs=3, **kwargs):
    ds = datasets.load("iris")
    load_keras().utils.set_random_seed(0)
    model = compiled(template("iris_mlp"), classes=3, lr=0.01)
    x, y = insp.fixed_batch(ds.x_train, ds.y_train, size=32)
    sampler = insp.WeightGradientSampler(x, y, **kwargs)
    model.fit(ds.x_train, ds.y_train, epochs=epochs, batch_size=16, verbose=0, callbacks=[sampler])
    return model, sampler


def test_the_sampler_records_each_trainable_layer_every_epoch():
    model, sampler = iris_fit(epochs=3)
    assert sampler.error is None
    layers = [la for la in model.layers if la.trainable_weights]
    assert [(r["epoch"], r["layer"]) for r in sampler.rows] == [(e, la.name) for e in (1, 2, 3) for la in layers]
    for row in sampler.rows:
        assert math.isfinite(row["weight_norm"]) and row["weight_norm"] > 0
        assert math.isfinite(row["grad_norm"]) and math.isfinite(row["loss"]) and row["batch"] is None
        params = model.get_layer(row["layer"]).count_params()
        assert row["params"] == params
        for hist in (row["weight_hist"], row["grad_hist"]):
            assert len(hist["counts"]) == 20 and len(hist["edges"]) == 21 and sum(hist["counts"]) == params
    last = [r for r in sampler.rows if r["epoch"] == 3]
    for row in last:  # the weight norm is the model's own
        weights = np.concatenate([w.ravel() for w in model.get_layer(row["layer"]).get_weights()])
        assert row["weight_norm"] == pytest.approx(float(np.linalg.norm(weights)), rel=1e-5)
    assert sampler.calls == 3 and sampler.seconds > 0


def test_the_sampler_keeps_fit_fast_and_can_sample_batches():
    callback = load_keras().callbacks.Callback
    x, y = np.zeros((4, 4), "float32"), np.zeros(4, "int64")
    plain = insp.WeightGradientSampler(x, y)
    assert isinstance(plain, callback)
    # No per-batch hook unless asked for: nothing runs between the training steps.
    for hook in ("on_batch_end", "on_train_batch_begin", "on_train_batch_end"):
        assert getattr(type(plain), hook) is getattr(callback, hook)
    batched = insp.WeightGradientSampler(x, y, every_n_batches=4)
    assert isinstance(batched, insp.WeightGradientSampler) and type(batched).on_train_batch_end is not \
        callback.on_train_batch_end
    with pytest.raises(InspectError, match="every_n_batches"):
        insp.WeightGradientSampler(x, y, every_n_batches=0)
    _, sampler = iris_fit(epochs=1, every_n_batches=4)  # 150 samples / 16 = 10 batches: at 4 and 8, then the end
    assert [r["batch"] for r in sampler.rows[::3]] == [4, 8, None]


def test_the_sampler_changes_nothing_in_the_model():
    graph = chain("bn", [4], [("d", "Dense", {"units": 8}), ("bn", "BatchNormalization", {}),
                              ("drop", "Dropout", {"rate": 0.5}), ("head", "Dense", {"units": 3, "activation": "softmax"})])
    model = compiled(graph)
    rng = np.random.default_rng(0)
    before = [w.copy() for w in model.get_weights()]
    for training in (False, True):
        sampler = insp.WeightGradientSampler(rng.normal(size=(32, 4)).astype("float32") * 5 + 3,
                                             rng.integers(0, 3, 32), training=training)
        sampler.set_model(model)
        sampler.sample(1, None)
        assert sampler.error is None and len(sampler.rows) == 3  # d, bn (gamma, beta), head
        for a, b in zip(model.get_weights(), before, strict=True):  # moving statistics included
            np.testing.assert_array_equal(a, b)


def test_the_sampler_survives_a_diverged_model():
    model = compiled(template("iris_mlp"))
    model.get_layer("dense").kernel.assign(np.full((4, 16), np.nan, "float32"))
    sampler = insp.WeightGradientSampler(np.ones((8, 4), "float32"), np.zeros(8, "int64"))
    sampler.set_model(model)
    sampler.sample(1, None)
    assert sampler.error is None
    dense = sampler.rows[0]
    assert dense["weight_hist"]["nonfinite"] == 64 and sum(dense["weight_hist"]["counts"]) == 16  # the biases


def test_rows_of_past_runs_round_trip(tmp_path):
    rows = [{"epoch": 1, "layer": "dense", "weight_norm": 1.5, "weight_hist": {"edges": [0, 1], "counts": [3]}}]
    path = insp.save_rows(rows, str(tmp_path), "run_12345678")
    assert path.endswith("run_12345678.inspect.json")
    assert insp.load_rows(str(tmp_path), "run_12345678") == rows
    assert insp.load_rows(str(tmp_path), "run_00000000") is None
    with pytest.raises(ValueError, match="run id"):
        insp.load_rows(str(tmp_path), "../../etc/passwd")


# -- the training job ------------------------------------------------------------------------------------------------

def iris_job(tmp_path=None, weights=None, **kw):
    ds = datasets.load("iris")
    graph = template("iris_mlp")
    settings = TrainSettings(compile=suggest_compile(graph, ds.task, ds.classes), epochs=3, batch_size=16, **kw)
    job = TrainingJob(graph, ds, settings, weights=weights, artifact_dir=str(tmp_path) if tmp_path else None)
    job.start()
    assert job.wait(120)
    assert job.status == "finished", job.message
    return job


def test_the_job_exposes_rows_when_inspect_is_on(tmp_path):
    job = iris_job(tmp_path)
    rows = job.snapshot()["inspect"]
    # Epoch 0 is the starting point, recorded before `fit` (where the sampled step is traced).
    assert [r["epoch"] for r in rows] == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3] and job.inspector.error is None
    assert {r["layer"] for r in rows} == {"dense", "dense_1", "output"}
    start = next(r for r in rows if r["epoch"] == 0 and r["layer"] == "dense")
    kernel, bias = job.start_weights[:2]
    assert start["weight_norm"] == pytest.approx(float(np.sqrt((kernel ** 2).sum() + (bias ** 2).sum())), rel=1e-5)
    assert start["step"] == 0 and all(r["step"] > 0 for r in rows if r["epoch"] > 0)
    # Saved beside the model for past runs.
    assert job.inspect_path == str(tmp_path / f"{job.id}.inspect.json")
    assert insp.load_rows(str(tmp_path), job.id) == rows
    # The untrained weights are kept: outputs "untrained vs trained" for one sample.
    untrained = job.untrained_model()
    assert untrained is not job.model and job.untrained_model() is untrained
    sample = job.dataset.x_test[0]
    before = layer_outputs(untrained, sample, names="output")["output"].array
    after = layer_outputs(job.model, sample, names="output")["output"].array
    assert not np.allclose(before, after)
    np.testing.assert_array_equal(untrained.get_layer("dense").get_weights()[0], job.start_weights[0])


def test_a_run_from_earlier_weights_is_compared_with_its_start_and_with_fresh_weights():
    """A run that starts from an earlier run's weights starts trained: beside its trained model come the weights it
    started from ("At the start of this run") and freshly initialized ones ("Untrained"), the very weights a run
    from scratch with the same seed starts from."""
    first = iris_job(seed=7)
    assert not insp.started_from_earlier_weights(first)
    ((label, start),) = insp.compared_models(first)
    assert label == "At the start of this run (untrained)" and start is first.untrained_model()

    second = iris_job(weights=first.trained_weights(), seed=7)
    assert insp.started_from_earlier_weights(second)
    models = insp.compared_models(second)
    assert [label for label, _ in models] == ["Untrained", "At the start of this run"]
    (_, untrained), (_, at_start) = models
    for a, b in zip(at_start.get_weights(), first.model.get_weights(), strict=True):  # where the first run ended
        np.testing.assert_array_equal(a, b)
    for a, b in zip(untrained.get_weights(), first.start_weights, strict=True):  # where a fresh run starts
        np.testing.assert_array_equal(a, b)
    assert insp.compared_models(second)[0][1] is untrained  # made once per run
    sample = second.dataset.x_test[0]
    outputs = [layer_outputs(m, sample, names="output")["output"].array for m in (untrained, at_start, second.model)]
    assert not np.allclose(outputs[0], outputs[1]) and not np.allclose(outputs[0], outputs[2])


def test_weights_of_layers_without_weights_do_not_make_a_run_start_from_earlier_weights():
    job = iris_job(weights={"input": []}, inspect=False)  # what an import gives a layer without weights
    assert job.loaded_weights == ["input"]
    assert not insp.started_from_earlier_weights(job) and insp.compared_models(job) == []


def test_the_job_records_nothing_when_inspect_is_off(tmp_path):
    job = iris_job(tmp_path, inspect=False)
    assert job.snapshot()["inspect"] is None and job.inspector is None
    assert job.start_weights is None and job.untrained_model() is None
    assert job.inspect_path is None and insp.load_rows(str(tmp_path), job.id) is None


def test_the_inspect_setting_is_kept_and_checked():
    from builder.train.settings import SettingsError

    off = TrainSettings(inspect=False)
    assert TrainSettings().inspect is True and TrainSettings.from_dict(off.to_dict()) == off
    assert TrainSettings.from_dict({k: v for k, v in off.to_dict().items() if k != "inspect"}).inspect is True
    with pytest.raises(SettingsError, match="inspect"):
        TrainSettings.from_dict({**off.to_dict(), "inspect": "yes"})


def test_a_dataset_given_as_a_namespace_works_too():
    """The job takes any object with the dataset's fields (the benchmark's synthetic data)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64") + (x[:, 1] > 0)
    ds = types.SimpleNamespace(name="toy", x_train=x, y_train=y, x_test=x[:8], y_test=y[:8],
                               task="classification", classes=3)
    graph = template("iris_mlp")
    job = TrainingJob(graph, ds, TrainSettings(compile=suggest_compile(graph, "classification", 3), epochs=2))
    job.start()
    assert job.wait(120) and job.status == "finished", job.message
    assert len(job.snapshot()["inspect"]) == 9  # 3 layers, epochs 0 to 2
