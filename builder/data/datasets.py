"""Datasets: built-ins that need no download, Keras's, and uploads (CSV, NPZ, image zips).

Each built-in loader is a self-contained function (its imports inside), so the
training script that codegen writes can carry the very same code.
Every loader returns (x_train, y_train, x_test, y_test) as numpy arrays.
`load()` and the `parse_*()` functions return a `Dataset`, or raise
`DatasetError` whose text is meant for the user.
"""

from __future__ import annotations

import inspect
import io
import math
import re
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from builder.config import fmt_bytes, number
from builder.kerasenv import load_keras  # cheap: Keras itself loads on first call


def split(x, y, test_fraction=0.2, seed=0):
    """Shuffles with a fixed seed and splits into (x_train, y_train, x_test, y_test).

    Class labels (whole numbers, up to 100 classes) are split class by class, so
    the test data has the same class balance as the whole (a stratified split).
    """
    import numpy as np

    order = np.random.default_rng(seed).permutation(len(x))
    n_test = max(1, round(len(x) * test_fraction))
    labels = np.asarray(y)
    if labels.ndim == 1 and labels.dtype.kind in "iu" and len(np.unique(labels)) <= 100:
        shuffled = labels[order]
        test_mask = np.zeros(len(order), dtype=bool)
        for c in np.unique(labels):
            where = np.flatnonzero(shuffled == c)
            test_mask[where[:round(len(where) * test_fraction)]] = True
        if 0 < test_mask.sum() < len(order):
            test, train = order[test_mask], order[~test_mask]
            return x[train], y[train], x[test], y[test]
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


def standardize(x_train, x_test):
    """Scales features with the training set's mean and spread."""
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std[std == 0] = 1.0
    return ((x_train - mean) / std).astype("float32"), ((x_test - mean) / std).astype("float32")


def load_sklearn_table(name):
    """iris, wine, breast_cancer or diabetes from scikit-learn, standardized."""
    import sklearn.datasets

    x, y = getattr(sklearn.datasets, f"load_{name}")(return_X_y=True)
    y = y.astype("float32") if name == "diabetes" else y.astype("int64")
    x_train, y_train, x_test, y_test = split(x.astype("float32"), y)
    x_train, x_test = standardize(x_train, x_test)
    return x_train, y_train, x_test, y_test


def load_digits(flat=False):
    """scikit-learn's 8x8 digits, scaled to [0, 1]: images (8, 8, 1) or 64 features."""
    import sklearn.datasets

    x, y = sklearn.datasets.load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    x = x if flat else x.reshape(-1, 8, 8, 1)
    return split(x, y.astype("int64"))


def load_digits_rebuild():
    """scikit-learn's 8x8 digits as 64 pixels in [0, 1], each sample its own target (what an autoencoder learns)."""
    import sklearn.datasets

    x, _ = sklearn.datasets.load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    return split(x, x.copy())


def load_generated(name, n=1000, noise=0.1, seed=0):
    """Generated 2-D tasks (moons, circles, spiral, xor) and the sine regression."""
    import numpy as np

    rng = np.random.default_rng(seed)
    if name == "moons":
        from sklearn.datasets import make_moons

        x, y = make_moons(n, noise=noise * 2, random_state=seed)
    elif name == "circles":
        from sklearn.datasets import make_circles

        x, y = make_circles(n, noise=noise, factor=0.5, random_state=seed)
    elif name == "spiral":
        t = rng.uniform(0.25, 3 * np.pi, n)
        y = rng.integers(0, 2, n)
        r = t / (3 * np.pi)
        x = np.stack([r * np.cos(t + np.pi * y), r * np.sin(t + np.pi * y)], axis=1) + rng.normal(0, noise / 4, (n, 2))
    elif name == "xor":
        x = rng.uniform(-1, 1, (n, 2))
        y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype("int64")
        x = x + rng.normal(0, noise / 2, (n, 2))
    elif name == "sine":
        x = rng.uniform(-np.pi, np.pi, (n, 1))
        y = (np.sin(x[:, 0]) + rng.normal(0, noise, n)).astype("float32")
    else:
        raise ValueError(f"unknown generated dataset {name!r}")
    y = y.astype("float32") if name == "sine" else y.astype("int64")
    return split(x.astype("float32"), y)


def load_waves(n=1200, steps=32, seed=0):
    """Noisy sine waves of random frequency and phase: predict the next value."""
    import numpy as np

    rng = np.random.default_rng(seed)
    t = np.arange(steps + 1)
    freq = rng.uniform(0.1, 0.5, (n, 1))
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    waves = np.sin(freq * t + phase) + rng.normal(0, 0.05, (n, steps + 1))
    x = waves[:, :steps, None].astype("float32")
    y = waves[:, steps].astype("float32")
    return split(x, y)


def load_tokens(n=1200, length=20, vocab=50, seed=0):
    """Integer-token sequences: is token 1 (the 'keyword') anywhere in the sequence?"""
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.integers(2, vocab, (n, length))
    y = rng.integers(0, 2, n)
    where = rng.integers(0, length, n)
    x[np.arange(n)[y == 1], where[y == 1]] = 1
    return split(x.astype("int32"), y.astype("int64"))


@dataclass(frozen=True)
class DatasetInfo:
    """What the app, the CLI and the script need to know of a built-in dataset."""

    name: str
    task: str  # classification | regression
    input_shape: tuple
    classes: int  # 0 for regression
    size: int  # samples in all
    description: str
    loader: Callable
    args: tuple = ()

    def load(self):
        """Returns (x_train, y_train, x_test, y_test)."""
        return self.loader(*self.args)

    def source(self) -> str:
        """The loader's code and what it calls, for the generated training script."""
        parts = [split, standardize] if self.loader is load_sklearn_table else [split]
        return "\n\n".join(inspect.getsource(f) for f in parts + [self.loader])

    def call(self) -> str:
        return f"{self.loader.__name__}({', '.join(repr(a) for a in self.args)})"


