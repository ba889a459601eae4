"""The Train page's parts: settings, Start/Stop, live progress and curves, results, freezing.

Jobs run in `builder.train.job` threads that never touch streamlit, in this process or (LAYERCANVAS_RAY) as Ray
tasks that a dispatcher process sends from the store's queue; a fragment redraws the current run's progress every
second while it trains, from the job itself or, for a run this process does not hold (a Ray task, or a run started
through another app server), from the store. The run id is kept in the URL (`?run=...`), so a reload reattaches
to it.
"""

from __future__ import annotations

import time

import numpy as np
import streamlit as st

from builder.config import BATCH_SIZE, EPOCHS, PATIENCE, STEPS_PER_EXECUTION
from builder.data.datasets import Dataset
from builder.model.graph import Graph
from builder.train.job import TrainingJob
from builder.train.registry import JobRegistry
from builder.train.settings import (
    LOSSES,
    METRICS,
    OPTIMIZERS,
    SettingsError,
    TrainSettings,
    loss_warnings,
    suggest_compile,
    suggest_epochs,
)
from components import charts, state
from components.data_panel import label_name, render_images
from components.owner import current_owner
from components.runtime import rerun
from components.text import md_escape

RUN = state.per_project("lc_run")
WEIGHTS = state.per_project("lc_weights")  # node id -> arrays: imported or trained weights to start the next run from
WEIGHTS_FROM = state.per_project("lc_weights_from")  # the run (or model file) WEIGHTS came from
STATUS_ICONS = {"queued": ":material/hourglass_top:", "compiling": ":material/build:", "running": ":material/play_arrow:",
                "stopped": ":material/stop_circle:", "finished": ":material/check_circle:", "failed": ":material/error:",
                "interrupted": ":material/cancel:"}


@st.cache_resource
def registry() -> JobRegistry:
    """The process-wide job registry (caps concurrent training; thread-safe)."""
    return JobRegistry()


def ray_address() -> str | None:
    """The Ray cluster runs train on (LAYERCANVAS_RAY), or None: in this process.

    Raises:
        RemoteError: LAYERCANVAS_RAY is malformed (its message names it).
    """
    from builder.train.remote import ray_address as address

    return address()


@st.cache_resource
def _dispatchers() -> dict:
    """This server's dispatcher process (builder.train.remote), started on first need, again if it ended."""
    return {}


def ensure_dispatcher() -> None:
    """Starts this server's Ray dispatcher if it is not running. It is a process of its own: `ray.init` must not run
    in Streamlit's threads, and it outlives this server until the runs it sent have ended."""
    import os
    import threading

    from builder.store import artifact_dir as artifacts
    from builder.train.remote import spawn_dispatcher

    held = _dispatchers()
    lock = held.setdefault("lock", threading.Lock())
    with lock:
        proc = held.get("proc")
        if proc is None or proc.poll() is not None:
            held["proc"] = spawn_dispatcher(parent=os.getpid(),
                                            log_path=str(artifacts("logs", f"dispatcher-{os.getpid()}.log")))


def ray_problem() -> str | None:
    """Why training on Ray cannot start now (a malformed LAYERCANVAS_RAY, a cluster that does not answer), or None
    (also when training runs in this process)."""
    from builder.train.remote import RemoteError, cluster_problem

    try:
        address = ray_address()
    except RemoteError as e:
        return f"Training is unavailable: {e}."
    if address is None:
        return None
    ensure_dispatcher()  # on every server: runs queued through a server that went away still get sent
    return cluster_problem(state.get_store(), address)


def artifact_dir() -> str:
    from builder.store import artifact_dir as root

    return str(root("runs"))


def run_owner() -> str:
    """Whose runs this session shows: its own, or, in someone else's project (read-only), that project's owner's."""
    if state.read_only() and state.project_id():
        info = state.get_store().project_info(state.project_id())
        if info and info["owner"]:
            return info["owner"]
    return current_owner()


