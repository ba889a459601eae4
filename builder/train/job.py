"""The training job: a thread that builds, compiles and fits the model, samples its curves, stops when asked
(keeping what it learned) or when the loss turns NaN or explodes, evaluates and saves the result into the store.
No Streamlit here.
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import threading
import time

from builder.kerasenv import load_keras
from builder.model.graph import Graph
from builder.store import run_file
from builder.train.classscore import score_class_run
from builder.train.evaluate import evaluate
from builder.train.settings import SettingsError, TrainSettings, memory_problem

DIVERGED_FACTOR = 1e3  # a training loss this many times its starting value (or above it, if that was < 1) stops training


SAMPLE_EVERY_S = 0.2  # batch metrics are sampled at most 5 times a second (each sample reads them twice)


MAX_BATCH_POINTS = 5_000  # sampled points kept per run; older ones are thinned
PUBLISH_EVERY_S = 1.0  # a run's progress goes into the store this often, for every server's Train page
MAX_PUBLISHED_POINTS = 1_000  # sampled points in the store's copy of the progress


class BackgroundJob:
    """What the JobRegistry runs: a job with a thread started when a slot is free, that can be stopped while it
    waits in line, and waited for. Subclasses set `id`, `status`, `_run` and `_end`, and the events below."""

    thread_name = "job"
    _stop: threading.Event
    _done: threading.Event
    _lock: threading.Lock
    _thread: threading.Thread | None

    def start(self) -> None:
        """Starts the thread (the registry calls this when a slot is free)."""
        if self._done.is_set():  # stopped while it waited in line
            return
        self._thread = threading.Thread(target=self._run, name=f"{self.thread_name}-{self.id}", daemon=True)
        self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Blocks until the job ends; True if it did."""
        return self._done.wait(timeout)

    @property
    def active(self) -> bool:
        return self.status in ("queued", "compiling", "running")

    def _end_if_waiting(self) -> None:
        """After a stop: a job still waiting in line ends now (it never starts)."""
        with self._lock:
            waiting = self._thread is None and self.status == "queued"
        if waiting:
            self._end("stopped", "Stopped while waiting in line.")


