"""Datasets: built-ins (no download, declared shapes, fixed splits), Keras's, and uploads.

Uploads are checked for every way they can be wrong (each message names the
column, array or file) and fuzzed: any bytes give a Dataset or a DatasetError.
"""

import io
import types
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from builder.config import number
from builder.data import datasets as D
from builder.data.datasets import (
    BUILTIN,
    Dataset,
    DatasetError,
    builtin,
    csv_columns,
    load,
    parse_csv,
    parse_image_zip,
    parse_npz,
)


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_builtin_matches_its_description(name):
    info = builtin(name)
    x_train, y_train, x_test, y_test = info.load()
    assert x_train.shape[1:] == info.input_shape and x_test.shape[1:] == info.input_shape
    assert len(x_train) == len(y_train) and len(x_test) == len(y_test)
    assert len(x_train) + len(x_test) == info.size
    assert 0 < len(x_test) < len(x_train)
    if info.task == "classification":
        assert set(np.unique(np.concatenate([y_train, y_test]))) == set(range(info.classes))
    else:
        assert info.classes == 0 and y_train.dtype == np.float32
    again = info.load()
    np.testing.assert_array_equal(again[0], x_train)  # the split is fixed


def test_unknown_dataset_lists_the_names():
    with pytest.raises(KeyError, match="iris"):
        builtin("mnist_offline")


def test_compile_settings_follow_the_labels_and_the_last_activation():
    from builder.model.templates import template
    from builder.train.settings import suggest_compile

    logits = suggest_compile(template("cifar_cnn"), "classification", 10)  # head has no activation: logits
    assert (logits.loss, logits.from_logits) == ("sparse_categorical_crossentropy", True)
    probs = suggest_compile(template("iris_mlp"), "classification", 3)
    assert (probs.loss, probs.from_logits) == ("sparse_categorical_crossentropy", False)
    assert suggest_compile(template("mlp"), "regression", 0).loss == "mse"
    optimizer, loss, metrics = logits.keras_objects()
    assert type(optimizer).__name__ == "Adam" and loss.get_config()["from_logits"] is True
    assert metrics[0].name == "accuracy"
    g = template("mlp")
    saved = g.__class__(g.nodes, g.edges, g.name, extra={"compile": {"optimizer": "sgd", "loss": "'; import os", "learning_rate": -1}})
    hostile = suggest_compile(saved, "regression", 0)
    assert (hostile.optimizer, hostile.loss, hostile.learning_rate) == ("sgd", "mse", 0.001)  # bad values ignored


# -- load(): built-ins and Keras's datasets ------------------------------------
@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_load_gives_consistent_arrays_names_and_kind(name):
    info, d = builtin(name), load(name)
    assert isinstance(d, Dataset) and (d.name, d.task, d.classes) == (name, info.task, info.classes)
    assert d.input_shape == info.input_shape and d.description == info.description
    assert len(d.x_train) == len(d.y_train) and len(d.x_test) == len(d.y_test)
    assert d.x_train.dtype == (np.int32 if name == "tokens" else np.float32) and d.x_test.dtype == d.x_train.dtype
    assert d.kind == {"digits": "image", "waves": "sequence", "tokens": "tokens"}.get(name, "table")
    assert len(d.class_names) == d.classes and all(isinstance(c, str) for c in d.class_names)
    if d.task == "classification":
        assert d.y_train.dtype == np.int64 and d.y_train.ndim == 1
        counts = d.class_counts()
        assert list(counts) == d.class_names and sum(counts.values()) == len(d.y_train)
    else:
        assert d.y_train.dtype == np.float32 and d.class_names == [] and d.class_counts() == {}
    assert d.summary() == {"name": name, "task": info.task, "kind": d.kind, "input_shape": info.input_shape,
                           "classes": info.classes, "train_size": len(d.x_train), "test_size": len(d.x_test)}


