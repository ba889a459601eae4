"""The exported notebook: valid nbformat 4, the training script's own code as cells, and it runs top to bottom."""

import ast
import asyncio
import json
import os
import subprocess
import sys
import threading

import nbformat
import numpy as np
import pytest

from builder.files.codegen import (
    RESERVED,
    SETTINGS,
    CodegenError,
    fmt,
    generate_script,
    var_names,
)
from builder.files.notebook import generate_notebook
from builder.model.build import build
from builder.model.graph import Edge, Graph, Node
from builder.model.templates import template
from tests.test_codegen import assigned_names, config, module_names
from tests.test_injection import assert_plain_code, payloads

SECTIONS = ["settings", "data", "model", "compile", "fit", "curves", "evaluate", "save"]


def cells(text: str) -> dict[str, str]:
    """Code cells by id."""
    nb = nbformat.reads(text, as_version=4)
    nbformat.validate(nb)
    return {c.id: c.source for c in nb.cells if c.cell_type == "code"}


def code_of(text: str) -> str:
    return "\n\n\n".join(cells(text).values()) + "\n"


def functions(code: str) -> dict[str, str]:
    """The module's top-level functions, as normalized source."""
    return {n.name: ast.unparse(n) for n in ast.parse(code).body if isinstance(n, ast.FunctionDef)}


def test_cells_in_order_with_a_heading_each():
    text = generate_notebook(template("iris_mlp"), "iris", epochs=3, batch_size=16)
    nb = nbformat.reads(text, as_version=4)
    assert nb.nbformat == 4 and nb.metadata.kernelspec.name == "python3"
    assert [c.id for c in nb.cells] == ["intro", *(x for key in SECTIONS for x in (f"{key}-text", key))]
    for md, code in zip(nb.cells[1::2], nb.cells[2::2], strict=True):
        assert md.cell_type == "markdown" and md.source.startswith("## ") and code.cell_type == "code"
    assert nb.cells[0].source.startswith("# Training `iris_mlp`")
    code = cells(text)
    assert "EPOCHS = 3\n" in code["settings"] and "BATCH_SIZE = 16\n" in code["settings"]
    assert "LEARNING_RATE = 0.001\n" in code["settings"] and 'OUTPUT = "iris_mlp.keras"' in code["settings"]
    assert "epochs=EPOCHS" in code["fit"] and "history = model.fit(" in code["fit"]
    assert "learning_rate=LEARNING_RATE" in code["compile"] and "args." not in code_of(text)
    assert "figure.show()" in code["curves"] and "import plotly.graph_objects as go" in code["settings"]
    assert text == generate_notebook(template("iris_mlp"), "iris", epochs=3, batch_size=16)  # deterministic
    for source in code.values():
        assert fmt(source) == source + "\n"  # black-formatted, as the script


def test_settings_are_the_scripts_options():
    code = cells(generate_notebook(template("digits_cnn"), "digits", epochs=7))["settings"]
    scope: dict = {}
    exec(code, scope)
    script = ast.parse(generate_script(template("digits_cnn"), "digits", epochs=7))
    defaults = {ast.literal_eval(c.args[0]): ast.literal_eval(next(k.value for k in c.keywords if k.arg == "default"))
                for c in ast.walk(script) if isinstance(c, ast.Call) and getattr(c.func, "attr", "") == "add_argument"}
    assert defaults == {"--" + s.name.replace("_", "-"): scope[s.name.upper()] for s in SETTINGS}
    assert defaults["--epochs"] == 7 and defaults["--output"] == "digits_cnn.keras"


def test_the_notebook_is_made_of_the_scripts_code():
    g = template("digits_cnn")
    notebook = functions(code_of(generate_notebook(g, "digits")))
    script = functions(generate_script(g, "digits"))
    assert set(notebook) == {"split", "load_digits", "load_csv", "load_data", "build_model", "make_strategy"}
    for name, source in notebook.items():
        assert source == script[name], name
    main = next(n for n in ast.parse(generate_script(g, "digits")).body if isinstance(n, ast.FunctionDef) and n.name == "main")
    in_main = [ast.unparse(statement) for statement in main.body]
    code = cells(generate_notebook(g, "digits"))
    for key in ["data", "compile", "fit", "evaluate", "save"]:  # the same statements, with args.epochs for EPOCHS
        for statement in ast.parse(code[key].replace("history = ", "")).body:
            if isinstance(statement, ast.FunctionDef) or "x_train.shape" in ast.unparse(statement):
                continue
            text = ast.unparse(statement)
            for setting in SETTINGS:
                text = text.replace(setting.name.upper(), f"args.{setting.name}")
            assert text in in_main, (key, text)


def model_cell(text: str):
    """build_model, from the notebook's model cell."""
    import keras

    scope = {"keras": keras, "layers": keras.layers}
    exec(cells(text)["model"], scope)
    return scope["build_model"]


def test_the_model_cell_builds_the_same_model():
    for key in ["iris_mlp", "two_inputs", "two_outputs", "small_resnet"]:
        g = template(key)
        assert config(model_cell(generate_notebook(g))()) == config(build(g).model), key


@pytest.mark.parametrize("nid", ["class", "lambda", "match", "list", "history", "EPOCHS", "go", "x_train", "figure",
                                 "metric", "strategy", "model", "keras"])
