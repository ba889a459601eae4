"""ONNX, quantized TFLite and the notebook: exported from trained models, reloaded with their own runtimes and
compared with Keras; TensorBoard logs of a training run read back with TensorBoard's own reader."""

import os

import numpy as np
import pytest

from builder.data import datasets
from builder.files.export import (
    COMPARE_LIMIT,
    FORMATS,
    ExportError,
    export,
    file_name,
    onnx_feed,
    tflite_comparison,
    tflite_predict,
)
from builder.kerasenv import load_keras
from builder.model.build import build_model
from builder.model.graph import Graph
from builder.model.templates import template
from builder.train.job import TrainingJob
from builder.train.settings import TrainSettings, suggest_compile

keras = load_keras()


def train(key: str, dataset: str, epochs: int):
    graph = template(key)
    data = datasets.load(dataset)
    settings = suggest_compile(graph, data.task, data.classes)
    model = build_model(graph)
    optimizer, loss, metrics = settings.keras_objects()
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    keras.utils.set_random_seed(0)
    model.fit(data.x_train, data.y_train, epochs=epochs, batch_size=32, verbose=0)
    return graph, model, data, settings


@pytest.fixture(scope="module")
def iris():
    return train("iris_mlp", "iris", 60)


@pytest.fixture(scope="module")
def digits():
    return train("digits_cnn", "digits", 8)


def chain(name: str, shape: list, layers: list) -> Graph:
    nodes = [{"id": "image", "type": "Input", "params": {"shape": shape}}]
    nodes += [{"id": i, "type": t, "params": p} for i, t, p in layers]
    ids = [n["id"] for n in nodes]
    return Graph.from_dict({"format": "layercanvas-graph", "version": 1, "name": name, "nodes": nodes,
                            "edges": [{"source": a, "target": b} for a, b in zip(ids, ids[1:], strict=False)]})


def onnx_run(path, model, xs):
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session, session.run(None, onnx_feed(session, model, xs))


# -- ONNX -----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", ["iris", "digits"])
def test_onnx_predicts_what_keras_predicts(tmp_path, request, case):
    graph, model, data, _ = request.getfixturevalue(case)
    path = export("onnx", str(tmp_path / file_name(graph, "onnx")), model=model)
    assert os.listdir(tmp_path) == [os.path.basename(path)] and path.endswith(".onnx")
    session, (got,) = onnx_run(path, model, [data.x_test])
    assert [i.name for i in session.get_inputs()] == [graph.input_ids()[0]]
    expected = model.predict(data.x_test, verbose=0)
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert (got.argmax(axis=1) == data.y_test).mean() > 0.6  # a trained model, not a constant (3 classes)


def test_onnx_keeps_the_order_of_several_inputs_and_outputs(tmp_path):
    """Two inputs of one shape, listed against the alphabet, and two outputs of one shape: a swap would pass the
    shapes but not the values."""
    g = Graph.from_dict({
        "format": "layercanvas-graph", "version": 1, "name": "order",
        "nodes": [{"id": "second", "type": "Input", "params": {"shape": [4]}},
                  {"id": "first", "type": "Input", "params": {"shape": [4]}},
                  {"id": "scaled", "type": "Dense", "params": {"units": 4}},
                  {"id": "both", "type": "Concatenate", "params": {}},
                  {"id": "z_out", "type": "Dense", "params": {"units": 2}},
                  {"id": "a_out", "type": "Dense", "params": {"units": 2, "activation": "tanh"}}],
        "edges": [{"source": "second", "target": "scaled"}, {"source": "scaled", "target": "both", "port": 0},
                  {"source": "first", "target": "both", "port": 1}, {"source": "both", "target": "z_out"},
                  {"source": "both", "target": "a_out"}],
        "outputs": ["z_out", "a_out"]})
    model = build_model(g)
    path = export("onnx", str(tmp_path / "order.onnx"), model=model)
    rng = np.random.default_rng(1)
    xs = [rng.normal(size=(6, 4)).astype("float32") for _ in range(2)]
    session, got = onnx_run(path, model, xs)
    assert sorted(i.name for i in session.get_inputs()) == ["first", "second"]
    expected = model.predict(xs, verbose=0)
    assert len(got) == 2
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4)
    assert not np.allclose(expected[0], expected[1], atol=1e-2)  # the two outputs are told apart


def test_onnx_two_input_template(tmp_path):
    model = build_model(template("two_inputs"))
    path = export("onnx", str(tmp_path / "two.onnx"), model=model)
    rng = np.random.default_rng(2)
    xs = [rng.normal(size=(5, *t.shape[1:])).astype("float32") for t in model.inputs]
    _, (got,) = onnx_run(path, model, xs)
    np.testing.assert_allclose(got, model.predict(xs, verbose=0), atol=1e-4)