class TrainingJob(BackgroundJob):
    """One training run in a background thread. Never calls streamlit.

    Readers (the page's fragment, the CLI) call `snapshot()`; the thread is the
    only writer. Status moves queued -> compiling -> running -> finished,
    stopped (Stop pressed, or NaN loss) or failed.

    Args:
        graph: The graph to train (built fresh in the thread).
        dataset: An object with x_train, y_train, x_test, y_test, task,
            classes and name (builder.data.datasets.Dataset).
        settings: TrainSettings.
        weights: node id -> arrays to start from (imported or earlier
            training); layers whose shapes changed start fresh.
        store: A Store to record the run in (optional), with `project_id`.
        owner: Whose run it is (recorded in the store; see `Store.list_projects`).
        artifact_dir: Where the trained model is saved as <run id>.keras (and the TensorBoard logs go to
            <run id>.tb/, see builder.train.runlogs).
        run_id: The store's run id, when the caller created the run.
        log_dir: Where the TensorBoard logs go instead (default: beside the model; none without either).
        log_graph: Also write the model's graph into the logs (about 50 ms).
    """

    thread_name = "train"

    def __init__(self, graph: Graph, dataset, settings: TrainSettings, weights: dict | None = None, store=None,
                 project_id: str | None = None, artifact_dir: str | None = None, run_id: str | None = None,
                 owner: str | None = None, log_dir: str | None = None, log_graph: bool = True):
        settings.check()
        self.graph, self.dataset, self.settings = graph, dataset, settings
        self.initial_weights = weights or {}
        self.store, self.project_id, self.artifact_dir = store, project_id, artifact_dir
        self.owner = owner
        self.id = run_id or (store.create_run(project_id, graph, settings.to_dict(), dataset.name, owner=owner)
                             if store else secrets.token_urlsafe(12))
        self.status = "queued"
        self.message: str | None = None
        self.created = time.time()
        self.started: float | None = None  # the first batch (after compiling)
        self.ended: float | None = None
        self.epoch = 0  # epochs finished
        self.batch = 0  # batches done in the current epoch
        self.steps = 0  # batches per epoch
        self.samples = 0  # training samples seen since the first batch
        self.history: list[dict] = []  # one dict per finished epoch: {"epoch", "loss", ..., "val_loss", ...}
        self.batches: list[dict] = []  # sampled: {"step" (global batch), "epoch" (fractional), "loss", ...}
        self.result: dict | None = None  # after training: test metrics, predictions, confusion matrix
        self.model = None
        self._built = None  # the BuildResult trained (set up in the thread)
        self.loaded_weights: list[str] = []
        self.artifact_path: str | None = None
        self.fit_seconds: float | None = None  # the `fit` call alone, for the throughput benchmark
        self.fit_cpu_seconds: float | None = None  # the process's CPU time during it (all threads)
        if log_dir is None and artifact_dir:
            from builder.train.runlogs import log_dir as run_log_dir

            log_dir = run_log_dir(artifact_dir, self.id)
        self.log_dir = log_dir  # TensorBoard logs: epoch scalars and the graph (builder.train.runlogs.RunLog)
        self.log_graph = log_graph  # False: the scalars only (a search's later trials: the graph is the first's)
        self.tensorboard = None
        # With settings.inspect: the weights before training (`model.get_weights()`, for outputs "untrained vs
        # trained": builder.train.inspect.model_with_weights), the sampler of weights and gradients, and where its rows
        # were saved (<artifact_dir>/<run id>.inspect.json; builder.train.inspect.load_rows reads them back).
        self.start_weights: list | None = None
        self.inspector = None
        self.inspect_path: str | None = None
        self._untrained = None
        self.queue_position = 0
        self._stop = threading.Event()
        self._done = threading.Event()
        self._lock = threading.Lock()
        # The sampler's periodic progress and the final one are written one at a time; once the run ends, only the
        # final one: a periodic write landing after it would change the ended run's row (its time of last sign).
        self._publish_lock = threading.Lock()
        self._ending = False
        self._thread: threading.Thread | None = None
        self._epoch_start_iter = self._start_iter = 0
        self._first_epoch_began: float | None = None
        self._phase = "between"  # "train" while an epoch's batches run; "val" during validation
        self._initial_loss: float | None = None
        self._diverged: float | None = None  # the loss that stopped training
        self._sampling_done = False
        self.notes: list[str] = []  # notices for the user (e.g. a strategy that fell back)
        self.distributed = False  # metrics are then read at epoch ends only (a read would be a collective)

    # -- control ---------------------------------------------------------
    def stop(self) -> None:
        """Ends training at the next batch; the model keeps what it learned so far."""
        self._stop.set()
        if self.model is not None:
            self.model.stop_training = True
        self._end_if_waiting()

    def snapshot(self) -> dict:
        """A consistent copy of the progress, for drawing."""
        with self._lock:
            now = self.ended or time.time()
            running_s = now - self.started if self.started else 0.0
            return {
                "id": self.id, "status": self.status, "message": self.message, "epoch": self.epoch,
                "epochs": self.settings.epochs, "batch": self.batch, "steps": self.steps,
                "elapsed_s": now - self.created, "samples_per_s": self.samples / running_s if running_s > 0 else 0.0,
                "history": list(self.history), "batches": list(self.batches), "result": self.result,
                "queue_position": self.queue_position, "artifact_path": self.artifact_path, "notes": list(self.notes),
                # per layer and epoch: weight and gradient norms and histograms; None when inspect is off
                "inspect": list(self.inspector.rows) if self.inspector is not None else None,
            }

    def progress(self) -> dict:
        """The live progress as the store keeps it for other processes (the Train page of any server, the CLI
        waiting for a Ray run): the snapshot without what the store holds elsewhere (epochs, the result)."""
        snap = self.snapshot()
        batches = snap["batches"]
        if len(batches) > MAX_PUBLISHED_POINTS:
            stride = math.ceil(len(batches) / MAX_PUBLISHED_POINTS)
            batches = batches[-1 - (len(batches) - 1) // stride * stride::stride]  # evenly, ending at the latest
        keep = ("status", "epoch", "epochs", "batch", "steps", "elapsed_s", "samples_per_s", "queue_position", "notes")
        return {**{k: snap[k] for k in keep}, "batches": batches}

    def _publish(self, status: str | None = None) -> None:
        """Writes the progress into the store (a sign of life too), and stops when Stop was pressed anywhere.
        `status`: the one to record (the final one, written before this object's own changes)."""
        if self.store is None:
            return
        with self._publish_lock:
            if status is None and self._ending:
                return
            try:
                stop = self.store.publish_progress(self.id, {**self.progress(), **({"status": status} if status else {})})
            except Exception:  # noqa: BLE001 - the run goes on even if the database is busy or gone
                return
        if stop and not self._stop.is_set():
            self.stop()

    # -- the thread ------------------------------------------------------
    def _set_status(self, status: str, message: str | None = None) -> None:
        with self._lock:
            self.status, self.message = status, message
        if self.store is not None:
            with contextlib.suppress(Exception):  # the run goes on even if the database is busy or gone
                self.store.set_run_status(self.id, status, message)

    def _run(self) -> None:
        sampler = None
        try:
            if self._stop.is_set():
                return self._end("stopped", "Stopped before it started.")
            self._set_status("compiling")
            keras = load_keras()
            model, x, y, fit_kwargs = self._prepare(keras)
            if self._stop.is_set():
                return self._end("stopped", "Stopped before the first batch.")
            sampler = threading.Thread(target=self._sample, args=(model,), name=f"sample-{self.id}", daemon=True)
            sampler.start()
            fit_start, cpu_start = time.perf_counter(), time.process_time()
            model.fit(x, y, **fit_kwargs)
            self.fit_seconds = time.perf_counter() - fit_start
            self.fit_cpu_seconds = time.process_time() - cpu_start
            self._done_training(keras, model)
        except Exception as e:  # noqa: BLE001 - the run fails with a message; the thread never raises
            self._end("failed", failure_message(e))
        finally:
            self._sampling_done = True
            if self.tensorboard is not None:
                self.tensorboard.close()
            if sampler is not None:
                sampler.join(1)

    def _prepare(self, keras):
        """Builds, seeds, loads weights and compiles; returns (model, x, y, fit kwargs)."""
        from builder.model.build import BuildError, apply_weights, build
        from builder.train.distribute import check_batch, make_strategy

        s, data = self.settings, self.dataset
        strategy = make_strategy(s.strategy, self.notes)
        check_batch(s.batch_size, strategy)
        self.distributed = strategy.num_replicas_in_sync > 1 or s.strategy == "multi-worker"
        if s.mixed_precision:  # Keras keeps the policy per thread: this one's layers only
            keras.config.set_dtype_policy("mixed_float16")
        with SEED_LOCK:  # Keras's seed is process-wide: hold it while this model's weights are drawn
            keras.utils.set_random_seed(s.seed)
            with strategy.scope():
                built = build(self.graph)  # the model too: it is made under the strategy's scope
        if built.model is None:
            raise BuildError(built.errors or built.issues)
        problem = memory_problem(built, s)
        if problem is not None:  # before the first batch allocates the layer outputs
            raise SettingsError(problem)
        model = built.model
        self._built = built  # the class score counts its MACs from it
        self.loaded_weights = apply_weights(model, self.initial_weights) if self.initial_weights else []
        with strategy.scope():
            optimizer, loss, metrics = s.compile.keras_objects()
            model.compile(optimizer=optimizer, loss=loss, metrics=metrics, jit_compile=s.jit_compile,
                          steps_per_execution=s.steps_per_execution)
        if s.strategy == "multi-worker":
            from builder.train.distribute import fix_keras_multi_worker

            fix_keras_multi_worker(model, strategy)
        self.model = model
        x, y = data.x_train, self._labels(keras, data.y_train)
        n_train = len(x) - int(len(x) * s.validation_split)
        if n_train < 1:
            raise SettingsError(f"the validation split leaves no training data ({len(x)} samples)")
        self.steps = math.ceil(n_train / s.batch_size)
        if not self.distributed:  # the untrained loss, to tell when training explodes (a cluster: epoch ends only)
            probe = slice(0, min(n_train, 512))
            self._initial_loss = _untrained_loss(model, x[probe], y[probe], s.batch_size)
        callbacks = [_JobCallback(self)]
        if self.log_dir:  # written from our epoch callback: keras.callbacks.TensorBoard would sync every batch
            from builder.train.runlogs import RunLog

            self.tensorboard = RunLog(self.log_dir)
            if self.log_graph:
                self.tensorboard.model(model)
        if s.inspect:
            from builder.train.inspect import WeightGradientSampler, fixed_batch

            self.start_weights = model.get_weights()
            bx, by = fixed_batch(x, y, size=32, n=n_train, seed=s.seed)
            self.inspector = WeightGradientSampler(bx, by)
            self.inspector.sample_start(model)  # epoch 0: where training starts from (and the one-time tracing)
            callbacks.append(self.inspector)
        if s.patience:
            monitor = "val_loss" if s.validation_split else "loss"
            callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, patience=s.patience,
                                                           restore_best_weights=True))
        fit_kwargs = {"epochs": s.epochs, "batch_size": s.batch_size, "validation_split": s.validation_split,
                      "callbacks": callbacks, "verbose": 0, "shuffle": True}
        return model, x, y, fit_kwargs

    def _labels(self, keras, y):
        """Labels in the form the loss wants (one-hot for categorical crossentropy)."""
        import numpy as np

        if self.settings.compile.loss == "categorical_crossentropy" and y.ndim == 1:
            return keras.utils.to_categorical(y, max(int(self.dataset.classes), int(y.max()) + 1))
        if self.settings.compile.loss == "binary_crossentropy" and y.ndim == 1:
            return y.astype(np.float32).reshape(-1, 1)
        return y

    def _sample(self, model) -> None:
        """Every SAMPLE_EVERY_S: the running batch metrics, the progress, NaN and stop checks.

        Runs beside `fit` instead of as a per-batch callback, so the training
        loop never waits for it. A sample is kept only while an epoch's batches
        run and the step moved since the last one (between epochs the metrics
        are reset, and validation reuses them).
        """
        iterations = model.optimizer.iterations
        start = self._start_iter = int(iterations.numpy())
        last, published = 0, 0.0
        while not self._sampling_done and not self._done.is_set():
            time.sleep(SAMPLE_EVERY_S)
            if time.monotonic() - published >= PUBLISH_EVERY_S:
                published = time.monotonic()
                self._publish()
            if self._stop.is_set() or self._diverged:
                model.stop_training = True
            step = int(iterations.numpy()) - start
            if step <= last or self._phase != "train":
                continue
            last = step
            # Under a distribution strategy, reading the metrics is a collective operation that every worker
            # must join at the same point: only the epoch ends (in the training loop) read them.
            logs = {} if self.distributed else _consistent_metrics(model, iterations)
            with self._lock:
                first = self.started is None
                if first:
                    self.started = time.time()
                    self.status = "running"
                self.batch = max(0, min(step - (self._epoch_start_iter - start), self.steps))
                self.samples = step * self.settings.batch_size
                # A loss of exactly 0 is a metric just reset: the first batch of an epoch moves the step
                # before it updates the metrics.
                if logs and logs.get("loss") != 0.0 and self._phase == "train":
                    self.batches.append({"step": step, "epoch": self.epoch + self.batch / max(self.steps, 1),
                                         **logs})
                    if len(self.batches) > MAX_BATCH_POINTS:
                        self.batches = self.batches[::2]
            if first and self.store is not None:
                with contextlib.suppress(Exception):
                    self.store.set_run_status(self.id, "running")
            self._check_loss(logs.get("loss"))

    def _check_loss(self, loss: float | None) -> None:
        """Stops training when the loss is NaN or infinite, or exploded far above where it started."""
        if loss is None:
            return
        if math.isnan(loss) or math.isinf(loss) or loss > DIVERGED_FACTOR * max(self._initial_loss or 0.0, 1.0):
            if self._diverged is None:
                self._diverged = loss
            self.model.stop_training = True

    def _on_epoch_begin(self, epoch: int) -> None:
        if self._stop.is_set() or self._diverged is not None:
            self.model.stop_training = True
        self._epoch_start_iter = int(self.model.optimizer.iterations.numpy())
        with self._lock:
            self.batch = 0
            if self.started is None:
                self._first_epoch_began = time.time()  # when no sample comes before the epoch ends (tiny data)
        self._phase = "train"

    def _on_epoch_end(self, epoch: int, logs: dict) -> None:
        self._phase = "between"
        logs = _floats(logs or {})
        self._check_loss(logs.get("loss"))
        now_iter = int(self.model.optimizer.iterations.numpy())
        done = now_iter - self._epoch_start_iter
        row = {"epoch": epoch + 1, **logs, **({"partial": True} if done < self.steps else {})}
        if self.tensorboard is not None:
            self.tensorboard.epoch(epoch + 1, logs)
        with self._lock:
            self.history.append(row)
            self.epoch = epoch + 1
            self.batch = done
            # The samples so far, also when no sample of the sampler came (a short run): the speed shown and kept.
            self.samples = max(self.samples, (now_iter - self._start_iter) * self.settings.batch_size)
            # A whole epoch can pass between two samples (tiny data): it is training all the same.
            first = self.started is None
            if first:
                self.started = self._first_epoch_began or time.time()
                self.status = "running"
        if self.store is not None:
            with contextlib.suppress(Exception):
                if first:
                    self.store.set_run_status(self.id, "running")
                self.store.add_epoch(self.id, epoch + 1, row)

    def _done_training(self, keras, model) -> None:
        if self._diverged is not None:
            raise _Diverged(self._initial_loss, self._diverged)
        result = evaluate(model, self.dataset, self.settings.compile)
        with self._lock:
            self.result = result
        if self.store is not None:
            with contextlib.suppress(Exception):  # a class's score is extra: it never fails the run
                score_class_run(self.store, self.id, model, self._built, self.settings.compile, self.dataset, result)
        if self.artifact_dir:
            self.artifact_path = save_artifact(model, self.artifact_dir, self.id)
            if self.inspector is not None and self.inspector.rows:
                from builder.train.inspect import save_rows

                self.inspect_path = save_rows(list(self.inspector.rows), self.artifact_dir, self.id)
        if self.tensorboard is not None:
            self.tensorboard.close()
            if self.tensorboard.error:
                self.notes.append(f"The TensorBoard logs are incomplete: {self.tensorboard.error}")
        epochs = self.settings.epochs
        if self._stop.is_set():
            partial = bool(self.history) and self.history[-1].get("partial")
            self._end("stopped", f"Stopped during epoch {self.epoch} of {epochs}, at batch {self.batch} of "
                                 f"{self.steps}." if partial else f"Stopped after {self.epoch} of {epochs} epochs.")
        else:
            self._end("finished", f"Early stopping after {self.epoch} of {epochs} epochs: the validation loss "
                                  "stopped improving." if self.epoch < epochs else None)

    def _end(self, status: str, message: str | None = None) -> None:
        # The store first, then this object: whoever sees the job end here (a page that then lists the runs, opens
        # the run or exports it) finds it ended in the store too, with its result, last progress and model.
        with self._lock:
            self.ended = time.time()  # the time and speed the store keeps are those this object then shows
        with self._publish_lock:
            self._ending = True  # no periodic progress after this: the final one below is the last write
        if self.store is not None:
            with contextlib.suppress(Exception):
                self.store.set_run_result(self.id, self.result)
            self._publish(status)
            with contextlib.suppress(Exception):
                self.store.finish_run(self.id, status, (self.result or {}).get("metrics"), self.artifact_path,
                                      message, stats=self._stats())
        with self._lock:
            self.status, self.message = status, message
        self._done.set()

    def _stats(self) -> dict:
        """What the store keeps of the run besides its metrics (the Train page shows it after a restart)."""
        snap = self.snapshot()
        return {"samples_per_s": round(float(snap["samples_per_s"]), 3), "samples": int(self.samples)}

    def untrained_model(self):
        """A copy of the model holding the weights it started from (kept when settings.inspect is on), to show
        layer outputs "untrained vs trained"; None without them. Made once; the trained model is not touched."""
        if self.model is None or self.start_weights is None:
            return None
        if self._untrained is None:
            from builder.train.inspect import model_with_weights

            self._untrained = model_with_weights(self.model, self.start_weights)
        return self._untrained

    def trained_weights(self) -> dict:
        """node id -> arrays, to carry into the next run (unchanged layers keep them)."""
        if self.model is None:
            return {}
        return {layer.name: layer.get_weights() for layer in self.model.layers if layer.weights}


