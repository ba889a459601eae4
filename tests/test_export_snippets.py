"""Every "How to load it" snippet on the Export page runs as written: each file is taken from the page's own download
button under the name it downloads as, the snippet text from the page's own expander, run in a fresh Python
process in the download folder, and what it loads predicts what the app's trained model predicts."""

import json
import os
import subprocess
import sys
from typing import ClassVar

import numpy as np
import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import app_test

from builder.files.export import FORMATS, file_name, load_snippet
from builder.kerasenv import load_keras
from components.export_panel import GROUPS, SLOW
from tests.conftest import ROOT
from tests.test_app_build import fresh_browser, run_app

keras = load_keras()


class RecordingStorage(MemoryMediaFileStorage):
    """AppTest's media storage, keeping every file a download button was given (by file id: name, bytes)."""

    files: ClassVar[dict] = {}

    def load_and_get_id(self, path_or_data, mimetype, kind, filename=None):
        file_id = super().load_and_get_id(path_or_data, mimetype, kind, filename)
        if not isinstance(path_or_data, str):
            RecordingStorage.files[file_id] = (filename, bytes(path_or_data))
        return file_id


def page_downloads(at) -> dict:
    """format -> (file name, bytes) of each download button on the Export page, as the browser would save it."""
    out = {}
    for button in at.get("download_button"):
        if button.key and button.key.startswith("download:"):
            file_id = os.path.basename(button.proto.url).split(".")[0]
            out[button.key.removeprefix("download:")] = RecordingStorage.files[file_id]
    return out


def page_snippets(at) -> dict:
    """format -> (text, language) of each "How to load it" expander, in the page's order of formats."""
    grouped = [f for _, keys in GROUPS for f in keys]
    order = grouped + [f for f in FORMATS if f not in grouped]  # as render_formats draws them
    expanders = [e for e in at.expander if e.label == "How to load it"]
    assert len(expanders) == len(order) == len(FORMATS)
    return {fmt: (e.code[0].value, e.code[0].language) for fmt, e in zip(order, expanders, strict=True)}


def run_bash(text: str, folder) -> subprocess.CompletedProcess:
    """A shell snippet as a user runs it, `python` being this interpreter's (the venv's)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return subprocess.run(["bash", "-e", "-c", text], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=600, check=False)


def test_every_snippet_runs_as_written_on_the_file_the_page_downloads(tmp_path, monkeypatch):
    from components.training_panel import RUN, registry

    monkeypatch.setattr(app_test, "MemoryMediaFileStorage", RecordingStorage)
    at = run_app(browser=fresh_browser())
    at.switch_page("pages/train.py").run()
    at.number_input(key="train_epochs").set_value(5).run()
    at.button(key="train_start").click().run()
    job = registry().get(at.session_state[RUN])
    assert job.wait(120) and job.status == "finished", job.message
    at.switch_page("pages/export.py").run()
    for fmt in SLOW:
        at.button(key=f"prepare:{fmt}").click().run()
        assert not at.exception, [e.value for e in at.exception]
    graph, model = job.graph, job.model

    downloads, snippets = page_downloads(at), page_snippets(at)
    assert sorted(downloads) == sorted(FORMATS) == sorted(snippets)
    folder = tmp_path / "Downloads"
    folder.mkdir()
    for fmt, (name, data) in downloads.items():
        assert name == file_name(graph, fmt)  # the function the page and this test share
        assert snippets[fmt] == (load_snippet(graph, fmt), FORMATS[fmt].load_language)
        assert name in snippets[fmt][0]  # each snippet names its file as it downloads
        (folder / name).write_bytes(data)
    assert len(os.listdir(folder)) == len(FORMATS)  # no two formats download under one name

    # The Python snippets, in the page's order, in one fresh process in the download folder.
    x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    zeros = np.zeros((1, 4), "float32")
    np.savez(tmp_path / "inputs.npz", x=x, zeros=zeros, **{f"w{i}": w for i, w in enumerate(model.get_weights())})
    plan = {"snippets": [[fmt, text] for fmt, (text, language) in snippets.items() if language == "python"],
            "inputs": str(tmp_path / "inputs.npz"), "results": str(tmp_path / "results.npz"),
            "facts": str(tmp_path / "facts.json"), "layercanvas": ROOT}
    assert len(plan["snippets"]) == len(FORMATS) - 1  # all but the training script's command line
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "snippet_runner.py"), str(tmp_path / "plan.json")],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    facts = json.loads((tmp_path / "facts.json").read_text())
    failed = {fmt: f["error"][-1500:] for fmt, f in facts.items() if "error" in f}
    assert not failed, failed
    results = dict(np.load(tmp_path / "results.npz"))

    expected, on_zeros = model.predict(x, verbose=0), model.predict(zeros, verbose=0)
    assert not np.allclose(expected, expected[0])  # a trained model, not a constant
    for fmt in ("keras", "h5", "weights", "savedmodel", "python"):
        np.testing.assert_allclose(results[fmt], expected, atol=1e-5, err_msg=fmt)
    assert facts["python"] == {"layers": [layer.name for layer in model.layers], "params": model.count_params()}
    for fmt, atol in (("tflite", 1e-4), ("tflite-int8", 0.05), ("tflite-f16", 2e-3), ("onnx", 1e-4)):
        np.testing.assert_allclose(results[fmt], on_zeros, atol=atol, err_msg=fmt)
    notebook = facts["notebook"]
    assert notebook["unrun"] == 0 and notebook["errors"] == [] and notebook["cells"] >= 5, notebook
    assert "test: {" in notebook["printed"] and f"{graph.name}_run.ipynb" in notebook["files"]
    assert facts["graph"] == {"nodes": graph.ids()}
    cli = facts["graph:command0"]
    assert cli["code"] == 0 and f"{model.count_params():,}" in cli["printed"], cli

    # The training script's command line, in a shell in the same folder: it trains and saves what it says.
    text, _ = snippets["script"]
    shell = run_bash(text, folder)
    assert shell.returncode == 0, shell.stderr[-3000:]
    again = keras.models.load_model(folder / "model.keras")
    assert again.count_params() == model.count_params() and again.output_shape == model.output_shape
    assert "test" in shell.stdout.lower()


@pytest.mark.parametrize("fmt", [f for f in FORMATS if FORMATS[f].load_language == "python"])
def test_every_python_snippet_compiles(fmt):
    compile(load_snippet("my model", fmt), fmt, "exec")
