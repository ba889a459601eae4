"""builder.data.datachoice: a project's data choice, as a value, in the graph file, and as kept upload files."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from builder.data import datachoice
from builder.data.datachoice import DataChoice, DataChoiceError
from builder.data.datasets import BUILTIN, KERAS_DATASETS, DatasetError
from builder.model.graph import Graph
from builder.model.share import decode, link
from builder.model.templates import TEMPLATES, template

CSV = b"a,b,label\n" + b"".join(f"{i},{i % 3},{'yes' if i % 2 else 'no'}\n".encode() for i in range(40))


def npz_bytes() -> bytes:
    buf = io.BytesIO()
    rng = np.random.default_rng(0)
    np.savez(buf, x_train=rng.normal(size=(30, 5)).astype("float32"), y_train=rng.integers(0, 2, 30))
    return buf.getvalue()


names = st.sampled_from(list(BUILTIN) + list(KERAS_DATASETS))
uploads = st.builds(
    lambda digest, file, fmt, label, scale, side: DataChoice.from_dict(
        {"kind": "upload", "id": digest, "file": file, "format": fmt,
         **({"label": label, "standardize": scale} if fmt == "csv" else {}),
         **({"image_shape": [side, side, 3]} if fmt == "zip" else {})}),
    st.text("0123456789abcdef", min_size=40, max_size=40), st.text(min_size=1, max_size=30).map(lambda t: t + ".x"),
    st.sampled_from(["csv", "npz", "zip"]), st.text(max_size=20), st.booleans(), st.integers(1, 256))
choices = st.one_of(names.map(datachoice.named), uploads)


@given(choices)
def test_a_choice_survives_its_dict_the_graph_file_and_a_share_link(choice):
    assert choice is not None
    assert DataChoice.from_dict(choice.to_dict()) == choice
    graph = datachoice.into_graph(template("mlp"), choice)
    assert datachoice.in_graph(graph) == choice
    assert datachoice.in_graph(Graph.loads(graph.dumps())) == choice
    assert datachoice.in_graph(decode(link("http://x/", graph).split("g=", 1)[1])) == choice


def test_into_graph_keeps_the_other_training_settings_and_replaces_an_earlier_choice():
    graph = template("digits_cnn").set_extra("training", {"dataset": "digits", "epochs": 7})
    up = datachoice.upload(CSV, "table.csv", {"label": "label"})
    with_upload = datachoice.into_graph(graph, up)
    assert with_upload.extra["training"]["epochs"] == 7
    assert "dataset" not in with_upload.extra["training"]  # one choice at a time
    back = datachoice.into_graph(with_upload, datachoice.named("iris"))
    assert back.extra["training"] == {"dataset": "iris", "epochs": 7}
    assert datachoice.into_graph(back, datachoice.named("iris")) is back  # nothing to change: the same graph
    assert datachoice.into_graph(back, None) is back


def test_every_template_that_names_a_dataset_carries_it():
    named = {key: datachoice.in_graph(template(key)) for key in TEMPLATES}
    assert named["digits_cnn"] == DataChoice("builtin", "digits")
    assert named["iris_mlp"] == DataChoice("builtin", "iris")
    assert named["mnist_cnn"] == DataChoice("keras", "mnist")
    assert named["mlp"] is None


@pytest.mark.parametrize("value", [
    None, "iris", [], {}, {"kind": "builtin", "name": "no_such"}, {"kind": "builtin"}, {"kind": "what", "name": "iris"},
    {"kind": "upload", "id": "../../etc/passwd", "file": "x.csv", "format": "csv"},
    {"kind": "upload", "id": "a" * 40, "file": "x.exe", "format": "exe"},
    {"kind": "upload", "id": "A" * 40, "file": "x.csv", "format": "csv"},
    {"kind": "upload", "id": "a" * 40, "file": 3, "format": "csv"},
    {"kind": "upload", "id": "a" * 40, "file": "x.zip", "format": "zip", "image_shape": [32, 32]},
    {"kind": "upload", "id": "a" * 40, "file": "x.zip", "format": "zip", "image_shape": [32, 32, True]},
    {"kind": "upload", "id": "a" * 40, "file": "x.csv", "format": "csv", "label": ["a"]},
])
def test_what_is_not_a_valid_choice_reads_as_none(value):
    assert DataChoice.from_dict(value) is None


def test_an_upload_is_named_by_its_content_and_shown_by_its_file_name_on_one_line():
    choice = datachoice.upload(CSV, "table\n.csv")
    assert choice.id == hashlib.sha1(CSV).hexdigest()
    assert choice.name == "table.csv" and choice.format == "csv" and choice.label == "upload: table.csv"
    assert datachoice.upload(CSV, "x" * 500 + ".csv").name == "x" * 200  # shown short; its format kept apart
    with pytest.raises(DataChoiceError, match="not a CSV, NPZ or zip"):
        datachoice.upload(b"x", "model.keras")
    assert datachoice.with_options(choice, label="a").options["label"] == "a"
    assert datachoice.with_options(choice, label="a").key != choice.key


def test_kept_uploads_load_with_their_options_and_a_missing_file_says_what_to_do(tmp_path):
    csv = datachoice.with_options(datachoice.upload(CSV, "table.csv"), label="label", standardize=False)
    path = datachoice.keep_upload(tmp_path, csv, CSV)
    assert path == tmp_path / f"{csv.id}.csv" and path.read_bytes() == CSV
    assert datachoice.keep_upload(tmp_path, csv, CSV) == path  # the same content is kept once
    ds = datachoice.load(csv, tmp_path)
    assert ds.task == "classification" and ds.classes == 2 and ds.input_shape == (2,)
    assert float(ds.x_train.max()) > 3  # not standardized, as chosen
    other = datachoice.load(datachoice.with_options(csv, label="b"), tmp_path)
    assert other.classes == 3  # the same file read with another label column
    data = npz_bytes()
    npz = datachoice.upload(data, "arrays.npz")
    datachoice.keep_upload(tmp_path, npz, data)
    assert datachoice.load(npz, tmp_path).input_shape == (5,)
    gone = datachoice.upload(b"a,b\n1,2\n", "gone.csv")
    with pytest.raises(DatasetError, match="no longer on the server: upload it again"):
        datachoice.load(gone, tmp_path)
    assert not list(tmp_path.glob("*.part"))  # nothing half-written left


def test_built_in_choices_load_the_built_in_data():
    ds = datachoice.load(datachoice.named("digits"))
    assert ds.name == "digits" and ds.input_shape == (8, 8, 1)


def test_an_upload_path_never_leaves_its_folder(tmp_path):
    with pytest.raises(DataChoiceError):
        datachoice.upload_path(tmp_path, datachoice.named("iris"))
    forged = DataChoice("upload", "x.csv", "../../../../etc/passwd", "csv")
    with pytest.raises(DataChoiceError):
        datachoice.upload_path(tmp_path, forged)
