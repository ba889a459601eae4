"""Built-in datasets that need no download, with fixed train/test splits.

Each loader is a self-contained function (its imports inside), so the
training script that codegen writes can carry the very same code.
Every loader returns (x_train, y_train, x_test, y_test) as numpy arrays.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass


def split(x, y, test_fraction=0.2, seed=0):
    """Shuffles with a fixed seed and splits into (x_train, y_train, x_test, y_test)."""
    import numpy as np

    order = np.random.default_rng(seed).permutation(len(x))
    n_test = max(1, round(len(x) * test_fraction))
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
