"""A project's data choice: which dataset it trains on, as a small JSON-able value.

The choice is one of
- a built-in dataset (`{"kind": "builtin", "name": "digits"}`),
- one of Keras's downloads (`{"kind": "keras", "name": "mnist"}`),
- an uploaded file, kept beside the database under its content hash
  (`{"kind": "upload", "id": "<sha1>", "file": "flowers.zip", "format": "zip", "image_shape": [32, 32, 3]}`;
  a CSV also has `label` and `standardize`).

It travels in the graph file's `training` field: a built-in or Keras name as `training.dataset` (what the
command line, the training script and other tools read), an upload as `training.upload` (a reference, never the
data). The store keeps the project's current choice beside its graph, so a stale tab cannot switch it back.
"""

from __future__ import annotations

import os
import pathlib
import re
from dataclasses import dataclass, field
from typing import Any

from builder.model.graph import Graph

KINDS = ("builtin", "keras", "upload")
FORMATS = ("csv", "npz", "zip")
DIGEST_RE = re.compile(r"[0-9a-f]{40}")  # sha1 of the uploaded bytes; fullmatch
MAX_FILE_NAME = 200


class DataChoiceError(ValueError):
    """A data choice that cannot be used; str(e) is meant for the user."""


@dataclass(frozen=True)
class DataChoice:
    """Which data a project uses (see the module docstring)."""

    kind: str
    name: str  # the built-in or Keras name; for an upload, the file name as given (shown, never a path)
    id: str | None = None  # upload: sha1 of the file
    format: str | None = None  # upload: csv | npz | zip
    options: dict = field(default_factory=dict)  # upload: csv {"label", "standardize"}; zip {"image_shape"}

    @property
    def label(self) -> str:
        """How the app names it: "digits", or "upload: flowers.zip"."""
        return f"upload: {self.name}" if self.kind == "upload" else self.name

    @property
    def key(self) -> str:
        """Equal for equal choices (for caches and widget keys)."""
        if self.kind != "upload":
            return f"{self.kind}:{self.name}"
        opts = ",".join(f"{k}={self.options[k]}" for k in sorted(self.options))
        return f"upload:{self.id}:{self.format}:{opts}"

    def to_dict(self) -> dict:
        if self.kind != "upload":
            return {"kind": self.kind, "name": self.name}
        return {"kind": "upload", "id": self.id, "file": self.name, "format": self.format, **self.options}

    @staticmethod
    def from_dict(value: Any) -> DataChoice | None:
        """The choice a dict describes; None for anything that is not a valid choice (old or foreign data)."""
        if not isinstance(value, dict):
            return None
        kind = value.get("kind")
        if kind in ("builtin", "keras"):
            return named(value.get("name"))
        if kind != "upload":
            return None
        digest, fmt, file = value.get("id"), value.get("format"), value.get("file")
        if not (isinstance(digest, str) and DIGEST_RE.fullmatch(digest) and fmt in FORMATS and isinstance(file, str)):
            return None
        options: dict = {}
        if fmt == "csv":
            label = value.get("label")
            if label is not None and not isinstance(label, str):
                return None
            if label is not None:
                options["label"] = label
            options["standardize"] = value.get("standardize", True) is not False
        elif fmt == "zip":
            shape = value.get("image_shape")
            if shape is not None:
                if not (isinstance(shape, list) and len(shape) == 3
                        and all(isinstance(d, int) and not isinstance(d, bool) and 0 < d <= 4096 for d in shape)):
                    return None
                options["image_shape"] = list(shape)
        return DataChoice("upload", clean_file_name(file), digest, fmt, options)


def named(name: Any) -> DataChoice | None:
    """A built-in or Keras dataset by name; None when `name` is neither."""
    from builder.data.datasets import BUILTIN, KERAS_DATASETS

    if not isinstance(name, str):
        return None
    if name in BUILTIN:
        return DataChoice("builtin", name)
    if name in KERAS_DATASETS:
        return DataChoice("keras", name)
    return None


def clean_file_name(name: str) -> str:
    """An uploaded file's name for showing (never a path: the file is kept under its sha1): one line, not too
    long."""
    text = re.sub(r"[\x00-\x1f\x7f]", "", str(name)).strip()
    return (text or "data")[:MAX_FILE_NAME]


