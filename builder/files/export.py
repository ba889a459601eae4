"""Writing a model in every format users take home: .keras, .h5, SavedModel, weights, TFLite (float32, int8,
float16), ONNX, code, notebook, graph.

Every writer goes through a temporary file (or folder) beside the target and
renames it at the end, so a failed export leaves nothing behind. Models are
compiled with Keras objects, never strings, so `.h5` files reload (keras
issue 19330: a model compiled with the string "mse" does not). An ONNX file is
only handed out after ONNX Runtime predicted the same as Keras on a random batch.
"""

from __future__ import annotations

import contextlib
import io
import keyword
import os
import re
import shutil
import sys
import tempfile
import warnings
import zipfile
from dataclasses import dataclass

from builder.model.graph import Graph


class ExportError(Exception):
    """An export that cannot be done; str(e) says why and what to do."""


@dataclass(frozen=True)
class Format:
    key: str
    label: str
    ext: str
    mime: str
    needs_model: bool  # False: written from the graph alone (code, graph file)
    description: str
    # How to load it: a snippet in `load_language` ("python" or "bash"), run in the download folder. {file} is the
    # file's name as it downloads, {code} the model code's file name, {import_build_model} the lines that import
    # build_model() from it (see load_snippet).
    load: str
    load_language: str = "python"


_TFLITE_LOAD = (
    'import numpy as np\nimport tensorflow as tf\n\ninterpreter = tf.lite.Interpreter(model_path="{file}")\n'
    'interpreter.allocate_tensors()\ninp = interpreter.get_input_details()[0]\n'
    'out = interpreter.get_output_details()[0]\ninterpreter.set_tensor(inp["index"], '
    'np.zeros(inp["shape"], dtype=inp["dtype"]))\ninterpreter.invoke()\nprint(interpreter.get_tensor(out["index"]))')
TFLITE = {"tflite": None, "tflite-int8": "int8", "tflite-f16": "float16"}  # format -> quantization

FORMATS: dict[str, Format] = {f.key: f for f in [
    Format("keras", ".keras (recommended)", ".keras", "application/octet-stream", True,
           "The whole model (architecture, weights, compile settings) in Keras 3's own format.",
           'import keras\n\nmodel = keras.models.load_model("{file}")\nmodel.summary()'),
    Format("h5", ".h5 (legacy HDF5)", ".h5", "application/x-hdf5", True,
           "The older HDF5 format that many tutorials and tools still use.",
           'import keras\n\nmodel = keras.models.load_model("{file}")\nmodel.summary()'),
    Format("savedmodel", "SavedModel (.zip)", ".zip", "application/zip", True,
           "TensorFlow's format for serving (TF Serving, TF.js and TFLite converters), from model.export().",
           'import zipfile\nimport tensorflow as tf\n\n# the zip holds the folder saved_model/\n'
           'zipfile.ZipFile("{file}").extractall(".")\n'
           'loaded = tf.saved_model.load("saved_model")\npredict = loaded.signatures["serving_default"]\n'
           '# or, as a Keras layer: keras.layers.TFSMLayer("saved_model", call_endpoint="serving_default")'),
    Format("weights", "Weights only (.weights.h5)", ".weights.h5", "application/x-hdf5", True,
           "Only the weights: load them into the same architecture (the generated code builds it).",
           '{import_build_model}\n\nmodel = build_model()  # the architecture\nmodel.load_weights("{file}")\n'
           'model.summary()'),
    Format("tflite", "TFLite float32 (.tflite)", ".tflite", "application/octet-stream", True,
           "For phones and small devices (TensorFlow Lite), with float32 weights like the model.", _TFLITE_LOAD),
    Format("tflite-int8", "TFLite int8 (.tflite)", "_int8.tflite", "application/octet-stream", True,
           "TFLite with the weights stored as 8-bit integers (dynamic-range quantization): about 4 times smaller, "
           "usually a little less accurate.", _TFLITE_LOAD),
    Format("tflite-f16", "TFLite float16 (.tflite)", "_f16.tflite", "application/octet-stream", True,
           "TFLite with float16 weights: about half the size, nearly the same predictions.", _TFLITE_LOAD),
    Format("onnx", "ONNX (.onnx)", ".onnx", "application/octet-stream", True,
           "For ONNX Runtime and other ONNX tools (C++, C#, Java, JavaScript). Checked against Keras before you "
           "download it.",
           'import numpy as np\nimport onnxruntime as ort\n\nsession = ort.InferenceSession("{file}")\n'
           'feed = {{}}\nfor i in session.get_inputs():  # one sample of zeros per input, by name\n'
           '    shape = [d if isinstance(d, int) else 1 for d in i.shape]  # the batch axis has no fixed size\n'
           '    feed[i.name] = np.zeros(shape, "int32" if "int" in i.type else "float32")\n'
           'outputs = session.run(None, feed)  # one array per model output, in order\nprint(outputs)'),
    Format("python", "Model code (.py)", ".py", "text/x-python", False,
           "Keras Functional code that builds this model: build_model().",
           '{import_build_model}\n\nmodel = build_model()  # untrained: the weights come in the weights file\n'
           'model.summary()'),
    Format("script", "Training script (.py)", "_train.py", "text/x-python", False,
           "A runnable script: data, build_model(), compile, fit, evaluate, save.",
           "# trains the model on its dataset, evaluates it on the test data, saves model.keras\n"
           "python {file} --epochs 10 --output model.keras", "bash"),
    Format("notebook", "Jupyter notebook (.ipynb)", ".ipynb", "application/x-ipynb+json", False,
           "The training script as a notebook that runs top to bottom: data, model, training, evaluation.",
           'import nbformat\nfrom nbclient import NotebookClient\n\n'
           'notebook = nbformat.read("{file}", as_version=4)\n'
           'NotebookClient(notebook, timeout=600).execute()  # every cell, top to bottom, in a Python kernel\n'
           'nbformat.write(notebook, "{stem}_run.ipynb")  # the notebook with its outputs\n'
           'print(len(notebook.cells), "cells run")'),
    Format("graph", "Graph file (.json)", ".json", "application/json", False,
           "The LayerCanvas graph: open it in the app, or use it with python -m builder.",
           'import json\n\nwith open("{file}", encoding="utf-8") as f:\n    graph = json.load(f)\n'
           'for node in graph["nodes"]:  # each layer: its name in Keras, its type and its parameters\n'
           '    print(node["id"], node["type"], node["params"])\n'
           "# LayerCanvas's command line reads it too: python -m builder summary {file}"),
]}


