"""Writing a model in every format users take home: .keras, .h5, SavedModel, weights, TFLite, code, graph.

Every writer goes through a temporary file (or folder) beside the target and
renames it at the end, so a failed export leaves nothing behind. Models are
compiled with Keras objects, never strings, so `.h5` files reload (keras
issue 19330: a model compiled with the string "mse" does not).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass

from builder.graph import Graph


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
    load: str  # how to load it, as a Python snippet; {file} is the file name


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
           'from model import build_model  # the generated code\n\nmodel = build_model()\n'
           'model.load_weights("{file}")'),
    Format("tflite", "TFLite (.tflite)", ".tflite", "application/octet-stream", True,
           "For phones and small devices (TensorFlow Lite).",
           'import numpy as np\nimport tensorflow as tf\n\ninterpreter = tf.lite.Interpreter(model_path="{file}")\n'
           'interpreter.allocate_tensors()\ninp = interpreter.get_input_details()[0]\n'
           'out = interpreter.get_output_details()[0]\ninterpreter.set_tensor(inp["index"], '
           'np.zeros(inp["shape"], dtype=inp["dtype"]))\ninterpreter.invoke()\nprint(interpreter.get_tensor(out["index"]))'),
    Format("python", "Model code (.py)", ".py", "text/x-python", False,
           "Keras Functional code that builds this model: build_model().",
           'from model import build_model\n\nmodel = build_model()\nmodel.summary()'),
    Format("script", "Training script (.py)", "_train.py", "text/x-python", False,
           "A runnable script: data, build_model(), compile, fit, evaluate, save.",
           "# python {file} --epochs 10 --output model.keras"),
    Format("graph", "Graph file (.json)", ".json", "application/json", False,
           "The LayerCanvas graph: open it in the app, or use it with python -m builder.",
           "# python -m builder summary {file}"),
]}


def file_name(graph_or_name, fmt: str) -> str:
    """The download name: the model's name, made safe, plus the format's extension."""
    from builder.codegen import safe_filename

    name = graph_or_name.name if isinstance(graph_or_name, Graph) else str(graph_or_name)
    return safe_filename(name, FORMATS[fmt].ext)


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
    elif fmt == "tflite":
        with open(path, "wb") as f:
            f.write(_tflite(model))
    elif fmt == "python":
        from builder.codegen import generate_code

        _text(path, generate_code(graph))
    elif fmt == "script":
        from builder.codegen import generate_script

        _text(path, generate_script(graph, dataset))
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


def _tflite(model) -> bytes:
    import tensorflow as tf

    with tempfile.TemporaryDirectory(prefix="layercanvas-tflite-") as tmp:
        _export_savedmodel(model, tmp)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
        with _quiet():
            return converter.convert()


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
