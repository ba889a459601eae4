"""`python -m builder train` and `datasets`, as CONTRACT.md says (in-process, and one real run)."""

import json
import subprocess
import sys

import numpy as np
import pytest

from builder.cli.main import main
from builder.kerasenv import load_keras
from builder.model.templates import template


@pytest.fixture
def graph_file(tmp_path):
    def write(graph, name="g.json"):
        path = tmp_path / name
        path.write_text(graph.dumps())
        return str(path)

    return write


def test_datasets_lists_every_builtin(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "iris" in out and "regression" in out and "8x8x1" in out and "mnist" in out
    assert main(["datasets", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    names = [d["name"] for d in data["builtin"]]
    assert "digits" in names and "sine" in names
    iris = next(d for d in data["builtin"] if d["name"] == "iris")
    assert iris == {**iris, "task": "classification", "input_shape": [4], "classes": 3, "size": 150}
    assert data["download"] == ["mnist", "fashion_mnist", "cifar10"]


def test_train_prints_epochs_saves_the_model_and_reports_json(graph_file, tmp_path, capsys):
    out_model = tmp_path / "iris.keras"
    code = main(["train", graph_file(template("iris_mlp")), "--dataset", "iris", "--epochs", "3",
                 "--learning-rate", "0.01", "--out", str(out_model)])
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [ln.split(":")[0] for ln in lines[:3]] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert "loss" in lines[0] and "val_accuracy" in lines[0]
    assert lines[3].startswith("test: ") and lines[4] == str(out_model)
    model = load_keras().models.load_model(out_model)
    assert model.count_params() == 243
    assert main(["train", graph_file(template("iris_mlp")), "--dataset", "iris", "--epochs", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["status"] == "finished" and len(result["history"]) == 2
    assert 0 <= result["test"]["accuracy"] <= 1


def test_train_on_an_npz_file(graph_file, tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4)).astype("float32")
    path = tmp_path / "d.npz"
    np.savez(path, x_train=x, y_train=(x[:, 0] > 0).astype("int64") * 2)
    assert main(["train", graph_file(template("iris_mlp")), "--dataset", str(path), "--epochs", "1"]) == 0
    assert capsys.readouterr().out.startswith("epoch 1/1")


@pytest.mark.parametrize("args,fragment", [
    (["--dataset", "nope"], "error: dataset: Unknown dataset"),
    (["--dataset", "digits"], "error: input: "),  # 8x8x1 images into a model for 4 features
    (["--dataset", "iris", "--epochs", "0"], "error: settings: epochs must be"),
    (["--dataset", "iris", "--strategy", "multi-worker"], "multi-worker"),
    (["--dataset", "iris", "--learning-rate", "1e6", "--optimizer", "sgd"], "learning rate is probably too high"),
])
def test_train_refusals_are_one_clear_line(graph_file, capsys, args, fragment):
    assert main(["train", graph_file(template("iris_mlp")), *args]) == 1
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err


def test_train_refuses_a_bad_file(graph_file, tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    assert main(["train", graph_file(template("iris_mlp")), "--dataset", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: dataset: ") and "bad.npz" in err
    other = tmp_path / "data.txt"
    other.write_text("1,2,3")
    assert main(["train", graph_file(template("iris_mlp")), "--dataset", str(other)]) == 1
    assert ".csv, .npz or .zip" in capsys.readouterr().err


def test_real_train_subprocess(graph_file):
    run = subprocess.run([sys.executable, "-m", "builder", "train", graph_file(template("iris_mlp")), "--dataset",
                          "iris", "--epochs", "2", "--json"], capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads(run.stdout.strip().splitlines()[-1])["status"] == "finished"
    assert run.stderr.strip() == ""


def test_export_from_a_model_file_keeps_its_weights(graph_file, tmp_path, capsys):
    import numpy as np

    model_path = tmp_path / "iris.keras"
    assert main(["train", graph_file(template("iris_mlp")), "--dataset", "iris", "--epochs", "2",
                 "--out", str(model_path)]) == 0
    capsys.readouterr()
    keras = load_keras()
    original = keras.models.load_model(model_path)
    x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    for fmt, name in [("h5", "m.h5"), ("savedmodel", "m.zip"), ("python", "m.py"), ("tflite", "m.tflite")]:
        assert main(["export", str(model_path), "--format", fmt, "-o", str(tmp_path / name)]) == 0
        assert capsys.readouterr().out.strip() == str(tmp_path / name)
    again = keras.models.load_model(tmp_path / "m.h5")
    np.testing.assert_allclose(again.predict(x, verbose=0), original.predict(x, verbose=0), atol=1e-5)
    assert "def build_model" in (tmp_path / "m.py").read_text()


def test_export_refusals(graph_file, tmp_path, capsys):
    assert main(["export", graph_file(template("mlp")), "--format", "keras", "-o", str(tmp_path / "u.keras")]) == 0
    assert "not trained" in capsys.readouterr().err
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"PK\x03\x04 not really")
    assert main(["export", str(junk), "--format", "h5", "-o", str(tmp_path / "x.h5")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: model: ") and "Traceback" not in err
    assert not (tmp_path / "x.h5").exists()
    with pytest.raises(SystemExit) as exit_info:
        main(["export", graph_file(template("mlp")), "--format", "pdf", "-o", "x"])
    assert exit_info.value.code == 2