def _d(name, task, shape, classes, size, text, loader, *args):
    return DatasetInfo(name, task, tuple(shape), classes, size, text, loader, args)


BUILTIN: dict[str, DatasetInfo] = {d.name: d for d in [
    _d("iris", "classification", [4], 3, 150, "Iris flowers: 4 measurements, 3 species.", load_sklearn_table, "iris"),
    _d("wine", "classification", [13], 3, 178, "Wines: 13 chemical measurements, 3 cultivars.", load_sklearn_table, "wine"),
    _d("breast_cancer", "classification", [30], 2, 569, "Breast tumours: 30 features, benign or malignant.", load_sklearn_table, "breast_cancer"),
    _d("diabetes", "regression", [10], 0, 442, "Diabetes progression after one year (regression).", load_sklearn_table, "diabetes"),
    _d("digits", "classification", [8, 8, 1], 10, 1797, "Handwritten digits as 8x8 grey images.", load_digits),
    _d("digits_flat", "classification", [64], 10, 1797, "Handwritten digits as 64 features.", load_digits, True),
    _d("digits_rebuild", "regression", [64], 0, 1797, "Handwritten digits as 64 pixels to rebuild (autoencoders).",
       load_digits_rebuild),
    _d("moons", "classification", [2], 2, 1000, "Two interleaving half-moons (2-D).", load_generated, "moons"),
    _d("circles", "classification", [2], 2, 1000, "A circle inside a ring (2-D).", load_generated, "circles"),
    _d("spiral", "classification", [2], 2, 1000, "Two intertwined spirals (2-D).", load_generated, "spiral"),
    _d("xor", "classification", [2], 2, 1000, "XOR of the signs of two coordinates (2-D).", load_generated, "xor"),
    _d("sine", "regression", [1], 0, 1000, "y = sin(x) + noise: the Dense(1) regression example.", load_generated, "sine"),
    _d("waves", "regression", [32, 1], 0, 1200, "Noisy waves: predict the next value from 32 steps.", load_waves),
    _d("tokens", "classification", [20], 2, 1200, "Token sequences: does the keyword token appear?", load_tokens),
]}


def builtin(name: str) -> DatasetInfo:
    """A built-in dataset by name.

    Raises:
        KeyError: with the list of names.
    """
    if name not in BUILTIN:
        raise KeyError(f"unknown dataset {name!r}: built-in datasets are {', '.join(BUILTIN)}")
    return BUILTIN[name]


# ---------------------------------------------------------------------------
# Datasets as the app uses them: built-ins, Keras downloads and uploads.
# Everything below runs in the app only; the generated script inlines the
# loaders above (which is why they import inside).
_standardize = standardize  # parse_csv's argument of that name hides it


MB = 2**20
# The limits of a shared server, each with the setting that raises it (README: "Limits on a shared server"); every
# refusal names its setting.
UPLOAD_SETTING = "LAYERCANVAS_MAX_UPLOAD_MB"
SAMPLES_SETTING = "LAYERCANVAS_MAX_SAMPLES"
ARRAY_SETTING = "LAYERCANVAS_MAX_ARRAY_MB"
ZIP_ENTRIES_SETTING = "LAYERCANVAS_MAX_ZIP_ENTRIES"
ZIP_SETTING = "LAYERCANVAS_MAX_ZIP_MB"
PIXELS_SETTING = "LAYERCANVAS_MAX_IMAGE_PIXELS"
CLASSES_SETTING = "LAYERCANVAS_MAX_CLASSES"
MAX_UPLOAD_BYTES = number(UPLOAD_SETTING) * MB
MAX_SAMPLES = number(SAMPLES_SETTING)
MAX_ARRAY_BYTES = number(ARRAY_SETTING) * MB  # the loaded arrays, as float32
MAX_ZIP_ENTRIES = number(ZIP_ENTRIES_SETTING)
MAX_ZIP_BYTES = number(ZIP_SETTING) * MB  # uncompressed, as declared by the zip's directory
MAX_IMAGE_PIXELS = number(PIXELS_SETTING)  # one decoded image (a 1 kB PNG can declare 100,000²)
MAX_CATEGORIES = 50  # distinct values of a one-hot encoded CSV column: a rule about what a category is, not a size
MAX_CLASSES = number(CLASSES_SETTING)
MIN_SAMPLES = 10
DEFAULT_IMAGE_SIDE = 64
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
MISSING = frozenset({"", "na", "n/a", "nan", "null", "#n/a", "-nan", "?"})
KERAS_DATASETS = ("mnist", "fashion_mnist", "cifar10")
KERAS_CLASS_NAMES = {
    "mnist": [str(i) for i in range(10)],
    "fashion_mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                      "Ankle boot"],
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
}
KERAS_DESCRIPTIONS = {
    "mnist": "Handwritten digits as 28x28 grey images (70,000).",
    "fashion_mnist": "Clothes as 28x28 grey images, 10 kinds (70,000).",
    "cifar10": "Small colour photos, 32x32, 10 classes (60,000).",
}
TASKS = ("classification", "regression")


def max_upload_bytes() -> int:
    """The largest upload accepted (`LAYERCANVAS_MAX_UPLOAD_MB`, default 200 MB)."""
    return MAX_UPLOAD_BYTES


def allow_more(setting: str) -> str:
    """The end of a limit's message: how the person who runs the server raises it."""
    return f"set {setting} to allow more"


class DatasetError(Exception):
    """A dataset that can't be loaded or used; str(e) is the user-facing message."""


