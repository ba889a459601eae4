"""Every keras.applications network through LayerCanvas: import, parameter count, generated code, predictions.

For each application (`weights=None`, random weights from a fixed seed, logits out):
  1. save it as a .keras file and import it as the command line does (`import_model(path, max_bytes=None)`);
  2. build the graph: its parameter count must be Keras's, to the unit;
  3. generate its code (`builder.files.codegen.generate_code`), run it: the same config as the graph's model, the same
     parameter and layer counts (the original's layers with nested models expanded);
  4. load the original's weights into both, by layer name (the importer's weights per node), and predict one random
     image: the largest difference from the original's logits, relative to their largest magnitude.

    python scripts/check_applications.py                    # all of them, the table into scripts/README.md
    python scripts/check_applications.py ConvNeXtTiny VGG16 # some; prints the rows only

The applications run in a few child processes, one per family, so that each family's memory is given back. The
parameter limit is raised for the run (ConvNeXtXLarge has 350 million weights; LayerCanvas's default limit is 250
million), and the default limit's refusal is recorded in the notes.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "scripts", "README.md")
RUN_MAX_PARAMS = 500_000_000
DEFAULT_MAX_PARAMS = 250_000_000  # builder.model.build's default (LAYERCANVAS_MAX_PARAMS)
TOLERANCE = 1e-4  # largest difference, relative to the largest logit
BEGIN, END = "<!-- applications table: begin -->", "<!-- applications table: end -->"


@dataclass
class Row:
    """One application's results."""

    model: str
    input_shape: tuple = ()
    layers: int = 0  # the original's layers and keras.ops steps, nested models expanded (what the graph has)
    keras_params: int = 0
    imported_params: int = 0
    code_ok: bool = False  # the generated code builds the graph's model: same config, parameters and layers
    diff_import: float = math.nan  # max |logits - original|, relative to max |original|
    diff_code: float = math.nan
    file_mb: float = 0.0
    seconds: float = 0.0
    error: str = ""
    notes: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (not self.error and self.keras_params == self.imported_params and self.code_ok
                and self.diff_import <= TOLERANCE and self.diff_code <= TOLERANCE)


def flat_layers(model, keras, nested: bool = False) -> int:
    """Layers and keras.ops steps of `model` (what the graph has: the importer makes arithmetic steps layers),
    with every nested model replaced by its own (less its input layers)."""
    n = 0
    for layer in getattr(model, "operations", model.layers):
        if isinstance(layer, keras.Model):
            n += flat_layers(layer, keras, nested=True)
        elif not (nested and isinstance(layer, keras.layers.InputLayer)):
            n += 1
    return n


# Weights that start as constants, made random too (name -> numbers), so that every weight that is carried over is
# seen: BatchNormalization's moving statistics, Normalization's adapted mean and variance, biases and offsets.
PERTURB = {
    "moving_mean": lambda rng, shape: rng.normal(0.0, 0.1, shape),
    "moving_variance": lambda rng, shape: rng.uniform(0.5, 1.5, shape),
    "mean": lambda rng, shape: rng.normal(0.0, 0.1, shape),
    "variance": lambda rng, shape: rng.uniform(0.5, 1.5, shape),
    "gamma": lambda rng, shape: rng.uniform(0.8, 1.2, shape),
    "beta": lambda rng, shape: rng.normal(0.0, 0.01, shape),
    "bias": lambda rng, shape: rng.normal(0.0, 0.01, shape),
}


def perturb(model, keras, seed: int = 0) -> None:
    """Gives the weights that start as constants (see PERTURB) random values, in place."""
    rng = __import__("numpy").random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            perturb(layer, keras, seed + 1)
            continue
        for w in layer.weights:
            make = PERTURB.get(w.name)
            if make is not None and "float" in str(w.dtype) and layer.__class__.__name__ != "LayerScale":
                w.assign(make(rng, tuple(w.shape)).astype(str(w.dtype)))
        if callable(getattr(layer, "finalize_state", None)):
            layer.finalize_state()  # Normalization: the new mean and variance become its constants


def relative_diff(got, expected) -> float:
    import numpy as np

    scale = float(np.max(np.abs(expected))) or 1.0
    return float(np.max(np.abs(np.asarray(got) - np.asarray(expected)))) / scale