def test_keyword_and_notebook_names_as_node_ids(nid):
    nodes = (Node("input", "Input", {"shape": [4]}), Node(nid, "Dense", {"units": 3}), Node(nid + "_", "Dense", {"units": 2}))
    g = Graph(nodes, (Edge("input", nid), Edge(nid, nid + "_")))
    text = generate_notebook(g)
    code = code_of(text)
    assert module_names(code) <= RESERVED  # whatever the notebook binds, no node's variable takes
    assert assigned_names(code) == set(var_names(g).values()) and not assigned_names(code) & module_names(code)
    assert f'name="{nid}"' in code and f'name="{nid}_"' in code
    assert config(model_cell(text)()) == config(build(g).model)


def test_hostile_model_names_stay_text():
    for p in payloads():
        g = template("iris_mlp").set_name(p)
        text = generate_notebook(g)
        assert_plain_code(code_of(text), g)
        title = nbformat.reads(text, as_version=4).cells[0].source.splitlines()[0]
        assert title.startswith("# Training `") and set(title[12:-1]) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLM"
                                                                           "NOPQRSTUVWXYZ0123456789_-"), title


def test_invalid_graph_is_refused():
    with pytest.raises(CodegenError, match="no output"):
        generate_notebook(template("two_outputs").set_outputs([]))


def test_dataset_defaults_and_a_data_file(tmp_path):
    """No dataset: the graph's own (training.dataset), else iris; DATA loads the user's file with the same loader."""
    assert "load_digits()" in cells(generate_notebook(template("digits_cnn")))["data"]
    assert 'load_sklearn_table("iris")' in cells(generate_notebook(template("mlp")))["data"]
    code = cells(generate_notebook(template("mlp")))
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "mine.npz", x_train=rng.normal(size=(30, 4)).astype("float32"), y_train=np.arange(30) % 2)
    scope: dict = {}
    exec(code["settings"], scope)
    scope["DATA"] = str(tmp_path / "mine.npz")
    exec(code["data"], scope)
    assert scope["x_train"].shape == (24, 4) and scope["x_test"].shape == (6, 4)


def test_the_notebook_passes_ruff(tmp_path):
    for key, dataset in [("iris_mlp", "iris"), ("digits_cnn", "digits"), ("two_inputs", None)]:
        (tmp_path / f"{key}.ipynb").write_text(generate_notebook(template(key), dataset))
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated", str(tmp_path)],
                         check=False, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:]


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    """One IPython kernel on this interpreter (the venv's), whatever kernelspecs the machine has: the `python3`
    that ipykernel installs into the venv starts `python` from PATH."""
    from ipykernel.kernelspec import write_kernel_spec
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    kernels = tmp_path_factory.mktemp("kernels")
    write_kernel_spec(kernels / "python3")
    assert json.loads((kernels / "python3" / "kernel.json").read_text())["argv"][0] == sys.executable
    km = AsyncKernelManager(kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]))
    yield km
    if km.has_kernel:  # in a thread of its own: an earlier test (the browser's) may have left a loop running here
        done = threading.Thread(target=lambda: asyncio.run(km.shutdown_kernel(now=True)), daemon=True)
        done.start()
        done.join(60)


def outputs_text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def test_the_notebook_runs_top_to_bottom(kernel, tmp_path):
    """iris MLP and digits CNN, one epoch each, one after the other in one kernel (its namespace reset between)."""
    import time

    from nbclient import NotebookClient

    from builder.data.datasets import BUILTIN
    from builder.kerasenv import load_keras

    keras = load_keras()
    for key, dataset in [("iris_mlp", "iris"), ("digits_cnn", "digits")]:
        nb = nbformat.reads(generate_notebook(template(key), dataset, epochs=1), as_version=4)
        nb.cells.insert(0, nbformat.v4.new_code_cell("%reset -f"))  # nothing left over from the notebook before
        started = time.monotonic()
        NotebookClient(nb, km=kernel, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
                       ).execute(env={**os.environ, "KERAS_BACKEND": "tensorflow"})
        print(f"{key}: ran in {time.monotonic() - started:.1f} s")
        ran = {c.id: c for c in nb.cells if c.cell_type == "code" and c.id in SECTIONS}
        for cell in ran.values():
            assert not [o for o in cell.outputs if o.output_type == "error"], cell.id
        assert all(c.execution_count for c in ran.values())
        figures = [o.data["application/vnd.plotly.v1+json"] for o in ran["curves"].outputs if o.output_type == "display_data"]
        assert [[(t["name"], len(t["y"])) for t in f["data"]] for f in figures] == [
            [("accuracy", 1), ("val_accuracy", 1)], [("loss", 1), ("val_loss", 1)]]
        printed = outputs_text(ran["evaluate"])
        assert printed.startswith("test: {")
        metrics = ast.literal_eval(printed.removeprefix("test: ").strip())
        assert 0.0 <= metrics["accuracy"] <= 1.0
        assert f"saved {key}.keras {key}.h5 {key}_savedmodel/" in outputs_text(ran["save"])
        model = keras.models.load_model(tmp_path / f"{key}.keras")
        _, _, x_test, y_test = BUILTIN[dataset].load()
        again = model.evaluate(x_test, y_test, return_dict=True, verbose=0)
        assert again["loss"] == pytest.approx(metrics["loss"], rel=1e-4)
        assert abs(again["accuracy"] - metrics["accuracy"]) <= 1 / len(y_test)
