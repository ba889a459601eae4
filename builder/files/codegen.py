"""Graph -> readable Keras code: Functional (any graph) or Sequential (a chain).

The code builds exactly the model that `builder.model.build` builds: same layers,
same explicit names, same config. User text never reaches the code as code:
node ids are checked identifiers (a keyword, a builtin or a name the module
uses gets a trailing `_` as a variable; `name=` is always the id), and every
string goes through `repr`.

The training script (`generate_script`) and the notebook (`builder.files.notebook`)
are assembled from the same pieces (`training_parts`, `SETTINGS`, the helper
functions and the steps), so they train the same way.
"""

from __future__ import annotations

import builtins
import itertools
import keyword
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from builder.model.catalog import DEFAULT_MODULE, LAYERS, LayerSpec, as_tuples, inner_layer_name
from builder.model.graph import Graph, GraphError, Node, keras_name
from builder.model.validate import check_structure, errors

if TYPE_CHECKING:
    from builder.data.datasets import DatasetInfo
    from builder.train.settings import CompileSettings

# Names the generated module, the training script and the notebook define or import, and every Python builtin
# (`input`, `list`, `sum`, ...; `exit`, `help` and the like are listed too, as `site` adds them only to some
# interpreters): a node with one of these ids gets a variable with a trailing `_`, so the code never shadows
# them. Its Keras `name=` stays the node id.
RESERVED = frozenset({
    "keras", "layers", "build_model", "model", "np", "tf", "pd", "main", "argparse", "json", "os", "sys", "inspect",
    "split", "standardize", "load_sklearn_table", "load_digits", "load_generated", "load_waves", "load_tokens",
    "load_csv", "load_data", "make_strategy", "fix_keras_multi_worker", "is_chief", "contextlib",
    # the notebook's variables (builder/files/notebook.py), its settings among them
    "go", "x_train", "y_train", "x_test", "y_test", "strategy", "history", "metric", "figure", "series", "values",
    "stem", "saved", "EPOCHS", "BATCH_SIZE", "LEARNING_RATE", "VALIDATION_SPLIT", "PATIENCE", "DATA", "TARGET",
    "OUTPUT", "STRATEGY", "SEED",
    "exit", "quit", "help", "copyright", "credits", "license",
    *dir(builtins),
    # the classes build_model() imports from outside keras.layers (LayerScale, CustomScaleLayer)
    *(t for t, s in LAYERS.items() if s.module != DEFAULT_MODULE),
})
LINE_LENGTH = 100


class CodegenError(GraphError):
    """The graph has structural errors, so there is no code to write."""


def var_name(node_id: str) -> str:
    """The Python variable for a node: its id, unless that is a keyword, a soft keyword, a builtin or a name
    the generated code uses (then the id with a trailing `_`)."""
    clash = keyword.iskeyword(node_id) or keyword.issoftkeyword(node_id) or node_id in RESERVED
    return node_id + "_" if clash else node_id


def var_names(graph: Graph) -> dict[str, str]:
    """A distinct Python variable per node: `var_name`, with more `_` while another node has that name.

    Ids `class` and `class_` would otherwise share the variable `class_`, and the code would wire the
    wrong tensors.
    """
    ids = set(graph.ids())
    names: dict[str, str] = {}
    used: set[str] = set()
    for nid in graph.ids():
        name = var_name(nid)
        while name in used or (name != nid and name in ids):
            name += "_"
        names[nid] = name
        used.add(name)
    return names


def literal(value: Any) -> str:
    """A Python literal for a JSON value (lists become tuples, strings go through repr)."""
    value = as_tuples(value)
    if isinstance(value, tuple):
        inner = ", ".join(literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, (bool, int, float, str)) or value is None:
        return repr(value)
    raise TypeError(f"no literal for {type(value).__name__}")


def _regularizer(value: dict) -> str:
    l1, l2 = float(value.get("l1", 0.0)), float(value.get("l2", 0.0))
    if l1 and l2:
        return f"keras.regularizers.L1L2(l1={l1!r}, l2={l2!r})"
    if l1:
        return f"keras.regularizers.L1({l1!r})"
    return f"keras.regularizers.L2({l2!r})" if l2 else "None"


def _differs(spec: LayerSpec, name: str, value: Any) -> bool:
    ps = spec.param(name)
    return ps.required or as_tuples(value) != as_tuples(ps.default)