@pytest.mark.parametrize("layers,culprit,kind", [
    ([("conv", "Conv2D", {"filters": 6, "kernel_size": 3}),
      ("conv_1", "Conv2D", {"filters": 6, "kernel_size": 3, "groups": 3}),
      ("flat", "Flatten", {}), ("head", "Dense", {"units": 3})], "conv_1", "Conv2D"),
    ([("conv", "Conv2D", {"filters": 4, "kernel_size": 3}), ("flip", "RandomFlip", {"seed": 1}),
      ("flat", "Flatten", {}), ("head", "Dense", {"units": 3})], "flip", "RandomFlip"),
], ids=["grouped-conv", "random-flip"])
def test_a_model_onnx_cannot_hold_is_refused_naming_the_layer(tmp_path, layers, culprit, kind):
    model = build_model(chain("blocked", [8, 8, 3], layers))
    with pytest.raises(ExportError) as e:
        export("onnx", str(tmp_path / "m.onnx"), model=model)
    message = str(e.value)
    assert f"layer '{culprit}' ({kind})" in message and "SavedModel" in message, message
    assert "Traceback" not in message and "\n" not in message
    assert os.listdir(tmp_path) == []  # nothing half-written is left


def test_onnx_predictions_that_differ_from_keras_are_refused(tmp_path, iris, monkeypatch):
    """The check before download: a file whose predictions are off by 1e-3 is not written."""
    _, model, _, _ = iris
    original = model.predict
    monkeypatch.setattr(model, "predict", lambda *a, **k: original(*a, **k) + 1e-3)
    with pytest.raises(ExportError, match=r"differ from Keras's by up to 0\.001 \(more than 0\.0001\)"):
        export("onnx", str(tmp_path / "m.onnx"), model=model)
    assert os.listdir(tmp_path) == []


# -- TFLite: float32, int8, float16 ---------------------------------------------------------------------------------

@pytest.mark.parametrize("case", ["iris", "digits"])
def test_tflite_variants_reload_and_score_like_keras(tmp_path, request, case):
    _, model, data, settings = request.getfixturevalue(case)
    x = data.x_test
    expected = model.predict(x, verbose=0)
    keras_acc = float((expected.argmax(axis=1) == data.y_test).mean())
    preds = {}
    for fmt in ("tflite", "tflite-int8", "tflite-f16"):
        path = export(fmt, str(tmp_path / f"m{FORMATS[fmt].ext}"), model=model)
        with open(path, "rb") as f:
            preds[fmt] = tflite_predict(f.read(), [x], [t.name for t in model.inputs])[0]
    np.testing.assert_allclose(preds["tflite"], expected, atol=1e-4)
    # float16 weights: each weight rounded to 11 significant bits; the softmax outputs moved by up to 5.4e-4 (digits)
    # when this was written.
    np.testing.assert_allclose(preds["tflite-f16"], expected, atol=2e-3)
    for fmt in ("tflite-int8", "tflite-f16"):
        acc = float((preds[fmt].argmax(axis=1) == data.y_test).mean())
        assert abs(acc - keras_acc) <= 0.02, (fmt, acc, keras_acc)

    report = tflite_comparison(model, x, data.y_test, data.task, settings.from_logits)
    rows = {r["format"]: r for r in report["rows"]}
    assert list(rows) == ["keras", "tflite", "tflite-int8", "tflite-f16"]
    assert report["metrics"] == ["accuracy"] and report["samples"] == report["total"] == len(x)
    assert rows["keras"]["accuracy"] == pytest.approx(keras_acc)
    assert rows["keras"]["accuracy"] == pytest.approx(model.evaluate(x, data.y_test, verbose=0, return_dict=True)
                                                      ["accuracy"], abs=1e-6)
    assert rows["tflite"]["accuracy"] == pytest.approx(keras_acc)
    for fmt in ("tflite-int8", "tflite-f16"):
        assert abs(rows[fmt]["accuracy"] - keras_acc) <= 0.02
    assert all(rows[f]["bytes"] == len(report["files"][f]) > 0 for f in ("tflite", "tflite-int8", "tflite-f16"))
    if case == "digits":  # enough weights to quantize (TFLite leaves tensors under 1024 values as they are)
        assert rows["tflite-int8"]["bytes"] < 0.4 * rows["tflite"]["bytes"]
        assert rows["tflite-f16"]["bytes"] < 0.6 * rows["tflite"]["bytes"]