def _consistent_metrics(model, iterations) -> dict:
    """The running metrics, read from beside the training loop; {} when no clean reading was possible.

    Each metric is a total and a count that the training step updates one after the other, so a reading
    taken in between is off (an accuracy above 1, say). Two readings in a row that agree, with no step
    between them, were taken while nothing changed.
    """
    for _ in range(3):
        try:
            step = int(iterations.numpy())
            first = _floats(model.get_metrics_result())
            second = _floats(model.get_metrics_result())
        except Exception:  # noqa: BLE001 - metrics being reset at an epoch boundary: no sample this time
            return {}
        if first == second and int(iterations.numpy()) == step:
            return first
    return {}


def _floats(logs: dict) -> dict:
    """The scalar entries of a Keras logs dict, as Python floats."""
    out = {}
    for key, value in logs.items():
        with contextlib.suppress(TypeError, ValueError):
            out[key] = float(value)
    return out


class _Diverged(Exception):
    def __init__(self, initial: float | None, loss: float):
        super().__init__(initial, loss)
        self.initial, self.loss = initial, loss

    def __str__(self):
        what = ("became NaN (not a number)" if math.isnan(self.loss) else
                "became infinite" if math.isinf(self.loss) else
                f"exploded from {self.initial:.3g} to {self.loss:.3g}" if self.initial is not None else
                f"exploded to {self.loss:.3g}")
        return (f"The loss {what}, so training stopped. The learning rate is probably too high: "
                "try 10 times lower.")