def current_run() -> tuple[TrainingJob | None, dict | None]:
    """(live job, stored run) of this session's run: the session's, the one in the URL, else the project's latest.
    Only the session owner's runs are found; in someone else's project (read-only), that owner's runs of it."""
    me = run_owner()
    run_id = st.session_state.get(RUN) or st.query_params.get("run")
    if not run_id and state.project_id():
        latest = state.get_store().list_runs(state.project_id(), limit=1, owner=me)
        run_id = latest[0]["id"] if latest else None
    if not run_id:
        return None, None
    job = registry().get(run_id)
    if job is not None and job.owner == me and (not state.read_only() or job.project_id == state.project_id()):
        st.session_state[RUN] = run_id
        return job, None
    try:
        stored = state.get_store().get_run(run_id)
    except Exception:  # noqa: BLE001 - a malformed id in the URL: no run
        stored = None
    if stored is None or stored.get("owner_key") != me or (state.read_only()
                                                          and stored.get("project_id") != state.project_id()):
        st.session_state.pop(RUN, None)
        return None, None
    st.session_state[RUN] = run_id
    return None, stored


STORED_MODEL = state.per_project("lc_stored_model")  # (run id, model) of the last stored run loaded


def stored_model(run: dict):
    """The trained model a finished run saved (its `.keras` file), loaded once per session; None if it has none
    or it cannot be read any more."""
    cached = st.session_state.get(STORED_MODEL)
    if cached is not None and cached[0] == run["id"]:
        return cached[1]
    import os

    path = run.get("artifact_path")
    model = None
    if path and os.path.isfile(path):
        from builder.kerasenv import load_keras

        try:
            model = load_keras().saving.load_model(path, safe_mode=True)
        except Exception:  # noqa: BLE001 - a damaged or foreign file: as if there were none
            model = None
    st.session_state[STORED_MODEL] = (run["id"], model)
    return model


def restore_weights(job: TrainingJob | None, stored: dict | None) -> None:
    """After a reload or a project switch, the weights the next run and the export start from: the latest run's
    (`current_run()`'s), else those of the run or model file the project was opened from."""
    if st.session_state.get(WEIGHTS) is not None or not state.project_id():
        return
    if job is not None:
        return
    store = state.get_store()
    if stored is None or not stored.get("artifact_path"):
        info = store.project_info(state.project_id()) or {}
        source = info.get("weights_run")
        stored = store.get_run(source) if source else None
        if stored is None or stored.get("owner_key") != run_owner():
            _weights_from_file(info.get("weights_file"))
            return
    if st.session_state.get(WEIGHTS_FROM) == stored["id"]:
        return  # tried already (the file may be gone)
    st.session_state[WEIGHTS_FROM] = stored["id"]
    model = stored_model(stored)
    if model is not None:
        st.session_state[WEIGHTS] = {layer.name: layer.get_weights() for layer in model.layers if layer.weights}


def _weights_from_file(path: str | None) -> None:
    """The weights of the model file the project was imported from (kept beside the database)."""
    import os

    if not path or st.session_state.get(WEIGHTS_FROM) == path:
        return
    st.session_state[WEIGHTS_FROM] = path
    if not os.path.isfile(path):
        return
    from builder.files.importer import import_model

    try:
        st.session_state[WEIGHTS] = import_model(path).weights
    except Exception:  # noqa: BLE001 - a file that no longer imports: the layers start untrained
        return


# -- settings -------------------------------------------------------------------------------------------------------

def _saved(graph: Graph, key: str) -> dict:
    value = graph.extra.get(key)
    return value if isinstance(value, dict) else {}


SETTINGS_EDITED = "lc_settings_edited"  # a settings widget changed since the settings were last kept


def _edited() -> None:
    st.session_state[SETTINGS_EDITED] = True