def layer_expr(node: Node, name: str | None = None) -> str:
    """`layers.Dense(64, activation='relu', name='dense')` for a node."""
    spec = LAYERS[node.type]
    name = node.id if name is None else name
    args = []
    for ps in spec.params:
        if ps.name not in node.params or not _differs(spec, ps.name, node.params[ps.name]):
            continue
        value = node.params[ps.name]
        if ps.kind == "layer":
            inner = Node(inner_layer_name(node.id, value["type"]), value["type"], value.get("params", {}))
            code = layer_expr(inner)
        elif ps.kind == "regularizer":
            code = _regularizer(value)
        else:
            code = literal(value)
        args.append(code if ps.required and not spec.is_input else f"{ps.name}={code}")
    if not node.trainable and not spec.is_input:
        args.append("trainable=False")
    args.append(f"name={name!r}")
    head = "keras.Input" if spec.is_input else (f"layers.{node.type}" if spec.module == DEFAULT_MODULE else node.type)
    return f"{head}({', '.join(args)})"


def _call(spec: LayerSpec, args: list[str]) -> str:
    if spec.call_style == "list":
        return f"([{', '.join(args)}])"
    if spec.call_style == "positional":
        return f"({', '.join(args)})"
    return f"({args[0]})"


def model_nodes(graph: Graph) -> list[str]:
    """Node ids that are part of the model, in topological order."""
    needed, stack = set(), list(graph.output_ids())
    while stack:
        nid = stack.pop()
        if nid not in needed:
            needed.add(nid)
            stack.extend(graph.inputs_of(nid))
    needed.update(graph.input_ids())
    return [n for n in graph.topological_order() if n in needed]


def is_chain(graph: Graph) -> bool:
    """One input, then one layer after another: Sequential can express it."""
    order = model_nodes(graph)
    if len(graph.input_ids()) != 1 or len(graph.output_ids()) != 1 or len(order) < 2:
        return False
    for prev, nid in itertools.pairwise(order):
        spec = LAYERS[graph.node(nid).type]
        if graph.inputs_of(nid) != [prev] or spec.call_style != "single" or graph.successors(prev) != [nid]:
            return False
    return graph.node(order[0]).params.get("dtype") is None


def _check(graph: Graph) -> None:
    problems = errors(check_structure(graph))
    if problems:
        raise CodegenError("; ".join(i.message for i in problems[:3]), problems[0].node_id)


def _functional_body(graph: Graph) -> list[str]:
    lines = []
    names = var_names(graph)
    for nid in model_nodes(graph):
        node = graph.node(nid)
        spec = LAYERS[node.type]
        expr = layer_expr(node)
        if not spec.is_input:
            expr += _call(spec, [names[s] for s in graph.inputs_of(nid)])
        lines.append(f"{names[nid]} = {expr}")
    ins = [names[i] for i in graph.input_ids()]
    outs = [names[o] for o in graph.output_ids()]
    def pack(xs):
        return xs[0] if len(xs) == 1 else f"[{', '.join(xs)}]"

    lines.append(f"return keras.Model(inputs={pack(ins)}, outputs={pack(outs)}, name={keras_name(graph.name)!r})")
    return lines


def _sequential_body(graph: Graph) -> list[str]:
    items = [layer_expr(graph.node(nid)) + "," for nid in model_nodes(graph)]
    return ["return keras.Sequential(", "    [", *("        " + i for i in items), "    ],", f"    name={keras_name(graph.name)!r},", ")"]


def build_model_source(graph: Graph, style: str = "functional") -> str:
    """The `build_model()` function alone (no imports)."""
    _check(graph)
    if style == "sequential":
        if not is_chain(graph):
            raise CodegenError("Sequential code needs a single chain of layers: use the Functional style for this graph")
        body = _sequential_body(graph)
    elif style == "functional":
        body = _functional_body(graph)
    else:
        raise ValueError(f"unknown code style {style!r}")
    doc = '"""Returns the Keras model drawn in LayerCanvas."""'
    return "\n".join(["def build_model():", "    " + doc, *("    " + ln for ln in _own_imports(graph) + body)]) + "\n"


