"""Big graphs: a 429-layer DenseNet121 imported from a .keras file, opened, edited inside a group, drawn.

What issue 17 asks of a big imported model: it opens on the canvas as collapsed groups (its stages), and an
edit inside a group stays fast. Figures, each the median of paired ratios against raw Keras in this process
(sides timed alternately after warm-up, as in `edit_latency`):

- `first open`: `import_model(path)` -> `auto_layout` (what the sidebar's import does) -> a fresh
  `ModelBuilder().build(graph)` -> `summarize`, against `keras.models.load_model(path)` + `model.summary()`
  into a string. Both start from the same file and end with the model and its summary; the importer's extra
  work (checking the file, walking the layers into a graph) is what it costs to be able to edit it.
  Target: at most 1.5x.
- `edit <where>`: `epsilon` of one BatchNormalization, at the start (first block of the first group), middle
  (middle of the middle group) or end (last block of the last group): the session's `ModelBuilder`, which has
  just built the graph, builds it with the new value, then `summarize`; against raw Keras rebuilding the whole
  edited model from its config (`keras.Model.from_config` of `get_config()` with that epsilon changed) +
  `model.summary()`. The edit keeps every shape. Target: at most 0.25x.
- `canvas after an edit` / `expand a group`: the rest of the Build page's server-side work, without Streamlit:
  after an edit, `profile` (the cost column) + `canvas_data` + its JSON; expanding the middle group, the
  `collapse` event (`auto_layout` of the new view) + the rebuild (everything reused) + summary, profile and
  canvas payload. Absolute ms, with their ratio to the middle edit's rebuild (the reference column).
  Targets: <= 0.5x the edit (canvas after an edit) and <= 1.0x (expand a group).

`--nasnet` adds the first open and edits of NASNetMobile (771 layers; about 2 more minutes).

Usage:
    python bench/big_graph.py [--reps N] [--open-reps N] [--nasnet] [--json PATH]
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and `builder` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.edit_latency import compare as _compare
from bench.report import emit, figure, machine
from builder.kerasenv import load_keras
from builder.model.build import BuildResult, ModelBuilder
from builder.model.graph import Graph
from builder.model.summary import summarize

OPEN_TARGET = 1.5
EDIT_TARGET = 0.25
CANVAS_TARGET = 0.5
EXPAND_TARGET = 1.0
REPS = 7  # timed edits per position
OPEN_REPS = 3  # timed first opens (each pair takes about 10 s)
WARMUP = 1
MIN_REPS = 3
EDITED = "BatchNormalization"


def summary_text(model) -> str:
    """Raw Keras's `model.summary()` as a string."""
    lines: list[str] = []
    model.summary(print_fn=lambda line, **_: lines.append(line))
    return "\n".join(lines)


def compare(ref: Callable, ours: Callable, reps: int) -> tuple[float, float, float]:
    """`edit_latency.compare` with one warm-up pair and exactly `reps` timed pairs (each takes seconds here)."""
    return _compare(ref, ours, reps, warmup=WARMUP, min_timed_ms=0)


def median_ms(run: Callable, reps: int) -> float:
    """Median ms of `run()` over `reps` calls after one untimed call."""
    run()
    times = []
    for _ in range(reps):
        gc.collect()
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def save_application(keras, name: str, folder: str) -> str:
    """`keras.applications.<name>(weights=None)` saved as a .keras file in `folder`; its path."""
    path = str(Path(folder) / f"{name}.keras")
    getattr(keras.applications, name)(weights=None).save(path)
    return path


def open_model(path: str) -> tuple[Graph, BuildResult]:
    """What opening the file costs the app: import, lay out (the sidebar does), build, summarize."""
    from builder.files.importer import import_model
    from builder.model.layout import auto_layout

    graph = auto_layout(import_model(path, max_bytes=None).graph)
    result = ModelBuilder().build(graph)
    summarize(result)
    return graph, result


def drawn_boxes(graph: Graph) -> int:
    """Boxes the canvas draws: layers outside collapsed groups, plus one per collapsed group."""
    folded = [g for g in graph.groups if g.collapsed]
    hidden = {nid for g in folded for nid in g.nodes}
    return sum(1 for nid in graph.ids() if nid not in hidden) + len(folded)


