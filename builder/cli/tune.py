"""`python -m builder tune GRAPH --dataset NAME_OR_PATH ...`: search the graph's `search` space (CONTRACT.md)."""

from __future__ import annotations

import json
import os
import sys

from builder.cli.common import checked_dataset, follow, load_graph, print_problems, write_output
from builder.model.space import TUNERS, SearchError, apply_values, read
from builder.store import Store, StoreError, artifact_dir
from builder.train.remote import RemoteError, graph_naming_data, ray_address, spawn_dispatcher
from builder.train.search import SearchJob


def add_parser(sub) -> None:
    t = sub.add_parser("tune", help="search the graph's search space with KerasTuner: one line per trial")
    t.add_argument("graph")
    t.add_argument("--dataset", required=True, help="a built-in dataset name, or a .csv, .npz or image .zip file")
    t.add_argument("--max-trials", type=int, help="how many trials (default: the graph's search.max_trials, or 8)")
    t.add_argument("--tuner", choices=list(TUNERS), help="default: the graph's search.tuner, or random")
    t.add_argument("--epochs", type=int, help="epochs per trial (Hyperband: the most a trial gets)")
    t.add_argument("--max-minutes", type=float, help="a time budget: no new trial after it, and the running one stops")
    t.add_argument("-o", "--output", metavar="BEST_GRAPH", help="write the graph with the best values set here")
    t.add_argument("--json", action="store_true", help="print one JSON line at the end: the best values and every trial")
    t.set_defaults(func=cmd_tune)


def values_text(values: dict) -> str:
    return ", ".join(f"{k}={_short(v)}" for k, v in values.items())


def _short(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return json.dumps(list(v), separators=(",", ":"))
    return json.dumps(v) if v is None or isinstance(v, bool) else str(v)


def trial_line(trial: dict, objective: str, max_trials: int) -> str:
    head = f"trial {trial['number']}/{max_trials}: {values_text(trial['values'])}"
    if trial["status"] == "failed":
        return f"{head} -> failed: {trial['reason']}"
    params = f" ({trial['total_params']:,} params)" if trial.get("total_params") is not None else ""
    score = "-" if trial["score"] is None else f"{trial['score']:.4f}"
    tail = " (stopped)" if trial["status"] == "stopped" else ""
    return f"{head} -> {objective} {score}{params}{tail}"


def cmd_tune(args) -> int:
    from builder.train.settings import SettingsError, settings_from_graph

    graph = load_graph(args.graph)
    spec, problems = read(graph)
    if problems:
        print_problems([i.line() for i in problems], to_stdout=False)
        return 1
    if spec is None or not spec.dims:
        print_problems([("error: graph: the graph has no search space: add a \"search\" field (CONTRACT.md) or mark "
                    "parameters for search in the app")], to_stdout=False)
        return 1
    for name in ("max_trials", "epochs"):
        value = getattr(args, name)
        if value is not None and value < 1:
            print_problems([f"error: settings: --{name.replace('_', '-')} must be 1 or more, got {value}"], to_stdout=False)
            return 1
    if args.max_minutes is not None and not args.max_minutes > 0:
        print_problems([f"error: settings: --max-minutes must be above 0, got {args.max_minutes}"], to_stdout=False)
        return 1
    data = checked_dataset(args.dataset, graph)
    if data is None:
        return 1
    try:
        settings = settings_from_graph(graph, data, epochs=args.epochs)
        address = ray_address()
        if address is None:
            job = SearchJob(graph, data, settings, max_trials=args.max_trials, tuner=args.tuner,
                            max_minutes=args.max_minutes)
        else:  # each trial a Ray task, sent by a dispatcher of this command's own
            store, artifacts = Store(), str(artifact_dir())
            job = SearchJob(graph_naming_data(graph, args.dataset, artifacts), data, settings, store=store,
                            artifact_dir=str(artifact_dir("runs")), max_trials=args.max_trials, tuner=args.tuner,
                            max_minutes=args.max_minutes, remote=True)
            spawn_dispatcher(parent=os.getpid(), log_path=str(artifact_dir("logs", f"cli-{job.id}.log")))
    except (SettingsError, SearchError) as e:
        print_problems([f"error: search: {e}"], to_stdout=False)
        return 1
    except (RemoteError, StoreError) as e:
        print_problems([f"error: {e}"], to_stdout=False)
        return 1
    follow(job, lambda snap: snap["trials"],
           None if args.json else lambda t: print(trial_line(t, job.objective, job.spec.max_trials), flush=True),
           done=lambda t: t["status"] != "running")
    result = job.result()
    if job.status == "failed" and result["best"] is None:
        print_problems([f"error: search: {job.message}"], to_stdout=False)
        return 1
    if job.message:
        print(f"note: {job.message}", file=sys.stderr)
    best = job.best()
    if args.output and best is not None:

        try:
            write_output(apply_values(graph, best.values).dumps() + "\n", args.output)
        except OSError as e:
            print_problems([f"error: output: cannot write {args.output}: {e.strerror or e}"], to_stdout=False)
            return 1
    if args.json:
        print(json.dumps(result))
    elif best is not None:
        test = ", ".join(f"{k} {v:.4f}" for k, v in best.test.items())
        print(f"best: trial {best.number}: {values_text(best.values)} -> {job.objective} {best.score:.4f}"
              + (f"; test: {test}" if test else ""))
    return 0