@dataclass
class Dataset:
    """Arrays ready for `fit`, with what the app shows about them.

    Classification labels are int64 class indices; regression targets float32.
    Features are float32 (int32 for token ids).
    """

    name: str  # "iris", "mnist", "upload: data.csv" (the file name as given; never used as a path)
    task: str  # classification | regression
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: int  # 0 for regression
    class_names: list[str]  # len == classes
    kind: str  # table | image | sequence | tokens
    feature_names: list[str] | None = None  # table columns, after one-hot encoding
    description: str = ""
    notes: list[str] = field(default_factory=list)  # how the data was read (scaling, encoding, guesses)

    @property
    def input_shape(self) -> tuple:
        return tuple(int(d) for d in self.x_train.shape[1:])

    def class_counts(self) -> dict[str, int]:
        """Training samples per class name (empty for regression)."""
        if self.task != "classification":
            return {}
        counts = np.bincount(self.y_train.astype("int64").ravel(), minlength=self.classes)
        return {name: int(c) for name, c in zip(self.class_names, counts, strict=False)}

    def summary(self) -> dict:
        return {
            "name": self.name, "task": self.task, "kind": self.kind, "input_shape": self.input_shape,
            "classes": self.classes, "train_size": len(self.x_train), "test_size": len(self.x_test),
        }


# -- helpers -----------------------------------------------------------------
def _kind(x: np.ndarray) -> str:
    """What the samples look like, from their shape and type."""
    if np.issubdtype(x.dtype, np.integer):
        return "tokens"
    if x.ndim == 4 and x.shape[-1] in (1, 3, 4):
        return "image"
    return "table" if x.ndim <= 2 else "sequence"


def _shown(filename: str) -> str:
    """The file name for messages: one line, not too long."""
    name = re.sub(r"[\x00-\x1f\x7f]", "", str(filename or "")).strip() or "the file"
    return name if len(name) <= 80 else name[:77] + "..."


def _value(v) -> str:
    """A received value for messages: quoted, short."""
    text = str(v)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _reason(e: BaseException) -> str:
    """A library's complaint, short, on one line, without the reprs of its objects.

    Pillow says "cannot identify image file <_io.BytesIO object at 0x7f...>" and numpy "malformed node or string
    on line 1: <ast.Call object at 0x7f...>": the repr means nothing to the user.
    """
    text = re.sub(r":?\s*<[A-Za-z_][\w.]* object at 0x[0-9a-fA-F]+>", "", str(e)).strip()
    text = text.splitlines()[0] if text else type(e).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _check_upload(data: bytes, shown: str) -> None:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"expected the file's bytes, got {type(data).__name__}")
    if len(data) > MAX_UPLOAD_BYTES:
        raise DatasetError(f"{shown} is {fmt_bytes(len(data))}; the limit is {fmt_bytes(MAX_UPLOAD_BYTES)}: "
                           f"{allow_more(UPLOAD_SETTING)}.")
    if len(data) == 0:
        raise DatasetError(f"{shown} is empty: upload the file again.")


def _check_fraction(test_fraction: float) -> None:
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction!r}")


def _check_count(n: int, shown: str, what: str = "rows", most: bool = True) -> None:
    if n < MIN_SAMPLES:
        raise DatasetError(f"{shown} has {n} {what[:-1] if n == 1 else what}; training needs at least {MIN_SAMPLES} "
                           f"{what}.")
    if most and n > MAX_SAMPLES:
        raise DatasetError(f"{shown} has {n:,} {what}; the limit is {MAX_SAMPLES:,}: upload a sample of it, or "
                           f"{allow_more(SAMPLES_SETTING)}.")


def _check_task(task: str | None) -> None:
    if task is not None and task not in TASKS:
        raise ValueError(f"task must be None, 'classification' or 'regression', got {task!r}")


def _class_labels(values: np.ndarray) -> tuple[np.ndarray, list]:
    """Sorted distinct values and each value's index among them."""
    distinct, index = np.unique(values, return_inverse=True)
    return index.reshape(-1).astype("int64"), list(distinct)


# -- built-in and Keras datasets ----------------------------------------------
def _sklearn_class_names(info: DatasetInfo) -> list[str]:
    if info.loader is load_sklearn_table and info.task == "classification":
        import sklearn.datasets

        names = getattr(sklearn.datasets, f"load_{info.args[0]}")().target_names
        if len(names) == info.classes:
            return [str(n) for n in names]
    return [str(i) for i in range(info.classes)]


def load(name: str) -> Dataset:
    """A built-in dataset, or one of Keras's (downloaded on first use).

    Raises:
        DatasetError: an unknown name, or a download that failed.
    """
    if name in BUILTIN:
        info = BUILTIN[name]
        x_train, y_train, x_test, y_test = info.load()
        return Dataset(
            name, info.task, x_train, y_train, x_test, y_test, info.classes, _sklearn_class_names(info),
            _kind(x_train), description=info.description,
        )
    if name in KERAS_DATASETS:
        return _load_keras_dataset(name)
    raise DatasetError(f"Unknown dataset {_value(name)}: pick one of {', '.join(list(BUILTIN) + list(KERAS_DATASETS))}.")


def _load_keras_dataset(name: str) -> Dataset:
    try:
        keras = load_keras()
        (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, name).load_data()
    except Exception as e:  # offline, refused, a partial file: all mean "no data"
        raise DatasetError(
            f"Could not download {name} (no internet connection?). Download it elsewhere and upload it as an NPZ "
            f"file with x_train, y_train, x_test, y_test."
        ) from e
    x_train, x_test = np.asarray(x_train), np.asarray(x_test)
    if x_train.ndim == 3:  # grey images come without the channel axis
        x_train, x_test = x_train[..., None], x_test[..., None]
    x_train = x_train.astype("float32") / 255.0  # in float32: cifar10 in float64 would take 1.2 GB
    x_test = x_test.astype("float32") / 255.0
    y_train = np.asarray(y_train).reshape(-1).astype("int64")  # cifar10's labels are (n, 1)
    y_test = np.asarray(y_test).reshape(-1).astype("int64")
    names = KERAS_CLASS_NAMES[name]
    return Dataset(name, "classification", x_train, y_train, x_test, y_test, len(names), list(names), "image",
                   description=KERAS_DESCRIPTIONS[name])


