"""The command line: `python -m builder COMMAND ...` (see shared/CONTRACT.md).

Exit status: 0 success; 1 the input is invalid or the work failed (one line
per problem on stderr, never a traceback); 2 wrong usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from builder.cli.common import (
    checked_dataset,
    follow,
    load_graph,
    one_line,
    print_problems,
    write_output,
)
from builder.cli.tune import add_parser as add_tune
from builder.model.graph import GraphFormatError


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # usage errors exit 2, as argparse does, without the traceback
        self.print_usage(sys.stderr)
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2)


def cmd_validate(args) -> int:
    from builder.model.build import build

    result = build(load_graph(args.graph))
    lines = [i.line() for i in result.issues]
    print_problems([ln for ln in lines if ln.startswith("warning")], to_stdout=True)
    errors = [ln for ln in lines if ln.startswith("error")]
    if errors:
        print_problems(errors, to_stdout=True)
        return 1
    print("ok")
    return 0


def _built(path):
    """The graph at `path` built, its warnings printed; None (its errors printed) when it does not build."""
    from builder.model.build import build

    result = build(load_graph(path))
    print_problems([i.line() for i in result.warnings], to_stdout=False)
    if result.model is None:
        print_problems([i.line() for i in result.errors], to_stdout=False)
        return None
    return result


def cmd_summary(args) -> int:
    from builder.model.summary import summarize, summary_text

    result = _built(args.graph)
    if result is None:
        return 1
    if args.json:
        print(json.dumps(summarize(result).to_json()))
    else:
        print(summary_text(result.model))
    return 0


def cmd_profile(args) -> int:
    from builder.model.profile import profile

    result = _built(args.graph)
    if result is None:
        return 1
    report = profile(result)
    print(json.dumps(report.to_json()) if args.json else report.text())
    return 0


def cmd_code(args) -> int:
    from builder.files.codegen import CodegenError, generate_code, generate_script

    graph = load_graph(args.graph)
    try:
        text = generate_script(graph, args.dataset) if args.script else generate_code(graph, args.style)
    except CodegenError as e:
        print_problems([f"error: {e.node_id or 'graph'}: {e}"], to_stdout=False)
        return 1
    write_output(text, args.output)
    return 0


def cmd_import(args) -> int:
    from builder.files.importer import ModelImportError, import_model

    try:
        result = import_model(args.model, max_bytes=None)  # a local file: any size that fits in memory
    except ModelImportError as e:
        print_problems([f"error: {e.node_id or 'model'}: {e}"], to_stdout=False)
        return 1
    for old, new in result.renamed.items():
        print(one_line(f"note: renamed {old!r} to '{new}' (not a valid id)"), file=sys.stderr)
    for note in result.notes:
        print(one_line(f"note: {note}"), file=sys.stderr)
    write_output(result.graph.dumps() + "\n", args.output)
    return 0


def cmd_datasets(args) -> int:
    from builder.data.datasets import BUILTIN, KERAS_DATASETS

    rows = [{"name": d.name, "task": d.task, "input_shape": list(d.input_shape), "classes": d.classes,
             "size": d.size, "description": d.description} for d in BUILTIN.values()]
    if args.json:
        print(json.dumps({"builtin": rows, "download": list(KERAS_DATASETS)}))
        return 0
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        shape = "x".join(str(d) for d in r["input_shape"])
        classes = f"{r['classes']} classes" if r["classes"] else "regression"
        print(f"{r['name']:<{width}}  {r['task']:<14}  {shape:<8}  {classes:<10}  {r['size']:>5} samples")
    print(f"(downloaded by Keras when online: {', '.join(KERAS_DATASETS)})")
    return 0


def cmd_train(args) -> int:
    import time

    from builder.train.job import TrainingJob
    from builder.train.settings import SettingsError, TrainSettings, suggest_compile

    graph = load_graph(args.graph)
    chief = True
    if args.strategy == "multi-worker":
        from builder.train.distribute import StrategyError, is_chief, parse_tf_config

        try:
            chief = is_chief(parse_tf_config(os.environ.get("TF_CONFIG")))
        except StrategyError as e:
            print_problems([f"error: strategy: {e}"], to_stdout=False)
            return 1
    data = checked_dataset(args.dataset, graph)
    if data is None:
        return 1
    comp = suggest_compile(graph, data.task, data.classes)
    for key in ("optimizer", "learning_rate"):
        if getattr(args, key) is not None:
            setattr(comp, key, getattr(args, key))
    saved = graph.extra.get("training") if isinstance(graph.extra.get("training"), dict) else {}

    def pick(name, default):  # the command line, else the graph file's `training`, else the default
        value = getattr(args, name)
        value = saved.get(name) if value is None else value
        return default if value is None else value

    try:
        settings = TrainSettings(compile=comp, epochs=pick("epochs", 10), batch_size=pick("batch_size", 32),
                                 validation_split=pick("validation_split", 0.2), patience=pick("patience", 0),
                                 seed=pick("seed", 0), strategy=args.strategy, mixed_precision=args.mixed_precision,
                                 jit_compile=args.jit_compile, steps_per_execution=args.steps_per_execution)
        settings.check()
    except SettingsError as e:
        print_problems([f"error: settings: {e}"], to_stdout=False)
        return 1
    from builder.store import StoreError
    from builder.train.remote import RemoteError, ray_address

    try:
        address = ray_address()
        job = _ray_run(graph, args.dataset, settings, data.name) if address is not None else \
            TrainingJob(graph, data, settings, log_dir=args.logdir if chief else None)
    except (RemoteError, StoreError) as e:
        print_problems([f"error: {e}"], to_stdout=False)
        return 1
    follow(job, lambda snap: snap["history"],
           None if args.json else lambda row: print(_epoch_line(row, settings.epochs), flush=True))
    if job.status == "failed":
        print_problems([f"error: graph: {job.message}"], to_stdout=False)
        if args.strategy == "multi-worker":
            # TensorFlow's cluster set-up may still be waiting in a thread that would hold the exit: leave now.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(1)
        return 1
    for note in [*job.notes, *([job.message] if job.message else [])]:
        print(one_line(f"note: {note}"), file=sys.stderr)
    metrics = (job.result or {}).get("metrics", {})
    if args.out and chief:  # in a cluster, only the chief writes the model
        try:
            _save_model(job.model, args.out)
        except OSError as e:
            print_problems([f"error: out: cannot write {args.out}: {e.strerror or e}"], to_stdout=False)
            return 1
    if args.json:
        print(json.dumps({"status": job.status, "history": job.history, "test": metrics,
                          "model": args.out if chief else None,
                          "seconds": round(time.time() - job.created, 2)}))
    else:
        print("test: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
        if args.out and chief:
            print(args.out)
    return 0


def _ray_run(graph, dataset: str, settings, name: str):
    """The run recorded in the store's queue as a Ray task (LAYERCANVAS_RAY), with a dispatcher of this command's
    own that sends it and ends with it; returned as a job this command follows like an in-process one."""
    from builder.store import Store, artifact_dir
    from builder.train.remote import StoredRun, graph_naming_data, spawn_dispatcher

    store = Store()
    run_id = store.create_run(None, graph_naming_data(graph, dataset, str(artifact_dir())), settings.to_dict(), name,
                              backend="ray")
    spawn_dispatcher(parent=os.getpid(), only=run_id, log_path=str(artifact_dir("logs", f"cli-{run_id}.log")))
    return StoredRun(store, run_id)


def _epoch_line(row: dict, epochs: int) -> str:
    values = ", ".join(f"{k} {v:.4f}" for k, v in row.items() if k not in ("epoch", "partial"))
    return f"epoch {row['epoch']}/{epochs}{' (partial)' if row.get('partial') else ''}: {values}"


def _save_model(model, path: str) -> None:
    """Saves as .keras or .h5 through a temporary file, so a failure leaves nothing behind."""
    ext = ".h5" if path.endswith(".h5") else ".keras"
    if not path.endswith((".keras", ".h5")):
        raise OSError(0, "use a file name ending in .keras or .h5")
    tmp = f"{path}.tmp{os.getpid()}{ext}"
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def cmd_export(args) -> int:
    from builder.files.export import FORMATS, ExportError, export

    from_graph = args.source.lower().endswith(".json")
    weights = {}
    if from_graph:
        graph = load_graph(args.source)
    else:
        from builder.files.importer import ModelImportError, import_model

        try:
            imported = import_model(args.source, max_bytes=None)
        except ModelImportError as e:
            print_problems([f"error: {e.node_id or 'model'}: {e}"], to_stdout=False)
            return 1
        graph, weights = imported.graph, imported.weights
    model = None
    if FORMATS[args.format].needs_model:
        from builder.model.build import BuildError, apply_weights, build_model

        try:
            model = build_model(graph)
        except BuildError as e:
            print_problems([i.line() for i in e.issues], to_stdout=False)
            return 1
        apply_weights(model, weights)
        if from_graph:
            print("note: exported from a graph file: the model is not trained (random weights)", file=sys.stderr)
    try:
        print(export(args.format, args.output, model=model, graph=graph, dataset=args.dataset))
    except ExportError as e:
        print_problems([f"error: export: {e}"], to_stdout=False)
        return 1
    return 0


def make_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m builder", description="LayerCanvas: design, check and build Keras models from graph files.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    v = sub.add_parser("validate", help="check a graph file: prints ok or one line per problem")
    v.add_argument("graph")
    v.set_defaults(func=cmd_validate)
    s = sub.add_parser("summary", help="build the model and print model.summary()")
    s.add_argument("graph")
    s.add_argument("--json", action="store_true", help="print totals and layers as JSON")
    s.set_defaults(func=cmd_summary)
    pr = sub.add_parser("profile", help="the cost of each layer for one sample: MACs, weights, output size")
    pr.add_argument("graph")
    pr.add_argument("--json", action="store_true", help="print totals and layers as JSON")
    pr.set_defaults(func=cmd_profile)
    c = sub.add_parser("code", help="write Keras Functional code defining build_model()")
    c.add_argument("graph")
    c.add_argument("-o", "--output", help="write to this file instead of printing")
    c.add_argument("--script", action="store_true", help="a full training script: data, compile, fit, evaluate, save")
    c.add_argument("--style", choices=["functional", "sequential"], default="functional")
    c.add_argument("--dataset", help="built-in dataset for --script (default: the graph's training.dataset)")
    c.set_defaults(func=cmd_code)
    i = sub.add_parser("import", help="read a .keras or .h5 model (safe mode) into a graph file")
    i.add_argument("model")
    i.add_argument("-o", "--output", help="write the graph here instead of printing it")
    i.set_defaults(func=cmd_import)
    t = sub.add_parser("train", help="train a graph on a dataset: one line per epoch, then the test metrics")
    t.add_argument("graph")
    t.add_argument("--dataset", required=True, help="a built-in dataset name, or a .csv, .npz or image .zip file")
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--validation-split", type=float)
    t.add_argument("--learning-rate", type=float)
    t.add_argument("--optimizer", choices=["adam", "sgd", "rmsprop", "adagrad", "adamw"])
    t.add_argument("--patience", type=int, help="early stopping on the validation loss (0: off)")
    t.add_argument("--seed", type=int)
    t.add_argument("--out", help="save the trained model here (.keras or .h5)")
    t.add_argument("--strategy", choices=["auto", "one", "mirrored", "multi-worker"], default="auto",
                   help="auto: every local GPU when there are several; multi-worker: from TF_CONFIG")
    t.add_argument("--mixed-precision", action="store_true", help="float16 compute (fast on recent GPUs)")
    t.add_argument("--jit-compile", action="store_true", help="compile the training step with XLA")
    t.add_argument("--steps-per-execution", type=int, default=1, help="batches per call into TensorFlow")
    t.add_argument("--json", action="store_true", help="print one JSON line at the end: history and test metrics")
    t.add_argument("--logdir", help="write TensorBoard logs here (train/ and validation/: epoch scalars, the graph)")
    t.set_defaults(func=cmd_train)
    e = sub.add_parser("export", help="write a model (a .keras/.h5 file, or a graph file untrained) in a format")
    e.add_argument("source", metavar="MODEL_OR_GRAPH")
    from builder.files.export import FORMATS

    e.add_argument("--format", required=True, choices=list(FORMATS))
    e.add_argument("-o", "--output", required=True, help="the file to write (savedmodel: a folder, or a .zip)")
    e.add_argument("--dataset", help="for --format script or notebook: the built-in dataset it loads")
    e.set_defaults(func=cmd_export)

    add_tune(sub)
    d = sub.add_parser("datasets", help="list the built-in datasets")
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=cmd_datasets)
    return p


def main(argv: list[str] | None = None) -> int:
    """Runs one command; returns the exit status (never raises but SystemExit(2) for usage)."""
    args = make_parser().parse_args(argv)
    try:
        return args.func(args)
    except GraphFormatError as e:
        # For `validate` the problems are the output; other commands only report them.
        print_problems([f"error: {nid or 'graph'}: {msg}" for nid, msg in e.problems], to_stdout=args.command == "validate")
        return 1
    except KeyboardInterrupt:
        print("error: graph: interrupted", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - the last line of defence: a message, never a traceback
        print(f"error: graph: {type(e).__name__}: {e}".splitlines()[0][:500], file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
