"""Training throughput: our training job (live curves) against plain `model.fit`.

All train the same model on the same data with the same settings; the time
of the `fit` call alone is compared (ours: `TrainingJob.fit_seconds`, which
includes the sampler thread that feeds the live curves and our epoch
callback, which also writes the run's TensorBoard logs: each job gets a
temporary artifact dir, so its epoch scalars go to <dir>/<run id>.tb/ as in
the app; the reference: `model.fit(verbose=0)` with no callbacks). Ours runs
twice per round: with `inspect` on (the default: a WeightGradientSampler takes
the weight and gradient norms and histograms of every layer on one fixed batch
of 32 at each epoch end, and once before `fit` for epoch 0, where its step is
traced) and with it off. The three run back to back, the order
cycling through all six permutations; each ratio is the median of the rounds'
time ratios. Target, for both: ours takes at most 1/0.97 = 1.031x the time
(throughput >= 0.97x).

Usage:
    python bench/train_throughput.py [--reps N] [--json PATH]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
import types
from itertools import pairwise, permutations
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import emit, figure, machine
from builder.model.graph import Graph

TARGET = round(1 / 0.97, 3)
TENSORBOARD: list[tuple[float, float, float]] = []  # per job: (s writing epoch figures, s writing the graph, fit s)


def workload(kind: str):
    """(graph, dataset, epochs, batch size) of a benchmark case."""
    import numpy as np

    rng = np.random.default_rng(0)
    if kind == "mlp":
        n, shape = 20_000, [64]
        layers = [("d1", "Dense", {"units": 128, "activation": "relu"}), ("d2", "Dense", {"units": 128, "activation": "relu"})]
        epochs, batch = 6, 64
    else:
        n, shape = 6_000, [16, 16, 3]
        layers = [("c1", "Conv2D", {"filters": 16, "kernel_size": [3, 3], "activation": "relu", "padding": "same"}),
                  ("p1", "MaxPooling2D", {}), ("f", "Flatten", {})]
        epochs, batch = 5, 64
    layers.append(("head", "Dense", {"units": 10, "activation": "softmax"}))
    x = rng.normal(size=(n, *shape)).astype("float32")
    y = (np.abs(x.reshape(n, -1)[:, :10]).argmax(axis=1)).astype("int64")
    cut = int(n * 0.9)
    data = types.SimpleNamespace(name=kind, x_train=x[:cut], y_train=y[:cut], x_test=x[cut:], y_test=y[cut:],
                                 task="classification", classes=10)
    nodes = [{"id": "input", "type": "Input", "params": {"shape": shape}}]
    nodes += [{"id": i, "type": t, "params": p} for i, t, p in layers]
    ids = [node["id"] for node in nodes]
    graph = Graph.from_dict({"format": "layercanvas-graph", "version": 1, "name": kind, "nodes": nodes,
                             "edges": [{"source": a, "target": b} for a, b in pairwise(ids)]})
    return graph, data, epochs, batch


def ours(graph, data, epochs, batch, inspect: bool = True) -> tuple[float, float, float, float]:
    """(wall s, CPU s, seconds in the weight/gradient sampler during fit, and before it) of our job's `fit`."""
    from builder.train.job import TrainingJob
    from builder.train.runlogs import has_logs
    from builder.train.settings import TrainSettings, suggest_compile

    settings = TrainSettings(compile=suggest_compile(graph, "classification", 10), epochs=epochs,
                             batch_size=batch, validation_split=0.1, inspect=inspect)
    with tempfile.TemporaryDirectory(prefix="bench-tb-") as artifacts:  # TensorBoard logs on, as in the app
        job = TrainingJob(graph, data, settings, artifact_dir=artifacts)
        job.start()
        job.wait()
        assert job.status == "finished", job.message
        assert has_logs(job.log_dir) and job.tensorboard.error is None, "no TensorBoard logs"
    assert job.batches, "the live curve got no points"
    if inspect:
        assert job.inspector.error is None, job.inspector.error
        assert {r["epoch"] for r in job.inspector.rows} == set(range(0, epochs + 1)), "an epoch was not sampled"
    else:
        assert job.inspector is None
    during = job.inspector.seconds - job.inspector.start_seconds if inspect else 0.0
    TENSORBOARD.append((job.tensorboard.seconds, job.tensorboard.graph_seconds, job.fit_seconds))
    return job.fit_seconds, job.fit_cpu_seconds, during, job.inspector.start_seconds if inspect else 0.0