# -- CSV -----------------------------------------------------------------------
def _decode(data: bytes, shown: str) -> str:
    try:
        text = bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DatasetError(
            f"{shown} is not UTF-8 text (byte {e.start} cannot be read): save it as \"CSV UTF-8\" and upload it again."
        ) from None
    if not text.strip():
        raise DatasetError(f"{shown} is empty: upload a CSV file with a header row and at least {MIN_SAMPLES} rows.")
    if "\x00" in text:
        raise DatasetError(f"{shown} is not a text file (it contains NUL bytes): upload a CSV file.")
    return text


def _read_csv(data: bytes, shown: str, header_only: bool = False):
    """The CSV as a DataFrame of stripped strings (the separator guessed from the header line)."""
    import pandas as pd

    _check_upload(data, shown)
    text = _decode(data, shown)
    first = text.lstrip("\r\n").split("\n", 1)[0]
    sep = max((",", ";", "\t"), key=lambda s: (first.count(s), s == ","))
    try:
        df = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_filter=False,
                         nrows=0 if header_only else MAX_SAMPLES + 1, engine="c")
    except pd.errors.EmptyDataError:
        raise DatasetError(f"{shown} is empty: upload a CSV file with a header row and at least {MIN_SAMPLES} rows.") from None
    except Exception as e:  # noqa: BLE001 - any parser complaint is about the file, not us
        raise DatasetError(f"{shown} could not be read as CSV ({_reason(e)}): check that every row has as many "
                           f"fields as the header.") from None
    columns = [str(c).strip() for c in df.columns]
    if len(set(columns)) < len(columns):
        dup = next(c for c in columns if columns.count(c) > 1)
        raise DatasetError(f"{shown} has two columns named {_value(dup)}: rename one.")
    df.columns = columns
    return df


def csv_columns(data: bytes, filename: str = "This file") -> list[str]:
    """The header of a CSV file, for a target-column picker.

    Raises:
        DatasetError: the file is empty, too large or not CSV text.
    """
    return list(_read_csv(data, _shown(filename), header_only=True).columns)


def _column_values(df, col: str, shown: str):
    """(stripped strings, floats or None when the column is text)."""
    import pandas as pd

    s = df[col].fillna("").astype(str).str.strip()
    missing = s.str.lower().isin(MISSING).to_numpy()
    if missing.any():
        first = int(np.flatnonzero(missing)[0]) + 2  # rows as a spreadsheet counts them: the header is row 1
        n = int(missing.sum())
        raise DatasetError(
            f"Column {_value(col)} in {shown} has {n} missing value{'s' * (n > 1)} (first at row {first}): "
            f"fill or remove {'them' if n > 1 else 'it'}."
        )
    try:
        numbers = pd.to_numeric(s, errors="coerce").astype("float64").to_numpy()
    except (ValueError, TypeError, OverflowError):
        numbers = np.array([_to_float(v) for v in s], dtype="float64")
    numeric = ~np.isnan(numbers)
    if numeric.all():
        bad = ~np.isfinite(numbers)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DatasetError(f"Column {_value(col)} in {shown} has the value {_value(s.iloc[i])} at row {i + 2}: "
                               f"replace it with a finite number.")
        return s, numbers
    if numeric.mean() > 0.5:
        i = int(np.flatnonzero(~numeric)[0])
        raise DatasetError(
            f"Column {_value(col)} in {shown} holds numbers, but row {i + 2} has {_value(s.iloc[i])}: "
            f"fix or remove that value."
        )
    return s, None


def _to_float(v: str) -> float:
    try:
        return float(v)
    except (ValueError, OverflowError):
        return float("nan")


def parse_csv(data: bytes, filename: str, target: str | None = None, standardize: bool = True,
              test_fraction: float = 0.2, seed: int = 0, task: str | None = None) -> Dataset:
    """A table from a CSV file with a header row.

    Numeric columns are used as they are, text columns one-hot encoded. The
    target is a classification when it holds text, or whole numbers with at
    most `MAX_CATEGORIES` distinct values; else a regression.

    Args:
        target: The label column; default: the last one.
        standardize: Scale features with the training rows' mean and spread.
        task: Force "classification" or "regression" instead of guessing.

    Raises:
        DatasetError: naming the column or row that is wrong and what to do.
    """
    _check_fraction(test_fraction)
    _check_task(task)
    with np.errstate(all="ignore"):  # overflows to float32 are caught as non-finite values
        return _parse_csv(data, filename, target, standardize, test_fraction, seed, task)