def render_settings(graph: Graph, ds: Dataset, disabled: bool) -> TrainSettings | None:
    """The settings widgets, prefilled from the graph's `compile`/`training` fields or suggestions.

    Returns:
        The settings, or None (with the message shown) when they are not valid.
    """
    suggested = suggest_compile(graph, ds.task, ds.classes)
    saved = _saved(graph, "training")
    sig = f"{ds.name}:{ds.task}:{ds.classes}"
    if st.session_state.get("train_sig") != sig:  # new data: take the suggestions again
        st.session_state["train_sig"] = sig
        for key in ("train_loss", "train_logits", "train_metrics", "train_epochs"):
            st.session_state.pop(key, None)
    c = st.columns([1, 1, 2, 1])  # the loss names are long (sparse_categorical_crossentropy)
    # Search's Apply and fine-tuning set these four widgets' values: their defaults go into the session state, never
    # as arguments too (Streamlit warns about a widget given both).
    _default("train_optimizer", suggested.optimizer, lambda v: v in OPTIMIZERS)
    _default("train_lr", float(suggested.learning_rate), lambda v: _number(v) and 1e-7 <= v <= 1e6)
    optimizer = c[0].selectbox("Optimizer", list(OPTIMIZERS), key="train_optimizer", disabled=disabled, on_change=_edited,
                               help="sgd uses momentum 0.9.")
    lr = c[1].number_input("Learning rate", min_value=1e-7, max_value=1e6, format="%g", key="train_lr",
                           disabled=disabled, on_change=_edited)
    losses = list(LOSSES)
    loss = c[2].selectbox("Loss", losses, index=losses.index(suggested.loss), key="train_loss", disabled=disabled, on_change=_edited,
                          help="Suggested from the labels and the last layer's activation.")
    logits = c[3].checkbox("from_logits", value=suggested.from_logits, key="train_logits", disabled=disabled, on_change=_edited,
                           help="Tick when the last layer has no activation (it outputs raw scores, 'logits').")
    c = st.columns(4)
    default_epochs = saved["epochs"] if isinstance(saved.get("epochs"), int) and EPOCHS[0] <= saved["epochs"] <= EPOCHS[1] \
        else suggest_epochs(len(ds.x_train), 32)
    _default("train_epochs", default_epochs, lambda v: _number(v) and EPOCHS[0] <= v <= EPOCHS[1])
    epochs = c[0].number_input("Epochs", *EPOCHS, key="train_epochs", disabled=disabled, on_change=_edited)
    saved_batch = saved.get("batch_size")
    _default("train_batch", saved_batch if isinstance(saved_batch, int) and not isinstance(saved_batch, bool)
             and BATCH_SIZE[0] <= saved_batch <= BATCH_SIZE[1] else 32,
             lambda v: _number(v) and BATCH_SIZE[0] <= v <= BATCH_SIZE[1])
    batch = c[1].number_input("Batch size", *BATCH_SIZE, key="train_batch", disabled=disabled, on_change=_edited)
    split = c[2].number_input("Validation split", 0.0, 0.9, _saved_number(saved, "validation_split", 0.2, 0.0, 0.9),
                              step=0.05, key="train_split", disabled=disabled, on_change=_edited,
                              help="The share of the training data held out to check for overfitting.")
    patience = c[3].number_input("Early stopping patience", *PATIENCE, _saved_number(saved, "patience", 0, *PATIENCE),
                                 key="train_patience", disabled=disabled, on_change=_edited,
                                 help="Stop when the validation loss has not improved for this many epochs "
                                      "(0: off). The best weights are kept.")
    c = st.columns([3, 1, 1], vertical_alignment="bottom")
    metric_choices = list(METRICS)
    default_metrics = [m for m in suggested.metrics if m in metric_choices]
    metrics = c[0].multiselect("Metrics", metric_choices, default=default_metrics, key="train_metrics",
                               disabled=disabled, on_change=_edited)
    seed = c[1].number_input("Seed", 0, 2**31 - 1, _saved_number(saved, "seed", 0, 0, 2**31 - 1), key="train_seed",
                             disabled=disabled, on_change=_edited)
    watch = c[2].toggle("Weights and gradients", value=saved.get("inspect", True) is not False, key="train_inspect",
                        disabled=disabled, on_change=_edited, help="Record each layer's weight and gradient sizes and histograms every "
                                                "epoch (Inspect page). Measured on one small batch: training speed "
                                                "is unchanged.")
    c = st.columns(4)
    from builder.train.distribute import STRATEGIES

    strategy = c[0].selectbox("Strategy", STRATEGIES, key="train_strategy", disabled=disabled, on_change=_edited,
                              help="auto: every local GPU when there are several. multi-worker: several machines, "
                                   "from the TF_CONFIG environment variable of the server.")
    mixed = c[1].toggle("Mixed precision", key="train_mixed", disabled=disabled, on_change=_edited,
                        help="float16 maths with float32 weights: faster on recent GPUs, slower on CPUs.")
    jit = c[2].toggle("XLA (jit_compile)", key="train_jit", disabled=disabled, on_change=_edited,
                      help="Compiles the training step; the first batches take longer.")
    steps = c[3].number_input("Steps per execution", *STEPS_PER_EXECUTION, 1, key="train_steps", disabled=disabled, on_change=_edited,
                              help="Batches run per call into TensorFlow: fewer Python round trips for small models.")
    comp = type(suggested)(optimizer=optimizer, learning_rate=float(lr), loss=loss, from_logits=bool(logits),
                           metrics=list(metrics))
    for text in loss_warnings(graph, comp, ds.task, ds.classes):
        st.warning(md_escape(text), icon=":material/warning:")
    settings = TrainSettings(compile=comp, epochs=int(epochs), batch_size=int(batch), validation_split=float(split),
                             patience=int(patience), seed=int(seed), strategy=strategy, mixed_precision=bool(mixed),
                             jit_compile=bool(jit), steps_per_execution=int(steps), inspect=bool(watch))
    n_train = len(ds.x_train) - int(len(ds.x_train) * settings.validation_split)
    if 0 < n_train < settings.batch_size:
        st.warning(f"Only {n_train} training samples are left after the validation split, fewer than the batch size "
                   f"{settings.batch_size}: every epoch is a single batch of {n_train}. Lower the batch size for "
                   "more updates per epoch.", icon=":material/warning:")
    try:
        settings.check()
    except SettingsError as e:
        st.error(md_escape(str(e)), icon=":material/error:")
        return None
    if not disabled and st.session_state.pop(SETTINGS_EDITED, False):
        remember(settings)  # only after the user changed one: drawing the page writes nothing
    return settings


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _default(key: str, value, valid) -> None:
    """A widget's value in the session state when it has none (or none it can show)."""
    if not valid(st.session_state.get(key)):
        st.session_state[key] = value