def test_class_names_come_from_scikit_learn_where_it_has_them():
    assert load("iris").class_names == ["setosa", "versicolor", "virginica"]
    assert load("breast_cancer").class_names == ["malignant", "benign"]
    assert load("digits").class_names == [str(i) for i in range(10)]


def _fake_keras(monkeypatch, **loaders):
    fake = types.SimpleNamespace(datasets=types.SimpleNamespace(
        **{n: types.SimpleNamespace(load_data=f) for n, f in loaders.items()}))
    monkeypatch.setattr(D, "load_keras", lambda: fake)


@pytest.mark.parametrize("name", D.KERAS_DATASETS)
def test_a_failed_keras_download_suggests_uploading_an_npz(monkeypatch, name):
    def offline():
        raise OSError("URL fetch failure: [Errno -3] Temporary failure in name resolution")

    _fake_keras(monkeypatch, **{name: offline})
    with pytest.raises(DatasetError) as e:
        load(name)
    msg = str(e.value)
    assert msg.startswith(f"Could not download {name} (no internet connection?)")
    assert "NPZ" in msg and "x_train, y_train, x_test, y_test" in msg


def test_keras_datasets_are_scaled_with_a_channel_axis(monkeypatch):
    rng = np.random.default_rng(0)

    def grey():
        return ((rng.integers(0, 256, (6, 28, 28), dtype=np.uint8), np.arange(6, dtype=np.uint8)),
                (rng.integers(0, 256, (3, 28, 28), dtype=np.uint8), np.arange(3, dtype=np.uint8)))

    def colour():  # cifar10's labels come as (n, 1)
        return ((np.full((5, 32, 32, 3), 255, np.uint8), np.arange(5, dtype=np.uint8)[:, None]),
                (np.zeros((2, 32, 32, 3), np.uint8), np.array([[9], [0]], np.uint8)))
    _fake_keras(monkeypatch, mnist=grey, fashion_mnist=grey, cifar10=colour)
    for name in ("mnist", "fashion_mnist"):
        d = load(name)
        assert d.x_train.shape == (6, 28, 28, 1) and d.x_test.shape == (3, 28, 28, 1) and d.kind == "image"
        assert d.x_train.dtype == np.float32 and 0 <= d.x_train.min() and d.x_train.max() <= 1
        assert d.y_train.dtype == np.int64 and d.classes == 10 and len(d.class_names) == 10
    assert load("fashion_mnist").class_names[-1] == "Ankle boot"
    c = load("cifar10")
    assert c.input_shape == (32, 32, 3) and c.x_train.max() == 1.0 and c.x_test.max() == 0.0
    assert c.y_train.shape == (5,) and c.y_test.tolist() == [9, 0] and c.class_names[0] == "airplane"


def test_unknown_names_list_the_choices():
    with pytest.raises(DatasetError, match="Unknown dataset 'imagenet': pick one of iris, .*mnist, fashion_mnist, cifar10"):
        load("imagenet")


def test_the_limits_come_from_the_settings_table():
    assert D.MAX_UPLOAD_BYTES == number("LAYERCANVAS_MAX_UPLOAD_MB") * 2**20 == D.max_upload_bytes()
    assert D.MAX_SAMPLES == number("LAYERCANVAS_MAX_SAMPLES")
    assert D.MAX_CLASSES == number("LAYERCANVAS_MAX_CLASSES")


# -- CSV -----------------------------------------------------------------------
def _csv(header: str, rows: list[str]) -> bytes:
    return ("\n".join([header] + rows) + "\n").encode()


PETS = _csv("weight,colour,legs,animal", [
    f"{3 + i % 7}.5,{['black', 'white', 'ginger'][i % 3]},{4 - 2 * (i % 5 == 0)},{['cat', 'dog', 'bird'][i % 3]}"
    for i in range(30)
])


def _err(fn, *args, **kwargs) -> str:
    with pytest.raises(DatasetError) as e:
        fn(*args, **kwargs)
    return str(e.value)