def _parse_csv(data: bytes, filename: str, target: str | None, standardize: bool, test_fraction: float, seed: int,
               task: str | None) -> Dataset:
    shown = _shown(filename)
    df = _read_csv(data, shown)
    columns = list(df.columns)
    target = columns[-1] if target is None else str(target).strip()
    if target not in columns:
        names = ", ".join(c if len(c) <= 40 else c[:37] + "..." for c in columns[:20])  # one may be a whole line
        raise DatasetError(f"{shown} has no column {_value(target)}; its columns are {names}"
                           f"{' ...' if len(columns) > 20 else ''}: pick one of them as the target.")
    features = [c for c in columns if c != target]
    if not features:
        raise DatasetError(f"{shown} has only the target column {_value(target)}: add columns to learn from.")
    if len(df) > MAX_SAMPLES:  # only MAX_SAMPLES + 1 rows were read
        raise DatasetError(f"{shown} has more than {MAX_SAMPLES:,} rows; the limit is {MAX_SAMPLES:,}: upload a sample "
                           f"of it, or {allow_more(SAMPLES_SETTING)}.")
    _check_count(len(df), shown)
    if len(df) * len(features) * 4 > MAX_ARRAY_BYTES:
        raise DatasetError(f"{shown} has too many values ({len(df):,} rows x {len(features)} columns): upload a sample.")
    notes: list[str] = []

    # target
    strings, numbers = _column_values(df, target, shown)
    if numbers is None:
        if task == "regression":
            i = int(np.flatnonzero(np.isnan(np.array([_to_float(v) for v in strings])))[0])
            raise DatasetError(f"Target {_value(target)} holds text ({_value(strings.iloc[i])} at row {i + 2}): "
                               f"regression needs numbers.")
        task, values = "classification", strings.to_numpy(dtype=str)
    else:
        whole = bool(np.all(numbers == np.round(numbers)))
        few = len(np.unique(numbers)) <= MAX_CATEGORIES
        if task is None:
            task = "classification" if whole and few else "regression"
            if task == "classification":
                notes.append(f"Target {_value(target)} holds few whole numbers, so it is read as classes.")
        values = numbers
    if task == "classification":
        y, distinct = _class_labels(values)
        if len(distinct) > MAX_CLASSES:
            raise DatasetError(f"Target {_value(target)} has {len(distinct):,} different values; the limit is "
                               f"{MAX_CLASSES:,} classes: pick another target, or {allow_more(CLASSES_SETTING)}.")
        if len(distinct) < 2:
            raise DatasetError(f"Target {_value(target)} has only one value ({_value(_class_name(distinct[0]))}): "
                               f"a classifier needs at least two classes.")
        class_names = [_class_name(v) for v in distinct]
    else:
        y, class_names = numbers.astype("float32"), []
        if not np.all(np.isfinite(y)):
            i = int(np.flatnonzero(~np.isfinite(y))[0])
            raise DatasetError(f"Target {_value(target)} has a value too large for float32 ({_value(strings.iloc[i])} "
                               f"at row {i + 2}): rescale the column.")

    # features
    blocks, names = [], []
    for col in features:
        strings, numbers = _column_values(df, col, shown)
        if numbers is not None:
            blocks.append(numbers[:, None])
            names.append(col)
            continue
        index, categories = _class_labels(strings.to_numpy(dtype=str))
        if len(categories) > MAX_CATEGORIES:
            raise DatasetError(
                f"Column {_value(col)} in {shown} has {len(categories):,} different text values; one-hot encoding "
                f"allows at most {MAX_CATEGORIES}: remove the column or group its values."
            )
        blocks.append(np.eye(len(categories), dtype="float64")[index])
        names.extend(f"{col}={c}" for c in categories)
        notes.append(f"Column {_value(col)} is text: one-hot encoded into {len(categories)} columns.")
    x = np.concatenate(blocks, axis=1).astype("float32")
    _check_finite(x, names, shown)
    x_train, y_train, x_test, y_test = split(x, y, test_fraction, seed)
    if standardize:
        x_train, x_test = _standardize(x_train, x_test)
        _check_finite(np.concatenate([x_train, x_test]), names, shown)
        notes.append("Features standardized with the training rows' mean and spread.")
    kinds = f"{len(class_names)} classes" if task == "classification" else "regression"
    return Dataset(
        f"upload: {filename}", task, x_train, y_train, x_test, y_test, len(class_names), class_names, "table",
        feature_names=names,
        description=f"{len(df):,} rows from {shown}: {len(names)} features, target {_value(target)} ({kinds}).",
        notes=notes,
    )


def _check_finite(x: np.ndarray, names: list[str], shown: str) -> None:
    bad = ~np.isfinite(x).all(axis=0)
    if bad.any():
        col = names[int(np.flatnonzero(bad)[0])]
        raise DatasetError(f"Column {_value(col)} in {shown} has numbers too large for float32: rescale the column.")


def _class_name(v) -> str:
    if isinstance(v, (float, np.floating)):
        return str(int(v)) if float(v).is_integer() else f"{float(v):g}"
    return str(v)


# -- NPZ -----------------------------------------------------------------------
NPZ_HINT = "save it with np.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)"


class _Header(NamedTuple):
    info: zipfile.ZipInfo
    shape: tuple
    fortran: bool
    dtype: np.dtype


NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def _npz_headers(zf: zipfile.ZipFile, shown: str) -> tuple[dict[str, _Header], list[str]]:
    """The shape and type of each array we use, read from its header only; and the names of all arrays."""
    headers, names = {}, []
    for info in zf.infolist()[:MAX_ZIP_ENTRIES]:
        if not info.filename.endswith(".npy") or info.is_dir():
            continue
        key = info.filename[:-4]
        names.append(key)
        if key not in NPZ_KEYS:
            continue
        try:
            with zf.open(info) as f:
                version = np.lib.format.read_magic(f)
                reader = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
                if version not in reader:
                    raise ValueError(f"unsupported .npy version {version}")
                shape, fortran, dtype = reader[version](f)
        except Exception as e:  # noqa: BLE001 - a damaged member, whatever the way
            raise DatasetError(f"{key} in {shown} is damaged ({_reason(e)}): {NPZ_HINT}.") from None
        headers[key] = _Header(info, tuple(shape), fortran, dtype)
    return headers, names