# Module names a model code file must not take: `import keras` next to a downloaded keras.py imports the file.
# The standard library's, and what the snippets, the generated code, the script and the notebook import.
_TAKEN_NAMES = frozenset(n.lower() for n in (*sys.stdlib_module_names, "builder", "h5py", "ipykernel", "jax",
                                             "jupyter_client", "keras", "keras_tuner", "nbclient", "nbformat",
                                             "numpy", "onnx", "onnxruntime", "pandas", "PIL", "plotly", "sklearn",
                                             "streamlit", "tensorboard", "tensorflow", "tf2onnx", "torch"))


def file_stem(graph_or_name) -> str:
    """The name every download of this model starts with: the model's name made safe (builder.files.codegen's
    safe_filename), with "_model" added when the model code file would take the name of a module (keras.py)."""
    from builder.files.codegen import safe_filename

    name = graph_or_name.name if isinstance(graph_or_name, Graph) else str(graph_or_name)
    stem = safe_filename(name)
    return stem + "_model" if stem.lower() in _TAKEN_NAMES else stem


def file_name(graph_or_name, fmt: str) -> str:
    """The download name of format `fmt` (the Export page's download buttons use it): file_stem plus the format's
    extension."""
    return file_stem(graph_or_name) + _check(fmt).ext


def load_snippet(graph_or_name, fmt: str) -> str:
    """The "How to load it" text of format `fmt` for this model, naming the files as they download (file_name):
    run in the download folder, it works as written (in `FORMATS[fmt].load_language`). The Export page shows
    exactly this text."""
    stem = file_stem(graph_or_name)
    code = file_name(graph_or_name, "python")
    if stem.isidentifier() and not keyword.iskeyword(stem):
        line = f"from {stem} import build_model  # {code}, the model code download, in this folder"
    else:  # a name `import` cannot spell (3-layers, class): importlib finds the file all the same
        line = (f'import importlib\n\nbuild_model = importlib.import_module("{stem}").build_model  # {code}, the '
                "model code download, in this folder")
    return _check(fmt).load.format(file=file_name(graph_or_name, fmt), code=code, stem=stem,
                                   import_build_model=line)


