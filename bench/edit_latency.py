"""Edit-to-feedback time: from a graph to a built model and its summary.

Two figures, each for a chain of Conv2D/BatchNormalization/ReLU blocks and a
chain of Dense/Dropout blocks:

- full feedback: `ModelBuilder().build(graph)` then `summarize`, against the
  same model written by hand in Keras (same layers, kwargs and names).
  Target: at most 1.15x.
- one-parameter edit: a builder that has built the 200-layer graph builds it
  again with one parameter changed near the start, middle or end, against a
  fresh builder building the same edited graph. Target: at most 0.25x.

The two sides of a figure are timed alternately (reference first) in one
process, after warm-up, and their medians compared.

Usage:
    python bench/edit_latency.py [--reps N] [--json PATH]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and `builder` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import emit, figure, machine
from builder.kerasenv import load_keras
from builder.model.build import BuildResult, ModelBuilder
from builder.model.graph import Edge, Graph, Node
from builder.model.summary import summarize

SIZES = (10, 50, 200)
EDIT_SIZE = 200
FULL_TARGET = 1.15
EDIT_TARGET = 0.25
WARMUP = 2
REPS = 21
MIN_REPS = 7
MIN_TIMED_MS = 4000  # small figures repeat until both sides add up to this much


def raw_conv(keras, n: int):
    """The conv chain of `n` layers, by hand."""
    inp = keras.Input(shape=(16, 16, 8), name="input")
    x = inp
    for i in range(n):
        if i % 3 == 0:
            x = keras.layers.Conv2D(filters=8, kernel_size=(3, 3), padding="same", name=f"n{i}")(x)
        elif i % 3 == 1:
            x = keras.layers.BatchNormalization(name=f"n{i}")(x)
        else:
            x = keras.layers.ReLU(name=f"n{i}")(x)
    return keras.Model(inp, x, name="chain")


def raw_mlp(keras, n: int):
    """The MLP chain of `n` layers, by hand."""
    inp = keras.Input(shape=(64,), name="input")
    x = inp
    for i in range(n):
        if i % 2 == 0:
            x = keras.layers.Dense(units=64, activation="relu", name=f"n{i}")(x)
        else:
            x = keras.layers.Dropout(rate=0.1, name=f"n{i}")(x)
    return keras.Model(inp, x, name="chain")


@dataclass(frozen=True)
class Family:
    """A chain: an Input, then `block` repeated (the last one cut) to n layers.

    Attributes:
        name: Short name used in the figures' names.
        shape: Shape of the Input.
        block: (layer type, params) pairs.
        raw: `(keras, n) -> keras.Model`, the same chain by hand.
        edit: The integer param of `block[0]` that an edit changes.
    """

    name: str
    shape: list
    block: tuple
    raw: Callable
    edit: str

    def graph(self, n: int) -> Graph:
        """Node `input`, then `n0` ... `n{n-1}`, each feeding the next."""
        nodes = [Node("input", "Input", {"shape": self.shape})]
        for i in range(n):
            kind, params = self.block[i % len(self.block)]
            nodes.append(Node(f"n{i}", kind, dict(params)))
        ids = [node.id for node in nodes]
        return Graph(tuple(nodes), tuple(Edge(a, b) for a, b in pairwise(ids)), name="chain")

    def edit_positions(self, n: int) -> list[tuple[str, str]]:
        """(where, node id) of the first, middle and last `block[0]` layer."""
        ids = range(0, n, len(self.block))
        middle = min(ids, key=lambda i: abs(i - n // 2))
        return [("start", f"n{ids[0]}"), ("middle", f"n{middle}"), ("end", f"n{ids[-1]}")]


FAMILIES = (
    Family(
        "conv", [16, 16, 8],
        (("Conv2D", {"filters": 8, "kernel_size": [3, 3], "padding": "same"}), ("BatchNormalization", {}), ("ReLU", {})),
        raw_conv, "filters",
    ),
    Family("mlp", [64], (("Dense", {"units": 64, "activation": "relu"}), ("Dropout", {"rate": 0.1})), raw_mlp, "units"),
)


def feedback(builder: ModelBuilder, graph: Graph) -> BuildResult:
    """What the canvas waits for after an edit: the build, then the summary."""
    result = builder.build(graph)
    summarize(result)
    return result


def weights(built) -> int:
    """The weight count of a `keras.Model`, or of a `BuildResult` that has no error."""
    if isinstance(built, BuildResult):
        assert built.errors == [], built.errors
        built = built.model
    return built.count_params()


def timed(case: Callable, i: int) -> tuple[float, object]:
    """(ms, output) of the thunk that `case(i)` sets up; the set-up is not timed."""
    run = case(i)
    gc.collect()  # earlier garbage is not charged to this run (cheap: see `main`)
    start = time.perf_counter()
    out = run()
    return (time.perf_counter() - start) * 1000, out


def compare(ref: Callable, ours: Callable, reps: int, warmup: int = WARMUP,
            min_timed_ms: float = MIN_TIMED_MS) -> tuple[float, float, float]:
    """Median ms of `ours` and `ref`, and the median of their pairwise ratios.

    The two sides of each pair run back to back, in ABBA order (reference
    first, then ours first, ...), so a slow drift of the machine's speed and
    any order effect fall on both sides alike; the ratio is the median of the
    pairs' ratios, not the ratio of two medians taken at different moments.

    Args:
        ref, ours: Take the repetition number and return the thunk to time.
            Both thunks of a repetition must build models of equal weight count.
        reps: Timed repetitions at least, after `warmup` untimed ones; more
            until the timed runs add up to `min_timed_ms`.
    """
    ref_ms, ours_ms = [], []
    i = 0
    while len(ref_ms) < reps or sum(ref_ms) + sum(ours_ms) < min_timed_ms:
        if i % 2 == 0:
            r, ref_out = timed(ref, i)
            o, ours_out = timed(ours, i)
        else:
            o, ours_out = timed(ours, i)
            r, ref_out = timed(ref, i)
        assert weights(ours_out) == weights(ref_out), (weights(ours_out), weights(ref_out))
        if i >= warmup:
            ref_ms.append(r)
            ours_ms.append(o)
        i += 1
    ratio = statistics.median(o / r for o, r in zip(ours_ms, ref_ms, strict=False))
    return statistics.median(ours_ms), statistics.median(ref_ms), ratio


def full_feedback(keras, family: Family, n: int, reps: int) -> dict:
    """A fresh builder's build and summary against hand-written Keras."""
    graph = family.graph(n)
    ours, ref, ratio = compare(
        lambda i: lambda: family.raw(keras, n),
        lambda i: lambda: feedback(ModelBuilder(), graph),
        reps,
    )
    return figure(f"feedback {family.name} {n}", ours, ref, FULL_TARGET, ratio)