def _npz_array(zf: zipfile.ZipFile, key: str, header: _Header, shown: str) -> np.ndarray:
    info, shape, fortran, dtype = header
    try:
        with zf.open(info) as f:
            version = np.lib.format.read_magic(f)
            (np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0)(f)
            nbytes = math.prod(shape) * dtype.itemsize
            raw = f.read(nbytes)
    except Exception as e:  # noqa: BLE001
        raise DatasetError(f"{key} in {shown} is damaged ({_reason(e)}): {NPZ_HINT}.") from None
    if len(raw) != nbytes:
        raise DatasetError(f"{key} in {shown} is cut short: {NPZ_HINT}.")
    return np.frombuffer(raw, dtype=dtype).reshape(shape, order="F" if fortran else "C")


def _check_npz_header(key: str, shape: tuple, dtype: np.dtype, shown: str) -> None:
    if dtype.hasobject:
        raise DatasetError(f"{key} in {shown} holds Python objects (pickled data), which are not loaded for "
                           f"safety: save numeric arrays.")
    if dtype.kind not in "biuf":
        raise DatasetError(f"{key} in {shown} has type {dtype} ({_DTYPE_WORDS.get(dtype.kind, 'not numbers')}): "
                           f"save numbers (integers or floats).")
    if len(shape) == 0:
        raise DatasetError(f"{key} in {shown} is a single value: save one row per sample.")
    if 0 in shape:
        raise DatasetError(f"{key} in {shown} is empty (shape {shape}): save the samples in it.")


_DTYPE_WORDS = {"U": "text", "S": "bytes", "c": "complex numbers", "M": "dates", "m": "time spans",
                "V": "records", "O": "objects"}


def _labels(y_train: np.ndarray, y_test: np.ndarray, shown: str, task: str | None):
    """(task, y_train, y_test, classes, notes) from raw label arrays."""
    notes = []
    for key, y in (("y_train", y_train), ("y_test", y_test)):
        if y.ndim > 2:
            raise DatasetError(f"{key} in {shown} has shape {y.shape}: save one label (or one row of values) per sample.")
    if y_train.ndim == 2 and y_train.shape[1] == 1:
        y_train, y_test = y_train.reshape(-1), y_test.reshape(-1)
    both = np.concatenate([y_train.reshape(len(y_train), -1), y_test.reshape(len(y_test), -1)]).astype("float64")
    if not np.all(np.isfinite(both.astype("float32"))):
        raise DatasetError(f"The labels in {shown} include NaN, infinite or too large values (beyond float32): fix or "
                           f"remove those samples.")
    whole = bool(np.all(both == np.round(both)))
    if y_train.ndim == 2:  # one-hot rows, or several regression targets
        one_hot = whole and both.min() >= 0 and both.max() <= 1 and bool(np.all(both.sum(axis=1) == 1))
        if one_hot and task != "regression":
            notes.append("One-hot labels turned into class indices.")
            return ("classification", y_train.argmax(axis=1).astype("int64"), y_test.argmax(axis=1).astype("int64"),
                    y_train.shape[1], notes)
        if task == "classification":
            raise DatasetError(f"y_train in {shown} has shape {y_train.shape} but is not one-hot: save one class index "
                               f"per sample.")
        return "regression", y_train.astype("float32"), y_test.astype("float32"), 0, notes
    if task is None:
        task = "classification" if whole and both.min() >= 0 and both.max() < MAX_CLASSES else "regression"
    if task == "regression":
        return task, y_train.astype("float32"), y_test.astype("float32"), 0, notes
    if not whole or both.min() < 0 or both.max() >= MAX_CLASSES:
        raise DatasetError(f"The labels in {shown} must be class indices 0 to {MAX_CLASSES - 1} for classification: "
                           f"save whole numbers (the limit is {MAX_CLASSES:,} classes: {allow_more(CLASSES_SETTING)}).")
    return task, y_train.astype("int64"), y_test.astype("int64"), int(both.max()) + 1, notes


def _features(x_train: np.ndarray, x_test: np.ndarray, notes: list[str]):
    """float32 features, images with a channel axis and scaled to [0, 1]."""
    if x_train.ndim == 1:
        x_train, x_test = x_train[:, None], x_test[:, None]
    grey = x_train.ndim == 3 and (x_train.dtype == np.uint8 or (x_train.shape[1] == x_train.shape[2] >= 8))
    if grey:
        x_train, x_test = x_train[..., None], x_test[..., None]
        notes.append("Grey images: a channel axis added.")
    scale = x_train.dtype == np.uint8 and x_train.ndim == 4
    x_train, x_test = x_train.astype("float32"), x_test.astype("float32")
    if scale:
        x_train, x_test = x_train / 255.0, x_test / 255.0
        notes.append("8-bit pixels scaled to [0, 1].")
    if not (np.all(np.isfinite(x_train)) and np.all(np.isfinite(x_test))):
        raise DatasetError("The features include NaN, infinite or too large values (beyond float32): fix or remove "
                           "those samples.")
    kind = "image" if x_train.ndim == 4 and x_train.shape[-1] in (1, 3, 4) else _kind(x_train)
    return x_train, x_test, kind


