"""Every export format reloads and predicts the same as the in-app model; failures leave nothing behind."""

import io
import os
import zipfile

import numpy as np
import pytest

from builder.data import datasets
from builder.files.export import (
    FORMATS,
    ExportError,
    export,
    export_bytes,
    file_name,
    file_stem,
    load_snippet,
    serving_signature,
)
from builder.kerasenv import load_keras
from builder.model.build import build_model
from builder.model.templates import template
from builder.train.settings import LOSSES, METRICS, OPTIMIZERS, CompileSettings
from tests.conftest import ROOT
from tests.layer_cases import all_cases, case_graph

keras = load_keras()


def sample(model, n=16, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for inp in model.inputs:
        shape = (n, *inp.shape[1:])
        if "int" in str(inp.dtype):
            out.append(rng.integers(0, 10, shape).astype(str(inp.dtype)))
        else:
            out.append(rng.normal(size=shape).astype("float32"))
    return out if len(out) > 1 else out[0]


def as_list(pred):
    return [np.asarray(p) for p in pred] if isinstance(pred, (list, tuple)) else [np.asarray(pred)]


@pytest.fixture(scope="module")
def trained():
    """The iris MLP after a few epochs (weights away from their initial values)."""
    graph = template("iris_mlp")
    model = build_model(graph)
    optimizer, loss, metrics = CompileSettings().keras_objects()
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    x, y, _, _ = datasets.BUILTIN["iris"].load()
    model.fit(x, y, epochs=3, verbose=0)
    return graph, model


KEYS = ["iris_mlp", "lenet5", "small_resnet", "lstm_text", "two_inputs", "two_outputs", "conv1d_series"]


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("fmt", ["keras", "h5"])
def test_keras_and_h5_reload_with_the_same_predictions(tmp_path, key, fmt):
    graph = template(key)
    model = build_model(graph)
    x = sample(model)
    path = export(fmt, str(tmp_path / file_name(graph, fmt)), model=model)
    assert os.listdir(tmp_path) == [os.path.basename(path)]  # no temporary files left
    again = keras.models.load_model(path, safe_mode=True)
    for a, b in zip(as_list(model.predict(x, verbose=0)), as_list(again.predict(x, verbose=0)), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_savedmodel_zip_reloads_with_tf_and_as_a_keras_layer(tmp_path, trained):
    import tensorflow as tf

    graph, model = trained
    x = sample(model)
    data = export_bytes("savedmodel", model=model)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert "saved_model/saved_model.pb" in zf.namelist()
        zf.extractall(tmp_path)
    folder = str(tmp_path / "saved_model")
    loaded = tf.saved_model.load(folder)
    fn = loaded.signatures["serving_default"]
    out = list(fn(tf.constant(x)).values())[0].numpy()
    np.testing.assert_allclose(out, model.predict(x, verbose=0), atol=1e-5)
    layer = keras.layers.TFSMLayer(folder, call_endpoint="serving_default")
    out2 = layer(x)
    out2 = list(out2.values())[0] if isinstance(out2, dict) else out2
    np.testing.assert_allclose(np.asarray(out2), model.predict(x, verbose=0), atol=1e-5)
    sig = serving_signature(data)
    assert "serving_default" in sig and "float32 [None, 4]" in sig and "output" in sig


def test_savedmodel_to_a_folder(tmp_path, trained):
    _, model = trained
    path = export("savedmodel", str(tmp_path / "sm"), model=model)
    assert os.path.exists(os.path.join(path, "saved_model.pb"))
    with pytest.raises(ExportError, match="already exists"):
        export("savedmodel", str(tmp_path / "sm"), model=model)


@pytest.mark.parametrize("key", ["iris_mlp", "lenet5", "two_outputs"])
def test_tflite_predicts_the_same(tmp_path, key):
    import tensorflow as tf

    model = build_model(template(key))
    x = sample(model, n=1)
    path = export("tflite", str(tmp_path / "m.tflite"), model=model)
    interpreter = tf.lite.Interpreter(model_path=path)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    outs = sorted((np.asarray(interpreter.get_tensor(d["index"])) for d in interpreter.get_output_details()),
                  key=lambda a: a.shape[-1])
    expected = sorted(as_list(model.predict(x, verbose=0)), key=lambda a: a.shape[-1])
    for a, b in zip(outs, expected, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_generated_code_plus_weights_file_rebuilds_the_trained_model(tmp_path, trained):
    graph, model = trained
    x = sample(model)
    weights = export("weights", str(tmp_path / file_name(graph, "weights")), model=model)
    assert weights.endswith(".weights.h5")
    code = export("python", str(tmp_path / "model.py"), graph=graph)
    scope: dict = {}
    exec(compile(open(code).read(), "model.py", "exec"), scope)
    rebuilt = scope["build_model"]()
    rebuilt.load_weights(weights)
    np.testing.assert_allclose(rebuilt.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)


def test_script_and_graph_files(tmp_path):
    from builder.model.graph import Graph

    graph = template("iris_mlp")
    script = export("script", str(tmp_path / file_name(graph, "script")), graph=graph, dataset="iris")
    assert script.endswith("iris_mlp_train.py") and "def build_model" in open(script).read()
    path = export("graph", str(tmp_path / file_name(graph, "graph")), graph=graph)
    assert Graph.load(path) == graph


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_h5_reloads_compiled_for_every_optimizer_loss_and_metric(tmp_path, optimizer):
    graph = template("iris_mlp")
    x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    for loss in LOSSES:
        settings = CompileSettings(optimizer=optimizer, loss=loss, from_logits=False, metrics=list(METRICS))
        model = build_model(graph)
        opt, loss_obj, metrics = settings.keras_objects()
        model.compile(optimizer=opt, loss=loss_obj, metrics=metrics)
        y = {"sparse_categorical_crossentropy": np.zeros(8, "int64"), "categorical_crossentropy": np.eye(3)[[0] * 8],
             "binary_crossentropy": np.zeros((8, 3), "float32")}.get(loss, np.zeros((8, 3), "float32"))
        model.fit(x, y, epochs=1, verbose=0)
        path = export("h5", str(tmp_path / f"{optimizer}-{loss}.h5"), model=model)
        again = keras.models.load_model(path)  # compiled, as saved
        assert again.optimizer is not None and type(again.optimizer).__name__.lower() == optimizer.replace("w", "w")
        np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)


def test_a_failed_export_leaves_nothing_behind(tmp_path, trained, monkeypatch):
    _, model = trained

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(model, "save", broken)
    with pytest.raises(ExportError, match="disk full"):
        export("keras", str(tmp_path / "m.keras"), model=model)
    assert os.listdir(tmp_path) == []


def test_bad_requests_are_refused():
    with pytest.raises(ExportError, match="unknown format"):
        export("pdf", "x.pdf", model=object())
    with pytest.raises(ExportError, match="needs a model"):
        export("keras", "x.keras", graph=template("mlp"))
    with pytest.raises(ExportError, match="needs the graph"):
        export("python", "x.py")


def test_file_names_are_safe_and_every_format_has_a_load_snippet():
    g = template("mlp").set_name("my model <script>")
    names = {fmt: file_name(g, fmt) for fmt in FORMATS}
    assert names["keras"] == "my_model_script.keras" and names["weights"].endswith(".weights.h5")
    assert all("/" not in n and " " not in n for n in names.values())
    assert all(f.load and f.description for f in FORMATS.values())


H5_CASES = [c for c in all_cases() if c[1] != "Input"]


@pytest.mark.parametrize("case_id,type_,inputs,params", H5_CASES, ids=[c[0] for c in H5_CASES])
def test_every_layer_survives_h5_or_is_refused_with_a_message(tmp_path, case_id, type_, inputs, params):
    model = build_model(case_graph(type_, inputs, params))
    x = sample(model, n=4)
    try:
        path = export("h5", str(tmp_path / "m.h5"), model=model)
    except ExportError as e:
        assert ".keras" in str(e)  # the message points to the format that works
        return
    again = keras.models.load_model(path)
    for a, b in zip(as_list(model.predict(x, verbose=0)), as_list(again.predict(x, verbose=0)), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_snippets_name_the_files_as_they_download():
    """The snippets that import build_model() import it from the model code file as it downloads; a name that
    `import` cannot spell is imported with importlib, and a name that would hide a module gets "_model" added.
    (tests/test_export_snippets.py runs every snippet on the page's own downloads.)"""
    graph = template("iris_mlp")
    for fmt in ("weights", "python"):
        assert "from iris_mlp import build_model" in load_snippet(graph, fmt)
        assert "from model import" not in load_snippet(graph, fmt)
    assert 'model.load_weights("iris_mlp.weights.h5")' in load_snippet(graph, "weights")
    assert load_snippet(graph, "script").splitlines()[-1] == "python iris_mlp_train.py --epochs 10 --output model.keras"
    assert FORMATS["script"].load_language == "bash"
    assert "nbconvert" not in load_snippet(graph, "notebook") and "NotebookClient" in load_snippet(graph, "notebook")
    for name, stem in [("3 layers", "3_layers"), ("class", "class"), ("my-net", "my-net")]:
        assert file_name(name, "python") == stem + ".py"
        assert f'importlib.import_module("{stem}").build_model' in load_snippet(name, "weights")
    for name in ("keras", "Keras", "numpy", "json", "random", "builder", "tensorflow"):
        assert file_stem(name) == name + "_model", name
        assert file_name(name, "python") == name + "_model.py" and file_name(name, "keras") == name + "_model.keras"
    for fmt in FORMATS:
        assert file_name(graph, fmt) in load_snippet(graph, fmt)
    with pytest.raises(ExportError, match="unknown format"):
        file_name(graph, "pdf")


def test_the_notebook_and_its_snippet_need_only_the_apps_requirements():
    """nbclient and ipykernel run the notebook snippet: they are in requirements.txt, which the README installs."""
    with open(os.path.join(ROOT, "requirements.txt"), encoding="utf-8") as f:
        wanted = {line.split("==")[0].strip().lower() for line in f if "==" in line}
    assert {"nbformat", "nbclient", "ipykernel"} <= wanted