def edit_cases(builder: ModelBuilder, graph: Graph, node_id: str, param: str) -> tuple[Callable, Callable]:
    """(ref, ours) cases of setting `param` of `node_id` to a new value each repetition."""
    base = graph.node(node_id).params[param]

    def ref(i):
        edited = graph.set_param(node_id, param, base + 1 + i)
        return lambda: feedback(ModelBuilder(), edited)

    def ours(i):
        edited = graph.set_param(node_id, param, base + 1 + i)
        builder.build(graph)  # back to the original, so the timed build is a one-param change
        return lambda: feedback(builder, edited)

    return ref, ours


def edits(family: Family, reps: int) -> list[dict]:
    """One-parameter edits of the `EDIT_SIZE` graph at each position, then the worst."""
    graph = family.graph(EDIT_SIZE)
    builder = ModelBuilder()
    builder.build(graph)
    prefix = f"edit {family.name} {EDIT_SIZE}"
    results = []
    for where, node_id in family.edit_positions(EDIT_SIZE):
        ours, ref, ratio = compare(*edit_cases(builder, graph, node_id, family.edit), reps)
        results.append(figure(f"{prefix} {where} ({node_id})", ours, ref, EDIT_TARGET, ratio))
    worst = max(results, key=lambda r: r["ratio"])
    return results + [{**worst, "name": f"{prefix} worst: {worst['name'][len(prefix) + 1:]}"}]


def main(argv: list[str] | None = None) -> list[dict]:
    """Runs the benchmark, prints the machine and the table, returns the results."""
    parser = argparse.ArgumentParser(description="Edit-to-feedback time of LayerCanvas.")
    parser.add_argument(
        "--reps", type=int, default=REPS, help=f"timed repetitions per figure, at least (default {REPS}, minimum {MIN_REPS})"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results to PATH as JSON")
    args = parser.parse_args(argv)
    if args.reps < MIN_REPS:
        parser.error(f"--reps must be at least {MIN_REPS}")
    keras = load_keras()
    print(machine())
    gc.collect()
    gc.freeze()  # Keras and TF's own objects: `timed`'s collections skip them
    results = []

    def add(*figures):
        for r in figures:
            results.append(r)
            print(f"  {r['name']}: {r['ratio']:.2f}x", file=sys.stderr, flush=True)  # progress

    try:
        for family in FAMILIES:
            for n in SIZES:
                add(full_feedback(keras, family, n, args.reps))
            add(*edits(family, args.reps))
    finally:
        gc.unfreeze()
    return emit(results, args.json)


if __name__ == "__main__":
    main()