def parse_npz(data: bytes, filename: str, test_fraction: float = 0.2, seed: int = 0,
              task: str | None = None) -> Dataset:
    """Arrays from an NPZ file: x_train, y_train and optionally x_test, y_test.

    Shapes and types are read from the array headers before anything is
    loaded, and pickled (object) arrays are refused.

    Raises:
        DatasetError: naming the array that is wrong and what to do.
    """
    _check_fraction(test_fraction)
    _check_task(task)
    shown = _shown(filename)
    _check_upload(data, shown)
    if bytes(data[:6]) == b"\x93NUMPY":
        raise DatasetError(f"{shown} is a single .npy array, not an NPZ file: {NPZ_HINT}.")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except Exception:  # noqa: BLE001 - BadZipFile, or worse on damaged bytes
        raise DatasetError(f"{shown} is not an NPZ file (or it is damaged): {NPZ_HINT}.") from None
    with zf:
        headers, names = _npz_headers(zf, shown)
        found = ", ".join(sorted(names)[:10]) + (" ..." if len(names) > 10 else "") if names else "no arrays"
        for key in ("x_train", "y_train"):
            if key not in headers:
                raise DatasetError(f"{shown} has no {key} array (it has {found}): {NPZ_HINT}.")
        if ("x_test" in headers) != ("y_test" in headers):
            missing, present = ("y_test", "x_test") if "x_test" in headers else ("x_test", "y_test")
            raise DatasetError(f"{shown} has {present} but no {missing}: save both or neither.")
        keys = [k for k in NPZ_KEYS if k in headers]
        for k in keys:
            _check_npz_header(k, headers[k].shape, headers[k].dtype, shown)
        shape = {k: headers[k].shape for k in keys}
        for x, y in (("x_train", "y_train"), ("x_test", "y_test")):
            if x in shape and shape[x][0] != shape[y][0]:
                raise DatasetError(f"{x} has {shape[x][0]:,} samples but {y} has {shape[y][0]:,}: save one label per sample.")
        if "x_test" in shape and shape["x_test"][1:] != shape["x_train"][1:]:
            raise DatasetError(f"x_test samples have shape {shape['x_test'][1:]} but x_train samples have "
                               f"{shape['x_train'][1:]}: save both with the same shape.")
        if "y_test" in shape and shape["y_test"][1:] != shape["y_train"][1:]:
            raise DatasetError(f"y_test labels have shape {shape['y_test'][1:]} but y_train labels have "
                               f"{shape['y_train'][1:]}: save both the same way.")
        _check_count(shape["x_train"][0], shown, "training samples", most=False)
        _check_count(shape["x_train"][0] + shape.get("x_test", (0,))[0], shown, "samples")
        nbytes = sum(math.prod(shape[k]) * max(headers[k].dtype.itemsize, 4) for k in keys)
        if nbytes > MAX_ARRAY_BYTES:
            raise DatasetError(f"The arrays in {shown} need {fmt_bytes(nbytes)} in memory; the limit is "
                               f"{fmt_bytes(MAX_ARRAY_BYTES)}: upload a sample of them, or {allow_more(ARRAY_SETTING)}.")
        arrays = {k: _npz_array(zf, k, headers[k], shown) for k in keys}
    with np.errstate(all="ignore"):  # overflows are caught as non-finite values
        return _npz_dataset(arrays, filename, shown, test_fraction, seed, task)


def _npz_dataset(arrays: dict, filename: str, shown: str, test_fraction: float, seed: int, task: str | None) -> Dataset:
    if "x_test" not in arrays:
        parts = split(arrays["x_train"], arrays["y_train"], test_fraction, seed)
        arrays.update(zip(("x_train", "y_train", "x_test", "y_test"), parts, strict=True))
        notes = [f"No test arrays: {test_fraction:.0%} of the training samples set aside for testing."]
    else:
        notes = []
    task, y_train, y_test, classes, label_notes = _labels(arrays["y_train"], arrays["y_test"], shown, task)
    notes += label_notes
    if task == "classification" and len(np.unique(y_train)) < 2:
        raise DatasetError(f"y_train in {shown} has only one class ({int(y_train[0])}): a classifier needs at "
                           f"least two.")
    x_train, x_test, kind = _features(arrays["x_train"], arrays["x_test"], notes)
    kinds = f"{classes} classes" if task == "classification" else "regression"
    return Dataset(
        f"upload: {filename}", task, x_train, y_train, x_test, y_test, classes, [str(i) for i in range(classes)],
        kind, description=f"{len(x_train) + len(x_test):,} samples of shape {x_train.shape[1:]} from {shown} ({kinds}).",
        notes=notes,
    )


# -- image folders in a zip ------------------------------------------------------
def _unsafe(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or ".." in parts or bool(re.match(r"^[A-Za-z]:", name))


def _hidden(parts: list[str]) -> bool:
    return any(p.startswith(".") or p == "__MACOSX" for p in parts) or parts[-1].lower() in ("thumbs.db", "desktop.ini")


def _image_mode(image_shape: tuple | None) -> tuple[tuple | None, str]:
    if image_shape is None:
        return None, "RGB"
    shape = tuple(image_shape)
    ok = len(shape) == 3 and all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in shape)
    if not ok or shape[2] not in (1, 3, 4) or not 1 <= shape[0] <= 4096 or not 1 <= shape[1] <= 4096:
        raise DatasetError(f"The image size must be [height, width, channels] with channels 1 (grey), 3 (RGB) "
                           f"or 4 (RGBA), got {list(shape)}.")
    return tuple(int(d) for d in shape), {1: "L", 3: "RGB", 4: "RGBA"}[shape[2]]


