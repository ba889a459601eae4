"""Training throughput: our training job (live curves) against plain `model.fit`.

Both train the same model on the same data with the same settings; the time
of the `fit` call alone is compared (ours: `TrainingJob.fit_seconds`, which
includes the sampler thread that feeds the live curves and our epoch
callback; the reference: `model.fit(verbose=0)` with no callbacks). Pairs run
back to back in ABBA order; the ratio is the median of the pairs' time ratios.
Target: ours takes at most 1/0.97 = 1.031x the time (throughput >= 0.97x).

Usage:
    python bench/train_throughput.py [--reps N] [--json PATH]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import types
from itertools import pairwise
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import emit, figure, machine
from builder.graph import Graph

TARGET = round(1 / 0.97, 3)


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


def ours(graph, data, epochs, batch) -> float:
    from builder.training import TrainingJob, TrainSettings, suggest_compile

    settings = TrainSettings(compile=suggest_compile(graph, "classification", 10), epochs=epochs,
                             batch_size=batch, validation_split=0.1)
    job = TrainingJob(graph, data, settings)
    job.start()
    job.wait()
    assert job.status == "finished", job.message
    assert job.batches, "the live curve got no points"
    return job.fit_seconds, job.fit_cpu_seconds


def raw(graph, data, epochs, batch) -> float:
    from builder.build import build_model
    from builder.training import suggest_compile

    model = build_model(graph)
    optimizer, loss, metrics = suggest_compile(graph, "classification", 10).keras_objects()
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    t, cpu = time.perf_counter(), time.process_time()
    model.fit(data.x_train, data.y_train, epochs=epochs, batch_size=batch, validation_split=0.1, verbose=0)
    return time.perf_counter() - t, time.process_time() - cpu


def measure(kind: str, reps: int) -> list[dict]:
    graph, data, epochs, batch = workload(kind)
    for _ in range(1):  # warm-up pair
        raw(graph, data, epochs, batch)
        ours(graph, data, epochs, batch)
    ratios, cpu_ratios, mine, ref = [], [], [], []
    for i in range(reps):
        pair = {}
        for side in (("raw", "ours") if i % 2 == 0 else ("ours", "raw")):
            gc.collect()
            pair[side] = (ours if side == "ours" else raw)(graph, data, epochs, batch)
        ratios.append(pair["ours"][0] / pair["raw"][0])
        cpu_ratios.append(pair["ours"][1] / pair["raw"][1])
        mine.append(pair["ours"][0])
        ref.append(pair["raw"][0])
        print(f"  {kind} pair {i + 1}: ours {pair['ours'][0]:.2f} s ({pair['ours'][1]:.2f} s CPU), "
              f"raw {pair['raw'][0]:.2f} s ({pair['raw'][1]:.2f} s CPU)", file=sys.stderr)
    samples = len(data.x_train) * 0.9 * epochs
    wall = figure(f"train {kind}: fit wall time, ours / raw", statistics.median(mine) * 1000,
                  statistics.median(ref) * 1000, TARGET, ratio=statistics.median(ratios))
    wall["note"] = (f"{samples / statistics.median(mine):,.0f} vs {samples / statistics.median(ref):,.0f} "
                    "samples/s")
    cpu = figure(f"train {kind}: fit CPU time, ours / raw", statistics.median(mine) * 1000,
                 statistics.median(ref) * 1000, TARGET, ratio=statistics.median(cpu_ratios))
    cpu["note"] = "CPU time of the whole process (every thread): what the live curves add, whatever else runs"
    return [wall, cpu]


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description="Training throughput: live curves vs plain fit.")
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