def test_csv_with_a_text_feature_and_a_text_target_is_a_classification():
    d = parse_csv(PETS, "pets.csv")
    assert (d.name, d.task, d.kind, d.classes) == ("upload: pets.csv", "classification", "table", 3)
    assert d.class_names == ["bird", "cat", "dog"]  # sorted
    assert d.feature_names == ["weight", "colour=black", "colour=ginger", "colour=white", "legs"]
    assert d.input_shape == (5,) and d.x_train.dtype == np.float32 and d.y_train.dtype == np.int64
    assert len(d.x_train) + len(d.x_test) == 30 and len(d.x_test) == 6
    assert abs(d.x_train.mean(axis=0)).max() < 1e-5  # standardized with train statistics
    assert sum(d.class_counts().values()) == 24
    raw = parse_csv(PETS, "pets.csv", standardize=False)
    assert set(np.unique(raw.x_train[:, 1:4])) == {0.0, 1.0}  # one-hot columns
    assert set(np.unique(raw.x_train[:, 4])) == {2.0, 4.0}


def test_csv_target_column_task_and_separators():
    rows = [f"{i};{i * 0.37:.3f};{(i * 7) % 3}" for i in range(20)]
    text = "\ufeff" + "\n".join(["a;b;label"] + rows)  # Excel's BOM and semicolons
    data = text.encode()
    assert csv_columns(data) == ["a", "b", "label"]
    d = parse_csv(data, "eu.csv")
    assert d.task == "classification" and d.class_names == ["0", "1", "2"]  # few whole numbers: classes
    r = parse_csv(data, "eu.csv", target="b")
    assert r.task == "regression" and r.classes == 0 and r.y_train.dtype == np.float32
    assert r.feature_names == ["a", "label"]
    forced = parse_csv(data, "eu.csv", task="regression")
    assert forced.task == "regression" and set(np.unique(forced.y_test)) <= {0.0, 1.0, 2.0}


def test_csv_regression_on_a_float_target():
    data = _csv("x1,x2,price", [f"{i},{i % 4},{i * 1.5 + 0.25}" for i in range(40)])
    d = parse_csv(data, "houses.csv", test_fraction=0.25, seed=3)
    assert (d.task, d.classes, d.class_names, len(d.x_test)) == ("regression", 0, [], 10)
    assert d.class_counts() == {}


@pytest.mark.parametrize("data, fragments", [
    (b"", ["data.csv is empty"]),
    (b"  \n\n ", ["data.csv is empty"]),
    (b"a,b\n\xff\xfe1,2\n", ["data.csv is not UTF-8", "CSV UTF-8"]),
    (b"a,b\x00\n1,2\n", ["not a text file"]),
    (_csv("a,b,c", ["1,2,3", "1,2,3,4,5"] + ["1,2,3"] * 10), ["could not be read as CSV", "line 3"]),
    (_csv("a,b", [f"{i},{i % 2}" for i in range(5)]), ["data.csv has 5 rows", "at least 10 rows"]),
    (_csv("a,b", []), ["data.csv has 0 rows"]),
    (_csv("label", [str(i % 2) for i in range(20)]), ["only the target column 'label'"]),
    (_csv("age,b", [f"{'' if i in (3, 5, 8) else i},{i % 2}" for i in range(20)]),
     ["Column 'age'", "3 missing values (first at row 5)", "fill or remove them"]),
    (_csv("age,b", [f"{'NA' if i == 3 else i},{i % 2}" for i in range(20)]), ["1 missing value (first at row 5)"]),
    (_csv("age,b", [f"{'unknown' if i == 6 else i},{i % 2}" for i in range(20)]),
     ["Column 'age'", "row 8 has 'unknown'"]),
    (_csv("a,b", [f"{'inf' if i == 2 else i},{i % 2}" for i in range(20)]), ["Column 'a'", "'inf' at row 4"]),
    (_csv("a,kind", [f"{i},cat" for i in range(20)]), ["Target 'kind' has only one value ('cat')", "two classes"]),
    (_csv("a,kind", [f"{i},1" for i in range(20)]), ["only one value ('1')"]),
    (_csv("name,y", [f"person{i},{i % 2}" for i in range(60)]),
     ["Column 'name'", "60 different text values", "at most 50", "remove the column"]),
    (_csv("a,a ,y", [f"{i},{i},{i % 2}" for i in range(20)]), ["two columns named 'a'"]),
], ids=lambda v: str(v[0])[:40] if isinstance(v, list) else "data")
def test_csv_errors_name_the_problem(data, fragments):
    msg = _err(parse_csv, data, "data.csv")
    for f in fragments:
        assert f in msg, msg