def _saved_number(saved: dict, key: str, default, low, high):
    """A number from the graph's `training` settings when it is one of the field's type and in its range."""
    value = saved.get(key)
    if isinstance(value, type(default)) and not isinstance(value, bool) and low <= value <= high:
        return value
    return default


def remember(settings: TrainSettings) -> None:
    """Keeps the settings in the project (its graph's `compile` and `training`), so a reload, the training
    script and the command line find them; saved only when they changed."""
    graph = state.get_graph()
    training = {**_saved(graph, "training"), "epochs": settings.epochs, "batch_size": settings.batch_size,
                "validation_split": settings.validation_split, "patience": settings.patience, "seed": settings.seed,
                "inspect": settings.inspect}
    compile_ = settings.compile.to_dict()
    if graph.extra.get("compile") != compile_ or graph.extra.get("training") != training:
        state.replace(graph.set_extra("compile", compile_).set_extra("training", training))


def start(graph: Graph, ds: Dataset, settings: TrainSettings, use_weights: bool, record: dict | None = None
          ) -> TrainingJob | None:
    """Submits a job (it may wait in line), remembers it in the session and the URL. Only the project's owner
    trains it (the Train page disables Start for anyone else). On Ray, the run goes into the store's queue and
    there is no job object here (None): the page follows it through the store.

    Raises:
        LimitError: On Ray, this person has as many runs queued or running as one may.

    Args:
        record: More to keep in the run's stored settings (a fine-tuning run: the run it continues).
    """
    if state.read_only():
        raise PermissionError(state.READ_ONLY_MESSAGE)
    from components.data_panel import with_data

    state.replace(with_data(state.get_graph()))  # the run's graph names its data: "Open in editor" finds it again
    remember(settings)
    weights = st.session_state.get(WEIGHTS) if use_weights else None
    store, graph = state.get_store(), state.get_graph()
    if ray_address() is not None:  # a Ray task: recorded in the store's queue, sent by the dispatcher
        from builder.config import number
        from builder.train.remote import save_start_weights

        run_id = store.create_run(state.project_id(), graph, {**settings.to_dict(), **(record or {})}, ds.name,
                                  owner=current_owner(), backend="ray", limit=int(number("LAYERCANVAS_MAX_RUNS")))
        save_start_weights(artifact_dir(), run_id, weights)
        ensure_dispatcher()
        st.session_state[RUN] = run_id
        st.query_params["run"] = run_id
        return None
    run_id = store.create_run(state.project_id(), graph, {**settings.to_dict(), **record}, ds.name,
                              owner=current_owner()) if record else None
    job = TrainingJob(graph, ds, settings, weights=weights, store=store, run_id=run_id,
                      project_id=state.project_id(), artifact_dir=artifact_dir(), owner=current_owner())
    registry().submit(job)
    st.session_state[RUN] = job.id
    st.query_params["run"] = job.id
    return job


