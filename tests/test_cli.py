"""`python -m builder validate|summary|profile`, as CONTRACT.md says: in-process, plus two real runs."""

import json
import subprocess
import sys

import pytest

from builder.cli.main import main
from builder.model.templates import template


@pytest.fixture
def graph_file(tmp_path):
    def write(graph_or_text, name="g.json"):
        path = tmp_path / name
        path.write_text(graph_or_text if isinstance(graph_or_text, str) else graph_or_text.dumps())
        return str(path)

    return write


def test_validate_ok(graph_file, capsys):
    assert main(["validate", graph_file(template("cifar_cnn"))]) == 0
    assert capsys.readouterr().out.strip() == "ok"


def test_validate_lists_problems_and_exits_1(graph_file, capsys):
    d = template("mlp").remove_node("dense").to_dict()
    d["nodes"][1]["params"]["kernel_size"] = 3
    assert main(["validate", graph_file(json.dumps(d))]) == 1
    out = capsys.readouterr()
    lines = out.out.strip().splitlines()
    assert "error: dense_1: Dense 'dense_1': Dense has no parameter 'kernel_size': remove it" in lines
    assert "error: dense_1: Dense 'dense_1' has no input: connect a layer into it" in lines
    assert "Traceback" not in out.err and all(ln in out.err for ln in lines)


