"""Searching a design space: which values of a graph's parameters (and of the training settings) work best.

The space lives in the graph file's optional `search` field (CONTRACT.md):

    "search": {"space": {"hidden.units": {"values": [8, 16, 32]},
                         "drop.rate": {"min": 0.0, "max": 0.5, "step": 0.1},
                         "compile.learning_rate": {"min": 1e-4, "max": 1e-2, "sampling": "log"}},
               "tuner": "random", "max_trials": 8, "objective": "val_accuracy"}

builder.model.space reads, checks and edits the field; this module runs the search.

KerasTuner runs the search (`SearchJob`): its oracle (random, Bayesian optimization or Hyperband) picks the values,
and each trial is one of our `TrainingJob`s, recorded as a run in the store like any other, so its curves can be
compared on the Runs page. A trial whose values make an invalid model fails with its reason; the search goes on.
No Streamlit here.
"""

from __future__ import annotations

import contextlib
import json
import math
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

from builder.model.graph import Graph
from builder.model.space import (
    COMPILE_KEYS,
    TRAINING_KEYS,
    Dim,
    SearchError,
    SearchSpec,
    apply_values,
    is_number,
    plain_value,
    read,
    set_options,
    split_key,
)
from builder.train.job import BackgroundJob


def trial_settings(settings, values: dict[str, Any]):
    """TrainSettings with the searched compile and training values set (a new object; `settings` is unchanged)."""
    comp = replace(settings.compile, metrics=list(settings.compile.metrics))
    changes = {}
    for key, value in values.items():
        head, name = split_key(key)
        if head == "compile" and name in COMPILE_KEYS:
            comp = replace(comp, **{name: value})
        elif head == "training" and name in TRAINING_KEYS:
            changes[name] = value
    return replace(settings, compile=comp, **changes)


def default_objective(settings) -> str:
    """val_accuracy when the model reports accuracy, else val_loss."""
    return "val_accuracy" if "accuracy" in settings.compile.metrics else "val_loss"


def maximize(objective: str) -> bool:
    """Whether a larger objective is better (KerasTuner's rule: accuracy-like metrics up, losses and errors down)."""
    name = objective.removeprefix("val_")
    return name in ("accuracy", "acc", "auc", "precision", "recall", "f1_score", "r2_score") or name.endswith(
        "accuracy")


def pareto(points: list[tuple[float, float]], higher_is_better: bool = True) -> list[bool]:
    """For each (cost, score) point: is it on the Pareto front (no other point is as cheap and better, or cheaper
    and as good)? Lower cost is better; the score's direction is `higher_is_better`."""
    sign = 1 if higher_is_better else -1
    front = []
    for i, (c, s) in enumerate(points):
        dominated = any(
            (c2 <= c and sign * s2 >= sign * s) and (c2 < c or sign * s2 > sign * s)
            for j, (c2, s2) in enumerate(points) if j != i)
        front.append(not dominated)
    return front


# -- KerasTuner ------------------------------------------------------------------------------------------------
def _encoded(dim: Dim) -> tuple[list, bool]:
    """The values as KerasTuner's Choice takes them (one type of int, float, str or bool), and whether they are
    JSON-encoded (lists, None or mixed types)."""
    values = list(dim.values)
    kinds = {type(v) for v in values}
    if kinds in ({int}, {float}, {str}, {bool}):
        return values, False
    if kinds == {int, float}:
        return [float(v) for v in values], False
    return [json.dumps(plain_value(v)) for v in values], True


def declare(hp, spec: SearchSpec) -> dict[str, Any]:
    """Declares every dim on KerasTuner's `hp` and returns key -> the value it holds now (decoded)."""
    values = {}
    for d in spec.dims:
        if d.values is not None:
            choices, encoded = _encoded(d)
            ordered = all(is_number(v) for v in choices) if not encoded else False
            v = hp.Choice(d.key, choices, ordered=ordered)
            values[d.key] = _decode(v, encoded)
        elif d.whole:
            values[d.key] = hp.Int(d.key, d.min, d.max, step=d.step, sampling=d.sampling)
        else:
            values[d.key] = hp.Float(d.key, d.min, d.max, step=d.step, sampling=d.sampling)
    return values


def _decode(v: Any, encoded: bool) -> Any:
    if not encoded:
        return v
    out = json.loads(v)
    return tuple(out) if isinstance(out, list) else out