def _check(fmt: str) -> Format:
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    return FORMATS[fmt]


def export(fmt: str, path: str, model=None, graph: Graph | None = None, dataset: str | None = None) -> str:
    """Writes `model` (or, for code and graph files, `graph`) to `path` in format `fmt`.

    Args:
        fmt: A key of FORMATS.
        path: The file to write. For `savedmodel`, a `.zip` path gives a zip
            file, any other path a folder.
        model: The keras.Model (trained or not); needed by the model formats.
        graph: The graph; needed by python, script and graph.
        dataset: For `script`: the built-in dataset it loads.

    Returns:
        The path written.

    Raises:
        ExportError: a missing input, an unknown format, or the writer failed
            (nothing is left behind).
    """
    spec = _check(fmt)
    if spec.needs_model and model is None:
        raise ExportError(f"{spec.label} needs a model")
    if not spec.needs_model and graph is None:
        raise ExportError(f"{spec.label} needs the graph")
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    savedmodel_dir = fmt == "savedmodel" and not path.endswith(".zip")
    work = tempfile.mkdtemp(prefix=".export-", dir=folder)
    try:
        tmp = os.path.join(work, "out" + (".weights.h5" if fmt == "weights" else
                                          "" if savedmodel_dir else os.path.splitext(path)[1] or spec.ext))
        _write(fmt, tmp, model, graph, dataset)
        if savedmodel_dir and os.path.exists(path):
            raise ExportError(f"{path} already exists: pick a new folder name")
        os.replace(tmp, path)
        return path
    except ExportError:
        raise
    except Exception as e:
        raise ExportError(f"could not write {spec.label}: {_reason(e)}") from e
    finally:
        shutil.rmtree(work, ignore_errors=True)


def export_bytes(fmt: str, model=None, graph: Graph | None = None, dataset: str | None = None) -> bytes:
    """The file's bytes (for a download button)."""
    spec = _check(fmt)
    with tempfile.TemporaryDirectory(prefix="layercanvas-export-") as tmp:
        path = export(fmt, os.path.join(tmp, "model" + spec.ext), model, graph, dataset)
        with open(path, "rb") as f:
            return f.read()


def _write(fmt: str, path: str, model, graph: Graph | None, dataset: str | None) -> None:
    if fmt in ("keras", "h5"):
        model.save(path)
        if fmt == "h5":
            _check_h5_reloads(path)
    elif fmt == "weights":
        model.save_weights(path)
    elif fmt == "savedmodel":
        if path.endswith(".zip"):
            folder = path[:-4]
            _export_savedmodel(model, folder)
            _zip_folder(folder, path)
        else:
            _export_savedmodel(model, path)
    elif fmt in TFLITE:
        with open(path, "wb") as f:
            f.write(_tflite(model, TFLITE[fmt]))
    elif fmt == "onnx":
        _export_onnx(model, path)
    elif fmt == "python":
        from builder.files.codegen import generate_code

        _text(path, generate_code(graph))
    elif fmt == "script":
        from builder.files.codegen import generate_script

        _text(path, generate_script(graph, dataset))
    elif fmt == "notebook":
        from builder.files.notebook import generate_notebook

        _text(path, generate_notebook(graph, dataset))
    elif fmt == "graph":
        _text(path, graph.dumps() + "\n")


def _check_h5_reloads(path: str) -> None:
    """Legacy HDF5 cannot hold every layer setting (Attention's score_mode "dot" reloads as a function and
    fails): a file that Keras cannot read back is not handed out."""
    from builder.kerasenv import load_keras

    try:
        load_keras().models.load_model(path, compile=False, safe_mode=True)
    except Exception as e:
        raise ExportError(f"this model does not reload from .h5 ({_reason(e)[:160]}): download it as .keras "
                          "instead") from e