SEED_LOCK = threading.Lock()


def failure_message(e: BaseException) -> str:
    """One plain line for the user; Keras/TensorFlow errors are cut to their first line."""
    from builder.train.distribute import StrategyError

    if isinstance(e, (_Diverged, SettingsError, StrategyError)):
        return str(e)
    from builder.model.build import BuildError

    if isinstance(e, BuildError):
        first = e.issues[0] if getattr(e, "issues", None) else None
        return f"The model has errors: {first.node_id}: {first.message}" if first else "The model has errors."
    if isinstance(e, MemoryError):
        return "Out of memory: use a smaller batch size or a smaller model."
    lines = [ln.strip() for ln in str(e).splitlines()]
    # TensorFlow's op errors start with "Graph execution error:" and a stack of where the op was defined; the
    # reason is the first line after them ("Received a label value of 259 which is outside the valid range ...").
    useful = [ln for ln in lines if ln and not ln.startswith(("Graph execution error", "Detected at node", "File ",
                                                               "[[", "{{", "Op:", "Traceback"))]
    reason = (useful or lines or [""])[0][:300]
    hint = ""
    if "label value" in reason and "valid range" in reason:
        hint = (". The labels don't fit the loss and the last layer: use the suggested loss, or give the last "
                "layer one unit per class")
    return f"Training failed: {type(e).__name__}: {reason}{hint}".rstrip(": ")