# -- progress -------------------------------------------------------------------------------------------------------

def render_progress(snap: dict) -> None:
    status = snap["status"]
    icon = STATUS_ICONS.get(status, "")
    wait = snap.get("wait_s")
    about = f", about {wait / 60:.0f} min" if isinstance(wait, (int, float)) and wait >= 90 else \
        f", about {wait:.0f} s" if isinstance(wait, (int, float)) else ""
    line = {"queued": f"Waiting in line (place {snap['queue_position']}{about})" if snap["queue_position"] else
            "Waiting",
            "compiling": "Building and compiling the model (the first batch traces the graph)...",
            "running": "Training", "stopped": "Stopped", "finished": "Finished", "failed": "Failed",
            "interrupted": "Interrupted"}.get(status, status)
    epochs, steps = snap["epochs"], max(snap["steps"], 1)
    if status in ("running", "compiling", "queued"):
        epoch_now = min(snap["epoch"] + 1, epochs)
        done = (snap["epoch"] + min(snap["batch"], steps) / steps) / epochs
        st.progress(min(max(done, 0.0), 1.0), text=f"{icon} {line}: epoch {epoch_now} of {epochs}, batch "
                                                     f"{min(snap['batch'], steps)} of {steps}")
    else:
        st.progress(min(snap["epoch"] / epochs, 1.0), text=f"{icon} {line}: {snap['epoch']} of {epochs} epochs")
    c = st.columns(3)
    c[0].metric("Elapsed", f"{snap['elapsed_s']:.0f} s")
    rate = snap.get("samples_per_s")
    c[1].metric("Samples per second", f"{rate:,.0f}" if isinstance(rate, (int, float)) and rate > 0 else "-")
    last = snap["history"][-1] if snap["history"] else {}
    c[2].metric("Last epoch loss", f"{last['loss']:.4f}" if "loss" in last else "-")
    for note in snap.get("notes") or []:
        st.info(md_escape(note), icon=":material/info:")
    if snap["message"]:
        (st.error if status == "failed" else st.info)(md_escape(snap["message"]))


def render_curves(history: list[dict], batches: list[dict], key: str, run_id: str | None = None) -> None:
    """The curves of a run; those of a fine-tuning run continue the curves of the runs before it."""
    marks = []
    if run_id:
        earlier, label = phases(run_id)
        if earlier:
            history, batches, marks = charts.join_phases(earlier, history, batches, label)
            if marks:
                st.caption(f"One chart for {len(earlier) + 1} phases: this run continues the earlier "
                           f"{'runs' if len(earlier) > 1 else 'run'} from epoch {marks[-1][0] + 1} "
                           f"({label or 'fine-tuning'}).")
    names = charts.metric_names(history, batches)
    if not names:
        st.caption("The curves appear after the first batches.")
        return
    cols = st.columns(min(len(names), 2))
    for i, name in enumerate(names[:4]):
        with cols[i % len(cols)]:
            st.plotly_chart(charts.curve(name, history, batches, marks), key=f"{key}:{name}")


def render_live(job: TrainingJob) -> None:
    """Progress and curves; redrawn every second by a fragment while the job is active."""

    @st.fragment(run_every=1.0)
    def live():
        snap = job.snapshot()
        render_progress(snap)
        render_curves(snap["history"], snap["batches"], key="live", run_id=job.id)
        if snap["status"] not in ("queued", "compiling", "running"):
            rerun()  # once: the page shows the results and stops this timer

    live()


# -- results --------------------------------------------------------------------------------------------------------