def _text(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def _export_savedmodel(model, folder: str) -> None:
    with _quiet():
        model.export(folder, format="tf_saved_model", verbose=False)


def _zip_folder(folder: str, path: str) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for root, _, files in os.walk(folder):
            for name in files:
                full = os.path.join(root, name)
                zf.write(full, os.path.join("saved_model", os.path.relpath(full, folder)))


def _tflite(model, quantize: str | None = None, savedmodel: str | None = None) -> bytes:
    """The model as TFLite bytes.

    Args:
        quantize: None (float32), "int8" (dynamic-range quantization: int8 weights, float activations) or
            "float16" (float16 weights).
        savedmodel: The model already exported as a SavedModel folder (several conversions share one export).
    """
    import tensorflow as tf

    if savedmodel is None:
        with tempfile.TemporaryDirectory(prefix="layercanvas-tflite-") as tmp:
            _export_savedmodel(model, tmp)
            return _tflite(model, quantize, tmp)
    converter = tf.lite.TFLiteConverter.from_saved_model(savedmodel)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    if quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    with _quiet():
        return converter.convert()


COMPARE_LIMIT = 2_000  # test samples the TFLite comparison runs (the interpreter is slower than Keras)
TFLITE_BATCH = 256


def tflite_comparison(model, x_test, y_test, task: str, from_logits: bool = False,
                      limit: int = COMPARE_LIMIT) -> dict:
    """The TFLite variants side by side: file size, and the score on the test data with the TFLite interpreter,
    next to Keras's own on the same samples.

    Args:
        model: A keras.Model with one output.
        x_test: The test inputs (an array, or a list of arrays for several inputs).
        y_test: The labels: class numbers (classification) or values (regression).
        task: "classification" or "regression".
        from_logits: The model outputs logits (decides the 0/1 threshold of a single-unit output).
        limit: At most this many test samples (the first ones).

    Returns:
        {"metrics": ["accuracy"] or ["mae", "mse"], "samples": samples scored, "total": test samples given,
         "rows": [{"format", "label", "bytes", METRIC: value, ...}] for keras (the .keras file), tflite,
         tflite-int8 and tflite-f16, "files": {format: the TFLite file's bytes}}

    Raises:
        ExportError: a model with several outputs, test data that does not fit the model, or a failed conversion.
    """
    import numpy as np

    if task not in ("classification", "regression"):
        raise ExportError(f"task must be classification or regression, got {task!r}")
    if len(model.outputs) != 1:
        raise ExportError(f"the comparison needs a model with one output; this one has {len(model.outputs)}: "
                          "download the files and test them on your own data")
    xs = [np.asarray(x) for x in (x_test if isinstance(x_test, (list, tuple)) else [x_test])]
    total = len(y_test)
    n = min(total, limit)
    if n == 0:
        raise ExportError("there is no test data to compare on")
    if len(xs) != len(model.inputs) or not all(map(_fits, xs, model.inputs)):
        shapes = ", ".join(str(tuple(x.shape[1:])) for x in xs)
        wanted = ", ".join(str(tuple(t.shape[1:])) for t in model.inputs)
        raise ExportError(f"the test data has samples of shape {shapes} but the model takes {wanted}: pick the "
                          "dataset it was trained on")
    xs, y = [x[:n] for x in xs], np.asarray(y_test)[:n]
    metrics = ["accuracy"] if task == "classification" else ["mae", "mse"]
    keras_pred = np.asarray(model.predict(_one_or_list(xs), batch_size=TFLITE_BATCH, verbose=0))
    rows, files = [], {}
    with tempfile.TemporaryDirectory(prefix="layercanvas-compare-") as tmp:
        try:
            model.save(os.path.join(tmp, "model.keras"))
            rows.append({"format": "keras", "label": "Keras (.keras)",
                         "bytes": os.path.getsize(os.path.join(tmp, "model.keras")),
                         **_scores(keras_pred, y, task, from_logits)})
            _export_savedmodel(model, os.path.join(tmp, "saved"))
            for fmt, quantize in TFLITE.items():  # one SavedModel, three conversions
                files[fmt] = _tflite(model, quantize, os.path.join(tmp, "saved"))
                pred = tflite_predict(files[fmt], xs, [t.name for t in model.inputs])[0]
                rows.append({"format": fmt, "label": f"TFLite {quantize or 'float32'}",
                             "bytes": len(files[fmt]), **_scores(pred, y, task, from_logits)})
        except Exception as e:
            raise ExportError(f"could not compare the TFLite files: {_reason(e)}") from e
    return {"metrics": metrics, "samples": n, "total": total, "rows": rows, "files": files}


def _fits(x, tensor) -> bool:
    """The array holds samples of the input's shape (unknown sizes match any)."""
    return x.ndim == len(tensor.shape) and all(d is None or d == k for d, k in zip(tensor.shape[1:], x.shape[1:], strict=False))


def tflite_predict(content: bytes, xs: list, names: list[str]) -> list:
    """Predictions of a TFLite file (its serving signature) on whole arrays, a batch at a time; one array per
    output, in the model's order. `names` are the model's input names, in the order of `xs`."""
    import numpy as np
    import tensorflow as tf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's note that LiteRT replaces it
        runner = tf.lite.Interpreter(model_content=content).get_signature_runner("serving_default")
    details = runner.get_input_details()
    outs: list[list] = []
    for start in range(0, len(xs[0]), TFLITE_BATCH):
        feed = {name: np.asarray(x[start:start + TFLITE_BATCH], dtype=details[name]["dtype"])
                for name, x in zip(names, xs, strict=True)}
        result = runner(**feed)
        outs.append([result[f"output_{i}"] for i in range(len(result))])
    return [np.concatenate(parts) for parts in zip(*outs, strict=True)]


def _scores(pred, y, task: str, from_logits: bool) -> dict:
    import numpy as np

    pred = np.asarray(pred, dtype="float64")
    if task == "regression":
        err = pred.reshape(len(pred), -1) - np.asarray(y, dtype="float64").reshape(len(y), -1)
        return {"mae": float(np.mean(np.abs(err))), "mse": float(np.mean(err ** 2))}
    flat = pred.reshape(len(pred), -1)
    labels = flat.argmax(axis=1) if flat.shape[1] > 1 else (flat[:, 0] > (0.0 if from_logits else 0.5))
    y = np.asarray(y)
    truth = y.argmax(axis=1) if y.ndim == 2 and y.shape[1] > 1 else y.reshape(len(y))
    return {"accuracy": float(np.mean(labels.astype("int64") == truth.astype("int64")))}


ONNX_TOLERANCE = 1e-4  # the largest difference from Keras's predictions allowed (relative, for values above 1)
ONNX_PROBES = 64  # layers tried one by one to find the one that does not convert


def _sample_inputs(model, n: int, seed: int | None = 0) -> list:
    """`n` samples for each model input: zeros when `seed` is None, else random (0 or 1 for integer inputs, which
    are token ids); unknown sizes besides the batch are 3."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    for tensor in model.inputs:
        shape, dtype = (n, *[d or 3 for d in tensor.shape[1:]]), str(tensor.dtype)
        if seed is None:
            out.append(np.zeros(shape, dtype))
        elif "int" in dtype or dtype == "bool":
            out.append(rng.integers(0, 2, shape).astype(dtype))
        else:
            out.append(rng.normal(size=shape).astype(dtype))
    return out


def _one_or_list(xs: list):
    return xs[0] if len(xs) == 1 else xs


def _onnx_convert(model, path: str):
    """Writes the model as ONNX and opens it with ONNX Runtime; returns the session (raises what they raise)."""
    import warnings

    model(_one_or_list(_sample_inputs(model, 1, seed=None)))  # Keras exports only a model that was called once
    with _quiet(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf2onnx's notes on NumPy 2
        model.export(path, format="onnx", verbose=False)
    return _onnx_session(path)


def _onnx_session(path: str):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: they reach us as exceptions
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def onnx_feed(session, model, xs: list) -> dict:
    """ONNX Runtime's inputs by name: the model's Input names when the file kept them, else in the model's order."""
    names = [i.name for i in session.get_inputs()]
    keras_names = [t.name for t in model.inputs]
    if sorted(names) == sorted(keras_names):
        return {name: xs[keras_names.index(name)] for name in names}
    return dict(zip(names, xs, strict=True))


def _export_onnx(model, path: str) -> None:
    try:
        session = _onnx_convert(model, path)
    except Exception as e:
        raise ExportError(_onnx_failure(model, e)) from e
    _check_onnx(model, session)


def _check_onnx(model, session, n: int = 8) -> None:
    """Refuses a file whose predictions on a random batch differ from Keras's by more than ONNX_TOLERANCE."""
    import numpy as np

    xs = _sample_inputs(model, n)
    pred = model.predict(_one_or_list(xs), verbose=0)
    expected = [np.asarray(p) for p in (pred if isinstance(pred, (list, tuple)) else [pred])]
    got = session.run(None, onnx_feed(session, model, xs))
    if len(got) != len(expected) or any(a.shape != b.shape for a, b in zip(got, expected, strict=False)):
        raise ExportError(f"the ONNX file gives outputs of shapes {[list(a.shape) for a in got]}, the model "
                          f"{[list(b.shape) for b in expected]}: export as .keras, SavedModel or TFLite instead")
    worst = max((float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b)), initial=0.0))
                 for a, b in zip(got, expected, strict=False)), default=0.0)
    if not worst <= ONNX_TOLERANCE:  # also NaN
        raise ExportError(f"ONNX Runtime's predictions differ from Keras's by up to {worst:.2g} (more than "
                          f"{ONNX_TOLERANCE:g}), so the file is not offered: export as .keras, SavedModel or TFLite "
                          "instead")