def _JobCallback(job: TrainingJob):
    keras = load_keras()

    class JobCallback(keras.callbacks.Callback):
        # No batch hooks: Keras then dispatches batch ends without waiting; the sampler thread reads progress.
        def on_train_begin(self, logs=None):
            if job._stop.is_set():
                self.model.stop_training = True

        def on_epoch_begin(self, epoch, logs=None):
            job._on_epoch_begin(epoch)

        def on_epoch_end(self, epoch, logs=None):
            job._on_epoch_end(epoch, logs)

        def on_test_begin(self, logs=None):
            job._phase = "val"

    return JobCallback()


def _untrained_loss(model, x, y, batch_size: int) -> float | None:
    """The loss of the model as it starts, on a few samples (the baseline that tells when training explodes).

    One direct call of the model and its compiled loss: `evaluate` would trace a test function first, which takes
    0.1 to 0.2 s per run (a search pays it on every trial). `evaluate` stays the fallback for models whose loss
    cannot be computed that way."""
    try:
        y_pred = model(x, training=False)
        try:
            loss = model.compute_loss(x=x, y=y, y_pred=y_pred, training=False)
        except TypeError:  # a compute_loss override without `training`
            loss = model.compute_loss(x=x, y=y, y_pred=y_pred)
        return float(loss)
    except Exception:  # noqa: BLE001 - the slower way always works
        return _floats(model.evaluate(x, y, batch_size=batch_size, verbose=0, return_dict=True)).get("loss")


def save_artifact(model, directory: str, run_id: str) -> str | None:
    """Saves the trained model as <directory>/<run id>.keras (atomically); None if it fails.

    Raises:
        ValueError: `run_id` is not a store id (8 to 64 letters, digits, '_' or '-'), so it could
            name a path outside `directory`.
    """
    path = run_file(directory, run_id, ".keras")
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{run_id}.tmp.keras")
    try:
        model.save(tmp)
        os.replace(tmp, path)
        return path
    except Exception:  # noqa: BLE001 - the run still counts; the model is only not kept on disk
        with contextlib.suppress(OSError):
            os.remove(tmp)
        return None