def values_of(hp_values: dict, spec: SearchSpec) -> dict[str, Any]:
    """A trial's values of our keys (KerasTuner's own `tuner/...` entries left out), decoded."""
    out = {}
    for d in spec.dims:
        if d.key not in hp_values:
            continue
        v = hp_values[d.key]
        if d.values is not None:
            out[d.key] = _decode(v, _encoded(d)[1])
        elif d.whole:
            out[d.key] = int(v)
        else:  # a step of 0.1 gives 0.30000000000000004: keep the value the user would write
            out[d.key] = round(float(v), 10) if d.step is not None and d.sampling == "linear" else float(v)
    return out


def _tuner_class(name: str):
    """KerasTuner's tuner class for `name`, made to run each trial as one of our training jobs."""
    import keras_tuner as kt

    base = {"random": kt.RandomSearch, "bayesian": kt.BayesianOptimization, "hyperband": kt.Hyperband}[name]

    class Tuner(base):
        def __init__(self, job: SearchJob, **kwargs):
            self._job = job
            super().__init__(**kwargs)

        def _populate_initial_space(self):
            # KerasTuner builds the model here to learn the space; ours is declared without building anything.
            hp = self.oracle.get_space()
            self.hypermodel.declare_hyperparameters(hp)
            self.oracle.update_space(hp)

        def run_trial(self, trial, *args, **kwargs):
            return self._job._run_trial(trial)

        def save_model(self, trial_id, model, step=0):  # the trial's run keeps its model (TrainingJob)
            pass

    return Tuner


def _hypermodel(spec: SearchSpec):
    import keras_tuner as kt

    class Space(kt.HyperModel):
        def declare_hyperparameters(self, hp):
            declare(hp, spec)

        def build(self, hp):  # never called: SearchJob._run_trial builds each trial's model from the graph
            raise kt.errors.FatalError("the search builds models from the graph")

    return Space()


# -- the job ---------------------------------------------------------------------------------------------------
@dataclass
class Trial:
    """One trial of a search (JSON-able with `to_dict`)."""

    number: int  # 1-based, in the order trials started
    values: dict
    status: str = "running"  # running | ok | failed | stopped
    score: float | None = None  # the objective at the trial's best epoch
    reason: str | None = None  # why it failed or stopped
    run_id: str | None = None
    total_params: int | None = None
    macs: int | None = None
    epochs: int = 0
    seconds: float = 0.0
    test: dict = field(default_factory=dict)  # test metrics of the trial's model
    continues: int | None = None  # Hyperband: the trial number whose weights it continued from
    val_loss: float | None = None  # at the best epoch: breaks ties between equal scores

    def to_dict(self) -> dict:
        return {"number": self.number, "values": {k: plain_value(v) for k, v in self.values.items()},
                "status": self.status, "score": self.score, "reason": self.reason, "run_id": self.run_id,
                "total_params": self.total_params, "macs": self.macs, "epochs": self.epochs,
                "seconds": round(self.seconds, 3), "test": dict(self.test), "continues": self.continues,
                "val_loss": self.val_loss}