def check(name: str, input_shape: tuple | None = None, seed: int = 0) -> Row:
    """Runs the four steps above on `keras.applications.<name>`; `input_shape` (e.g. (32, 32, 3)) for a quick run.

    Never raises for a failing step: the row says what failed.
    """
    import numpy as np

    from builder.files.codegen import generate_code
    from builder.files.importer import ModelImportError, import_model
    from builder.kerasenv import load_keras
    from builder.model.build import apply_weights, build_model

    keras = load_keras()
    start = time.perf_counter()
    row = Row(name)
    try:
        keras.utils.set_random_seed(seed)
        kwargs = {"weights": None, "classifier_activation": None}
        if input_shape is not None:
            kwargs["input_shape"] = tuple(input_shape)
        original = getattr(keras.applications, name)(**kwargs)
        perturb(original, keras, seed)
        row.input_shape = tuple(224 if d is None else d for d in original.input_shape[1:])  # MobileNetV3: any size
        row.keras_params, row.layers = original.count_params(), flat_layers(original, keras)
        x = np.random.default_rng(seed).uniform(0, 255, (1, *row.input_shape)).astype("float32")
        expected = original.predict(x, verbose=0)
        with tempfile.TemporaryDirectory(prefix="lc-applications-") as tmp:
            path = os.path.join(tmp, f"{name}.keras")
            original.save(path)
            del original
            row.file_mb = os.path.getsize(path) / 2**20
            if row.keras_params > DEFAULT_MAX_PARAMS:
                try:  # what LayerCanvas says about it with its default limit
                    import_model(path, max_bytes=None, max_params=DEFAULT_MAX_PARAMS)
                except ModelImportError as e:
                    row.notes.append(f"with the default parameter limit: {e}")
            result = import_model(path, max_bytes=None)
        graph = result.graph
        built = build_model(graph)
        row.imported_params = built.count_params()
        apply_weights(built, result.weights)
        row.diff_import = relative_diff(built.predict(x, verbose=0), expected)
        config, n_layers = json.dumps(built.get_config(), sort_keys=True, default=str), len(built.layers)
        del built
        scope: dict = {}
        exec(compile(generate_code(graph), f"<{name} code>", "exec"), scope)
        rebuilt = scope["build_model"]()
        same = json.dumps(rebuilt.get_config(), sort_keys=True, default=str) == config
        row.code_ok = (same and rebuilt.count_params() == row.keras_params and len(rebuilt.layers) == n_layers
                       == row.layers)
        if not row.code_ok:
            row.notes.append(f"code: same config {same}, {rebuilt.count_params():,} parameters, "
                             f"{len(rebuilt.layers)} layers (graph {n_layers})")
        loaded = apply_weights(rebuilt, result.weights)
        if len(loaded) != len(result.weights):
            row.notes.append(f"code: weights loaded into {len(loaded)} of {len(result.weights)} layers")
        row.diff_code = relative_diff(rebuilt.predict(x, verbose=0), expected)
        del rebuilt, result
    except Exception as e:  # noqa: BLE001 - a row per application, whatever happens
        row.error = f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"
    finally:
        keras.backend.clear_session()
        row.seconds = time.perf_counter() - start
    return row


FAMILIES = {
    "ConvNeXt": ["ConvNeXtTiny", "ConvNeXtSmall", "ConvNeXtBase", "ConvNeXtLarge", "ConvNeXtXLarge"],
    "DenseNet": ["DenseNet121", "DenseNet169", "DenseNet201"],
    "EfficientNet": [f"EfficientNetB{i}" for i in range(8)],
    "EfficientNetV2": [f"EfficientNetV2B{i}" for i in range(4)] + ["EfficientNetV2S", "EfficientNetV2M",
                                                                   "EfficientNetV2L"],
    "Inception": ["InceptionV3", "InceptionResNetV2", "Xception"],
    "MobileNet": ["MobileNet", "MobileNetV2", "MobileNetV3Small", "MobileNetV3Large"],
    "NASNet": ["NASNetMobile", "NASNetLarge"],
    "ResNet": ["ResNet50", "ResNet101", "ResNet152", "ResNet50V2", "ResNet101V2", "ResNet152V2"],
    "VGG": ["VGG16", "VGG19"],
}