def render_results(result: dict | None, ds: Dataset | None, key: str = "") -> None:
    """Test metrics, the confusion matrix (a click on a cell shows its test examples), predictions on a few
    samples and misclassified images."""
    if not result:
        return
    metrics = result.get("metrics") or {}
    if metrics:
        st.markdown("**Test data**")
        cols = st.columns(max(len(metrics), 1))
        for col, (name, value) in zip(cols, metrics.items(), strict=False):
            col.metric(f"Test {name}", f"{value:.4f}")
    if ds is None:
        return
    if result.get("confusion"):
        left, right = st.columns([3, 2])
        with left:
            event = st.plotly_chart(charts.confusion(result["confusion"], ds.class_names), key=f"confusion:{key}",
                                    on_select="rerun", selection_mode="points")
        with right:
            render_samples(result, ds)
        points = event.selection.points if event is not None and event.selection else []
        if points:
            render_cell(result, ds, str(points[0]["y"]), str(points[0]["x"]))
        wrong = result.get("misclassified") or []
        if ds.kind == "image" and wrong:
            st.markdown("**Misclassified test images** (true → predicted)")
            pred = {s["index"]: s["pred"] for s in result.get("samples", [])}
            pred.update(zip(wrong, result.get("misclassified_pred") or [], strict=False))
            captions = [f"{label_name(ds, ds.y_test[i])} → {label_name(ds, pred[i]) if i in pred else '?'}"
                        for i in wrong]
            render_images(ds, wrong, ds.x_test, ds.y_test, captions=captions)
    else:
        render_samples(result, ds)


def render_cell(result: dict, ds: Dataset, true_name: str, pred_name: str, most: int = 24) -> None:
    """The test examples behind one cell of the confusion matrix (from the evaluation's predictions)."""
    names = [charts.plain(n) for n in ds.class_names]
    if true_name not in names or pred_name not in names:
        return
    t, p = names.index(true_name), names.index(pred_name)
    pred = np.asarray(result.get("predicted") or [], dtype="int64")
    if len(pred) != len(ds.x_test):
        return
    hits = np.flatnonzero((ds.y_test.reshape(-1).astype("int64") == t) & (pred == p))
    what = "right" if t == p else "wrong"
    st.markdown(f"**True {md_escape(true_name)}, predicted {md_escape(pred_name)}** ({len(hits)} test samples, "
                f"{what}{'; the first ' + str(most) if len(hits) > most else ''})")
    if not len(hits):
        return
    shown = [int(i) for i in hits[:most]]
    if ds.kind == "image":
        render_images(ds, shown, ds.x_test, ds.y_test, captions=[f"#{i}" for i in shown])
    else:
        x = ds.x_test[shown].reshape(len(shown), -1)
        cols = ds.feature_names if ds.feature_names and len(ds.feature_names) == x.shape[1] else \
            [f"x{i}" for i in range(x.shape[1])]
        table = {"sample": shown, **{str(c): x[:, j].round(4).tolist() for j, c in enumerate(cols[:20])}}
        st.dataframe(table, hide_index=True)


def render_samples(result: dict, ds: Dataset) -> None:
    samples = result.get("samples") or []
    if not samples:
        return
    st.markdown("**Predictions on test samples**")
    if ds.task == "classification":
        rows = {"sample": [s["index"] for s in samples],
                "true": [label_name(ds, s["true"]) for s in samples],
                "predicted": [label_name(ds, s["pred"]) for s in samples],
                "confidence": [round(s["confidence"], 3) for s in samples],
                "right": ["yes" if s["true"] == s["pred"] else "no" for s in samples]}
    else:
        rows = {"sample": [s["index"] for s in samples], "true": [round(s["true"], 4) for s in samples],
                "predicted": [round(s["pred"], 4) for s in samples],
                "error": [round(s["pred"] - s["true"], 4) for s in samples]}
    st.dataframe(rows, hide_index=True)


def stored_snapshot(run: dict, place: tuple[int, float | None] | None = None) -> dict:
    """A stored run in the shape of a live job's snapshot: a run that another process trains (a Ray task, another
    app server's job), or one that ended (also before a server restart). `place`: its place in the Ray queue."""
    history = [{"epoch": e["epoch"], **e["metrics"]} for e in run["epochs"]]
    settings = run.get("settings") or {}
    live = run.get("progress") or {}
    active = run["status"] in ("queued", "compiling", "running")
    result = run.get("result") or {"metrics": run.get("final_metrics") or {}}
    return {"id": run["id"], "status": run["status"], "message": run["message"],
            "epoch": len(history), "epochs": settings.get("epochs") or max(len(history), 1),
            "batch": live.get("batch", 0) if active else 0, "steps": live.get("steps", 1) if active else 1,
            "elapsed_s": max((time.time() if active else run["updated_at"]) - run["created_at"], 0.0),
            "samples_per_s": live.get("samples_per_s") if active else (run.get("stats") or {}).get("samples_per_s"),
            "history": history, "batches": live.get("batches") or [], "result": result,
            "queue_position": place[0] if place else 0, "wait_s": place[1] if place else None,
            "notes": live.get("notes") or []}