def edit_positions(graph: Graph) -> list[tuple[str, str]]:
    """(where, node id) of the `EDITED` layers to change: inside the first, middle and last group when the
    graph has groups (first, middle and last layer of that kind in them), else along the whole graph."""
    order = graph.drawing_order()
    kinds = {n.id for n in graph.nodes if n.type == EDITED}
    if graph.groups:
        groups = list(graph.groups)
        pick = [(groups[0], 0), (groups[len(groups) // 2], None), (groups[-1], -1)]
        out = []
        for where, (group, k) in zip(("start", "middle", "end"), pick, strict=False):
            inside = [nid for nid in order if nid in kinds and nid in set(group.nodes)]
            out.append((where, inside[len(inside) // 2 if k is None else k]))
        return out
    along = [nid for nid in order if nid in kinds]
    return [("start", along[0]), ("middle", along[len(along) // 2]), ("end", along[-1])]


def edited_config(config: dict, node_id: str, epsilon: float) -> dict:
    """A functional model config with `epsilon` of the layer `node_id` changed."""
    cfg = copy.deepcopy(config)
    layer = next(entry for entry in cfg["layers"] if entry["config"]["name"] == node_id)
    layer["config"]["epsilon"] = epsilon
    return cfg


def edits(keras, label: str, graph: Graph, reference_model, reps: int) -> list[dict]:
    """One-parameter edits (a BatchNormalization's epsilon) at the start, middle and end, then the worst."""
    config = reference_model.get_config()
    builder = ModelBuilder()
    builder.build(graph)
    results = []
    for where, node_id in edit_positions(graph):
        base = graph.node(node_id).params.get("epsilon", 1e-3)
        def value(i, base=base):  # a new value each repetition
            return base * (1.5 + 0.01 * i)

        def ref(i, node_id=node_id, value=value):
            cfg = edited_config(config, node_id, value(i))
            return lambda: _from_config(keras, cfg)

        def ours(i, node_id=node_id, value=value):
            edited = graph.set_param(node_id, "epsilon", value(i))
            builder.build(graph)  # back to the original, so the timed build is a one-param change
            return lambda: _feedback(builder, edited)

        ours_ms, ref_ms, ratio = compare(ref, ours, reps)
        results.append(figure(f"{label} edit {where} ({node_id})", ours_ms, ref_ms, EDIT_TARGET, ratio))
    worst = max(results, key=lambda r: r["ratio"])
    prefix = f"{label} edit"
    return results + [{**worst, "name": f"{prefix} worst: {worst['name'][len(prefix) + 1:]}"}]


def _from_config(keras, cfg: dict):
    model = keras.Model.from_config(cfg)
    summary_text(model)
    return model


def _feedback(builder: ModelBuilder, graph: Graph) -> BuildResult:
    result = builder.build(graph)
    summarize(result)
    return result


def first_open(keras, label: str, path: str, reps: int) -> dict:
    """Import + layout + build + summary against `load_model` + summary, from the same file."""

    def ref(i):
        def run():
            model = keras.models.load_model(path)
            summary_text(model)
            return model
        return run

    def ours(i):
        return lambda: open_model(path)[1]

    ours_ms, ref_ms, ratio = compare(ref, ours, reps)
    return figure(f"{label} first open", ours_ms, ref_ms, OPEN_TARGET, ratio)


def canvas_side(label: str, graph: Graph, edit_ms: float, reps: int) -> list[dict]:
    """The Build page's server-side work after an edit and after expanding a group, against `edit_ms`."""
    from builder.model.profile import profile
    from components.canvas import apply_event, canvas_data

    builder = ModelBuilder()
    builder.build(graph)
    _, node_id = edit_positions(graph)[1]
    base = graph.node(node_id).params.get("epsilon", 1e-3)
    edited = graph.set_param(node_id, "epsilon", base * 1.5)
    result = _feedback(builder, edited)

    def after_edit():
        data = canvas_data(edited, result, cost=profile(result))
        return json.dumps(data, ensure_ascii=False, allow_nan=False)

    middle = list(graph.groups)[len(graph.groups) // 2]

    def expand():
        g, _, _ = apply_event(edited, {"kind": "collapse", "group": middle.id, "collapsed": False})
        r = builder.build(g)
        summarize(r)
        data = canvas_data(g, r, cost=profile(r))
        return json.dumps(data, ensure_ascii=False, allow_nan=False)

    canvas_ms = median_ms(after_edit, reps)
    expand_ms = median_ms(expand, reps)
    return [
        figure(f"{label} canvas after an edit (profile + payload)", canvas_ms, edit_ms, CANVAS_TARGET),
        figure(f"{label} expand a group ({middle.id}, {len(middle.nodes)} layers)", expand_ms, edit_ms, EXPAND_TARGET),
    ]


def describe(label: str, graph: Graph) -> str:
    sizes = ", ".join(f"{g.id} {len(g.nodes)}" for g in graph.groups) or "none"
    return (f"{label}: {len(graph.nodes)} layers, {len(graph.groups)} groups ({sizes}), "
            f"{drawn_boxes(graph)} boxes drawn with the groups collapsed")


def network(keras, name: str, folder: str, reps: int, open_reps: int, canvas: bool) -> list[dict]:
    """All figures of one keras.applications network."""
    path = save_application(keras, name, folder)
    graph, _ = open_model(path)
    print(describe(name, graph), flush=True)
    results = [first_open(keras, name, path, open_reps)]
    _progress(results[-1:])
    results += edits(keras, name, graph, keras.models.load_model(path), reps)
    _progress(results[-4:])
    if canvas and graph.groups:
        middle = next(r for r in results if r["name"].startswith(f"{name} edit middle"))
        results += canvas_side(name, graph, middle["ours_ms"], reps)
        _progress(results[-2:])
    return results


def _progress(figures: list[dict]) -> None:
    for r in figures:
        print(f"  {r['name']}: {r['ratio']:.2f}x", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> list[dict]:
    """Runs the benchmark, prints the machine, the graphs and the table, returns the results."""
    parser = argparse.ArgumentParser(description="Big imported graphs: open, edit inside a group, draw.")
    parser.add_argument("--reps", type=int, default=REPS, help=f"timed edits per position (default {REPS})")
    parser.add_argument("--open-reps", type=int, default=OPEN_REPS, help=f"timed first opens (default {OPEN_REPS})")
    parser.add_argument("--nasnet", action="store_true", help="also NASNetMobile (771 layers, about 2 more minutes)")
    parser.add_argument("--json", metavar="PATH", help="also write the results to PATH as JSON")
    args = parser.parse_args(argv)
    if min(args.reps, args.open_reps) < MIN_REPS:
        parser.error(f"--reps and --open-reps must be at least {MIN_REPS}")
    keras = load_keras()
    print(machine())
    gc.collect()
    gc.freeze()  # Keras and TF's own objects: the collections before each timed run skip them
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="layercanvas-bench-") as folder:
            results += network(keras, "DenseNet121", folder, args.reps, args.open_reps, canvas=True)
            if args.nasnet:
                results += network(keras, "NASNetMobile", folder, args.reps, args.open_reps, canvas=True)
    finally:
        gc.unfreeze()
    return emit(results, args.json)


if __name__ == "__main__":
    main()