def _own_imports(graph: Graph) -> list[str]:
    """Imports of the layers Keras defines outside keras.layers (ConvNeXt's LayerScale...), inside build_model()
    so that the training script and the notebook, which copy the function, carry them too."""
    wanted: dict[str, set[str]] = {}
    for nid in model_nodes(graph):
        spec = LAYERS[graph.node(nid).type]
        if spec.module != DEFAULT_MODULE:
            wanted.setdefault(spec.module, set()).add(spec.type)
    if not wanted:
        return []
    return ["# Keras's own layers of keras.applications networks, not in keras.layers",
            *(f"from {module} import {', '.join(sorted(types))}" for module, types in sorted(wanted.items()))]


def fmt(source: str) -> str:
    """Formats with black when it is installed (it is in requirements.txt)."""
    try:
        import black
    except ImportError:  # formatting is a nicety; the code is valid without it
        return source
    return black.format_str(source, mode=black.Mode(line_length=LINE_LENGTH))


def generate_code(graph: Graph, style: str = "functional") -> str:
    """A Python module defining `build_model()` that returns the graph's model.

    Args:
        graph: A graph without structural errors.
        style: `functional` (any graph) or `sequential` (a single chain).

    Raises:
        CodegenError: the graph has structural errors, or is not a chain for
            the Sequential style.
    """
    source = build_model_source(graph, style)
    imports = "import keras\nfrom keras import layers\n" if "layers." in source else "import keras\n"
    return fmt(f'"""Keras model generated by LayerCanvas."""\n\n{imports}\n\n{source}')


# -- the training script and the notebook ----------------------------------------------------------------------------
# Both are assembled from the same pieces: the settings table, the helper functions and the steps below. The script
# reads the settings from its command line (`args.epochs`), the notebook from variables in its first cell (`EPOCHS`).


@dataclass(frozen=True)
class Setting:
    """A training setting: an option of the script's command line, a variable at the top of the notebook."""

    name: str
    kind: type | None = None  # int or float; None: text or None
    help: str = ""
    choices: tuple[str, ...] = ()

    def argument(self, default: Any) -> str:
        """The script's `parser.add_argument(...)` call."""
        parts = [repr("--" + self.name.replace("_", "-"))]
        if self.kind is not None:
            parts.append(f"type={self.kind.__name__}")
        parts.append(f"default={default!r}")
        if self.choices:
            parts.append(f"choices={list(self.choices)!r}")
        if self.help:
            parts.append(f"help={self.help!r}")
        return f"parser.add_argument({', '.join(parts)})"


SETTINGS = (
    Setting("epochs", int),
    Setting("batch_size", int),
    Setting("learning_rate", float),
    Setting("validation_split", float),
    Setting("patience", int, "early stopping patience (epochs)"),
    Setting("data", None, "a .npz or .csv file instead of the built-in dataset"),
    Setting("target", None, "the label column of a CSV file (default: the last)"),
    Setting("output", None, "where to save the trained model (.keras)"),
    Setting("strategy", None, "", ("auto", "one", "mirrored", "multi-worker")),
    Setting("seed", int),
)

SCRIPT_IMPORTS = """import argparse
import contextlib
import json
import os

import keras
import numpy as np
from keras import layers"""

LOAD_DATA = '''def load_csv(path, target):
    """A CSV file: the target column as labels, the numeric columns as features."""
    import pandas as pd

    frame = pd.read_csv(path)
    target = target or frame.columns[-1]
    y = frame.pop(target)
    x = pd.get_dummies(frame, dtype="float32").to_numpy("float32")
    y = y.to_numpy()
    if y.dtype.kind not in "if":
        y = np.unique(y, return_inverse=True)[1]
    return split(x, y)


def load_data(path=None, target=None):
    """The built-in dataset, or a .npz / .csv file."""
    if path is None:
        return {dataset_call}
    if path.endswith(".npz"):
        with np.load(path) as data:
            if "x_test" in data:
                return data["x_train"], data["y_train"], data["x_test"], data["y_test"]
            return split(data["x_train"], data["y_train"])
    if path.endswith(".csv"):
        return load_csv(path, target)
    raise SystemExit(f"the data must be a .npz or .csv file, got {{path}}")'''