def render_live_stored(run_id: str) -> None:
    """Progress and curves of a run this process does not hold, read from the store every second while it is
    active (a Ray task, or a job of another app server)."""
    from builder.train.remote import queue_estimate

    @st.fragment(run_every=1.0)
    def live():
        store = state.get_store()
        run = store.get_run(run_id)
        if run is None:
            return
        place = queue_estimate(store, run_id) if run["status"] == "queued" and run.get("backend") == "ray" else None
        snap = stored_snapshot(run, place)
        render_progress(snap)
        render_curves(snap["history"], snap["batches"], key="live", run_id=run_id)
        if snap["status"] not in ("queued", "compiling", "running"):
            rerun()  # once: the page shows the results and stops this timer

    live()


def keep_stored_weights(stored: dict | None) -> None:
    """After a run that trained in another process (a Ray task) ended: its weights become the starting point for
    the next run, as a job's do (`keep_weights`)."""
    if (stored is None or stored.get("backend") != "ray" or stored["status"] not in ("finished", "stopped")
            or st.session_state.get(WEIGHTS_FROM) == stored["id"]):
        return
    st.session_state[WEIGHTS_FROM] = stored["id"]
    model = stored_model(stored)
    if model is not None:
        st.session_state[WEIGHTS] = {layer.name: layer.get_weights() for layer in model.layers if layer.weights}


def keep_weights(job: TrainingJob) -> None:
    """After a run, its weights become the starting point for the next (unchanged layers keep them)."""
    if job.model is not None and st.session_state.get(WEIGHTS_FROM) != job.id:
        st.session_state[WEIGHTS] = job.trained_weights()
        st.session_state[WEIGHTS_FROM] = job.id


def counts(result) -> tuple[int, int]:
    """(trainable, non-trainable) weights of a build result."""
    from builder.model.summary import summarize

    s = summarize(result)
    return s.trainable_params, s.non_trainable_params


# -- fine-tuning (Keras's two phases: the head with the base frozen, then the top of the base, 10 times slower) --

PHASES = state.per_project("lc_phases")  # run id -> (earlier runs, label): the runs it continues do not change
RUN_SETTINGS = state.per_project("lc_run_settings")  # run id -> its stored settings (read with the phases)
MAX_PHASES = 20
FINETUNE_N = "train_finetune_n"
FINETUNE_GO = "train_finetune"
DEFAULT_TOP = 20  # the guide unfreezes EfficientNetB0's top 20 layers


def phase_label(settings: dict | None) -> str | None:
    """'fine-tuning: top N unfrozen' for a run that fine-tunes (its stored settings), else None."""
    record = (settings or {}).get("finetune")
    n = record.get("unfrozen") if isinstance(record, dict) else None
    return f"fine-tuning: top {n} unfrozen" if isinstance(n, int) and not isinstance(n, bool) else None


def phases(run_id: str) -> tuple[list[dict], str | None]:
    """The runs a run continues, oldest first (`{"id", "history", "label"}`), and the run's own label: read from
    the store once per session. Only the session owner's runs are followed."""
    cache = st.session_state.setdefault(PHASES, {})
    if run_id in cache:
        return cache[run_id]
    store, me = state.get_store(), current_owner()

    def get(rid):
        try:
            run = store.get_run(rid)
        except Exception:  # noqa: BLE001 - a malformed id: no run
            return None
        return run if run is not None and run.get("owner_key") == me else None

    run = get(run_id)
    settings = (run or {}).get("settings") or {}
    earlier, seen, prev = [], {run_id}, settings.get("continues")
    while isinstance(prev, str) and prev not in seen and len(earlier) < MAX_PHASES:
        seen.add(prev)
        before = get(prev)
        if before is None:
            break
        earlier.insert(0, {"id": prev, "history": [{**e["metrics"], "epoch": e["epoch"]} for e in before["epochs"]],
                           "label": phase_label(before.get("settings"))})
        prev = (before.get("settings") or {}).get("continues")
    cache[run_id] = (earlier, phase_label(settings))
    st.session_state.setdefault(RUN_SETTINGS, {})[run_id] = settings
    return cache[run_id]


