"""TensorBoard logs of a training run: the epoch scalars and the model's graph, as `tf.summary` events.

A run's logs live in `<artifact dir>/<run id>.tb/` (`log_dir`), laid out as `keras.callbacks.TensorBoard` lays
them out, so TensorBoard overlays training and validation: `train/` holds `epoch_loss`, `epoch_accuracy`, ...
and the graphs, `validation/` the same names for the `val_` figures. Steps are epoch numbers counted from 1, as
in the app's history. Open them with `tensorboard --logdir <folder>`.

Why not `keras.callbacks.TensorBoard`: in Keras 3.15 it defines `on_train_batch_end` even with
`update_freq="epoch"`, which turns off Keras's asynchronous batch dispatch (the loop then waits for every
batch's logs: 10 to 13% of throughput). The job writes the scalars itself at epoch ends instead.
"""

from __future__ import annotations

import io
import os
import time
import zipfile

from builder.store import run_file

TB_SUFFIX = ".tb"


def log_dir(artifact_dir: str, run_id: str) -> str:
    """The folder of a run's TensorBoard logs: <artifact_dir>/<run id>.tb.

    Raises:
        ValueError: `run_id` is not a store id (it could name a path outside `artifact_dir`).
    """
    return run_file(artifact_dir, run_id, TB_SUFFIX)


def has_logs(folder: str) -> bool:
    """Whether the folder holds any TensorBoard event file."""
    return os.path.isdir(folder) and any(name.startswith("events.out.tfevents.")
                                         for _, _, files in os.walk(folder) for name in files)


def zip_logs(folder: str) -> bytes:
    """The log folder as zip bytes, its files under the folder's own name (unzip, then `tensorboard --logdir`
    that folder)."""
    buffer = io.BytesIO()
    root = os.path.basename(os.path.normpath(folder))
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, _, files in os.walk(folder):
            for name in sorted(files):
                full = os.path.join(path, name)
                zf.write(full, os.path.join(root, os.path.relpath(full, folder)))
    return buffer.getvalue()


class RunLog:
    """Writes one run's TensorBoard events. Called from the training thread; never raises: a failure is kept in
    `error` and the logging stops (the run goes on).

    Args:
        folder: Where the events go (created as needed).
    """

    def __init__(self, folder: str):
        self.folder = folder
        self.error: str | None = None
        self.seconds = 0.0  # spent writing epoch figures (inside fit; bench/train_throughput.py reports it)
        self.graph_seconds = 0.0  # spent tracing and writing the graph (before fit)
        self._writers: dict = {}

    def _writer(self, name: str):
        if name not in self._writers:
            import tensorflow as tf

            self._writers[name] = tf.summary.create_file_writer(os.path.join(self.folder, name))
        return self._writers[name]

    def _guard(self, fn, *args) -> None:
        if self.error is not None:
            return
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001 - logs are extra: the run must not fail because of them
            self.error = f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"

    def model(self, model) -> None:
        """The model's graph: Keras's conceptual graph (layers and their configs, what
        keras.callbacks.TensorBoard writes) and the graph of TensorFlow ops of its forward pass."""
        start = time.perf_counter()
        self._guard(self._model, model)
        self.graph_seconds += time.perf_counter() - start

    def _model(self, model) -> None:
        import tensorflow as tf

        specs = [tf.TensorSpec(t.shape, t.dtype, name=t.name) for t in model.inputs]

        @tf.function(autograph=False)
        def forward(*xs):
            return model(xs[0] if len(xs) == 1 else list(xs), training=False)

        graph = forward.get_concrete_function(*specs).graph  # traced only, never run
        with self._writer("train").as_default():
            # What keras.callbacks.TensorBoard writes (its helper is private): the model's JSON, for the Graphs
            # tab's "conceptual graph".
            metadata = tf.compat.v1.SummaryMetadata()
            metadata.plugin_data.plugin_name = "graph_keras_model"
            metadata.plugin_data.content = b"1"
            tf.summary.write(tag="keras", tensor=model.to_json(), step=0, metadata=metadata)
            tf.summary.graph(graph)
        self._writer("train").flush()

    def epoch(self, epoch: int, logs: dict) -> None:
        """One epoch's figures (Keras logs: loss, metrics, val_*), at step `epoch` (counted from 1)."""
        start = time.perf_counter()
        self._guard(self._epoch, epoch, logs)
        self.seconds += time.perf_counter() - start

    def _epoch(self, epoch: int, logs: dict) -> None:
        import tensorflow as tf

        for split, items in (("train", [(k, v) for k, v in logs.items() if not k.startswith("val_")]),
                             ("validation", [(k[4:], v) for k, v in logs.items() if k.startswith("val_")])):
            if not items:
                continue
            writer = self._writer(split)
            with writer.as_default():
                for name, value in items:
                    tf.summary.scalar(f"epoch_{name}", value, step=epoch)
            writer.flush()  # a few bytes per epoch; TensorBoard can follow a run as it trains

    def close(self) -> None:
        for writer in self._writers.values():
            try:
                writer.close()
            except Exception:  # noqa: BLE001 - a folder removed under us: nothing left to save
                pass
        self._writers = {}
