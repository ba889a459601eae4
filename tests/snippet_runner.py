"""Runs the Export page's "How to load it" Python snippets as written, in a fresh process, for
tests/test_export_snippets.py.

Usage: python tests/snippet_runner.py PLAN.json, with the download folder as the current directory. PLAN names the
snippets ([format, text] in the page's order), inputs.npz (x: a batch of inputs; zeros: one sample of zeros;
w0, w1, ...: the app model's weights) and where the answers go. Each snippet runs in a namespace of its own, as a
script saved in the download folder would (that folder first on sys.path, modules imported from it forgotten
before the next one); then PROBES ask what it loaded. One process for all of them: each import of TensorFlow
costs seconds. A snippet that raises is recorded with its traceback, and the others still run.
"""

import contextlib
import io
import json
import os
import re
import shlex
import sys
import traceback

import numpy as np


def _predict(ns, inputs, fmt):
    return np.asarray(ns["model"].predict(inputs["x"], verbose=0))


def _code(ns, inputs, fmt):
    """The model code builds the architecture: with the app model's weights set, it predicts what the app does."""
    model = ns["model"]
    facts = {"layers": [layer.name for layer in model.layers], "params": int(model.count_params())}
    model.set_weights([inputs[f"w{i}"] for i in range(len(model.get_weights()))])
    return np.asarray(model.predict(inputs["x"], verbose=0)), facts


def _savedmodel(ns, inputs, fmt):
    import tensorflow as tf

    predict = ns["predict"]
    (name,) = predict.structured_input_signature[1]  # a signature takes its inputs by name
    return np.asarray(next(iter(predict(**{name: tf.constant(inputs["x"])}).values())))


def _tflite(ns, inputs, fmt):  # the snippet's own prediction (on zeros)
    return np.asarray(ns["interpreter"].get_tensor(ns["out"]["index"]))


def _onnx(ns, inputs, fmt):  # the snippet's own prediction (on zeros)
    return np.asarray(ns["outputs"][0])


def _notebook(ns, inputs, fmt):
    cells = [c for c in ns["notebook"].cells if c.cell_type == "code"]
    return None, {"cells": len(cells), "unrun": sum(not c.execution_count for c in cells),
                  "errors": [o.get("ename") for c in cells for o in c.outputs if o.output_type == "error"],
                  "printed": "".join(o.get("text", "") for c in cells for o in c.outputs if o.output_type == "stream"),
                  "files": sorted(os.listdir("."))}


def _graph(ns, inputs, fmt):
    return None, {"nodes": [n["id"] for n in ns["graph"]["nodes"]]}


PROBES = {"keras": _predict, "h5": _predict, "weights": _predict, "python": _code, "savedmodel": _savedmodel,
          "tflite": _tflite, "tflite-int8": _tflite, "tflite-f16": _tflite, "onnx": _onnx, "notebook": _notebook,
          "graph": _graph}


def _commands(text: str) -> list[str]:
    """LayerCanvas command lines a snippet mentions in a comment ("... python -m builder summary FILE")."""
    return [m.group(1) for m in re.finditer(r"#.*?python -m builder (.+)$", text, re.MULTILINE)]


def main(plan_path: str) -> None:
    with open(plan_path, encoding="utf-8") as f:
        plan = json.load(f)
    folder = os.getcwd()
    sys.path[0] = folder  # as for a script saved in the download folder (or Python's prompt there)
    inputs = dict(np.load(plan["inputs"]))
    results, facts = {}, {}
    for fmt, text in plan["snippets"]:
        ns = {"__name__": "__main__"}
        try:
            exec(compile(text, f"<{fmt} snippet>", "exec"), ns)
            answer = PROBES[fmt](ns, inputs, fmt)
        except Exception:  # noqa: BLE001 - recorded for the test, the next snippet still runs
            facts[fmt] = {"error": traceback.format_exc()}
            continue
        finally:
            for name, module in list(sys.modules.items()):  # the next snippet imports the code file anew
                if os.path.dirname(os.path.abspath(getattr(module, "__file__", None) or "/")) == folder:
                    del sys.modules[name]
        prediction, fact = answer if isinstance(answer, tuple) else (answer, {})
        if prediction is not None:
            results[fmt] = prediction
        facts[fmt] = fact
        for i, command in enumerate(_commands(text)):  # LayerCanvas itself on the path, as where it is installed
            sys.path.append(plan["layercanvas"])
            from builder.cli.main import main as cli

            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                code = cli(shlex.split(command))
            facts[f"{fmt}:command{i}"] = {"command": command, "code": code, "printed": out.getvalue()}
    np.savez(plan["results"], **results)
    with open(plan["facts"], "w", encoding="utf-8") as f:
        json.dump(facts, f)


if __name__ == "__main__":
    main(sys.argv[1])
