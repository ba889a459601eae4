"""Settings read from the environment, and the limits every part of LayerCanvas checks against (one table)."""

from __future__ import annotations

import os


def env_int(name: str, default: int, low: int | None = None) -> int:
    """A whole number from the environment; a malformed value, or one below `low`, falls back to the default."""
    try:
        value = int(os.environ.get(name, str(default)))
    except ValueError:
        return default
    return default if low is not None and value < low else value


def fmt_bytes(n: float) -> str:
    """A size for people: 12 bytes, 3.5 kB, 250 MB, 2.5 GB (one decimal below ten, none above)."""
    for unit, size in (("TB", 2**40), ("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if n >= size:
            v = n / size
            return (f"{v:.0f}" if v >= 10 else f"{v:.1f}".removesuffix(".0")) + f" {unit}"
    return f"{int(n)} bytes"


# Limits of a training run: the job's checks, the search space, the Train page and the command line read these.
EPOCHS = (1, 10_000)
BATCH_SIZE = (1, 65_536)
PATIENCE = (0, 10_000)
STEPS_PER_EXECUTION = (1, 10_000)
OPTIMIZER_NAMES = ("adam", "sgd", "rmsprop", "adagrad", "adamw")  # builder.train.settings.OPTIMIZERS builds them