def store_settings(run_id: str) -> dict | None:
    """A run's stored settings, as `phases` read them."""
    phases(run_id)
    return st.session_state.get(RUN_SETTINGS, {}).get(run_id)


def render_finetune(graph: Graph, ds: Dataset, settings: TrainSettings | None, result, run_id: str,
                    ready: bool) -> None:
    """After a run on a graph with a frozen base: unfreeze the top N layers of the base and train on from the
    run's weights with the learning rate divided by 10, in one click (one undoable edit)."""
    from builder.train.finetune import base_layers, finetune_learning_rate, plan

    base = base_layers(graph)
    if not base or settings is None or st.session_state.get(WEIGHTS_FROM) != run_id \
            or not st.session_state.get(WEIGHTS):
        return
    earlier, label = phases(run_id)
    last = ((store_settings(run_id) or {}).get("finetune") or {}).get("unfrozen") if label else None
    with st.container(border=True, key="train_finetune_box"):
        if label:
            st.markdown(f"**Fine-tune the base further** (phase {len(earlier) + 2}: continues this run)")
        else:
            st.markdown("**Fine-tune the base** (phase 2 of Keras's transfer-learning recipe: the head has trained "
                        "with the base frozen)")
        if len(base) > 1:
            if not 1 <= st.session_state.get(FINETUNE_N, 1) <= len(base):
                st.session_state.pop(FINETUNE_N)  # the base changed size: the default again
            default = last if isinstance(last, int) and 1 <= last <= len(base) else min(DEFAULT_TOP, len(base))
            n = st.slider("Unfreeze the top N layers of the base", 1, len(base), default,
                          key=FINETUNE_N,
                          help=f"The base has {len(base)} layers. N counts every layer from the top, as Keras's "
                               "`base_model.layers[-N:]` does, BatchNormalization and layers without weights "
                               "included; BatchNormalization layers stay frozen.")
        else:
            n = 1
        p = plan(graph, n, result.model if result is not None else None)
        lr = settings.compile.learning_rate
        shown = ", ".join(p.unfrozen[-3:]) + (", ..." if len(p.unfrozen) > 3 else "")
        verb = "becomes" if len(p.unfrozen) == 1 else "become"
        parts = [f"{len(p.unfrozen)} layer{'s' * (len(p.unfrozen) != 1)} {verb} trainable"]
        if p.with_weights is not None:
            parts[0] += f" ({len(p.with_weights)} with weights: {p.weights:,} weights)"
        if p.unfrozen:
            parts[0] = f"{parts[0]}: {md_escape(shown)}"
        if p.kept_frozen:
            parts.append(f"{len(p.kept_frozen)} BatchNormalization stay{'s' * (len(p.kept_frozen) == 1)} frozen "
                         "(inference mode: see why in its inspector)")
        lines = ["; ".join(parts) + "."]
        if p.trainable_after is not None:
            now = counts(result)[0]
            lines.append(f"Trainable weights: {now:,} → {p.trainable_after:,}"
                         f"{' (as now: raise N to unfreeze more)' if now == p.trainable_after else ''}.")
        lines.append(f"Learning rate {lr:g} → {finetune_learning_rate(lr):g} (÷ 10), {settings.epochs} epochs, "
                     "continuing from this run's weights.")
        st.caption(" ".join(lines))
        st.button("Unfreeze and train", key=FINETUNE_GO, type="primary", icon=":material/lock_open:",
                  disabled=not ready or state.read_only(), on_click=_finetune, args=(ds, settings, n, run_id),
                  help="One step: sets the layers' Trainable flags and the learning rate (Undo brings both back), "
                       "then starts a run that continues this one on the same chart.")


def _finetune(ds: Dataset, settings: TrainSettings, n: int, run_id: str) -> None:
    """The button's callback (before the page is drawn again, so the learning-rate field can take the new rate)."""
    from builder.train.finetune import finetune_record, finetune_settings, unfreeze_top

    tuned = finetune_settings(settings)
    graph = unfreeze_top(state.get_graph(), n).set_extra("compile", tuned.compile.to_dict())
    state.commit(graph)  # flags and learning rate: one undo step
    st.session_state["train_lr"] = tuned.compile.learning_rate
    start(graph, ds, tuned, use_weights=True, record=finetune_record(run_id, n))