def test_csv_target_must_exist_and_limits_hold(monkeypatch):
    msg = _err(parse_csv, PETS, "pets.csv", target="price")
    assert "pets.csv has no column 'price'" in msg and "weight, colour, legs, animal" in msg
    monkeypatch.setattr(D, "MAX_UPLOAD_BYTES", 100)
    assert _err(parse_csv, PETS, "pets.csv") == f"pets.csv is {len(PETS)} bytes; the limit is 100 bytes: set LAYERCANVAS_MAX_UPLOAD_MB to allow more."
    assert _err(csv_columns, PETS, "pets.csv") == f"pets.csv is {len(PETS)} bytes; the limit is 100 bytes: set LAYERCANVAS_MAX_UPLOAD_MB to allow more."
    monkeypatch.setattr(D, "MAX_UPLOAD_BYTES", 250 * 2**20)
    monkeypatch.setattr(D, "MAX_SAMPLES", 20)
    assert _err(parse_csv, PETS, "pets.csv") == ("pets.csv has more than 20 rows; the limit is 20: upload a sample of "
                                                 "it, or set LAYERCANVAS_MAX_SAMPLES to allow more.")
    with pytest.raises(ValueError):
        parse_csv(PETS, "pets.csv", test_fraction=1.5)


def test_the_size_message_reads_in_megabytes(monkeypatch):
    monkeypatch.setattr(D, "MAX_UPLOAD_BYTES", 20 * 2**20)
    big = b"a,b\n" + b"1,2\n" * (25 * 2**20 // 4)
    assert _err(parse_csv, big, "data.csv") == "data.csv is 25 MB; the limit is 20 MB: set LAYERCANVAS_MAX_UPLOAD_MB to allow more."


def test_csv_regression_refuses_a_text_target():
    msg = _err(parse_csv, PETS, "pets.csv", task="regression")
    assert "Target 'animal' holds text ('cat' at row 2)" in msg


# -- NPZ -----------------------------------------------------------------------
def _npz(compressed=False, **arrays) -> bytes:
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return buf.getvalue()


def test_npz_with_test_arrays_keeps_them_and_scales_images():
    rng = np.random.default_rng(0)
    data = _npz(x_train=rng.integers(0, 256, (30, 12, 12), dtype=np.uint8), y_train=np.arange(30) % 4,
                x_test=np.full((8, 12, 12), 255, np.uint8), y_test=np.arange(8) % 4, compressed=True)
    d = parse_npz(data, "pics.npz")
    assert (d.task, d.kind, d.input_shape, d.classes) == ("classification", "image", (12, 12, 1), 4)
    assert len(d.x_train) == 30 and len(d.x_test) == 8 and d.x_test.max() == 1.0 and d.x_train.dtype == np.float32
    assert d.class_names == ["0", "1", "2", "3"] and d.y_train.dtype == np.int64


def test_npz_without_test_arrays_is_split_and_one_hot_labels_become_indices():
    x = np.random.default_rng(1).normal(size=(50, 6))
    d = parse_npz(_npz(x_train=x, y_train=np.eye(3)[np.arange(50) % 3]), "table.npz")
    assert (d.task, d.kind, d.classes, len(d.x_train), len(d.x_test)) == ("classification", "table", 3, 40, 10)
    assert d.y_train.dtype == np.int64 and d.y_train.ndim == 1 and set(d.y_train) <= {0, 1, 2}
    r = parse_npz(_npz(x_train=x, y_train=x[:, 0] * 0.5), "reg.npz")
    assert r.task == "regression" and r.y_train.dtype == np.float32 and r.classes == 0
    multi = parse_npz(_npz(x_train=x, y_train=x[:, :2]), "reg2.npz")
    assert multi.task == "regression" and multi.y_train.shape[1:] == (2,)
    seq = parse_npz(_npz(x_train=x.reshape(50, 3, 2), y_train=np.arange(50) % 2), "seq.npz")
    assert seq.kind == "sequence" and seq.input_shape == (3, 2)


def test_npz_arrays_are_checked_from_their_headers_before_loading(monkeypatch):
    """A header may promise a billion samples in a few bytes: refuse it unread."""
    def member(shape, dtype="<f4"):
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": shape})
        return buf.getvalue() + b"\0" * 64

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("x_train.npy", member((150_000, 100_000)))
        z.writestr("y_train.npy", member((150_000,), "<i8"))
    monkeypatch.setattr(D, "_npz_array", lambda *a: pytest.fail("an array was loaded"))
    msg = _err(parse_npz, buf.getvalue(), "bomb.npz")
    assert msg == ("The arrays in bomb.npz need 56 GB in memory; the limit is 2 GB: upload a sample of them, or set "
                   "LAYERCANVAS_MAX_ARRAY_MB to allow more.")
    monkeypatch.setattr(D, "MAX_SAMPLES", 1000)
    assert _err(parse_npz, buf.getvalue(), "bomb.npz") == ("bomb.npz has 150,000 samples; the limit is 1,000: upload a "
                                                           "sample of it, or set LAYERCANVAS_MAX_SAMPLES to allow more.")


def _objects() -> bytes:
    buf = io.BytesIO()
    np.savez(buf, x_train=np.array([{"a": 1}] * 12, dtype=object), y_train=np.zeros(12))
    return buf.getvalue()


X, Y = np.zeros((20, 3), np.float32), np.arange(20) % 2


@pytest.mark.parametrize("data, fragments", [
    (b"hello, not a zip", ["d.npz is not an NPZ file", "np.savez"]),
    (_npz(x_train=X, y_train=Y)[:-30], ["d.npz is not an NPZ file"]),
    (_npz(x_train=X, y_train=Y)[:150] + b"\0" * 40 + _npz(x_train=X, y_train=Y)[190:], ["damaged"]),
    (np.lib.format.header_data_from_array_1_0 and b"\x93NUMPY" + b"\0" * 60, ["single .npy array"]),
    (_npz(x=X, y=Y), ["d.npz has no x_train array (it has x, y)"]),
    (_npz(x_train=X, labels=Y), ["no y_train array (it has labels, x_train)"]),
    (_npz(x_train=X, y_train=Y, x_test=X), ["has x_test but no y_test"]),
    (_objects(), ["x_train in d.npz holds Python objects (pickled data)"]),
    (_npz(x_train=np.zeros((100, 3)), y_train=np.zeros(90)), ["x_train has 100 samples but y_train has 90"]),
    (_npz(x_train=X, y_train=Y, x_test=np.zeros((5, 4)), y_test=np.zeros(5)),
     ["x_test samples have shape (4,) but x_train samples have (3,)"]),
    (_npz(x_train=np.zeros((0, 3)), y_train=np.zeros(0)), ["x_train in d.npz is empty (shape (0, 3))"]),
    (_npz(x_train=np.array(["a"] * 20), y_train=Y), ["x_train in d.npz has type <U1 (text)", "save numbers"]),
    (_npz(x_train=X, y_train=np.array(["cat"] * 20)), ["y_train in d.npz has type <U3 (text)"]),
    (_npz(x_train=np.float32(3), y_train=Y), ["x_train in d.npz is a single value"]),
    (_npz(x_train=X[:4], y_train=Y[:4]), ["d.npz has 4 training samples", "at least 10"]),
    (_npz(x_train=X, y_train=np.ones(20)), ["y_train in d.npz has only one class (1)"]),
    (_npz(x_train=X, y_train=np.full(20, np.nan)), ["The labels in d.npz include NaN, infinite"]),
], ids=lambda v: str(v[0])[:40] if isinstance(v, list) else "data")
def test_npz_errors_name_the_array(data, fragments):
    msg = _err(parse_npz, data, "d.npz")
    for f in fragments:
        assert f in msg, msg


def test_npz_arrays_we_do_not_use_are_not_read():
    files = {"x_train.npy": _npy(X), "y_train.npy": _npy(Y), "notes.npy": b"\x93NUMPY garbage"}
    assert parse_npz(_zip(files), "extra.npz").input_shape == (3,)


def test_npz_upload_size_is_checked_first(monkeypatch):
    monkeypatch.setattr(D, "MAX_UPLOAD_BYTES", 10)
    assert _err(parse_npz, b"x" * 11, "d.npz") == "d.npz is 11 bytes; the limit is 10 bytes: set LAYERCANVAS_MAX_UPLOAD_MB to allow more."


# -- image folders in a zip ------------------------------------------------------
def _image(colour, size=(20, 10), fmt="PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, fmt)
    return buf.getvalue()


def _zip(files: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, content in files.items():
            z.writestr(name, content)
    return buf.getvalue()


def _pets(prefix="pets/", n=6, **extra) -> dict:
    files = {f"{prefix}{c}/{i}.png": _image((250 if c == "cat" else 0, 10 * i, 0)) for c in ("cat", "dog") for i in range(n)}
    files.update(extra)
    return files


def test_image_zip_with_a_wrapper_folder_resized_to_grey_and_colour():
    data = _zip(_pets(**{"pets/README.txt": b"hi", "__MACOSX/pets/._cat": b"x", "pets/cat/.DS_Store": b"x",
                         "pets": b"a file named like the wrapper", "LICENSE": b"x"}))
    grey = parse_image_zip(data, "pets.zip", image_shape=(8, 8, 1))
    assert (grey.task, grey.kind, grey.input_shape, grey.classes) == ("classification", "image", (8, 8, 1), 2)
    assert grey.class_names == ["cat", "dog"] and grey.name == "upload: pets.zip"
    assert len(grey.x_train) + len(grey.x_test) == 12 and grey.x_train.dtype == np.float32
    assert 0 <= grey.x_train.min() and grey.x_train.max() <= 1 and grey.y_train.dtype == np.int64
    colour = parse_image_zip(data, "pets.zip", image_shape=(16, 16, 3))
    assert colour.input_shape == (16, 16, 3)
    cats = np.concatenate([colour.x_train[colour.y_train == 0], colour.x_test[colour.y_test == 0]])
    assert np.allclose(cats[..., 0], 250 / 255, atol=0.01)  # red kept in channel 0
    assert sum(colour.class_counts().values()) == len(colour.x_train)


def test_image_zip_default_size_is_the_first_image_fitted_into_64():
    data = _zip({f"{c}/{i}.jpg": _image((i * 20, 0, 0), (200, 100), "JPEG") for c in ("a", "b") for i in range(5)})
    d = parse_image_zip(data, "photos.zip")
    assert d.input_shape == (32, 64, 3) and d.class_names == ["a", "b"]
    small = parse_image_zip(_zip(_pets(prefix="")), "pets.zip")
    assert small.input_shape == (10, 20, 3)  # small images keep their size


@pytest.mark.parametrize("files, fragments", [
    ({}, ["pets.zip has no images"]),
    ({"readme.txt": b"x", "cat/": b""}, ["pets.zip has no images", "cat/1.png"]),
    (_pets(**{"pets/cat/notes.txt": b"x"}), ["'pets/cat/notes.txt' in pets.zip is not an image", "remove it"]),
    (_pets(**{"pets/dog/broken.png": b"not a png"}), ["'pets/dog/broken.png' in pets.zip could not be read as an image"]),
    (_pets(**{"pets/dog/cut.png": _image((1, 2, 3))[:40]}), ["'pets/dog/cut.png'", "could not be read as an image"]),
    (_pets(**{"../evil.png": _image((0, 0, 0))}), ["Unsafe path in zip: '../evil.png'"]),
    (_pets(**{"pets/cat/../../evil.png": _image((0, 0, 0))}), ["Unsafe path in zip"]),
    (_pets(**{"/etc/evil.png": _image((0, 0, 0))}), ["Unsafe path in zip: '/etc/evil.png'"]),
    ({f"cat/{i}.png": _image((0, 0, 0)) for i in range(12)}, ["one class folder ('cat')", "at least two"]),
    ({f"x/cat/{i}.png": _image((0, 0, 0)) for i in range(12)}, ["one class folder ('cat')"]),
    (_pets(prefix="", n=3), ["pets.zip has 6 images; training needs at least 10 images"]),
    ({**_pets(prefix=""), "stray.png": _image((0, 0, 0))}, ["'stray.png' in pets.zip is not in a class folder"]),
], ids=lambda v: str(v[0])[:40] if isinstance(v, list) else "files")
def test_image_zip_errors_name_the_file(files, fragments):
    msg = _err(parse_image_zip, _zip(files), "pets.zip")
    for f in fragments:
        assert f in msg, msg


def test_image_zip_limits_are_checked_from_the_directory_before_reading(monkeypatch):
    data = _zip(_pets())
    assert "pets.zip is not a zip file" in _err(parse_image_zip, b"PK\x03\x04 nope", "pets.zip")
    monkeypatch.setattr(D, "_open_image", lambda *a: pytest.fail("an image was read"))
    monkeypatch.setattr(D, "MAX_ZIP_ENTRIES", 5)
    assert _err(parse_image_zip, data, "pets.zip") == ("pets.zip has 12 entries; the limit is 5: upload fewer images, or "
                                                       "set LAYERCANVAS_MAX_ZIP_ENTRIES to allow more.")
    monkeypatch.setattr(D, "MAX_ZIP_ENTRIES", 20_000)
    monkeypatch.setattr(D, "MAX_ZIP_BYTES", 500)
    msg = _err(parse_image_zip, data, "pets.zip")
    assert "pets.zip unpacks to" in msg and msg.endswith("; the limit is 500 bytes: upload fewer or smaller images, or "
                                                         "set LAYERCANVAS_MAX_ZIP_MB to allow more.")
    monkeypatch.undo()  # reading allowed again
    monkeypatch.setattr(D, "MAX_ARRAY_BYTES", 1000)
    msg = _err(parse_image_zip, data, "pets.zip", image_shape=(64, 64, 3))
    assert "12 images of (64, 64, 3) need" in msg and msg.endswith("set LAYERCANVAS_MAX_ARRAY_MB to allow more.")
    monkeypatch.setattr(D, "MAX_ARRAY_BYTES", 2 * 2**30)
    monkeypatch.setattr(D, "MAX_IMAGE_PIXELS", 100)
    msg = _err(parse_image_zip, data, "pets.zip")
    assert "is 20x10 pixels; the limit is 100 pixels: shrink it, or set LAYERCANVAS_MAX_IMAGE_PIXELS to allow more." in msg
    monkeypatch.setattr(D, "MAX_IMAGE_PIXELS", 40_000_000)
    monkeypatch.setattr(D, "MAX_CLASSES", 1)
    assert _err(parse_image_zip, data, "pets.zip") == ("pets.zip has 2 class folders; the limit is 1: set "
                                                       "LAYERCANVAS_MAX_CLASSES to allow more.")


@pytest.mark.parametrize("shape", [(8, 8), (8, 8, 2), (0, 8, 3), ("8", 8, 3), (8.0, 8, 3)])
def test_image_zip_refuses_a_bad_image_size(shape):
    assert "The image size must be [height, width, channels]" in _err(parse_image_zip, _zip(_pets()), "p.zip", shape)


# -- fuzz: any bytes give a Dataset or a DatasetError -------------------------------
VALID = {
    "csv": PETS,
    "npz": _npz(x_train=np.arange(60.0).reshape(20, 3), y_train=np.arange(20) % 2),
    "npz_compressed": _npz(x_train=np.arange(60.0).reshape(20, 3), y_train=np.arange(20) % 2, compressed=True),
    "zip": _zip(_pets(n=5)),
}
PARSERS = (parse_csv, parse_npz, parse_image_zip)


def _parses_or_refuses(data: bytes) -> None:
    for parse in PARSERS:
        try:
            assert isinstance(parse(data, "fuzz.bin"), Dataset)
        except DatasetError as e:
            assert str(e)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_fuzz_random_bytes(data):
    _parses_or_refuses(data)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(VALID)), st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)),
                                               min_size=1, max_size=8), st.floats(0.2, 1))