def test_tflite_comparison_of_a_regression_caps_the_samples():
    graph = chain("reg", [10], [("hidden", "Dense", {"units": 16, "activation": "relu"}),
                                ("out", "Dense", {"units": 1})])
    data = datasets.load("diabetes")
    model = build_model(graph)
    optimizer, loss, metrics = suggest_compile(graph, "regression", 0).keras_objects()
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    model.fit(data.x_train, data.y_train, epochs=5, verbose=0)
    x = np.concatenate([data.x_test] * 6)  # 534 samples, capped at 200
    y = np.concatenate([data.y_test] * 6)
    report = tflite_comparison(model, x, y, "regression", limit=200)
    assert report["metrics"] == ["mae", "mse"] and report["samples"] == 200 and report["total"] == len(x)
    rows = {r["format"]: r for r in report["rows"]}
    pred = model.predict(x[:200], verbose=0).reshape(-1)
    assert rows["keras"]["mae"] == pytest.approx(float(np.mean(np.abs(pred - y[:200]))), rel=1e-5)
    assert rows["tflite"]["mae"] == pytest.approx(rows["keras"]["mae"], rel=1e-4)
    for fmt in ("tflite-int8", "tflite-f16"):
        assert rows[fmt]["mae"] == pytest.approx(rows["keras"]["mae"], rel=0.05)
    assert COMPARE_LIMIT == 2000


def test_tflite_comparison_refuses_what_it_cannot_score(iris):
    _, model, data, _ = iris
    with pytest.raises(ExportError, match=r"samples of shape \(8, 8, 1\) but the model takes \(4,\)"):
        tflite_comparison(model, np.zeros((3, 8, 8, 1), "float32"), np.zeros(3), "classification")
    with pytest.raises(ExportError, match="one output; this one has 2"):
        tflite_comparison(build_model(template("two_outputs")), np.zeros((3, 16), "float32"), np.zeros(3),
                          "classification")
    with pytest.raises(ExportError, match="no test data"):
        tflite_comparison(model, data.x_test[:0], data.y_test[:0], "classification")


# -- the notebook ---------------------------------------------------------------------------------------------------

def test_notebook_format_writes_the_notebook_module_output(tmp_path):
    import nbformat

    from builder.files import notebook

    graph = template("iris_mlp")
    path = export("notebook", str(tmp_path / file_name(graph, "notebook")), graph=graph, dataset="iris")
    assert path.endswith("iris_mlp.ipynb")
    text = open(path, encoding="utf-8").read()
    assert text == notebook.generate_notebook(graph, "iris")
    nbformat.validate(nbformat.reads(text, as_version=4))
    spec = FORMATS["notebook"]
    assert not spec.needs_model and spec.mime == "application/x-ipynb+json" and spec.ext == ".ipynb"


# -- TensorBoard logs -----------------------------------------------------------------------------------------------

