"""Loads Keras (and TensorFlow) once per process, quietly.

TensorFlow writes start-up notes straight to file descriptor 2 before its
logging is configured (oneDNN, "no CUDA drivers"); no environment variable
silences them. They mean nothing to our users, so the first import sends
fd 2 to a temporary file and shows it only if the import fails.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading

_lock = threading.Lock()


def load_keras():
    """Returns the `keras` module, importing TensorFlow on first use."""
    if "keras" in sys.modules and hasattr(sys.modules["keras"], "layers"):
        return sys.modules["keras"]
    with _lock:
        if "keras" in sys.modules and hasattr(sys.modules["keras"], "layers"):
            return sys.modules["keras"]
        with tempfile.TemporaryFile() as sink:
            try:
                sys.stderr.flush()
                saved = os.dup(2)
            except (OSError, ValueError):  # no real fd 2 (some test runners)
                import keras

                return keras
            os.dup2(sink.fileno(), 2)
            try:
                import keras
                import tensorflow as tf

                tf.config.list_physical_devices("GPU")  # probes CUDA now, while its notes are muted
            except BaseException:
                os.dup2(saved, 2)
                sink.seek(0)
                sys.stderr.write(sink.read().decode("utf-8", "replace"))
                raise
            finally:
                os.dup2(saved, 2)
                os.close(saved)
        _freeze_loaded_objects()
        return keras


def _freeze_loaded_objects() -> None:
    """Moves everything that exists once TensorFlow is loaded out of the garbage collector's sight.

    Those hundreds of thousands of objects live as long as the process; a full collection walking them takes about
    0.3 s, and it used to land in the middle of an edit or a chart redraw now and then (the slow tail of the edit
    latency). Objects made later are collected as usual.
    """
    import gc

    gc.collect()
    gc.freeze()


def keras_loaded() -> bool:
    """True once Keras is imported (building is then fast)."""
    keras = sys.modules.get("keras")
    return keras is not None and hasattr(keras, "layers") and not _lock.locked()


def preload_in_background() -> threading.Thread:
    """Starts importing TensorFlow in a thread, so the first page paints meanwhile."""
    thread = threading.Thread(target=load_keras, name="keras-preload", daemon=True)
    thread.start()
    return thread