def _child(names: list[str]) -> None:
    """Runs in a child process: one JSON row per line on stdout."""
    for name in names:
        row = check(name)
        print(json.dumps(asdict(row)), flush=True)


def run(names: list[str]) -> list[Row]:
    """Checks `names` in one child process per family (in FAMILIES order), printing each row as it comes."""
    env = {**os.environ, "LAYERCANVAS_MAX_PARAMS": str(RUN_MAX_PARAMS), "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    groups = [[n for n in members if n in names] for members in FAMILIES.values()]
    groups += [[n] for n in names if not any(n in g for g in groups)]
    rows = []
    for group in (g for g in groups if g):
        proc = subprocess.run([sys.executable, __file__, "--child", *group], capture_output=True, text=True,
                              env=env, cwd=ROOT, check=False)
        got = [Row(**{**json.loads(line), "input_shape": tuple(json.loads(line)["input_shape"])})
               for line in proc.stdout.splitlines() if line.startswith("{")]
        for name in group[len(got):]:  # the child died (out of memory?) before these
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            got.append(Row(name, error=f"the check process ended with status {proc.returncode}: {tail[:200]}"))
        for row in got:
            print(line_of(row), flush=True)
        rows += got
    return rows


def line_of(row: Row) -> str:
    if row.error:
        return f"{row.model}: FAILED {row.error}"
    return (f"{row.model}: {row.layers} layers, {row.keras_params:,} / {row.imported_params:,} params, code "
            f"{'ok' if row.code_ok else 'DIFFERS'}, diff {row.diff_import:.1e} / {row.diff_code:.1e}, "
            f"{row.seconds:.0f} s")


def table(rows: list[Row]) -> str:
    head = ("| model | input | layers | Keras params | imported params | exact | code rebuilds | "
            "prediction diff (import / code) | .keras file | seconds |\n"
            "| --- | --- | ---: | ---: | ---: | --- | --- | --- | ---: | ---: |")
    lines = [head]
    for r in rows:
        if r.error:
            lines.append(f"| {r.model} | | | | | no | no | failed: {r.error.replace('|', '/')} | | {r.seconds:.0f} |")
            continue
        shape = "×".join(str(d) for d in r.input_shape)
        lines.append(
            f"| {r.model} | {shape} | {r.layers} | {r.keras_params:,} | {r.imported_params:,} | "
            f"{'yes' if r.keras_params == r.imported_params else 'NO'} | {'yes' if r.code_ok else 'NO'} | "
            f"{r.diff_import:.1e} / {r.diff_code:.1e} | {r.file_mb:.0f} MB | {r.seconds:.0f} |")
    return "\n".join(lines)


def write_readme(rows: list[Row], seconds: float) -> None:
    ok = sum(r.ok for r in rows)
    notes = [f"- {r.model}: {n}" for r in rows for n in r.notes]
    body = "\n".join([
        BEGIN,
        (f"{ok} of {len(rows)} applications pass every check (exact count, code rebuild, both differences at most "
         f"{TOLERANCE:g} of the largest logit). Whole run: {seconds / 60:.0f} minutes on this machine "
         f"({time.strftime('%Y-%m-%d')}, Keras {_keras_version()})."),
        "",
        table(rows),
        *(["", "Notes:", *notes] if notes else []),
        END,
    ])
    text = ""
    if os.path.exists(README):
        with open(README, encoding="utf-8") as f:
            text = f.read()
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + body + text[text.index(END) + len(END):]
    else:
        text = text.rstrip() + ("\n\n" if text else "") + body + "\n"
    with open(README, "w", encoding="utf-8") as f:
        f.write(text)


def _keras_version() -> str:
    from importlib.metadata import version

    return version("keras")


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        sys.path.insert(0, ROOT)
        _child(argv[1:])
        return 0
    everything = [n for members in FAMILIES.values() for n in members]
    names = argv or everything
    start = time.perf_counter()
    rows = run(names)
    if not argv:
        write_readme(rows, time.perf_counter() - start)
        print(f"table written into {os.path.relpath(README, ROOT)}")
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