_FAILED_OP = [re.compile(p) for p in (r"No Op registered for (\w+)", r"Unsupported ops: Counter\(\{'(\w+)'",
                                       r"In Node, \(\"[^\"]*\", (\w+),")]


def _onnx_failure(model, e: BaseException) -> str:
    """The message for a model that does not convert: the layer (found in the converter's text, else by trying
    the layers one by one) and what to do."""
    text = str(e)
    op = next((m.group(1) for m in (p.search(text) for p in _FAILED_OP) if m), None)
    why = f"its TensorFlow operation {op} has no ONNX equivalent" if op else _reason(e)[:200]
    layer = _onnx_culprit(model, text)
    if layer is not None:
        return (f"ONNX cannot hold layer '{layer.name}' ({type(layer).__name__}): {why}. Change or remove that "
                "layer, or export as .keras, SavedModel or TFLite instead")
    return f"could not convert the model to ONNX ({why}): export as .keras, SavedModel or TFLite instead"


def _onnx_culprit(model, text: str):
    """The layer that stops the conversion, or None. TensorFlow names the failing op by its layer's scope
    ("model/conv_1/..." for layer "conv", numbered when traced again): a single layer named there is the
    one; several (say "dense" and "dense_1") or none are told apart by converting each layer alone."""
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    named = [layer for layer in layers if re.search(rf"(?:^|/){re.escape(layer.name)}(?:_\d+)?/", text)]
    if len(named) == 1:
        return named[0]
    return next((layer for layer in (named or layers)[:ONNX_PROBES] if _onnx_layer_fails(layer)), None)