# TensorFlow only where a tf.distribute strategy is asked for: everything else runs on any Keras backend.
MAKE_STRATEGY = '''def make_strategy(name):
    """A tf.distribute strategy on the TensorFlow backend; on another, None (Keras places the model itself).

    auto: every local GPU when there are several (on JAX, several accelerators through keras.distribution);
    one: the first GPU, else the CPU; mirrored: every local GPU; multi-worker: the cluster in TF_CONFIG.
    """
    backend = keras.backend.backend()
    if backend != "tensorflow":
        if name != "auto":
            raise SystemExit(f"strategy {name} needs the TensorFlow backend (KERAS_BACKEND=tensorflow), "
                             f"and Keras runs on {backend} here: use auto")
        if backend == "jax":
            devices = keras.distribution.list_devices()
            if sum(not device.startswith("cpu") for device in devices) > 1:
                keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        return None
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        tf.config.experimental.set_memory_growth(gpu, True)
    if name == "multi-worker":  # every worker runs this script with its own TF_CONFIG task
        if not os.environ.get("TF_CONFIG"):
            raise SystemExit("--strategy multi-worker needs the TF_CONFIG environment variable")
        options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=120)
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    if name == "mirrored" and not gpus:
        print("note: mirrored needs GPUs and none is visible: training on the CPU")
        return tf.distribute.get_strategy()
    if name == "mirrored" or (name == "auto" and len(gpus) > 1):
        return tf.distribute.MirroredStrategy()
    if name == "one":
        return tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0")
    return tf.distribute.get_strategy()'''

IS_CHIEF = '''def is_chief():
    """In a cluster, only the chief saves the model: the "chief" task, or worker 0 without one."""
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task, cluster = config.get("task") or {}, config.get("cluster") or {}
    if not task:
        return True
    if "chief" in cluster:
        return task.get("type") == "chief"
    return task.get("type") == "worker" and task.get("index", 0) == 0'''

# The steps, in order. `{epochs}` and the other setting names stand for the setting (`args.epochs`, `EPOCHS`).
LOAD_STEP = """keras.utils.set_random_seed({seed})
x_train, y_train, x_test, y_test = load_data({data}, {target})"""

COMPILE_STEP = """strategy = make_strategy({strategy})
with strategy.scope() if strategy is not None else contextlib.nullcontext():
    model = build_model()
    model.compile(
        optimizer={optimizer},
        loss={loss},
        metrics=[{metrics}],
    )"""

FIT_STEP = """model.fit(
    x_train,
    y_train,
    epochs={epochs},
    batch_size={batch_size},
    validation_split={validation_split},
    callbacks=[keras.callbacks.EarlyStopping(patience={patience}, restore_best_weights=True)],
)"""

EVALUATE_STEP = 'print("test:", model.evaluate(x_test, y_test, return_dict=True, verbose=0))'

SAVE_STEP = """stem = os.path.splitext({output})[0]
model.save(stem + ".keras")
model.save(stem + ".h5")
saved = [stem + ".keras", stem + ".h5"]
if keras.backend.backend() == "tensorflow":  # a SavedModel is TensorFlow's own format
    model.export(stem + "_savedmodel", verbose=False)
    saved.append(stem + "_savedmodel/")
print("saved", *saved)"""

SCRIPT_DOC = '''"""Training script generated by LayerCanvas.

Run it with only the requirements installed:
    python {filename} --epochs 20
    python {filename} --data my_data.npz      # x_train, y_train (and x_test, y_test)
    python {filename} --data table.csv --target label
    KERAS_BACKEND=jax python {filename}
        # any Keras backend: only --strategy one, mirrored, multi-worker and the SavedModel need TensorFlow
    TF_CONFIG='{{"cluster": {{"worker": ["host1:12345", "host2:12345"]}}, "task": {{"type": "worker", "index": 0}}}}' \\
        python {filename} --strategy multi-worker   # on each machine, with its own task index
"""'''

SCRIPT_MAIN = '''def main():
    parser = argparse.ArgumentParser(description="Train the {safe_name} model.")
{arguments}
    args = parser.parse_args()

{load}
{compile}
    if args.strategy == "multi-worker":
        fix_keras_multi_worker(model, strategy)
    model.summary()
{fit}
{evaluate}
    if not is_chief():
        print("done: the chief saves the model")
        return
{save}


if __name__ == "__main__":
    main()'''


# Names Windows keeps for devices, with any extension ("con.keras" cannot be saved there).
WINDOWS_DEVICES = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))})