def parse_image_zip(data: bytes, filename: str, image_shape: tuple | None = None, test_fraction: float = 0.2,
                    seed: int = 0) -> Dataset:
    """Images from a zip with one folder per class (`cat/1.png`, `dog/2.jpg`).

    One wrapper folder around the class folders is allowed. Nothing is
    extracted to disk; the zip's directory is checked before anything is read.

    Args:
        image_shape: (height, width, channels) to resize to; default: the
            first image's size, fitted into 64x64, in RGB.

    Raises:
        DatasetError: naming the file that is wrong and what to do.
    """
    from PIL import Image

    _check_fraction(test_fraction)
    shown = _shown(filename)
    _check_upload(data, shown)
    shape, mode = _image_mode(image_shape)
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except Exception:  # noqa: BLE001 - BadZipFile, or worse on damaged bytes
        raise DatasetError(f"{shown} is not a zip file (or it is damaged): zip one folder per class.") from None
    with zf:
        if len(infos) > MAX_ZIP_ENTRIES:
            raise DatasetError(f"{shown} has {len(infos):,} entries; the limit is {MAX_ZIP_ENTRIES:,}: upload fewer "
                               f"images, or {allow_more(ZIP_ENTRIES_SETTING)}.")
        total = sum(i.file_size for i in infos)
        if total > MAX_ZIP_BYTES:
            raise DatasetError(f"{shown} unpacks to {fmt_bytes(total)}; the limit is {fmt_bytes(MAX_ZIP_BYTES)}: upload fewer "
                               f"or smaller images, or {allow_more(ZIP_SETTING)}.")
        for info in infos:
            if _unsafe(info.filename):
                raise DatasetError(f"Unsafe path in zip: {_value(info.filename)}; {shown} was not read.")
        files = []
        for info in infos:
            parts = [p for p in info.filename.replace("\\", "/").split("/") if p]
            if info.is_dir() or not parts or _hidden(parts):
                continue
            files.append((info, parts))
        images = [p for _, p in files if p[-1].lower().endswith(IMAGE_EXTENSIONS)]
        wrapper = images[0][0] if images and all(len(p) >= 3 and p[0] == images[0][0] for p in images) else None
        samples = []  # (info, class name)
        for info, parts in files:
            if wrapper is not None:
                if parts[0] != wrapper or len(parts) == 1:
                    continue  # a README next to the wrapper folder (or a file named like it)
                parts = parts[1:]
            is_image = parts[-1].lower().endswith(IMAGE_EXTENSIONS)
            if len(parts) == 1:
                if is_image:
                    raise DatasetError(f"{_value(info.filename)} in {shown} is not in a class folder: put each image "
                                       f"in the folder of its class, e.g. cat/1.png.")
                continue  # a README or LICENSE at the top
            if not is_image:
                raise DatasetError(f"{_value(info.filename)} in {shown} is not an image ({', '.join(IMAGE_EXTENSIONS)}): "
                                   f"remove it.")
            samples.append((info, parts[0]))
        if not samples:
            raise DatasetError(f"{shown} has no images: zip one folder per class, e.g. cat/1.png, dog/2.png.")
        class_names = sorted({c for _, c in samples})
        if len(class_names) < 2:
            raise DatasetError(f"{shown} has one class folder ({_value(class_names[0])}): a classifier needs at least "
                               f"two, one folder per class.")
        if len(class_names) > MAX_CLASSES:
            raise DatasetError(f"{shown} has {len(class_names):,} class folders; the limit is {MAX_CLASSES:,}: "
                               f"{allow_more(CLASSES_SETTING)}.")
        _check_count(len(samples), shown, "images")
        samples.sort(key=lambda s: s[0].filename)
        pixels = []
        for info, _ in samples:
            im = _open_image(zf, info, shown, Image)
            if shape is None:  # the first image's size, fitted into 64 x 64
                w, h = im.size
                f = min(1.0, DEFAULT_IMAGE_SIDE / max(w, h))
                shape = (max(1, round(h * f)), max(1, round(w * f)), 3)
            if not pixels:
                need = len(samples) * math.prod(shape) * 4
                if need > MAX_ARRAY_BYTES:
                    raise DatasetError(f"{len(samples):,} images of {shape} need {fmt_bytes(need)} in memory; the limit is "
                                       f"{fmt_bytes(MAX_ARRAY_BYTES)}: choose a smaller image size, or "
                                       f"{allow_more(ARRAY_SETTING)}.")
            pixels.append(_pixels(im, info, shape, mode, shown))
    index = {c: i for i, c in enumerate(class_names)}
    x = np.stack(pixels).astype("float32") / 255.0
    y = np.array([index[c] for _, c in samples], dtype="int64")
    x_train, y_train, x_test, y_test = split(x, y, test_fraction, seed)
    return Dataset(
        f"upload: {filename}", "classification", x_train, y_train, x_test, y_test, len(class_names), class_names,
        "image", description=f"{len(samples):,} images in {len(class_names)} classes from {shown}, resized to {shape}.",
        notes=[f"Images resized to {shape[0]}x{shape[1]} ({mode}) and scaled to [0, 1]."],
    )


def _open_image(zf: zipfile.ZipFile, info: zipfile.ZipInfo, shown: str, Image):
    try:
        raw = zf.read(info)
    except Exception as e:  # noqa: BLE001 - CRC errors, encryption, odd compression
        raise DatasetError(f"{_value(info.filename)} in {shown} could not be unpacked ({_reason(e)}): zip the "
                           f"folders again.") from None
    try:
        with warnings.catch_warnings():  # a large size is refused below, with a plainer message
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(raw))
        w, h = im.size
    except Exception as e:  # noqa: BLE001 - Pillow raises many kinds on damaged files
        raise DatasetError(f"{_value(info.filename)} in {shown} could not be read as an image ({_reason(e)}): "
                           f"remove or replace it.") from None
    if w * h > MAX_IMAGE_PIXELS:
        raise DatasetError(f"{_value(info.filename)} in {shown} is {w}x{h} pixels; the limit is "
                           f"{MAX_IMAGE_PIXELS:,} pixels: shrink it, or {allow_more(PIXELS_SETTING)}.")
    return im


def _pixels(im, info: zipfile.ZipInfo, shape: tuple, mode: str, shown: str) -> np.ndarray:
    h, w, c = shape
    try:
        im.draft(mode, (w, h))  # JPEGs decode straight at a smaller scale
    except Exception:  # noqa: BLE001 - only a speed-up
        pass
    try:
        out = np.asarray(im.convert(mode).resize((w, h)), dtype="uint8")
    except Exception as e:  # noqa: BLE001 - truncated or damaged image data
        raise DatasetError(f"{_value(info.filename)} in {shown} could not be read as an image ({_reason(e)}): "
                           f"remove or replace it.") from None
    return out.reshape(h, w, c)
