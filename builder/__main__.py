"""The command line: `python -m builder COMMAND ...` (see shared/CONTRACT.md).

Exit status: 0 success; 1 the input is invalid or the work failed (one line
per problem on stderr, never a traceback); 2 wrong usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from builder.graph import Graph, GraphFormatError


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # usage errors exit 2, as argparse does, without the traceback
        self.print_usage(sys.stderr)
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _same_target() -> bool:
    """stdout and stderr go to the same place (a terminal, or `2>&1`): print problems once."""
    try:
        out, err = os.fstat(sys.stdout.fileno()), os.fstat(sys.stderr.fileno())
    except (OSError, ValueError, AttributeError):  # captured streams without file descriptors
        return False
    return (out.st_dev, out.st_ino) == (err.st_dev, err.st_ino)


def _problems(lines: list[str], to_stdout: bool) -> None:
    """Problem lines: on stderr, and also on stdout when they are the command's output."""
    for line in lines:
        if to_stdout:
            print(line)
        if not (to_stdout and _same_target()):
            print(line, file=sys.stderr)


def _load(path: str) -> Graph:
    return Graph.load(path)


def cmd_validate(args) -> int:
    from builder.build import build

    result = build(_load(args.graph))
    lines = [i.line() for i in result.issues]
    _problems([ln for ln in lines if ln.startswith("warning")], to_stdout=True)
    errors = [ln for ln in lines if ln.startswith("error")]
    if errors:
        _problems(errors, to_stdout=True)
        return 1
    print("ok")
    return 0


def cmd_summary(args) -> int:
    from builder.build import build
    from builder.summary import summarize, summary_text

    result = build(_load(args.graph))
    _problems([i.line() for i in result.warnings], to_stdout=False)
    if result.model is None:
        _problems([i.line() for i in result.errors], to_stdout=False)
        return 1
    if args.json:
        print(json.dumps(summarize(result).to_json()))
    else:
        print(summary_text(result.model))
    return 0


def _write(text: str, path: str | None) -> None:
    """Prints, or writes to `path` whole (a temp file renamed, so no half-written file is left)."""
    if not path:
        sys.stdout.write(text)
        return
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    print(path)


def cmd_code(args) -> int:
    from builder.codegen import CodegenError, generate_code, generate_script

    graph = _load(args.graph)
    try:
        text = generate_script(graph, args.dataset) if args.script else generate_code(graph, args.style)
    except CodegenError as e:
        _problems([f"error: {e.node_id or 'graph'}: {e}"], to_stdout=False)
        return 1
    _write(text, args.output)
    return 0


def cmd_import(args) -> int:
    from builder.importer import ModelImportError, import_model

    try:
        result = import_model(args.model)
    except ModelImportError as e:
        _problems([f"error: {e.node_id or 'model'}: {e}"], to_stdout=False)
        return 1
    for old, new in result.renamed.items():
        print(f"note: renamed {old!r} to '{new}' (not a valid id)", file=sys.stderr)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    _write(result.graph.dumps() + "\n", args.output)
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
    return p


def main(argv: list[str] | None = None) -> int:
    """Runs one command; returns the exit status (never raises but SystemExit(2) for usage)."""
    args = make_parser().parse_args(argv)
    try:
        return args.func(args)
    except GraphFormatError as e:
        # For `validate` the problems are the output; other commands only report them.
        _problems([f"error: {nid or 'graph'}: {msg}" for nid, msg in e.problems], to_stdout=args.command == "validate")
        return 1
    except KeyboardInterrupt:
        print("error: graph: interrupted", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - the last line of defence: a message, never a traceback
        print(f"error: graph: {type(e).__name__}: {e}".splitlines()[0][:500], file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