def test_validate_shape_error_line(graph_file, capsys):
    g = template("cifar_cnn").remove_node("flatten", bridge=False).connect("conv2d_2", "dense")
    g = g.set_param("dense", "units", 64).remove_node("head")
    g2, _ = g.add_node("LSTM", {"units": 3}, node_id="rnn", after="dense")
    assert main(["validate", graph_file(g2)]) == 1
    out = capsys.readouterr().out
    assert "error: rnn: LSTM 'rnn' got (None, 4, 4, 64)" in out
    assert "warning: dense: Dense 'dense' got (None, 4, 4, 64)" in out


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("{", "not valid JSON"),
        ('{"format": "other"}', '"format" must be'),
        ('{"format": "layercanvas-graph", "version": 9, "nodes": []}', "newer LayerCanvas"),
    ],
)
def test_bad_files_exit_1_with_one_line(graph_file, capsys, text, fragment):
    assert main(["validate", graph_file(text)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: graph: ") and fragment in err[0]


def test_missing_file_exits_1(tmp_path, capsys):
    assert main(["summary", str(tmp_path / "none.json")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys):
    for argv in ([], ["validate"], ["frobnicate", "x"], ["summary", "a", "--bogus"]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2
    assert "usage" in capsys.readouterr().err


def test_summary_text(graph_file, capsys):
    assert main(["summary", graph_file(template("mlp"))]) == 0
    out = capsys.readouterr().out
    assert 'Model: "mlp"' in out and "Total params: 225" in out


def test_summary_json_matches_contract(graph_file, capsys):
    g = template("cifar_cnn").set_trainable("conv2d", False)
    assert main(["summary", "--json", graph_file(g)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"total_params", "trainable_params", "non_trainable_params", "layers"}
    assert data["total_params"] == 122570 and data["non_trainable_params"] == 896
    assert data["layers"][1] == {"name": "conv2d", "type": "Conv2D", "output_shape": [None, 30, 30, 32], "params": 896, "trainable": False}


def test_summary_of_invalid_graph_exits_1(graph_file, capsys):
    g = template("mlp").set_params("dense", {"units": 16}).remove_node("input")
    assert main(["summary", "--json", graph_file(g)]) == 1
    out = capsys.readouterr()
    assert out.out == "" and "error: graph: the graph has no Input" in out.err


def test_real_subprocess_runs(graph_file):
    """Two real runs: the module entry point, exit codes and clean stderr."""
    ok = subprocess.run([sys.executable, "-m", "builder", "summary", "--json", graph_file(template("mlp"))],
                        capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0 and json.loads(ok.stdout)["total_params"] == 225
    assert ok.stderr.strip() == ""  # TensorFlow's start-up notes are muted
    bad = subprocess.run([sys.executable, "-m", "builder", "validate", graph_file("[]", "bad.json")],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1 and bad.stderr.strip() == "error: graph: a graph file must hold a JSON object"


def test_validate_prints_file_problems_as_its_output(graph_file, capsys):
    assert main(["validate", graph_file('{"format": "layercanvas-graph", "version": 1, "nodes": [{"id": "a b"}]}')]) == 1
    out = capsys.readouterr()
    assert out.out.startswith("error: graph: node #1 has an invalid id 'a b'") and out.err == out.out


def test_problems_are_printed_once_when_stdout_and_stderr_are_one_stream(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    run = subprocess.run(f"{sys.executable} -m builder validate {bad} 2>&1", shell=True, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1 and run.stdout.count("not valid JSON") == 1


def test_profile_json_matches_contract(graph_file, capsys):
    assert main(["profile", "--json", graph_file(template("cifar_cnn"))]) == 0
    out = capsys.readouterr()
    data = json.loads(out.out)
    assert set(data) == {"total_params", "total_macs", "layers"}
    assert all(set(layer) == {"name", "type", "output_shape", "params", "macs", "activation_bytes"} for layer in data["layers"])
    assert data["layers"][1] == {"name": "conv2d", "type": "Conv2D", "output_shape": [None, 30, 30, 32], "params": 896,
                                 "macs": 30 * 30 * 3 * 3 * 3 * 32, "activation_bytes": 30 * 30 * 32 * 4}
    assert data["total_params"] == 122570
    assert data["total_macs"] == sum(layer["macs"] for layer in data["layers"]) > 0
    assert "Traceback" not in out.err


def test_profile_table(graph_file, capsys):
    assert main(["profile", graph_file(template("mlp"))]) == 0
    out = capsys.readouterr()
    lines = out.out.splitlines()
    assert lines[0].split()[:2] == ["layer", "type"]
    dense = next(ln.split() for ln in lines if ln.startswith("dense "))
    assert dense[:2] == ["dense", "Dense"] and "64" in dense  # 4 inputs × 16 units
    total = next(ln.split() for ln in lines if ln.startswith("total"))
    assert total[1:3] == ["225", f"{4 * 16 + 16 * 8 + 8 * 1:,}"]
    assert out.err == ""


def test_profile_of_invalid_graph_names_the_node(graph_file, capsys):
    g, _ = template("mlp").add_node("LSTM", {"units": 3}, node_id="rnn", after="output")
    assert main(["profile", "--json", graph_file(g)]) == 1
    out = capsys.readouterr()
    assert out.out == "" and "Traceback" not in out.err
    lines = out.err.strip().splitlines()
    assert lines and all(ln.startswith(("error: ", "warning: ")) for ln in lines)
    assert any(ln.startswith("error: rnn: LSTM 'rnn' got (None, 1)") for ln in lines), lines


def test_profile_bad_file_and_usage(graph_file, tmp_path, capsys):
    assert main(["profile", graph_file("{")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: graph: ") and "not valid JSON" in err[0]
    assert main(["profile", "--json", str(tmp_path / "none.json")]) == 1
    assert "cannot read" in capsys.readouterr().err
    for argv in (["profile"], ["profile", "g.json", "--bogus"], ["profile", "a.json", "b.json"]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2


# -- export: ONNX, quantized TFLite, notebook; train --logdir --------------------------------------------------------

@pytest.fixture(scope="module")
def trained_iris(tmp_path_factory):
    """The iris MLP trained by `train --out --logdir`: (model file, log folder, the JSON line)."""
    import contextlib
    import io

    folder = tmp_path_factory.mktemp("cli-export")
    graph = folder / "iris.json"
    graph.write_text(template("iris_mlp").dumps())
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["train", str(graph), "--dataset", "iris", "--epochs", "3", "--out", str(folder / "iris.keras"),
                     "--logdir", str(folder / "logs"), "--json"])
    assert code == 0
    return folder / "iris.keras", folder / "logs", json.loads(out.getvalue().strip().splitlines()[-1])


def test_train_logdir_writes_tensorboard_logs(trained_iris):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    _, logs, report = trained_iris
    assert sorted(p.name for p in logs.iterdir()) == ["train", "validation"]
    acc = EventAccumulator(str(logs / "train"))
    acc.Reload()
    losses = [float(tensor_util.make_ndarray(e.tensor_proto)) for e in acc.Tensors("epoch_loss")]
    assert losses == pytest.approx([row["loss"] for row in report["history"]], rel=1e-6) and len(losses) == 3


@pytest.mark.parametrize("fmt,name", [("onnx", "m.onnx"), ("tflite-int8", "m_int8.tflite"),
                                      ("tflite-f16", "m_f16.tflite"), ("notebook", "m.ipynb")])
def test_export_new_formats_from_a_trained_model(trained_iris, tmp_path, capsys, fmt, name):
    import numpy as np

    from builder.kerasenv import load_keras

    model_path, _, _ = trained_iris
    capsys.readouterr()
    assert main(["export", str(model_path), "--format", fmt, "-o", str(tmp_path / name), "--dataset", "iris"]) == 0
    out = capsys.readouterr()
    assert out.out.strip() == str(tmp_path / name) and out.err == ""
    model = load_keras().models.load_model(model_path)
    x = np.random.default_rng(0).normal(size=(6, 4)).astype("float32")
    expected = model.predict(x, verbose=0)
    if fmt == "onnx":
        import onnxruntime as ort

        got = ort.InferenceSession(str(tmp_path / name)).run(None, {"input": x})[0]
        np.testing.assert_allclose(got, expected, atol=1e-4)
    elif fmt.startswith("tflite"):
        from builder.files.export import tflite_predict

        got = tflite_predict((tmp_path / name).read_bytes(), [x], ["input"])[0]
        np.testing.assert_allclose(got, expected, atol=0.05)  # quantized weights: close, not equal
        assert (got.argmax(axis=1) == expected.argmax(axis=1)).mean() >= 5 / 6
    else:
        import nbformat

        nb = nbformat.read(str(tmp_path / name), as_version=4)
        assert any("iris" in "".join(cell.source) for cell in nb.cells)


def test_export_onnx_of_a_layer_onnx_lacks_exits_1_with_one_line(graph_file, tmp_path, capsys):
    g = {"format": "layercanvas-graph", "version": 1, "name": "flips",
         "nodes": [{"id": "image", "type": "Input", "params": {"shape": [8, 8, 1]}},
                   {"id": "flip", "type": "RandomFlip", "params": {"seed": 1}},
                   {"id": "flat", "type": "Flatten", "params": {}},
                   {"id": "head", "type": "Dense", "params": {"units": 10, "activation": "softmax"}}],
         "edges": [{"source": "image", "target": "flip"}, {"source": "flip", "target": "flat"},
                   {"source": "flat", "target": "head"}]}
    assert main(["export", graph_file(json.dumps(g)), "--format", "onnx", "-o", str(tmp_path / "m.onnx")]) == 1
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert out.out == "" and "Traceback" not in out.err
    assert lines[-1].startswith("error: export: ONNX cannot hold layer 'flip' (RandomFlip): ") and len(lines) == 2
    assert lines[0].startswith("note: exported from a graph file")
    assert not (tmp_path / "m.onnx").exists()