def _onnx_layer_fails(layer) -> bool:
    """Whether this layer alone (a model from its inputs to its output) does not convert or does not load."""
    from builder.kerasenv import load_keras

    try:
        alone = load_keras().Model(layer.input, layer.output)
    except Exception:  # noqa: BLE001 - a layer that cannot stand alone: not the one to blame
        return False
    with tempfile.TemporaryDirectory(prefix="layercanvas-onnx-") as tmp:
        try:
            _onnx_convert(alone, os.path.join(tmp, "layer.onnx"))
        except Exception:  # noqa: BLE001
            return True
    return False


@contextlib.contextmanager
def _quiet():
    """TensorFlow's converters print progress to fd 1/2; keep it out of the CLI's output."""
    import sys

    try:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
    except (OSError, ValueError):
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def serving_signature(savedmodel_zip: bytes) -> str:
    """The serving signature of a SavedModel zip, as a few lines of text (inputs and outputs)."""
    import tensorflow as tf

    with tempfile.TemporaryDirectory(prefix="layercanvas-sig-") as tmp:
        with zipfile.ZipFile(io.BytesIO(savedmodel_zip)) as zf:
            zf.extractall(tmp)
        loaded = tf.saved_model.load(os.path.join(tmp, "saved_model"))
        fn = loaded.signatures["serving_default"]
        _, inputs = fn.structured_input_signature
        lines = ['signatures["serving_default"]']
        lines += [f"  input  {name}: {spec.dtype.name} {list(spec.shape)}" for name, spec in inputs.items()]
        lines += [f"  output {name}: {spec.dtype.name} {list(spec.shape)}" for name, spec in fn.structured_outputs.items()]
        return "\n".join(lines)


def _reason(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:300]}" if text else type(e).__name__