def upload(data: bytes, file_name: str, options: dict | None = None) -> DataChoice:
    """The choice of an uploaded file (its format from its extension).

    Raises:
        DataChoiceError: the extension is not csv, npz or zip.
    """
    import hashlib

    name = clean_file_name(file_name)
    raw = str(file_name).strip()
    fmt = raw.rsplit(".", 1)[-1].lower() if "." in raw else ""
    if fmt not in FORMATS:
        raise DataChoiceError(f"{name} is not a CSV, NPZ or zip file: upload one of those.")
    choice = DataChoice.from_dict({"kind": "upload", "id": hashlib.sha1(bytes(data)).hexdigest(), "file": name,
                                   "format": fmt, **(options or {})})
    if choice is None:
        raise DataChoiceError(f"the options for {name} are not valid: {options!r}")
    return choice


def with_options(choice: DataChoice, **options) -> DataChoice:
    """The same upload read with other options (a CSV's label column, a zip's image size)."""
    new = DataChoice.from_dict({**choice.to_dict(), **options})
    if new is None:
        raise DataChoiceError(f"those options are not valid for {choice.name}: {options!r}")
    return new


def in_graph(graph: Graph) -> DataChoice | None:
    """The choice a graph file carries in its `training` field (a template's, a run's, a share link's)."""
    training = graph.extra.get("training")
    if not isinstance(training, dict):
        return None
    found = DataChoice.from_dict({"kind": "upload", **training["upload"]}) \
        if isinstance(training.get("upload"), dict) else None
    return found or named(training.get("dataset"))


def into_graph(graph: Graph, choice: DataChoice | None) -> Graph:
    """`graph` carrying `choice` in its `training` field (the same graph when it already does)."""
    if choice is None or in_graph(graph) == choice:
        return graph
    training = dict(graph.extra["training"]) if isinstance(graph.extra.get("training"), dict) else {}
    training.pop("upload", None)
    training.pop("dataset", None)
    if choice.kind == "upload":
        training["upload"] = {k: v for k, v in choice.to_dict().items() if k != "kind"}
    else:
        training["dataset"] = choice.name
    return graph.set_extra("training", training)


# -- uploaded files, kept beside the database ----------------------------------------------------------------------

def upload_path(folder: str | os.PathLike, choice: DataChoice) -> pathlib.Path:
    """Where an upload's bytes are kept: `<folder>/<sha1>.<format>` (both checked: never a path from outside)."""
    if choice.kind != "upload" or not DIGEST_RE.fullmatch(choice.id or "") or choice.format not in FORMATS:
        raise DataChoiceError("not an uploaded file")
    return pathlib.Path(folder) / f"{choice.id}.{choice.format}"


def keep_upload(folder: str | os.PathLike, choice: DataChoice, data: bytes) -> pathlib.Path:
    """Writes the upload's bytes (whole or not at all); a file with the same content is kept once."""
    path = upload_path(folder, choice)
    if path.is_file() and path.stat().st_size == len(data):
        return path
    write_whole(path, data)
    return path


def write_whole(path: pathlib.Path, data: bytes) -> None:
    """Writes `data` to `path` whole or not at all (a reader never sees half a file)."""
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load(choice: DataChoice, folder: str | os.PathLike | None = None):
    """The Dataset of a choice: a built-in or Keras load, or the kept upload read with its options.

    Raises:
        builder.data.datasets.DatasetError: the data cannot be loaded (offline download, file gone or unreadable); the
            message says what to do.
    """
    from builder.data import datasets

    if choice.kind != "upload":
        return datasets.load(choice.name)
    path = upload_path(folder or ".", choice)
    try:
        data = path.read_bytes()
    except OSError:
        raise datasets.DatasetError(f"The uploaded file {choice.name} is no longer on the server: upload it "
                                    "again on the Data page.") from None
    return read(choice, data)


def read(choice: DataChoice, data: bytes):
    """An upload's bytes read as the choice says (its format, label column, standardization, image size).

    Raises:
        builder.data.datasets.DatasetError: the file cannot be read that way; the message says why.
    """
    from builder.data import datasets

    if choice.format == "csv":
        return datasets.parse_csv(data, choice.name, target=choice.options.get("label"),
                                  standardize=choice.options.get("standardize", True))
    if choice.format == "npz":
        return datasets.parse_npz(data, choice.name)
    shape = choice.options.get("image_shape")
    return datasets.parse_image_zip(data, choice.name, image_shape=tuple(shape) if shape else None)