def raw(graph, data, epochs, batch) -> float:
    from builder.model.build import build_model
    from builder.train.settings import suggest_compile

    model = build_model(graph)
    optimizer, loss, metrics = suggest_compile(graph, "classification", 10).keras_objects()
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    t, cpu = time.perf_counter(), time.process_time()
    model.fit(data.x_train, data.y_train, epochs=epochs, batch_size=batch, validation_split=0.1, verbose=0)
    return time.perf_counter() - t, time.process_time() - cpu, 0.0, 0.0


SIDES = {
    "raw": raw,
    "on": lambda *a: ours(*a, inspect=True),
    "off": lambda *a: ours(*a, inspect=False),
}
LABELS = {"on": "ours (inspect on)", "off": "ours (inspect off)"}


def measure(kind: str, reps: int) -> list[dict]:
    graph, data, epochs, batch = workload(kind)
    for side in SIDES.values():  # warm-up round
        side(graph, data, epochs, batch)
    orders = list(permutations(SIDES))
    runs: dict[str, list[tuple]] = {side: [] for side in SIDES}
    for i in range(reps):
        round_ = {}
        for side in orders[i % len(orders)]:
            gc.collect()
            round_[side] = SIDES[side](graph, data, epochs, batch)
            runs[side].append(round_[side])
        print(f"  {kind} round {i + 1}: " + ", ".join(
            f"{side} {round_[side][0]:.2f} s ({round_[side][1]:.2f} s CPU)" for side in SIDES)
            + f"; sampler {round_['on'][2] * 1000 / epochs:.1f} ms/epoch, {round_['on'][3] * 1000:.0f} ms before fit",
            file=sys.stderr)
    samples = len(data.x_train) * 0.9 * epochs
    timed = TENSORBOARD[-2 * reps:]  # this case's jobs, inspect on and off
    tb_note = (f"; TensorBoard logs took {statistics.median(t[0] for t in timed) * 1000 / epochs:.2f} ms per epoch "
               f"({statistics.median(t[0] / t[2] for t in timed):.2%} of fit) and "
               f"{statistics.median(t[1] for t in timed) * 1000:.0f} ms for the graph before fit")
    ref = statistics.median(r[0] for r in runs["raw"])
    results = []
    for side in ("on", "off"):
        wall_ms = statistics.median(r[0] for r in runs[side])
        ratios = [m[0] / r[0] for m, r in zip(runs[side], runs["raw"], strict=True)]
        cpu_ratios = [m[1] / r[1] for m, r in zip(runs[side], runs["raw"], strict=True)]
        wall = figure(f"train {kind}: fit wall time, {LABELS[side]} / raw", wall_ms * 1000, ref * 1000, TARGET,
                      ratio=statistics.median(ratios))
        wall["note"] = f"{samples / wall_ms:,.0f} vs {samples / ref:,.0f} samples/s" + (tb_note if side == "off" else "")
        if side == "on":
            per_epoch = statistics.median(r[2] for r in runs["on"]) / epochs
            before = statistics.median(r[3] for r in runs["on"])
            wall["note"] += (f"; the sampler took {per_epoch * 1000:.1f} ms per epoch ({per_epoch * epochs / wall_ms:.1%} "
                             f"of fit), and {before * 1000:.0f} ms before fit (epoch 0, with the one-time tracing)")
        cpu = figure(f"train {kind}: fit CPU time, {LABELS[side]} / raw", wall_ms * 1000, ref * 1000, TARGET,
                     ratio=statistics.median(cpu_ratios))
        cpu["note"] = "CPU time of the whole process (every thread): what the live curves add, whatever else runs"
        results += [wall, cpu]
    return results


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description="Training throughput: live curves (inspect on and off) vs plain fit.")
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    from builder.kerasenv import load_keras

    load_keras()
    print(machine())
    results = [r for kind in ("mlp", "cnn") for r in measure(kind, max(2, args.reps))]
    for r in results:
        print(f"{r['name']}: {r['note']}")
    return emit(results, args.json)


if __name__ == "__main__":
    main()
