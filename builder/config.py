"""Settings read from the environment, and the limits every part of LayerCanvas checks against (one table).

Every `LAYERCANVAS_*` setting is a row of `SETTINGS`: its default, its lowest value and what it does. The modules
that use one read it through `number` or `text` (once, at import, into a module constant that tests may patch);
the README's tables name the same settings (tests/test_config.py keeps the three in step).
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    default: int | float | str
    what: str
    low: int | float | None = None


SETTINGS: dict[str, Setting] = {
    # the store and where files go
    "LAYERCANVAS_DB": Setting("", "the project database: a SQLite file (default data/layercanvas.db), or a "
                                  "postgresql:// URL that several app servers share"),
    "LAYERCANVAS_ARTIFACTS": Setting("", "the folder for trained models, logs, uploads and imports, which every app "
                                         "server and worker mounts (default: the SQLite file's folder, or data/)"),
    # limits of a shared server (README: "Limits on a shared server"); every refusal names its setting
    "LAYERCANVAS_MAX_PARAMS": Setting(250_000_000, "weights of one model, built or imported", 1),
    "LAYERCANVAS_WARN_PARAMS": Setting(50_000_000, "weights of one layer above which the Build page warns", 1),
    "LAYERCANVAS_MEMORY_BUDGET_MB": Setting(4096, "memory one training run may need, in MB", 1),
    "LAYERCANVAS_MAX_UPLOAD_MB": Setting(200, "one upload (CSV, NPZ, image zip or model file), in MB", 1),
    "LAYERCANVAS_MAX_SAMPLES": Setting(200_000, "samples in an uploaded dataset", 1),
    "LAYERCANVAS_MAX_ARRAY_MB": Setting(2048, "an uploaded dataset's arrays as float32, in MB", 1),
    "LAYERCANVAS_MAX_ZIP_ENTRIES": Setting(20_000, "entries in an image zip", 1),
    "LAYERCANVAS_MAX_ZIP_MB": Setting(500, "an image zip unpacked, in MB", 1),
    "LAYERCANVAS_MAX_IMAGE_PIXELS": Setting(40_000_000, "pixels of one image in a zip", 1),
    "LAYERCANVAS_MAX_CLASSES": Setting(1000, "classes in an uploaded dataset", 2),
    # jobs
    "LAYERCANVAS_MAX_JOBS": Setting(0, "jobs training at once in one server (0: one per two cores)", 0),
    "LAYERCANVAS_WORKER_TIMEOUT": Setting(120.0, "seconds a multi-worker run waits for its workers", 1.0),
    "LAYERCANVAS_RAY": Setting("", "unset: training runs in the app's process; auto (the Ray cluster started with ray "
                                   "start on this machine) or a Ray address: runs and search trials are Ray tasks"),
    "LAYERCANVAS_RAY_CPUS": Setting(1.0, "CPUs each run asks the Ray cluster for", 0.1),
    "LAYERCANVAS_MAX_RUNS": Setting(3, "runs one person may have queued or running at once on Ray", 1),
    # classes
    "LAYERCANVAS_TEACHERS": Setting("", "with login: the teachers' e-mail addresses, separated by commas"),
    "LAYERCANVAS_TEACHER_KEY": Setting("", "without login: the secret a teacher types once in their browser to make "
                                           "classes (unset: no teachers)"),
    # the app
    "LAYERCANVAS_PRELOAD": Setting(1, "1: the server loads TensorFlow in the background at start; 0: on first use",
                                   0),
}


def number(name: str) -> int | float:
    """A numeric setting from the environment; missing, malformed or below its lowest value: its default."""
    row = SETTINGS[name]
    kind = type(row.default)
    try:
        value = kind(os.environ.get(name, "").strip() or row.default)
    except ValueError:
        return row.default
    return row.default if row.low is not None and value < row.low else value


def text(name: str) -> str:
    """A text setting from the environment, or its default."""
    return os.environ.get(name, "").strip() or str(SETTINGS[name].default)


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