def test_fuzz_mutated_valid_files(which, edits, keep):
    data = bytearray(VALID[which])
    for where, byte in edits:
        data[int(where * len(data))] = byte
    _parses_or_refuses(bytes(data[: max(1, int(len(data) * keep))]))


CELLS = st.sampled_from(["1", "2.5", "-3", "1e3", "cat", "dog", "", "nan", "inf", '"a,b"', "x y", "True", "0"])


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 4), st.lists(st.lists(CELLS, min_size=1, max_size=5), max_size=30),
       st.sampled_from([",", ";", "\t"]))
def test_fuzz_csv_tables(columns, rows, sep):
    header = sep.join(f"c{i}" for i in range(columns))
    data = "\n".join([header] + [sep.join(r) for r in rows]).encode()
    try:
        d = parse_csv(data, "fuzz.csv")
    except DatasetError as e:
        assert str(e)
    else:
        assert len(d.x_train) == len(d.y_train) and np.isfinite(d.x_train).all()
        assert d.x_train.shape[1] == len(d.feature_names)


PNG = _image((10, 200, 30))
NAME_PARTS = st.sampled_from(["pets/", "cat/", "dog/", "a", "/", "\\", ".", "..", "../", "__MACOSX/", ".x", "1.png",
                              "2.jpg", "n.txt", "C:"])


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(NAME_PARTS, min_size=1, max_size=5).map("".join), max_size=14))
def test_fuzz_image_zip_entry_names(names):
    files = _pets(n=5)
    files.update({name: PNG for name in names})
    try:
        d = parse_image_zip(_zip(files), "names.zip")
    except DatasetError as e:
        assert str(e)
    else:
        assert d.classes >= 2 and len(d.x_train) + len(d.x_test) >= 10