class SearchJob(BackgroundJob):
    """A KerasTuner search over the graph's `search` space, in a background thread. Never calls streamlit.

    It goes in the same `JobRegistry` as training runs (it takes one slot, and its trials run inside it). Each trial
    is a `TrainingJob` recorded as a run in the store, its settings tagged `{"search": {"id", "trial"}}`.

    Args:
        graph: The graph with a `search` field.
        dataset: As for TrainingJob.
        settings: TrainSettings for every trial (the searched compile and training keys replace theirs).
        store, project_id, artifact_dir, owner: As for TrainingJob (each trial's run is recorded there).
        max_trials, tuner, objective, max_minutes: Override the graph's search settings.
        remote: Each trial is a Ray task (LAYERCANVAS_RAY): its run goes into the store's queue, and the search
            follows it there (needs `store` and `artifact_dir`, and a graph that names its data).

    Raises:
        SearchError: no search space, or a space with problems (the first one, naming its node).
    """

    kind = "search"
    thread_name = "search"

    def __init__(self, graph: Graph, dataset, settings, store=None, project_id: str | None = None,
                 artifact_dir: str | None = None, owner: str | None = None, max_trials: int | None = None,
                 tuner: str | None = None, objective: str | None = None, max_minutes: float | None = None,
                 remote: bool = False):
        spec, problems = read(graph)
        if problems:
            raise SearchError(problems[0].message if problems[0].node_id is None
                              else f"{problems[0].node_id}: {problems[0].message}")
        if spec is None or not spec.dims:
            raise SearchError("nothing is marked for search: mark at least one parameter (a list of values or a "
                              "range) in the inspector")
        overrides = {k: v for k, v in (("max_trials", max_trials), ("tuner", tuner), ("objective", objective),
                                       ("max_minutes", max_minutes)) if v is not None}
        if overrides:
            graph = set_options(graph, **overrides)
            spec, _ = read(graph)
        settings.check()
        self.graph, self.dataset, self.settings, self.spec = graph, dataset, replace(settings, inspect=False), spec
        if not self.settings.validation_split:  # the objective is measured on validation data
            self.settings = replace(self.settings, validation_split=0.2)
        self.objective = spec.objective or default_objective(settings)
        self.maximize = maximize(self.objective)
        self.store, self.project_id, self.artifact_dir, self.owner = store, project_id, artifact_dir, owner
        if remote and (store is None or artifact_dir is None):
            raise SearchError("a search on Ray needs the store and the artifact folder")
        self.remote = remote
        self.id = "search-" + secrets.token_urlsafe(8)
        self.status = "queued"
        self.message: str | None = None
        self.created = time.time()
        self.started: float | None = None
        self.ended: float | None = None
        self.trials: list[Trial] = []
        self.current = None  # the TrainingJob of the running trial
        self.queue_position = 0
        self.budget_hit = False
        self._stop = threading.Event()
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._weights: dict[str, dict] = {}  # KerasTuner trial id -> trained weights (Hyperband continues them)
        self._numbers: dict[str, int] = {}  # KerasTuner trial id -> our trial number
        self._tuner = None

    # -- control (start, wait, active: BackgroundJob) --------------------------
    def stop(self) -> None:
        """Ends the search: the running trial stops at its next batch (its epochs so far count); no new trial."""
        self._stop.set()
        current = self.current
        if current is not None:
            current.stop()
        self._end_if_waiting()

    def best(self) -> Trial | None:
        done = [t for t in self.trials if t.status == "ok" and t.score is not None]
        if not done:
            return None
        # Ties (a small validation set gives few distinct accuracies) go to the lower validation loss, then to the
        # smaller model, then to the earlier trial.
        sign = 1 if self.maximize else -1
        return max(done, key=lambda t: (sign * t.score, -(t.val_loss if t.val_loss is not None else math.inf),
                                        -(t.total_params or 0), -t.number))

    def snapshot(self) -> dict:
        with self._lock:
            trials = [t.to_dict() for t in self.trials]
            current = self.current
        best = self.best()
        now = self.ended or time.time()
        return {
            "id": self.id, "kind": "search", "status": self.status, "message": self.message,
            "objective": self.objective, "maximize": self.maximize, "tuner": self.spec.tuner,
            "max_trials": self.spec.max_trials, "max_minutes": self.spec.max_minutes,
            "elapsed_s": now - self.created, "trials": trials, "best": best.to_dict() if best else None,
            "current": current.snapshot() if current is not None and current.active else None,
            "queue_position": self.queue_position, "budget_hit": self.budget_hit,
            "space": {d.key: d.describe() for d in self.spec.dims},
        }

    def result(self) -> dict:
        """CONTRACT.md's `tune --json` object: objective, best {values, score}, trials [{values, score, status,
        total_params}]."""
        best = self.best()
        return {
            "objective": self.objective,
            "best": {"values": {k: plain_value(v) for k, v in best.values.items()}, "score": best.score} if best else None,
            "trials": [{"values": {k: plain_value(v) for k, v in t.values.items()}, "score": t.score, "status":
                        "ok" if t.status == "ok" else "failed", "total_params": t.total_params,
                        **({"reason": t.reason} if t.reason else {}), "test": t.test, "run_id": t.run_id}
                       for t in self.trials],
        }

    def best_graph(self) -> Graph | None:
        """The graph with the best trial's values set (its `search` field kept)."""
        best = self.best()
        return None if best is None else apply_values(self.graph, best.values)

    # -- the thread --------------------------------------------------------------
    def _set_status(self, status: str, message: str | None = None) -> None:
        with self._lock:
            self.status, self.message = status, message

    def _end(self, status: str, message: str | None = None) -> None:
        with self._lock:
            self.status, self.message, self.ended = status, message, time.time()
        self._done.set()

    def _deadline_passed(self) -> bool:
        return self.spec.max_minutes is not None and time.time() - self.created > self.spec.max_minutes * 60

    def _run(self) -> None:
        workdir = None
        try:
            if self._stop.is_set():
                return self._end("stopped", "Stopped before it started.")
            self._set_status("compiling")
            from builder.kerasenv import load_keras

            load_keras()
            workdir = tempfile.mkdtemp(prefix="layercanvas-search-")
            self._tuner = self._make_tuner(workdir)
            self.started = time.time()
            self._set_status("running")
            self._tuner.search(verbose=0)
            ok = [t for t in self.trials if t.status == "ok"]
            if self._stop.is_set():
                self._end("stopped", f"Stopped after {len(self.trials)} trial(s); the finished ones are kept.")
            elif not ok:
                reasons = [t.reason for t in self.trials if t.reason]
                self._end("failed", "Every trial failed" + (f": {reasons[0]}" if reasons else "."))
            elif self.budget_hit:
                self._end("finished", f"The time budget ({self.spec.max_minutes:g} min) ended the search after "
                                      f"{len(self.trials)} trial(s).")
            else:
                self._end("finished")
        except Exception as e:  # noqa: BLE001 - the search fails with a message; the thread never raises
            from builder.train.job import failure_message

            self._end("failed", failure_message(e))
        finally:
            if workdir:
                shutil.rmtree(workdir, ignore_errors=True)

    def _make_tuner(self, workdir: str):
        import keras_tuner as kt

        with contextlib.suppress(ImportError, AttributeError):  # KerasTuner prints every failed trial's traceback
            from keras_tuner.src import (
                config as kt_config,  # when DEBUG is on (its default): ours are messages
            )

            kt_config.DEBUG = False

        spec = self.spec
        cls = _tuner_class(spec.tuner)
        kwargs = {"hypermodel": _hypermodel(spec), "directory": workdir, "project_name": "search", "overwrite": True,
                  "objective": kt.Objective(self.objective, "max" if self.maximize else "min"),
                  "seed": self.settings.seed, "max_retries_per_trial": 0,
                  "max_consecutive_failed_trials": spec.max_trials + 1}
        if spec.tuner == "hyperband":
            kwargs.update(max_epochs=max(2, self.settings.epochs), factor=3, hyperband_iterations=1)
        else:
            kwargs["max_trials"] = spec.max_trials
        tuner = cls(self, **kwargs)
        tuner.oracle.max_trials = spec.max_trials  # Hyperband too: the trial budget
        # Trials that fail are part of the search; KerasTuner would otherwise print each traceback.
        tuner.oracle.verbose = 0
        return tuner

    def _stop_new_trials(self) -> None:
        oracle = self._tuner.oracle
        oracle.max_trials = max(1, len(oracle.trials))

    def _run_trial(self, kt_trial) -> dict:
        """Runs one KerasTuner trial as a TrainingJob; returns {objective: best value} or raises FailedTrialError."""
        import keras_tuner as kt

        from builder.train.job import TrainingJob

        if self._stop.is_set() or self._deadline_passed():
            self.budget_hit = self.budget_hit or self._deadline_passed()
            self._stop_new_trials()
            raise kt.errors.FailedTrialError("the search was stopped")
        hp_values = dict(kt_trial.hyperparameters.values)
        values = values_of(hp_values, self.spec)
        trial = Trial(number=len(self.trials) + 1, values=values)
        self._numbers[kt_trial.trial_id] = trial.number
        with self._lock:
            self.trials.append(trial)
        start = time.time()
        try:
            graph = apply_values(self.graph, values)
            settings = trial_settings(self.settings, values)
            weights = None
            if "tuner/epochs" in hp_values:  # Hyperband: this round's epochs, continuing an earlier trial
                epochs = int(hp_values["tuner/epochs"]) - int(hp_values.get("tuner/initial_epoch", 0))
                settings = replace(settings, epochs=max(1, epochs))
                past = hp_values.get("tuner/trial_id")
                if past:
                    weights = self._weights.get(past)
                    trial.continues = self._numbers.get(past)
            settings.check()
            self._check_graph(graph, trial)
        except Exception as e:  # noqa: BLE001 - an invalid combination fails this trial only
            return self._fail(trial, start, _reason(e))
        run_id = None
        record = {**settings.to_dict(), "search": {"id": self.id, "trial": trial.number,
                                                   "values": trial.to_dict()["values"]}}
        if self.remote:  # a Ray task: the trial's run waits in the store's queue for a dispatcher
            from builder.train.remote import StoredRun, save_start_weights

            try:
                run_id = self.store.create_run(self.project_id, graph, record, self.dataset.name, owner=self.owner,
                                               backend="ray")
                save_start_weights(self.artifact_dir, run_id, weights)
            except Exception as e:  # noqa: BLE001 - the database or the folder failed: this trial fails
                return self._fail(trial, start, _reason(e))
            job = StoredRun(self.store, run_id)
        else:
            if self.store is not None:
                with contextlib.suppress(Exception):
                    run_id = self.store.create_run(self.project_id, graph, record, self.dataset.name,
                                                   owner=self.owner)
            # The TensorBoard graph (about 50 ms) only for the first trial: the others differ in sizes, not shape.
            job = TrainingJob(graph, self.dataset, settings, weights=weights, store=self.store if run_id else None,
                              project_id=self.project_id, artifact_dir=self.artifact_dir, run_id=run_id,
                              owner=self.owner, log_graph=trial.number == 1)
        trial.run_id = job.id if run_id else None
        with self._lock:
            self.current = job
        job.start()
        while not job.wait(0.2):
            if self._stop.is_set() or self._deadline_passed():
                self.budget_hit = self.budget_hit or (self._deadline_passed() and not self._stop.is_set())
                job.stop()
        with self._lock:
            self.current = None
        trial.seconds = time.time() - start
        trial.epochs = len(job.history)
        if job.model is not None:
            with contextlib.suppress(Exception):
                trial.total_params = int(job.model.count_params())
        if job.status == "failed":
            return self._fail(trial, start, job.message or "training failed")
        scores = [row[self.objective] for row in job.history if isinstance(row.get(self.objective), (int, float))
                  and math.isfinite(row[self.objective])]
        if not scores:
            if not any(self.objective in row for row in job.history) and job.history:
                return self._fail(trial, start, f"the model reports no {self.objective} (it has "
                                                f"{', '.join(k for k in job.history[-1] if k != 'epoch')})")
            return self._fail(trial, start, job.message or "no epoch finished", status="stopped")
        trial.score = float((max if self.maximize else min)(scores))
        best_row = next(row for row in job.history if row.get(self.objective) == trial.score)
        trial.val_loss = best_row.get("val_loss") if isinstance(best_row.get("val_loss"), (int, float)) else None
        trial.test = dict((job.result or {}).get("metrics") or {})
        self._weights[kt_trial.trial_id] = job.trained_weights()
        stopped = job.status == "stopped" or self._stop.is_set()
        with self._lock:
            trial.status = "stopped" if stopped and (job.history and job.history[-1].get("partial")
                                                     or trial.epochs < settings.epochs) else "ok"
            if trial.status == "stopped":
                trial.reason = job.message
        if self._stop.is_set() or self._deadline_passed():
            self._stop_new_trials()
        return {self.objective: trial.score}

    def _check_graph(self, graph: Graph, trial: Trial) -> None:
        """Builds the trial's graph once: its problems fail the trial (naming the node); its cost is recorded."""
        from builder.model.build import build
        from builder.model.profile import profile
        from builder.model.validate import errors

        result = build(graph)
        problems = errors(result.issues)
        if problems:
            first = problems[0]
            raise SearchError(f"{first.node_id}: {first.message}" if first.node_id else first.message)
        with contextlib.suppress(Exception):
            cost = profile(result)
            trial.macs, trial.total_params = int(cost.total_macs), int(cost.total_params)

    def _fail(self, trial: Trial, start: float, reason: str, status: str = "failed"):
        import keras_tuner as kt

        with self._lock:
            trial.status, trial.reason, trial.seconds = status, reason, time.time() - start
        if self._stop.is_set() or self._deadline_passed():
            self._stop_new_trials()
        raise kt.errors.FailedTrialError(reason)


def _reason(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:300]