def safe_filename(name: str, suffix: str = "") -> str:
    """A file name made from user text: ASCII letters, digits, '-' and '_' only, at most 60 of them before
    `suffix`, never empty, never starting with '-' (an option to a shell command) or '.', never a device name."""
    import re

    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", str(name)).strip("_-")[:60].rstrip("_-") or "model"
    if stem.upper() in WINDOWS_DEVICES:
        stem += "_model"
    return stem + suffix


@dataclass(frozen=True)
class TrainingParts:
    """What the training script and the notebook are made of, for one graph and dataset."""

    name: str  # the graph's name as a file name
    dataset: DatasetInfo
    data_source: str  # the dataset's loader, load_csv and load_data
    model_source: str  # build_model()
    defaults: dict[str, Any]  # Setting.name -> its value
    compile: CompileSettings

    def step(self, template: str, ref: Callable[[str], str]) -> str:
        """A step's code, each setting written as `ref(name)` (`args.epochs`, `EPOCHS`)."""
        refs = {s.name: ref(s.name) for s in SETTINGS}
        return template.format(
            **refs,
            optimizer=self.compile.optimizer_code().replace(repr(self.compile.learning_rate), refs["learning_rate"]),
            loss=self.compile.loss_code(),
            metrics=", ".join(self.compile.metrics_code()),
        )


def training_parts(graph: Graph, dataset: str | None = None, epochs: int = 10, batch_size: int = 32,
                   validation_split: float = 0.2, patience: int = 5) -> TrainingParts:
    """The pieces of `generate_script` and `builder.files.notebook.generate_notebook`.

    Args:
        dataset: A built-in dataset name; default: the graph's `training.dataset`, else iris.

    Raises:
        CodegenError: the graph has structural errors.
    """
    from builder.data.datasets import BUILTIN
    from builder.train.settings import suggest_compile

    training = graph.extra.get("training") if isinstance(graph.extra.get("training"), dict) else {}
    dataset = dataset or training.get("dataset")
    info = BUILTIN.get(dataset) if isinstance(dataset, str) else None
    if info is None:
        info = BUILTIN["iris"]
    model_source = build_model_source(graph)  # first: it refuses a graph with errors (no outputs, ...)
    settings = suggest_compile(graph, info.task, info.classes)
    defaults = {
        "epochs": int(epochs), "batch_size": int(batch_size), "learning_rate": float(settings.learning_rate),
        "validation_split": float(validation_split), "patience": int(patience), "data": None, "target": None,
        "output": safe_filename(graph.name, ".keras"), "strategy": "auto", "seed": 0,
    }
    data_source = info.source().strip() + "\n\n\n" + LOAD_DATA.format(dataset_call=info.call())
    return TrainingParts(safe_filename(graph.name), info, data_source, model_source, defaults, settings)


def generate_script(graph: Graph, dataset: str | None = None, epochs: int = 10, batch_size: int = 32,
                    validation_split: float = 0.2, patience: int = 5) -> str:
    """A full training script: data, build_model(), compile, fit, evaluate, save.

    It runs on any Keras backend: TensorFlow is imported only for a tf.distribute strategy.

    Args:
        dataset: A built-in dataset name; default: the graph's `training.dataset`, else iris.

    Raises:
        CodegenError: the graph has structural errors.
    """
    import inspect

    from builder.train.distribute import fix_keras_multi_worker

    parts = training_parts(graph, dataset, epochs, batch_size, validation_split, patience)

    def step(template: str) -> str:
        return textwrap.indent(parts.step(template, lambda name: f"args.{name}"), "    ")

    main = SCRIPT_MAIN.format(
        safe_name=parts.name,
        arguments="\n".join("    " + s.argument(parts.defaults[s.name]) for s in SETTINGS),
        load=step(LOAD_STEP), compile=step(COMPILE_STEP), fit=step(FIT_STEP), evaluate=step(EVALUATE_STEP),
        save=step(SAVE_STEP),
    )
    pieces = [SCRIPT_DOC.format(filename=parts.name + "_train.py"), SCRIPT_IMPORTS, parts.data_source, MAKE_STRATEGY,
              inspect.getsource(fix_keras_multi_worker).strip(), IS_CHIEF, parts.model_source.strip(), main]
    return fmt("\n\n\n".join(pieces) + "\n")