def _npy(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


MEMBERS = {"x_train.npy": _npy(np.arange(60.0).reshape(20, 3)), "y_train.npy": _npy(np.arange(20) % 2),
           "x_test.npy": _npy(np.ones((5, 3), np.float32)), "y_test.npy": _npy(np.arange(5) % 2)}
IMAGES = [_image((9, 9, 9), fmt=f) for f in ("PNG", "JPEG", "GIF", "BMP")]


@settings(max_examples=80, deadline=None)
@given(st.data(), st.booleans())
def test_fuzz_damaged_members_inside_a_sound_zip(data, npz):
    """The zip's checksums are right, so the damage reaches numpy's and Pillow's readers."""
    if npz:
        files, key = dict(MEMBERS), data.draw(st.sampled_from(sorted(MEMBERS)))
    else:
        files, key = _pets(n=5), data.draw(st.sampled_from(["pets/dog/x.png", "pets/cat/y.jpg"]))
        files[key] = data.draw(st.sampled_from(IMAGES))
    member = bytearray(files[key])
    for where, byte in data.draw(st.lists(st.tuples(st.integers(0, len(member) - 1), st.integers(0, 255)), max_size=6)):
        member[where] = byte
    files[key] = bytes(member[: data.draw(st.integers(1, len(member)))])
    try:
        (parse_npz if npz else parse_image_zip)(_zip(files), "damaged.zip")
    except DatasetError as e:
        assert str(e)