def read_events(folder: str):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(folder, size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


def scalars(acc, tag: str) -> list[tuple[int, float]]:
    """(step, value) of a scalar that tf.summary.scalar wrote (TF 2 writes scalars as tensor events of the
    "scalars" plugin, which TensorBoard draws as scalars)."""
    from tensorboard.util import tensor_util

    assert acc.SummaryMetadata(tag).plugin_data.plugin_name == "scalars"
    return [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in acc.Tensors(tag)]


def test_a_training_run_writes_tensorboard_logs_matching_its_history(tmp_path):
    import json

    from builder.train.runlogs import has_logs, log_dir, zip_logs

    graph = template("iris_mlp")
    data = datasets.load("iris")
    settings = TrainSettings(compile=suggest_compile(graph, data.task, data.classes), epochs=4, batch_size=16,
                             validation_split=0.2, inspect=False)
    job = TrainingJob(graph, data, settings, artifact_dir=str(tmp_path))
    job.start()
    assert job.wait(120) and job.status == "finished", job.message
    folder = log_dir(str(tmp_path), job.id)
    assert job.log_dir == folder == os.path.join(str(tmp_path), f"{job.id}.tb") and has_logs(folder)
    assert sorted(os.listdir(folder)) == ["train", "validation"]
    assert job.tensorboard.error is None
    train, val = read_events(os.path.join(folder, "train")), read_events(os.path.join(folder, "validation"))
    assert len(job.history) == 4
    for name in ("loss", "accuracy"):
        logged = scalars(train, f"epoch_{name}")
        assert [s for s, _ in logged] == [1, 2, 3, 4]
        np.testing.assert_allclose([v for _, v in logged], [row[name] for row in job.history], rtol=1e-6)
        logged_val = scalars(val, f"epoch_{name}")
        np.testing.assert_allclose([v for _, v in logged_val], [row[f"val_{name}"] for row in job.history], rtol=1e-6)
    # The graph: the TensorFlow ops of the forward pass, and Keras's model config (the "conceptual graph").
    ops = {node.name for node in train.Graph().node}
    assert any("dense" in op.lower() and "MatMul" in op for op in ops), sorted(ops)[:20]
    keras_graph = train.Tensors("keras")
    config = json.loads(keras_graph[0].tensor_proto.string_val[0])
    assert [layer["name"] for layer in config["config"]["layers"]] == graph.ids()
    # The download: the folder zipped under its own name.
    import io
    import zipfile

    names = zipfile.ZipFile(io.BytesIO(zip_logs(folder))).namelist()
    assert any(n.startswith(f"{job.id}.tb/train/events.out.tfevents.") for n in names)
    assert any(n.startswith(f"{job.id}.tb/validation/events.out.tfevents.") for n in names)


def test_no_artifact_dir_no_logs_and_a_bad_run_id_is_refused(tmp_path):
    from builder.train.runlogs import log_dir

    graph = template("iris_mlp")
    data = datasets.load("iris")
    job = TrainingJob(graph, data, TrainSettings(epochs=1))
    assert job.log_dir is None
    with pytest.raises(ValueError, match="run id"):
        log_dir(str(tmp_path), "../../etc")


# -- the Export and Runs pages --------------------------------------------------------------------------------------

def test_export_page_offers_onnx_quantized_tflite_the_notebook_and_the_logs():
    import onnxruntime as ort

    from components import state
    from components.export_panel import COMPARED, PREPARED
    from components.training_panel import RUN, registry
    from tests.test_app_build import fresh_browser, messages, run_app

    at = run_app(browser=fresh_browser())
    at.switch_page("pages/train.py").run()
    at.number_input(key="train_epochs").set_value(20).run()
    at.button(key="train_start").click().run()
    job = registry().get(at.session_state[RUN])
    assert job.wait(120) and job.status == "finished", job.message
    at.switch_page("pages/export.py").run()
    assert not at.exception, [e.value for e in at.exception]

    def downloads():
        return {b.key for b in at.get("download_button") if b.key}

    assert {"prepare:onnx", "prepare:tflite-int8", "prepare:tflite-f16"} <= {b.key for b in at.button}
    assert {"download:notebook", "logs:export"} <= downloads()
    code = "\n".join(c.value for c in at.code)
    assert 'ort.InferenceSession("iris_mlp.onnx")' in code and 'model_path="iris_mlp_int8.tflite"' in code
    assert any("tensorboard --logdir" in m and f"{job.id}.tb" in m for m in messages(at.caption))

    # ONNX on request; the file is the trained model.
    at.button(key="prepare:onnx").click().run()
    assert not at.exception and "download:onnx" in downloads()
    session = ort.InferenceSession(at.session_state[PREPARED]["onnx"])
    x = job.dataset.x_test[:8]
    np.testing.assert_allclose(session.run(None, {"input": x})[0], job.model.predict(x, verbose=0), atol=1e-4)

    # The TFLite files compared on the test data, on request; the three files are then ready to download.
    assert not at.dataframe or all("Size" not in d.value for d in at.dataframe)
    at.button(key="compare_tflite").click().run()
    assert not at.exception, [e.value for e in at.exception]
    table = next(d.value for d in at.dataframe if "Size" in d.value)
    assert list(table["File"]) == ["Keras (.keras)", "TFLite float32", "TFLite int8", "TFLite float16"]
    report = at.session_state[COMPARED][1]
    keras_acc = report["rows"][0]["accuracy"]
    assert keras_acc == pytest.approx(job.result["metrics"]["accuracy"], abs=1e-6)  # all 30 iris test samples
    assert list(table["Accuracy"]) == [f"{r['accuracy']:.1%}" for r in report["rows"]]
    assert all(abs(r["accuracy"] - keras_acc) <= 0.02 for r in report["rows"])
    assert any("all 30 test samples of iris" in m for m in messages(at.caption))
    assert {"download:tflite", "download:tflite-int8", "download:tflite-f16"} <= downloads()

    # The Runs page: the run's logs.
    at.switch_page("pages/runs.py").run()
    assert not at.exception and f"logs:{job.id}" in downloads()

    # A model ONNX cannot hold (in a new browser: no run, the graph is exported untrained): a plain message.
    other = run_app(browser=fresh_browser())
    other.session_state[state.GRAPH] = chain("flips", [8, 8, 1], [
        ("flip", "RandomFlip", {"seed": 1}), ("flat", "Flatten", {}),
        ("head", "Dense", {"units": 3, "activation": "softmax"})])
    other.switch_page("pages/export.py").run()
    other.button(key="prepare:onnx").click().run()
    assert not other.exception, [e.value for e in other.exception]
    errors = messages(other.error)
    assert any("ONNX cannot hold layer 'flip' (RandomFlip)" in e for e in errors), errors
    assert "download:onnx" not in {b.key for b in other.get("download_button")}
