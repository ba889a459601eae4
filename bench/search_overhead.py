"""Design-space search: what a search trial costs over a plain `fit` of the same model (issue 16's targets).

A trial of `builder.train.search.SearchJob` is one of our `TrainingJob`s. Its wall time (`Trial.seconds`) covers
building the trial's graph once to check it (`_check_graph`: build + profile), creating its run, the job (build,
seed, compile, the untrained loss on up to 512 samples, the sampler thread, our epoch callback, `fit`, `evaluate`
+ `predict` on the test data) and, with a store and an artifact dir, the run's rows in SQLite (one per epoch),
its TensorBoard logs and the saved `.keras` model. The reference is what raw Keras needs for the same trial, in the
same process: `build_model` of the graph with the trial's values applied, `compile` with the same settings,
`fit(epochs, batch_size, validation_split, verbose=0)` and `evaluate` on the test data.

Each search runs `--reps` + 1 trials (the first is a warm-up, left out); the reference of every trial runs in the
search's own thread (a wrapper around `SearchJob._run_trial`, which the tuner calls for every trial) right before
or right after the trial (the order alternates), with the trial's values, so each pair sees the same machine.
Each figure is the median of the pairs' ratios, of wall time and of the process's CPU time (every thread: steadier
than wall time on a shared machine); target <= 1.10. Two conditions: no store (a bare `SearchJob`) and the app's
(a `Store` in a temporary folder, a project, an artifact dir).

Then an 8-trial search on iris (the space of tests/test_search.py, 40 epochs, batch 16, with a store and an
artifact dir) is timed end to end against a 120 s budget.

While the paired trials run, light timers (a `perf_counter` around each step, installed by this module and
removed afterwards) record where each trial's time goes; the breakdown is printed with the figures. The
8-trial search runs without them.

Usage:
    python bench/search_overhead.py [--reps N] [--json PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import os
import statistics
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and `builder` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import emit, figure, machine
from builder.model.graph import Graph

TARGET = 1.10
BUDGET_S = 120.0
REPS = 4

# The 8-trial search: tests/test_search.py's graph and space.
IRIS_SEARCH = {
    "format": "layercanvas-graph", "version": 1, "name": "iris_search",
    "nodes": [{"id": "x", "type": "Input", "params": {"shape": [4]}},
              {"id": "hidden", "type": "Dense", "params": {"units": 8, "activation": "relu"}},
              {"id": "drop", "type": "Dropout", "params": {"rate": 0.1}},
              {"id": "out", "type": "Dense", "params": {"units": 3, "activation": "softmax"}}],
    "edges": [{"source": "x", "target": "hidden"}, {"source": "hidden", "target": "drop"},
              {"source": "drop", "target": "out"}],
    "search": {"space": {"hidden.units": {"values": [8, 16, 32, 64]},
                         "drop.rate": {"min": 0.0, "max": 0.5, "step": 0.1},
                         "compile.learning_rate": {"min": 1e-3, "max": 3e-2, "sampling": "log"},
                         "training.batch_size": {"values": [8, 16, 32]}}},
}


def workload(kind: str):
    """(graph with its search space, dataset, epochs, batch size) of a paired case.

    The spaces only move a layer's width a little, so every trial does about the same work.
    """
    from builder.data import datasets
    from builder.model import space

    if kind == "iris":
        from builder.model.templates import iris_mlp

        graph = iris_mlp()  # input -> dense (16) -> dense_1 (8) -> output (3)
        graph = space.set_dim(graph, "dense.units", {"values": list(range(12, 21))})
        graph = space.set_dim(graph, "dense_1.units", {"values": list(range(6, 11))})
        return graph, datasets.load("iris"), 30, 16
    # digits: 1,438 training images of 8x8x1; a small CNN, where fit dominates.
    names = ["img", "conv", "flat", "hidden", "out"]
    graph = Graph.from_dict({
        "format": "layercanvas-graph", "version": 1, "name": "digits_cnn",
        "nodes": [{"id": "img", "type": "Input", "params": {"shape": [8, 8, 1]}},
                  {"id": "conv", "type": "Conv2D", "params": {"filters": 16, "kernel_size": [3, 3],
                                                              "activation": "relu", "padding": "same"}},
                  {"id": "flat", "type": "Flatten", "params": {}},
                  {"id": "hidden", "type": "Dense", "params": {"units": 64, "activation": "relu"}},
                  {"id": "out", "type": "Dense", "params": {"units": 10, "activation": "softmax"}}],
        "edges": [{"source": a, "target": b} for a, b in pairwise(names)]})
    graph = space.set_dim(graph, "hidden.units", {"values": list(range(56, 73))})
    return graph, datasets.load("digits"), 20, 32


def settings_for(graph, data, epochs: int, batch: int):
    from builder.train.settings import TrainSettings, suggest_compile

    settings = TrainSettings(compile=suggest_compile(graph, data.task, data.classes), epochs=epochs,
                             batch_size=batch, validation_split=0.2)
    assert settings.compile.loss == "sparse_categorical_crossentropy"  # the raw side passes the labels as they are
    return settings


def raw_trial(graph, data, settings) -> dict:
    """Raw Keras for one trial (the graph and settings with the trial's values): seconds of each step."""
    from builder.kerasenv import load_keras
    from builder.model.build import build_model

    keras = load_keras()
    t0, cpu = time.perf_counter(), time.process_time()
    keras.utils.set_random_seed(settings.seed)  # as the job does: the same initial weights
    model = build_model(graph)
    optimizer, loss, metrics = settings.compile.keras_objects()
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    t1 = time.perf_counter()
    model.fit(data.x_train, data.y_train, epochs=settings.epochs, batch_size=settings.batch_size,
              validation_split=settings.validation_split, verbose=0)
    t2 = time.perf_counter()
    model.evaluate(data.x_test, data.y_test, verbose=0)
    t3 = time.perf_counter()
    return {"total": t3 - t0, "cpu": time.process_time() - cpu, "build + compile": t1 - t0, "fit": t2 - t1,
            "evaluate": t3 - t2}


# -- where a trial's time goes ------------------------------------------------------------------------------------
class Probe:
    """Seconds per step of the trial being measured (our side only); `phase` tells nested calls apart."""

    def __init__(self):
        self.active = False
        self.phase = ""
        self.steps: dict[str, float] = {}

    def start(self) -> None:
        self.steps, self.phase, self.active = {}, "", True

    def stop(self) -> dict[str, float]:
        self.active = False
        return self.steps

    def add(self, label: str, seconds: float) -> None:
        self.steps[label] = self.steps.get(label, 0.0) + seconds


@contextlib.contextmanager
def timers(probe: Probe):
    """Wraps the steps of a trial with timers (restored on exit). Nested labels are marked with '  ' in front."""
    import builder.model.build
    import builder.store
    import builder.train.job
    import builder.train.runlogs
    import builder.train.search
    from builder.kerasenv import load_keras

    keras = load_keras()
    saved = []

    def wrap(owner, name, label_of):
        original = getattr(owner, name)
        saved.append((owner, name, original, name in vars(owner)))  # inherited: removed again on exit

        @functools.wraps(original)
        def timed(*args, **kwargs):
            label = label_of() if probe.active else None
            if label is None:
                return original(*args, **kwargs)
            outer, t = probe.phase, time.perf_counter()
            if not label.startswith("  "):
                probe.phase = label
            try:
                return original(*args, **kwargs)
            finally:
                probe.add(label, time.perf_counter() - t)
                probe.phase = outer

        setattr(owner, name, timed)

    def inside(phase, label):
        return lambda: label if probe.phase == phase else None

    wrap(builder.train.search.SearchJob, "_check_graph", lambda: "check graph (build + profile)")
    wrap(builder.train.job.TrainingJob, "_prepare", lambda: "prepare (build, compile, ...)")
    wrap(builder.model.build, "build", inside("prepare (build, compile, ...)", "  build"))
    wrap(keras.Model, "evaluate", lambda: {"prepare (build, compile, ...)": "  untrained-loss evaluate",
                                           "test evaluate + predict": "  evaluate"}.get(probe.phase))
    wrap(keras.Model, "predict", inside("test evaluate + predict", "  predict"))
    wrap(builder.train.runlogs.RunLog, "model", inside("prepare (build, compile, ...)", "  TensorBoard graph"))
    wrap(keras.Model, "fit", lambda: "fit (sampler, epoch callback)")
    # The sampler thread's readings of the running metrics, beside the training loop (5 a second).
    wrap(builder.train.job, "_consistent_metrics",
         inside("fit (sampler, epoch callback)", "  sampler readings (beside fit)"))
    wrap(builder.train.runlogs.RunLog, "epoch", inside("fit (sampler, epoch callback)", "  TensorBoard epoch scalars"))
    wrap(builder.train.job, "evaluate", lambda: "test evaluate + predict")
    wrap(builder.train.job, "save_artifact", lambda: "save .keras")
    wrap(builder.train.runlogs.RunLog, "close", lambda: None if probe.phase else "TensorBoard close")
    wrap(builder.store.Store, "add_epoch", inside("fit (sampler, epoch callback)", "  store epoch rows"))
    for name in ("create_run", "set_run_status", "finish_run"):
        wrap(builder.store.Store, name, lambda: None if probe.phase else "store run rows")
    try:
        yield
    finally:
        for owner, name, original, own in reversed(saved):
            if own:
                setattr(owner, name, original)
            else:
                delattr(owner, name)


# -- the paired search ----------------------------------------------------------------------------------------------
def paired_search(kind: str, app: bool, reps: int, probe: Probe) -> list[dict]:
    """One search of reps + 1 trials, each paired with raw Keras; the rounds after the warm-up."""
    from builder.model import space
    from builder.train import search
    from builder.train.search import SearchJob

    graph, data, epochs, batch = workload(kind)
    settings = settings_for(graph, data, epochs, batch)
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        kwargs = {}
        if app:  # as the app: a store, a project, an artifact dir (runs' models and TensorBoard logs)
            from builder.store import Store

            store = Store(os.path.join(tmp, "runs.db"))
            project = "project-" + kind + "-bench"
            store.save_project(project, graph)
            kwargs = {"store": store, "project_id": project, "artifact_dir": os.path.join(tmp, "artifacts")}
        job = SearchJob(graph, data, settings, max_trials=reps + 1, **kwargs)
        original = job._run_trial
        rounds: list[dict] = []
        last_exit = [None]

        def run_trial(kt_trial):
            entered = time.perf_counter()
            tuner_s = entered - last_exit[0] if last_exit[0] is not None else None
            values = search.values_of(dict(kt_trial.hyperparameters.values), job.spec)
            trial_graph = space.apply_values(job.graph, values)
            trial_settings = search.trial_settings(job.settings, values)
            raw_first = len(rounds) % 2 == 1
            ref = None
            if raw_first:
                gc.collect()
                ref = raw_trial(trial_graph, data, trial_settings)
            gc.collect()
            probe.start()
            cpu = time.process_time()
            try:
                return original(kt_trial)
            finally:
                cpu = time.process_time() - cpu
                steps = probe.stop()
                trial = job.trials[-1]
                if not raw_first:
                    gc.collect()
                    ref = raw_trial(trial_graph, data, trial_settings)
                rounds.append({"trial": trial, "raw": ref, "steps": steps, "cpu": cpu, "tuner_s": tuner_s,
                               "order": "raw first" if raw_first else "ours first"})
                print(f"  {kind} {'app' if app else 'bare'} trial {trial.number} {values}: ours {trial.seconds:.2f} s "
                      f"({cpu:.2f} s CPU), raw {ref['total']:.2f} s ({ref['cpu']:.2f} s CPU), {rounds[-1]['order']}, "
                      f"load {os.getloadavg()[0]:.2f}", file=sys.stderr)
                last_exit[0] = time.perf_counter()

        job._run_trial = run_trial  # the tuner calls job._run_trial(trial) for every trial
        job.start()
        job.wait()
        ended = time.perf_counter()
        assert job.status == "finished", job.message
        assert [t.status for t in job.trials] == ["ok"] * (reps + 1), [t.to_dict() for t in job.trials]
        if app:
            assert all(t.run_id and os.path.exists(os.path.join(tmp, "artifacts", f"{t.run_id}.keras"))
                       for t in job.trials), "a trial's model was not saved"
        setup = (job.started or job.created) - job.created
        for r in rounds:
            r["search_setup_s"] = setup
            r["search_end_s"] = ended - last_exit[0]
        return rounds[1:]


def summarize_rounds(kind: str, app: bool, rounds: list[dict]) -> tuple[list[dict], list[str]]:
    """The figures of one case (wall and CPU time) and the lines of its breakdown."""
    where = "store + artifacts" if app else "no store"

    def med(xs):
        return statistics.median(xs) * 1000

    ours, ref = [r["trial"].seconds for r in rounds], [r["raw"]["total"] for r in rounds]
    ratios = [o / r for o, r in zip(ours, ref, strict=True)]
    wall = figure(f"search trial {kind} ({where}): wall, trial / raw Keras", med(ours), med(ref), TARGET,
                  ratio=statistics.median(ratios))
    cpu_ours, cpu_ref = [r["cpu"] for r in rounds], [r["raw"]["cpu"] for r in rounds]
    cpu_ratios = [o / r for o, r in zip(cpu_ours, cpu_ref, strict=True)]
    cpu = figure(f"search trial {kind} ({where}): CPU, trial / raw Keras", med(cpu_ours), med(cpu_ref), TARGET,
                 ratio=statistics.median(cpu_ratios))
    cpu["note"] = "CPU time of the whole process (every thread) during the trial and during the raw Keras steps"
    trial_ms = med(ours)
    labels = []
    for r in rounds:
        labels += [k for k in r["steps"] if k not in labels]
    lines = [(f"{wall['name']}: pairs {', '.join(f'{x:.2f}' for x in ratios)} (median {wall['ratio']:.2f}); "
              f"CPU pairs {', '.join(f'{x:.2f}' for x in cpu_ratios)} (median {cpu['ratio']:.2f}); "
              f"trial {trial_ms:.0f} ms, raw {med(ref):.0f} ms (medians)"),
             "    where the time goes (median ms of each step; indented steps are part of the step above them):"]
    top = 0.0
    for label in labels:
        ms = med([r["steps"].get(label, 0.0) for r in rounds])
        if not label.startswith("  "):
            top += ms
        lines.append(f"    ours {label:<34} {ms:8.0f} ms {ms / trial_ms:6.1%}")
    lines.append(f"    ours {'rest (threads, graph copies, ...)':<34} {trial_ms - top:8.0f} ms "
                 f"{(trial_ms - top) / trial_ms:6.1%}")
    for label in ("build + compile", "fit", "evaluate"):
        ms = med([r["raw"][label] for r in rounds])
        lines.append(f"    raw  {label:<34} {ms:8.0f} ms {ms / med(ref):6.1%} of raw")
    fit_ratio = statistics.median(r["steps"].get("fit (sampler, epoch callback)", 0.0) / r["raw"]["fit"]
                                  for r in rounds)
    outside = [r["trial"].seconds - r["steps"].get("fit (sampler, epoch callback)", 0.0)
               - (r["raw"]["total"] - r["raw"]["fit"]) for r in rounds]
    tuner = [r["tuner_s"] for r in rounds if r["tuner_s"] is not None]
    lines.append(f"    fit alone, ours / raw: {fit_ratio:.2f}; outside fit, ours minus raw: {med(outside):.0f} ms "
                 f"({med(outside) / med(ref):.1%} of raw); KerasTuner between trials: "
                 f"{med(tuner) if tuner else 0:.0f} ms per trial; search set-up (tuner, oracle) "
                 f"{rounds[0]['search_setup_s'] * 1000:.0f} ms and end {rounds[0]['search_end_s'] * 1000:.0f} ms "
                 "once per search")
    wall["note"] = "\n".join(lines[1:])
    return [wall, cpu], lines


def iris_8_trials() -> tuple[dict, str]:
    """The 8-trial iris search of tests/test_search.py, end to end (with a store and an artifact dir)."""
    from builder.data import datasets
    from builder.store import Store
    from builder.train.search import SearchJob

    graph = Graph.from_dict(IRIS_SEARCH)
    data = datasets.load("iris")
    settings = settings_for(graph, data, 40, 16)
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        store = Store(os.path.join(tmp, "runs.db"))
        store.save_project("project-iris-search-bench", graph)
        gc.collect()
        start = time.perf_counter()
        job = SearchJob(graph, data, settings, store=store, project_id="project-iris-search-bench",
                        artifact_dir=tmp, max_trials=8)
        job.start()
        job.wait()
        seconds = time.perf_counter() - start
    assert job.status == "finished", job.message
    assert len(job.trials) == 8 and all(t.status == "ok" for t in job.trials), [t.to_dict() for t in job.trials]
    result = figure("search iris 8 trials: wall seconds / 120 s budget", seconds * 1000, BUDGET_S * 1000, 1.0,
                    ratio=seconds / BUDGET_S)
    trials = ", ".join(f"{t.seconds:.1f}" for t in job.trials)
    batches = ", ".join(str(t.values["training.batch_size"]) for t in job.trials)
    best = job.best()
    note = (f"{seconds:.1f} s; trials {trials} s (sum {sum(t.seconds for t in job.trials):.1f} s); batch sizes "
            f"{batches}; best test accuracy {best.test.get('accuracy', float('nan')):.3f}")
    result["note"] = note
    return result, note


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description="A search trial against a plain fit; the 8-trial iris search.")
    parser.add_argument("--reps", type=int, default=REPS, help="measured trials per search (after one warm-up)")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    from builder.kerasenv import load_keras

    load_keras()
    print(machine())
    started = time.perf_counter()
    probe, results, loads = Probe(), [], [os.getloadavg()[0]]
    with timers(probe):
        for kind in ("iris", "digits"):
            for app in (False, True):
                rounds = paired_search(kind, app, max(1, args.reps), probe)
                loads.append(os.getloadavg()[0])
                figures, lines = summarize_rounds(kind, app, rounds)
                results += figures
                print("\n".join(lines), flush=True)
    result, note = iris_8_trials()
    loads.append(os.getloadavg()[0])
    print(f"{result['name']}: {note}")
    results.append(result)
    print(f"load average (1 min) at the start and after each search: {', '.join(f'{x:.2f}' for x in loads)}; "
          f"{time.perf_counter() - started:.0f} s in all")
    return emit(results, args.json)


if __name__ == "__main__":
    main()
