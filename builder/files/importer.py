"""Saved Keras model (`.keras` or legacy `.h5`) -> LayerCanvas graph.

The file is checked before Keras sees it: size (an upload: the upload limit,
LAYERCANVAS_MAX_UPLOAD_MB; a local file on the command line: this machine's
memory), kind (zip or HDF5), archive contents, and every layer class named in
its config, so a Lambda layer or an unknown class is refused without running
anything. It is then loaded with `keras.models.load_model(..., safe_mode=True,
compile=False)` and each Keras layer becomes one node named after it. Nested
models are expanded into their layers, and `keras.ops` arithmetic that a layer
computes the same way becomes that layer (`a + b` -> Add, `x * c` ->
Rescaling). Whatever the graph cannot express exactly is refused with one line
naming the layer; only initializer and regularizer settings the catalog does
not offer are approximated (they set starting values and training penalties,
not what the trained model computes), and each is reported in `notes`.

The graph opens with its blocks grouped and collapsed (groups change nothing
in the model): the layers of each expanded nested model form one group named
after it, and in a large model (more than `GROUP_ABOVE` layers) layers named
in the keras.applications style form one group per block: ResNet and
DenseNet `conv2_block1_1_conv` -> `conv2`, MobileNetV2 `block_1_expand` ->
`block_1`, EfficientNet `block1a_expand_conv` -> `block1a`.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import math
import os
import re
import shutil
import tempfile
import threading
import unicodedata
import zipfile
from dataclasses import dataclass, field, replace
from typing import Any

from builder.config import fmt_bytes
from builder.data.datasets import MAX_UPLOAD_BYTES, UPLOAD_SETTING
from builder.kerasenv import load_keras
from builder.model.catalog import (
    LAYERS,
    REQUIRED,
    as_tuple,
    pad2d_pairs,
    register_keras_classes,
)
from builder.model.graph import Edge, Graph, GraphError, Group, Node, valid_id

# Uploads to the server are capped (LAYERCANVAS_MAX_UPLOAD_MB); the command line reads local files of any size that
# fits in memory (import_model(..., max_bytes=None)).
MAX_BYTES = MAX_UPLOAD_BYTES
UPLOAD = "upload"  # import_model's default max_bytes: MAX_BYTES, read when it is called
SUFFIXES = (".keras", ".h5", ".hdf5")
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
MAX_CONFIG_BYTES = 64 * 1024 * 1024
# A .keras archive may unpack to at most this many times the import limit
# (weights barely compress, so a real model is far below it; a zip bomb is not).
UNPACK_FACTOR = 4
MODEL_CLASSES = ("Functional", "Sequential", "Model")
CODE_CLASSES = ("Lambda", "TFOpLambda", "SlicingOpLambda")
INPUT_LAYER = "InputLayer"
INPUT_TYPE = next(t for t, s in LAYERS.items() if s.is_input)
LAMBDA_MESSAGE = (
    "Lambda layers run arbitrary Python code, so LayerCanvas refuses them (safe mode): "
    "rebuild that step with standard layers"
)
# Layer config keys that do not change what a layer computes: the name becomes
# the node id, trainable becomes node.trainable, dtype policies are reported.
TOP_IGNORED = ("name", "trainable", "dtype")
# The same inside a wrapped layer's config, plus Keras's build bookkeeping.
NESTED_IGNORED = ("name", "trainable", "build_config", "compile_config")
# Call arguments Keras records on every call: a mask it computed itself (a
# keras.ops step) is computed again when the graph is built; training is
# accepted when it is the call's default or falsy.
_MASK_ARG = "mask"
_TRAINING_ARG = "training"
# Imported blocks become groups of at least MIN_GROUP layers; blocks named by
# layer names only in models of more than GROUP_ABOVE layers (a small model is
# easier to read open).
MIN_GROUP = 3
GROUP_ABOVE = 40
# keras.applications block names: `conv2_block1_1_conv` (ResNet, DenseNet) -> conv2;
# `block_1_expand` (MobileNetV2) -> block_1; `block1a_expand_conv` (EfficientNet, also VGG's block1_conv1) -> block1a.
_BLOCK_NAMES = (re.compile(r"^([A-Za-z][A-Za-z0-9]*?)_block\d"), re.compile(r"^(block_?\d+[a-z]?)_"))
# NASNet names its layers after the cell they are in: `normal_conv_1_5`, `adjust_bn_stem_2`,
# `reduction_concat_reduce_4`, `separable_conv_1_bn_normal_left1_5` -> cell 5, stem_2, reduce_4.
_NASNET_CELL = re.compile(r"^(?:normal|reduction|adjust|separable_conv)_\w*?_((?:stem|reduce)_\d+|\d+)$")


class ModelImportError(GraphError):
    """A model file that LayerCanvas cannot import; the message says why in one line."""


@dataclass
class ImportResult:
    """What `import_model` read.

    Args:
        graph: The model as a graph (no layout, no compile or training settings),
            its blocks and nested models in collapsed groups.
        weights: node id -> the trained weights of that layer (numpy arrays, in
            `layer.get_weights()` order); layers without weights are absent.
        renamed: Keras layer name -> node id, for every name that was not a
            valid, unique node id. Layers of an expanded nested model whose
            name is not unique are keyed `model_name/layer_name`.
        notes: One line per approximation or expansion.
    """

    graph: Graph
    weights: dict = field(default_factory=dict)
    renamed: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------
def _q(text: Any, limit: int = 60) -> str:
    """A user-supplied name, quoted on one line with control characters escaped."""
    s = json.dumps(str(text), ensure_ascii=False)[1:-1]
    s = "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in s)
    if len(s) > limit:
        s = s[: limit - 3] + "..."
    return f"'{s}'"


def _plain(text: Any) -> str:
    """A class name from a file, on one line and without quotes."""
    return _q(text)[1:-1]


def _show(v: Any, limit: int = 60) -> str:
    text = repr(v)
    text = "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _json(v: Any) -> Any:
    """Config values as plain JSON types: tuples to lists, numpy scalars to Python."""
    if isinstance(v, dict):
        return {str(k): _json(i) for k, i in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json(i) for i in v]
    if hasattr(v, "item") and hasattr(v, "dtype") and getattr(v, "shape", None) == ():
        return v.item()
    return v


def _one_line(text: str, limit: int = 240) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(text))
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    out = " ".join(lines[:2]) if lines else ""
    out = "".join(ch if ch.isprintable() else " " for ch in out)
    return out if len(out) <= limit else out[: limit - 3] + "..."


def _sanitize(name: str) -> str:
    """A valid node id made from any text: `block_1/conv` -> `block_1_conv`."""
    chars = []
    for ch in unicodedata.normalize("NFKD", str(name)):
        if unicodedata.combining(ch):
            continue  # accents: é -> e
        chars.append(ch if ch.isascii() and (ch.isalnum() or ch == "_") else "_")
    s = re.sub("_{2,}", "_", "".join(chars)).rstrip("_")
    if not str(name).startswith("_"):
        s = s.lstrip("_")  # underscores that stand for dropped characters
    if not s:
        s = "layer"
    if s[0].isdigit():
        s = "n_" + s
    return s[:64]


def unique_ids(names: list[str]) -> list[str]:
    """Valid, unique node ids for Keras layer names, in the same order.

    Valid names are kept (the first of duplicates keeps its name); every other
    name is sanitized (invalid characters -> `_`, accents dropped, `n_` before
    a leading digit, at most 64 characters) and given `_1`, `_2`, ... while it
    collides. The mapping depends only on the list, so it is stable.
    """
    ids: list[str | None] = [None] * len(names)
    taken: set[str] = set()
    for i, name in enumerate(names):
        if valid_id(name) and name not in taken:
            ids[i] = name
            taken.add(name)
    for i, name in enumerate(names):
        if ids[i] is not None:
            continue
        base = _sanitize(name)
        candidate, n = base, 0
        while candidate in taken:
            n += 1
            suffix = f"_{n}"
            candidate = base[: 64 - len(suffix)] + suffix
        ids[i] = candidate
        taken.add(candidate)
    return ids  # type: ignore[return-value]


# ---------------------------------------------------------------------------
# The file: checks before Keras sees it
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _SizeLimit:
    """How large a model file may be, and how a refusal says so (after "'m.keras' is 300 MB: ")."""

    file_bytes: int
    unpacked_bytes: int
    refusal: str
    unpacked_refusal: str


def _size_limit(max_bytes: int | None) -> _SizeLimit:
    """The upload limit (`max_bytes`, set by LAYERCANVAS_MAX_UPLOAD_MB), or with None this machine's memory."""
    if max_bytes is not None:
        setting = f"set {UPLOAD_SETTING} to allow more"
        return _SizeLimit(
            max_bytes, UNPACK_FACTOR * max_bytes,
            f"the limit for uploaded models is {fmt_bytes(max_bytes)}: {setting}, or import the file with "
            f"'python -m builder import', which reads local files of any size",
            f"far more than its size, so LayerCanvas refuses it (an uploaded model may unpack to at most "
            f"{fmt_bytes(UNPACK_FACTOR * max_bytes)}: {setting})")
    memory = _memory_bytes()
    whole = f"more than this machine's memory ({fmt_bytes(memory)}), and LayerCanvas reads a model whole"
    return _SizeLimit(memory, memory, whole, whole)


def _memory_bytes() -> int:
    """This machine's physical memory; where the system cannot say, no limit of ours."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows), or no such name
        return 2**62


@dataclass
class _Source:
    label: str  # how messages name the file
    kind: str  # "zip" or "hdf5"
    size: int
    path: str | None = None
    data: bytes | None = None

    def local_path(self, tmp: str) -> str:
        """A path Keras can load: the file itself, or a copy with the right suffix."""
        suffixes = (".keras",) if self.kind == "zip" else (".h5", ".hdf5")
        if self.path is not None and self.path.lower().endswith(suffixes):
            return self.path
        target = os.path.join(tmp, "model" + suffixes[0])
        if self.path is not None:
            shutil.copyfile(self.path, target)
        else:
            with open(target, "wb") as f:
                f.write(self.data or b"")
        return target


def _open_source(src: Any, filename: str | None, limit: _SizeLimit) -> _Source:
    path = data = None
    partial = False  # only the first limit.file_bytes + 1 bytes were read
    if isinstance(src, (bytes, bytearray, memoryview)):
        data = bytes(src)
    elif hasattr(src, "read"):  # an open binary file or a Streamlit UploadedFile
        filename = filename or getattr(src, "name", None)
        data = src.read(limit.file_bytes + 1)
        if isinstance(data, str):
            raise ModelImportError("the model file was opened as text: open it in binary mode ('rb')")
        data = bytes(data or b"")
        partial = len(data) > limit.file_bytes
    else:
        try:
            path = os.fspath(src)
        except TypeError:
            raise ModelImportError(f"expected a file path or the file's bytes, got {type(src).__name__}") from None
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        filename = filename or os.path.basename(path)
    name = os.path.basename(str(filename)) if filename else None
    label = _q(name) if name else "the file"
    if name is not None:
        lower = name.lower()
        if lower.endswith(".weights.h5"):
            raise ModelImportError(
                f"{label} is a weights file: it holds no model architecture. Save the whole model "
                f"with model.save('model.keras') and import that")
        if not lower.endswith(SUFFIXES):
            raise ModelImportError(f"{label} is not a Keras model file: expected a name ending in .keras or .h5")
    if path is not None:
        if not os.path.isfile(path):
            raise ModelImportError(f"cannot read {label}: there is no such file")
        size = os.path.getsize(path)
    else:
        size = len(data)  # type: ignore[arg-type]
    if size > limit.file_bytes:
        more = "more than " if partial else ""
        raise ModelImportError(f"{label} is {more}{fmt_bytes(size)}: {limit.refusal}")
    if size == 0:
        raise ModelImportError(f"{label} is empty (0 bytes): it is not a saved Keras model")
    if path is not None:
        try:
            with open(path, "rb") as f:
                head = f.read(8)
        except OSError as e:
            raise ModelImportError(f"cannot read {label}: {e.strerror}") from None
    else:
        head = data[:8]  # type: ignore[index]
    if head.startswith(ZIP_MAGIC):
        kind = "zip"
    elif head.startswith(HDF5_MAGIC):
        kind = "hdf5"
    else:
        raise ModelImportError(
            f"{label} is not a Keras model: it is neither a .keras archive (zip) nor an HDF5 (.h5) file")
    return _Source(label, kind, size, path, data)


def _read_config(path: str, src: _Source, limit: _SizeLimit) -> dict:
    """The model config stored in the file, read without Keras."""
    if src.kind == "zip":
        damaged = (f"{src.label} is truncated or damaged: it starts like a .keras archive (zip) but cannot "
                   f"be read. Save or download it again")
        try:
            with zipfile.ZipFile(path) as zf:
                infos = zf.infolist()
                names = {i.filename for i in infos}
                if "config.json" not in names:
                    raise ModelImportError(
                        f"{src.label} is a zip archive but not a Keras model: it has no config.json "
                        f"(a .keras file holds config.json and model.weights.h5)")
                unpacked = sum(i.file_size for i in infos)
                if unpacked > limit.unpacked_bytes:
                    raise ModelImportError(f"{src.label} unpacks to {fmt_bytes(unpacked)}: {limit.unpacked_refusal}")
                if zf.getinfo("config.json").file_size > MAX_CONFIG_BYTES:
                    raise ModelImportError(f"{src.label}: its config.json is larger than {fmt_bytes(MAX_CONFIG_BYTES)}")
                raw = zf.read("config.json")
                if "model.weights.h5" not in names:
                    raise ModelImportError(
                        f"{src.label} is not a complete Keras model: the archive has no model.weights.h5")
        except ModelImportError:
            raise
        except Exception:  # noqa: BLE001 - BadZipFile, zlib.error, EOFError, OSError: all mean damaged
            raise ModelImportError(damaged) from None
        try:
            config = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise ModelImportError(f"{src.label} is a zip archive but not a Keras model: its config.json is not valid JSON") from None
    else:
        try:
            import h5py

            with h5py.File(path, "r") as f:
                raw = f.attrs.get("model_config")
                has_weights = len(f.keys()) > 0 or "layer_names" in f.attrs  # Keras 3 or legacy weights
        except Exception:  # noqa: BLE001 - h5py raises OSError and others for damaged files
            raise ModelImportError(
                f"{src.label} is truncated or damaged: it starts like an HDF5 (.h5) file but cannot be read. "
                f"Save or download it again") from None
        if raw is None:
            what = "weights only" if has_weights else "no Keras model"
            raise ModelImportError(
                f"{src.label} holds {what}, no model architecture: save the whole model with "
                f"model.save('model.keras') and import that")
        try:
            config = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else str(raw))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise ModelImportError(f"{src.label}: its model config is not valid JSON: the file is damaged") from None
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict) or "class_name" not in config:
        raise ModelImportError(f"{src.label} is not a Keras model: its config describes no model")
    return config


def _entry_name(entry: dict) -> str:
    cfg = entry.get("config") if isinstance(entry.get("config"), dict) else {}
    return str(cfg.get("name", entry.get("name", "?")))


def _is_op(entry: dict) -> bool:
    """A keras.ops operation recorded in a Functional model (e.g. the mask of mask_zero)."""
    return str(entry.get("module") or "").startswith("keras.src.ops.")


def _find_code(value: Any) -> str | None:
    """The name of any Lambda-like layer anywhere in a config, or None."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            if v.get("class_name") in CODE_CLASSES:
                return _entry_name(v)
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return None


def _prescan(config: dict) -> None:
    """Refuses code-running, custom and unsupported layers before Keras loads anything."""
    code = _find_code(config)
    if code is not None:
        raise ModelImportError(f"layer {_q(code)} is a Lambda layer. {LAMBDA_MESSAGE}")
    cls = config.get("class_name")
    if cls not in MODEL_CLASSES:
        raise ModelImportError(
            f"the file holds a {_q(cls)} model (a custom Model class): LayerCanvas imports Functional "
            f"and Sequential models only")
    stack = [config]
    while stack:
        model = stack.pop()
        if not isinstance(model.get("config"), dict):
            raise ModelImportError(f"the model config is damaged: the nested model {_q(_entry_name(model))} has no config")
        layers = model["config"].get("layers", [])
        if not isinstance(layers, list):
            raise ModelImportError("the model config is damaged: its layer list is not a list")
        for entry in layers:
            if not isinstance(entry, dict):
                raise ModelImportError("the model config is damaged: a layer entry is not an object")
            cls = entry.get("class_name")
            if cls in MODEL_CLASSES:
                stack.append(entry)
            elif cls == INPUT_LAYER or _is_op(entry):
                continue
            else:
                _check_layer_class(entry, what="is")
                custom = _custom_object(entry.get("config"))
                if custom is not None:
                    raise ModelImportError(
                        f"layer {_q(_entry_name(entry))} uses a custom {custom}, which LayerCanvas cannot import: "
                        f"only standard Keras layers, activations, initializers and regularizers can be imported")


def _custom_object(value: Any) -> str | None:
    """`function ('my_act')` for the first non-Keras object serialized in a layer config, or None."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, dict):
            cls, module, registered = v.get("class_name"), v.get("module"), v.get("registered_name")
            if cls is not None and ("module" in v or "registered_name" in v) and (
                    (module is not None and not str(module).startswith("keras"))
                    or (registered is not None and registered != cls)):
                inner = v.get("config")
                what = inner if isinstance(inner, str) else (registered or cls)
                return f"{_plain(cls)} ({_q(what)})"
            stack.extend(v.values())
    return None


def _check_layer_class(entry: dict, what: str, owner: str | None = None) -> None:
    cls = entry.get("class_name")
    name = owner or _entry_name(entry)
    module = entry.get("module")
    registered = entry.get("registered_name")
    custom = (module is not None and not str(module).startswith("keras")) or (
        registered is not None and registered != cls) or (module is None and registered is not None) or (
        ">" in str(cls))  # legacy .h5 files name registered classes `package>Class`
    if custom:
        raise ModelImportError(
            f"layer {_q(name)} {what} a custom layer class ({_q(cls)}), which LayerCanvas cannot import: "
            f"only standard Keras layers can be imported")
    spec = LAYERS.get(cls) if isinstance(cls, str) else None
    if spec is None or spec.is_input:
        raise ModelImportError(f"layer {_q(name)} {what} a {_plain(cls)}, which LayerCanvas does not support yet")
    cfg = entry.get("config") if isinstance(entry.get("config"), dict) else {}
    for ps in spec.params:
        if ps.kind == "layer" and isinstance(cfg.get(ps.name), dict):
            _check_layer_class(cfg[ps.name], what="wraps", owner=name)


def _translate(exc: BaseException, label: str) -> ModelImportError:
    """One clear line for anything `load_model` raised."""
    full = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    low = full.lower()
    # Keras nests its errors ("... Exception encountered: ..."): the last one is the cause.
    text = _one_line(full.split("Exception encountered:")[-1])
    if "lambda" in low and ("unsafe" in low or "safe_mode" in low):
        return ModelImportError(f"{label} has a Lambda layer. {LAMBDA_MESSAGE}")
    m = re.search(r"(?:locate|unknown) (?:class|function|object|layer|activation|initializer|regularizer)[^']*'([^']+)'", full, re.IGNORECASE)
    if m or "custom_objects" in low or "register_keras_serializable" in low:
        what = f" ({_q(m.group(1))})" if m else ""
        return ModelImportError(
            f"{label} uses a custom object{what} that is not part of Keras: LayerCanvas imports only "
            f"standard layers, activations, initializers and regularizers")
    if isinstance(exc, (OSError, EOFError, zipfile.BadZipFile)) or "truncated" in low or "unable to" in low:
        return ModelImportError(f"{label} is truncated or damaged: Keras cannot read it ({text})")
    if isinstance(exc, _PYTHON_ERRORS):  # Keras tripped over a value of the wrong kind: its words mean nothing here
        return ModelImportError(
            f"{label} is damaged: its model config holds a value of the wrong kind where Keras expects another, "
            f"so it cannot be loaded. Save the model again")
    return ModelImportError(f"Keras could not load {label}: {text or type(exc).__name__}")


# What Keras raises when a damaged config has, say, a list where it expects a name ("unhashable type: 'list'").
_PYTHON_ERRORS = (TypeError, AttributeError, LookupError, AssertionError, RecursionError, NameError)


def _load(path: str, label: str, max_params: int):
    from builder.model.build import PARAMS_SETTING

    keras = load_keras()
    register_keras_classes()  # a legacy .h5 names ConvNeXt's LayerScale by its class name alone
    n = _count_weights(keras, path, label)
    if n > max_params:
        raise ModelImportError(
            f"{label} describes a model with {n:,} parameters (about {fmt_bytes(4 * n)} of weights); the limit is "
            f"{max_params:,} parameters: set {PARAMS_SETTING} to allow more, or import a smaller model")
    try:
        return keras.models.load_model(path, safe_mode=True, compile=False)
    except Exception as e:  # noqa: BLE001 - every Keras/h5py failure becomes one line
        raise _translate(e, label) from None


def _count_weights(keras, path: str, label: str) -> int:
    """How many weights the file's model has, counted before any of them takes memory.

    A 20 kB file can declare `Dense(10**9)`: loading it allocates gigabytes before Keras finds that the stored
    weights do not fit. So the model is first loaded inside a `StatelessScope`, where Keras gives variables their
    shapes but not their values. That load runs in a thread of its own: Keras keeps such variables in thread-local
    state, to create their values when the next scope ends, and these must never get them.

    Raises:
        ModelImportError: the file cannot be loaded (translated from Keras's error).
    """
    out: dict = {}

    def probe():
        try:
            with keras.StatelessScope(initialize_variables=False):
                model = keras.models.load_model(path, safe_mode=True, compile=False)
            out["count"] = sum(math.prod(w.shape) for w in model.weights)
        except Exception as e:  # noqa: BLE001 - translated below, in the caller's thread
            out["error"] = e

    worker = threading.Thread(target=probe, name="layercanvas-import-probe", daemon=True)
    worker.start()
    worker.join()
    if "error" in out:
        raise _translate(out["error"], label) from None
    return out.get("count", 0)


# ---------------------------------------------------------------------------
# The model: layers -> nodes
# ---------------------------------------------------------------------------
@dataclass
class _Raw:
    key: int
    name: str  # the Keras layer name
    path: str  # `outer/inner` inside expanded models
    type: str
    params: dict
    trainable: bool
    inputs: list  # source keys, in port order
    weights: list
    nest: int | None = None  # index of the outermost expanded nested model it comes from


# keras.ops arithmetic imported as layers: the op's class -> the merge layer for two tensors of one shape (a tensor
# and a number become Rescaling; see _Walker._op). MobileNetV3 writes hard sigmoid as ReLU(6)(x + 3) * (1 / 6),
# ConvNeXt its residual connections as inputs + x.
_OPS_MODULE = "keras.src.ops.numpy"
_OP_LAYERS = {"Add": "Add", "Subtract": "Subtract", "Multiply": "Multiply"}


@dataclass(frozen=True)
class _Op:
    name: str
    cls: str


def _is_tensor(v: Any) -> bool:
    return isinstance(v, dict) and v.get("class_name") == "__keras_tensor__"


def _tensors(v: Any) -> list:
    """Tensor references in a call argument, in order (lists and dicts flattened)."""
    if _is_tensor(v):
        return [v]
    if isinstance(v, (list, tuple)):
        return [t for i in v for t in _tensors(i)]
    if isinstance(v, dict):
        return [t for i in v.values() for t in _tensors(i)]
    return []


def _refs(structure: Any) -> list[tuple[str, int, int]]:
    """[name, node_index, tensor_index] references in `input_layers`/`output_layers`."""
    if isinstance(structure, (list, tuple)) and len(structure) == 3 and isinstance(structure[0], str) \
            and all(isinstance(i, int) for i in structure[1:]):
        return [(structure[0], structure[1], structure[2])]
    if isinstance(structure, dict):
        return [r for v in structure.values() for r in _refs(v)]
    if isinstance(structure, (list, tuple)):
        return [r for v in structure for r in _refs(v)]
    return []


def _history(t: dict) -> tuple[str, int, int]:
    h = t.get("config", {}).get("keras_history")
    if not (isinstance(h, (list, tuple)) and len(h) == 3):
        raise ModelImportError("the model config is damaged: a tensor has no keras_history")
    return str(h[0]), int(h[1]), int(h[2])


def _same(ps, a: Any, b: Any) -> bool:
    """Whether two JSON values of a param mean the same (3 == [3] for 1-D sizes...)."""
    if a is REQUIRED or b is REQUIRED:
        return False
    try:
        if a is not None and b is not None:
            if ps.kind == "ints":
                return list(as_tuple(a, ps.length)) == list(as_tuple(b, ps.length))
            if ps.kind == "axes":
                return _json([a] if isinstance(a, int) else a) == _json([b] if isinstance(b, int) else b)
            if ps.kind == "pad2d":
                return _json(pad2d_pairs(a)) == _json(pad2d_pairs(b))
        return _json(a) == _json(b)
    except (TypeError, ValueError, IndexError):
        return False


def _simplest_pad(v: Any) -> Any:
    """((1, 1), (2, 2)) -> [1, 2]; ((1, 1), (1, 1)) -> 1; asymmetric pairs stay pairs."""
    try:
        (t, b), (left, r) = pad2d_pairs(v)
    except (TypeError, ValueError):
        return v
    if t == b and left == r:
        return t if t == left else [t, left]
    return [[t, b], [left, r]]


def _strip(v: Any, keys: set) -> Any:
    if isinstance(v, dict):
        return {k: _strip(i, keys) for k, i in v.items() if k not in keys}
    if isinstance(v, list):
        return [_strip(i, keys) for i in v]
    return v


def _first_diff(a: Any, b: Any, path: str = "") -> tuple[str, Any, Any] | None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if k not in a or k not in b or a[k] != b[k]:
                sub = k if k == "config" else (f"{path}.{k}" if path else k)
                if k in a and k in b:
                    return _first_diff(a[k], b[k], path if k == "config" else sub)
                return sub, a.get(k), b.get(k)
        return None
    return None if a == b else (path, a, b)


def _config_diff(orig: dict, ref: dict, approx: set) -> tuple[str, Any, Any] | None:
    """The first config key where a rebuilt layer differs from the original."""
    top_skip = set(TOP_IGNORED) | approx
    nested_skip = set(NESTED_IGNORED) | approx
    a = {k: _strip(v, nested_skip) for k, v in orig.items() if k not in top_skip}
    b = {k: _strip(v, nested_skip) for k, v in ref.items() if k not in top_skip}
    return _first_diff(a, b)


class _Walker:
    """Turns a loaded Keras model into raw nodes (before ids are chosen)."""

    def __init__(self, keras):
        self.keras = keras
        self.raws: list[_Raw] = []
        self.notes: list[str] = []
        self.input_keys: list[int] = []
        self._init_names: dict[tuple, dict] = {}
        # Layers with the same settings settle the same way (ResNet50 has 53
        # identical BatchNormalization configs): settling builds Keras layers.
        self._settled: dict[str, dict | str] = {}
        self.nests: list[str] = []  # names of the outermost expanded nested models
        self.op_layers: dict[tuple[str, str], int] = {}  # (keras.ops class, catalog type) -> steps made so
        self._nest: int | None = None

    # -- models -----------------------------------------------------------
    def model(self, model, feeds: list | None, prefix: str, trainable: bool) -> list[int]:
        """Walks a (possibly nested) model; returns its output keys in order."""
        trainable = trainable and bool(model.trainable)
        if isinstance(model, self.keras.Sequential):
            return self._sequential(model, feeds, prefix, trainable)
        try:
            cfg = model.get_config()
        except Exception as e:  # noqa: BLE001
            raise ModelImportError(f"model {_q(model.name)} cannot describe itself ({_one_line(e)})") from None
        if not isinstance(cfg, dict) or "input_layers" not in cfg or not isinstance(cfg.get("layers"), list):
            raise ModelImportError(
                f"model {_q(model.name)} is a {type(model).__name__} (a custom Model class): LayerCanvas "
                f"imports Functional and Sequential models only")
        return self._functional(model, cfg, feeds, prefix, trainable)

    def _functional(self, model, cfg: dict, feeds, prefix: str, trainable: bool) -> list[int]:
        ops = {op.name: op for op in getattr(model, "operations", model.layers)}
        in_refs, out_refs = _refs(cfg.get("input_layers")), _refs(cfg.get("output_layers"))
        in_names = [r[0] for r in in_refs]
        if feeds is not None and len(feeds) != len(in_refs):
            raise ModelImportError(
                f"model {_q(model.name)} takes {len(in_refs)} inputs but is called with {len(feeds)}")
        produced: dict[str, Any] = {}
        pending = list(cfg["layers"])
        while pending:
            waiting = []
            for entry in pending:
                refs = [_history(t)[0] for n in entry.get("inbound_nodes") or [] for t in _tensors(n)]
                if all(r in produced for r in refs):
                    self._entry(entry, ops, produced, in_names, feeds, prefix, trainable)
                else:
                    waiting.append(entry)
            if len(waiting) == len(pending):
                raise ModelImportError(
                    f"model {_q(model.name)} is damaged: layer {_q(_entry_name(waiting[0]))} takes an input "
                    f"that no layer produces")
            pending = waiting
        if feeds is None:
            self.input_keys = [self._resolve(produced, r, "the model's input") for r in in_refs]
        return [self._resolve(produced, r, "the model's output") for r in out_refs]

    def _sequential(self, model, feeds, prefix: str, trainable: bool) -> list[int]:
        entries = model.get_config().get("layers", [])
        objs = list(model.layers)
        first = entries[0] if entries and entries[0].get("class_name") == INPUT_LAYER else None
        rest = entries[1:] if first is not None else entries
        if len(rest) != len(objs):
            raise ModelImportError(f"Sequential model {_q(model.name)} is damaged: its config and layers differ")
        if feeds is None:
            if first is None:
                raise ModelImportError(
                    f"Sequential model {_q(model.name)} has no input shape (it was saved before being built): "
                    f"start it with keras.Input(shape=...) and save it again")
            feeds = [self._input(first.get("config", {}), prefix)]
            self.input_keys = list(feeds)
        current = list(feeds)
        for _entry, obj in zip(rest, objs, strict=False):
            if isinstance(obj, self.keras.Model):
                current = self._nested(obj, current, prefix, trainable)
                continue
            if len(current) != 1:
                raise ModelImportError(f"layer {_q(obj.name)} of Sequential model {_q(model.name)} gets {len(current)} inputs")
            current = [self._layer(obj, current, prefix, trainable)]
        return current

    def _nested(self, obj, sources: list, prefix: str, trainable: bool) -> list[int]:
        before = len(self.raws)
        outer = self._nest is None
        if outer:  # a model nested deeper belongs to the outermost one's group
            self._nest = len(self.nests)
            self.nests.append(str(obj.name))
        try:
            outs = self.model(obj, sources, f"{prefix}{obj.name}/", trainable)
        finally:
            if outer:
                self._nest = None
        self.notes.append(f"nested model {_q(obj.name)} was expanded into its {len(self.raws) - before} layers")
        return outs

    def _entry(self, entry: dict, ops: dict, produced: dict, in_names: list, feeds, prefix: str, trainable: bool) -> None:
        name = str(entry.get("name", _entry_name(entry)))
        obj = ops.get(name)
        if obj is None:
            raise ModelImportError(f"the model config is damaged: it names a layer {_q(name)} the model does not have")
        calls = entry.get("inbound_nodes") or []
        if isinstance(obj, self.keras.layers.InputLayer):
            if feeds is None:
                produced[name] = [self._input(entry.get("config", {}), prefix)]
            elif name in in_names:
                produced[name] = [feeds[in_names.index(name)]]
            else:
                raise ModelImportError(f"the model config is damaged: input {_q(name)} is not among the model's inputs")
            return
        if not isinstance(obj, self.keras.layers.Layer):
            produced[name] = self._op(obj, name, calls, produced, prefix)
            return
        if len(calls) != 1:
            raise ModelImportError(
                f"layer {_q(name)} is used {len(calls)} times (shared weights), which LayerCanvas does not "
                f"support: each node is one layer call")
        call = calls[0]
        if isinstance(obj, self.keras.Model):
            sources = [self._resolve(produced, _history(t), f"model {_q(name)}") for t in _tensors(call.get("args", []))]
            self._check_call_extras(obj, call, (), produced)
            produced[name] = self._nested(obj, sources, prefix, trainable)
            return
        spec = LAYERS.get(type(obj).__name__)
        sources = self._call_inputs(obj, spec, call, produced) if spec is not None else []
        produced[name] = [self._layer(obj, sources, prefix, trainable)]

    def _op(self, obj, name: str, calls: list, produced: dict, prefix: str):
        """A keras.ops step: arithmetic that a catalog layer computes the same way becomes that layer (see
        `_OP_LAYERS`: `a + b` of two tensors of one shape is Add; `x + 3.0`, `x * (1 / 6)`, `x - c` and `c - x`
        on float32 are Rescaling, whose `x * scale + offset` gives the same numbers); any other step stays an
        `_Op`, refused if a layer reads it."""
        cls = type(obj).__name__
        merge = _OP_LAYERS.get(cls) if type(obj).__module__ == _OPS_MODULE else None
        args = calls[0].get("args") if len(calls) == 1 and not calls[0].get("kwargs") else None
        if merge is None or not isinstance(args, (list, tuple)) or len(args) != 2:
            return _Op(name, cls)
        tensors = [a for a in args if _is_tensor(a)]
        numbers = [a for a in args if isinstance(a, (int, float)) and not isinstance(a, bool) and math.isfinite(a)]
        where = f"operation {_q(name)}"
        if len(tensors) == 2 and _json(tensors[0]["config"].get("shape")) == _json(tensors[1]["config"].get("shape")):
            type_, params = merge, {}
        elif len(tensors) == 1 and len(numbers) == 1 and tensors[0]["config"].get("dtype") == "float32":
            c, tensor_first = float(numbers[0]), _is_tensor(args[0])
            scale, offset = {"Add": (1.0, c), "Multiply": (c, 0.0),
                             "Subtract": (1.0, -c) if tensor_first else (-1.0, c)}[cls]
            type_, params = "Rescaling", {"scale": scale, **({"offset": offset} if offset else {})}
        else:
            return _Op(name, cls)
        sources = [self._resolve(produced, _history(t), where) for t in tensors]
        self.op_layers[(cls, type_)] = self.op_layers.get((cls, type_), 0) + 1
        return [self._add(name, prefix, type_, params, True, sources, [])]

    # -- calls ------------------------------------------------------------
    def _resolve(self, produced: dict, ref: tuple, where: str) -> int:
        """The node key of a tensor reference [layer name, call index, output index]."""
        src, node_index, tensor_index = ref
        p = produced.get(src)
        if p is None:
            raise ModelImportError(f"the model config is damaged: {where} reads {_q(src)}, which no layer produces")
        if isinstance(p, _Op):
            raise ModelImportError(
                f"{where} reads {_q(src)}, a keras.ops {_plain(p.cls)} operation (not a layer), which LayerCanvas "
                f"does not support yet: use a layer such as Add or Multiply instead")
        if node_index != 0:
            raise ModelImportError(
                f"{where} reads call #{node_index + 1} of {_q(src)}: a layer used more than once (shared weights) "
                f"is not supported")
        if tensor_index >= len(p):
            raise ModelImportError(
                f"{where} reads output #{tensor_index} of {_q(src)}, a layer with several outputs, which "
                f"LayerCanvas does not support")
        return p[tensor_index]

    def _call_inputs(self, obj, spec, call: dict, produced: dict) -> list[int]:
        """Source keys of one layer call, in port order."""
        args, kwargs = list(call.get("args", [])), dict(call.get("kwargs", {}))
        label = _q(obj.name)
        try:
            sig = inspect.signature(obj.call)
            bound = sig.bind(*args, **kwargs).arguments
        except (TypeError, ValueError):
            raise ModelImportError(f"layer {label} is called in a way LayerCanvas cannot read") from None
        names = [p for p in sig.parameters if sig.parameters[p].kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)]
        # Data inputs: the first parameter, or (positional call style, e.g.
        # query, value, key) as many leading parameters as the layer takes.
        n_data = spec.arity[1] if spec.call_style == "positional" and spec.arity[1] else 1
        data = tuple(names[:n_data])
        tensors = [t for p in data if p in bound for t in _tensors(bound[p])]
        self._check_call_extras(obj, call, data, produced, sig=sig, bound=bound)
        return [self._resolve(produced, _history(t), f"layer {label}") for t in tensors]

    def _check_call_extras(self, obj, call: dict, data: tuple, produced: dict, sig=None, bound=None) -> None:
        """Refuses call arguments that would change the computation (training=True, attention masks...)."""
        label = _q(obj.name)
        if bound is None:
            bound = dict(call.get("kwargs", {}))
        params = sig.parameters if sig is not None else {}
        for pname, value in bound.items():
            if pname in data:
                continue
            p = params.get(pname)
            items = value.items() if p is not None and p.kind == inspect.Parameter.VAR_KEYWORD else [(pname, value)]
            for key, v in items:
                if key == _MASK_ARG and all(isinstance(produced.get(_history(t)[0]), _Op) for t in _tensors(v)):
                    # Masks Keras computed itself (keras.ops steps, e.g. for Embedding
                    # mask_zero) are computed again when the graph is built.
                    continue
                if _tensors(v):
                    raise ModelImportError(
                        f"layer {label} gets a tensor as {_q(key)}, which LayerCanvas does not support")
                q = params.get(key)
                default = q.default if q is not None and q.default is not inspect.Parameter.empty else None
                if key == _TRAINING_ARG:
                    # Keras records the training flag of every symbolic call (True by
                    # default for augmentation layers); only a forced True is refused.
                    if v and v != default:
                        raise ModelImportError(
                            f"layer {label} is called with training=True (always in training mode), which "
                            f"LayerCanvas does not support")
                    continue
                if _json(v) != _json(default):
                    raise ModelImportError(
                        f"layer {label} is called with {key}={_show(v)}, which LayerCanvas does not support")

    # -- one layer --------------------------------------------------------
    def _input(self, cfg: dict, prefix: str) -> int:
        name = str(cfg.get("name", "input"))
        label = _q(name)
        for flag in ("sparse", "ragged", "optional"):
            if cfg.get(flag):
                raise ModelImportError(f"input {label} is {flag}, which LayerCanvas does not support")
        batch_shape = cfg.get("batch_shape", cfg.get("batch_input_shape"))
        if not isinstance(batch_shape, (list, tuple)) or len(batch_shape) < 2:
            raise ModelImportError(
                f"input {label} has shape {_show(batch_shape)}: LayerCanvas needs at least one axis after the batch axis")
        if batch_shape[0] is not None:
            self.notes.append(f"input {label} had a fixed batch size of {batch_shape[0]}; the imported model takes any batch size")
        params: dict = {"shape": _json(list(batch_shape[1:]))}
        dtype = cfg.get("dtype", "float32")
        if isinstance(dtype, dict):
            dtype = dtype.get("config", {}).get("name", "float32")
        if dtype != "float32":
            params["dtype"] = dtype
        spec = LAYERS[INPUT_TYPE]
        for key, value in params.items():
            problem = spec.param(key).problem(value)
            if problem:
                raise ModelImportError(f"input {label}: {key} {problem}")
        key = self._add(name, prefix, INPUT_TYPE, params, True, [], [])
        return key

    def _layer(self, obj, sources: list, prefix: str, trainable: bool) -> int:
        cls = type(obj).__name__
        label = _q(obj.name)
        spec = LAYERS.get(cls)
        if spec is None or spec.is_input or spec.keras_class() is not type(obj):
            if spec is not None and not spec.is_input:
                raise ModelImportError(
                    f"layer {label} is a custom layer class ({_q(cls)}), which LayerCanvas cannot import: "
                    f"only standard Keras layers can be imported")
            raise ModelImportError(f"layer {label} is a {cls}, which LayerCanvas does not support yet")
        lo, hi = spec.arity
        if len(sources) < lo or (hi is not None and len(sources) > hi):
            raise ModelImportError(f"layer {label} ({cls}) gets {len(sources)} inputs, which LayerCanvas cannot represent")
        cfg = _json(obj.get_config())
        approx: set = set()
        params = self._params(spec, cfg, label, approx)
        params = self._settle(obj, spec, cfg, params, approx, label)
        policy = cfg.get("dtype")
        if isinstance(policy, dict):
            policy = policy.get("config", {}).get("name")
        if policy not in (None, "float32"):
            self.notes.append(f"layer {label} computed in {_show(policy)}; LayerCanvas builds it in float32")
        weights = [w for w in obj.get_weights()]
        return self._add(obj.name, prefix, cls, params, trainable and bool(obj.trainable), sources, weights)

    def _add(self, name, prefix, type_, params, trainable, inputs, weights) -> int:
        key = len(self.raws)
        self.raws.append(_Raw(key, str(name), f"{prefix}{name}", type_, params, trainable, list(inputs), weights,
                              self._nest))
        return key

    # -- params -----------------------------------------------------------
    def _params(self, spec, cfg: dict, label: str, approx: set) -> dict:
        """The catalog params of one layer config, defaults left out."""
        params = {}
        for ps in spec.params:
            if ps.name not in cfg:
                continue
            raw = cfg[ps.name]
            if ps.kind == "layer":
                value = self._inner(ps, raw, label, approx)
            else:
                value = self._value(ps, raw, label, spec.type, approx)
                if _same(ps, value, ps.default):
                    continue
            problem = ps.problem(value)
            if problem:
                if ps.kind == "choice":
                    raise ModelImportError(
                        f"layer {label} ({spec.type}) has {ps.name}={_show(value)}, which LayerCanvas does not offer")
                raise ModelImportError(f"layer {label} ({spec.type}): {ps.name} {problem}")
            params[ps.name] = value
        return params

    def _inner(self, ps, raw: Any, label: str, approx: set) -> dict:
        if not isinstance(raw, dict) or not isinstance(raw.get("config"), dict):
            raise ModelImportError(f"layer {label}: its wrapped layer cannot be read")
        inner_type = raw.get("class_name")
        inner = LAYERS.get(inner_type)
        if inner is None or inner.is_input or inner_type not in (ps.layer_types or ()):
            raise ModelImportError(f"layer {label} wraps a {_plain(inner_type)}, which LayerCanvas does not support yet")
        return {"type": inner_type, "params": self._params(inner, raw["config"], label, approx)}

    def _value(self, ps, raw: Any, label: str, type_: str, approx: set) -> Any:
        if ps.kind == "initializer":
            return self._initializer(ps, raw, label, approx)
        if ps.kind == "regularizer":
            return self._regularizer(ps, raw, label, approx)
        v = _json(raw)
        if ps.kind == "choice" and isinstance(v, dict):
            what = v.get("config") if isinstance(v.get("config"), str) else v.get("class_name")
            raise ModelImportError(
                f"layer {label} ({type_}) uses a custom {ps.name} ({_q(what)}), which LayerCanvas cannot import")
        if ps.kind == "ints" and ps.length == 1 and isinstance(v, list) and len(v) == 1:
            v = v[0]
        if ps.kind == "axes" and v == [] and ps.nullable:
            v = None  # Normalization keeps axis=None as (): no axis of its own
        if ps.kind == "pad2d":
            v = _simplest_pad(v)
        return v

    def _initializer_names(self, ps) -> dict:
        """Initializer class name -> the catalog name that makes it (the default first)."""
        key = (ps.default, ps.choices)
        if key not in self._init_names:
            names: dict[str, str] = {}
            for choice in ((ps.default,) if isinstance(ps.default, str) else ()) + tuple(ps.choices or ()):
                # A name Keras does not know is simply not offered.
                with contextlib.suppress(Exception):
                    names.setdefault(type(self.keras.initializers.get(choice)).__name__, choice)
            self._init_names[key] = names
        return self._init_names[key]

    def _initializer(self, ps, raw: Any, label: str, approx: set) -> Any:
        keras = self.keras
        if raw is None:
            return None
        if isinstance(raw, str):
            try:
                obj = keras.initializers.get(raw)
                cls_name, conf, standard = type(obj).__name__, _json(obj.get_config()), True
            except Exception:  # noqa: BLE001
                cls_name, conf, standard = raw, {}, False
        elif isinstance(raw, dict):
            cls_name, conf = str(raw.get("class_name")), raw.get("config") or {}
            standard = raw.get("registered_name") in (None, cls_name) and str(raw.get("module") or "keras").startswith("keras")
        else:
            cls_name, conf, standard = _show(raw), {}, False
        choice = self._initializer_names(ps).get(cls_name) if standard else None
        plain = False
        cls = getattr(keras.initializers, cls_name, None) if standard else None
        if cls is not None:
            try:
                plain = _json(cls().get_config()) == _json(conf)
            except Exception:  # noqa: BLE001 - needs arguments: not a plain named initializer
                plain = False
        if choice is not None and plain:
            return choice
        fallback = choice if choice is not None else ps.default
        approx.add(ps.name)
        settings = ", ".join(f"{k}={_show(v, 20)}" for k, v in (conf.items() if isinstance(conf, dict) else []) if v is not None)
        self.notes.append(
            f"layer {label}: {ps.name} {cls_name}({settings}) was imported as '{fallback}' "
            f"(it only sets starting values; the trained weights are imported as they are)")
        return fallback

    def _regularizer(self, ps, raw: Any, label: str, approx: set) -> Any:
        if raw is None:
            return None
        cls_name = raw.get("class_name") if isinstance(raw, dict) else raw
        conf = (raw.get("config") or {}) if isinstance(raw, dict) else {}
        l1, l2 = conf.get("l1", 0.0) or 0.0, conf.get("l2", 0.0) or 0.0
        # The catalog's {"l1", "l2"} rebuilds as L1, L2 or L1L2 (see ParamSpec.to_keras).
        rebuilt = "L1L2" if l1 and l2 else ("L1" if l1 else ("L2" if l2 else None))
        known = cls_name in ("L1", "L2", "L1L2") and isinstance(raw, dict) and raw.get("registered_name") is None
        if not known:
            approx.add(ps.name)
            self.notes.append(f"layer {label}: {ps.name} {_show(cls_name)} was dropped (LayerCanvas offers L1/L2 penalties only)")
            return None
        if rebuilt != cls_name:
            approx.add(ps.name)  # the same penalty written another way (e.g. L1L2 with l1=0)
        out = {k: float(v) for k, v in (("l1", l1), ("l2", l2)) if v}
        return out or None

    def _settle(self, obj, spec, cfg: dict, params: dict, approx: set, label: str) -> dict:
        """Checks that the params rebuild this layer, then drops those Keras would infer."""
        try:
            build_config = _json(obj.get_build_config())
        except Exception:  # noqa: BLE001 - not every layer records its build
            build_config = None
        key = json.dumps([spec.type, {k: v for k, v in cfg.items() if k not in TOP_IGNORED}, params,
                          sorted(approx), build_config], sort_keys=True, default=repr)
        if key not in self._settled:
            self._settled[key] = self._settle_new(spec, cfg, params, approx, build_config)
        out = self._settled[key]
        if isinstance(out, str):
            raise ModelImportError(f"layer {label} {out}")
        return json.loads(json.dumps(out))  # a copy: nodes must not share dicts

    def _settle_new(self, spec, cfg: dict, params: dict, approx: set, build_config) -> dict | str:
        """The settled params, or why the layer cannot be rebuilt (after its name, in a message)."""
        from builder.model.build import make_layer

        def diff(p: dict, removed: str | None = None):
            try:
                ref = make_layer(Node("ref", spec.type, p))
            except Exception as e:  # noqa: BLE001
                return ("(constructor)", _one_line(e, 120), None)
            d = _config_diff(cfg, _json(ref.get_config()), approx)
            # Building allocates the weights: skip it when the param just removed
            # is what differs (the usual outcome of a trial below).
            if d is not None and build_config and d[0] != removed:
                # Some configs are completed when the layer is built (MultiHeadAttention's
                # attention_axes, LayerNormalization's axis list): compare built with built.
                with contextlib.suppress(Exception):  # a build that fails leaves the first answer
                    ref.build_from_config(build_config)
                    d = _config_diff(cfg, _json(ref.get_config()), approx)
            return d

        d = diff(params)
        if d is not None:
            key, ours, theirs = d
            if key == "(constructor)":
                return f"({spec.type}) cannot be rebuilt from its settings: {ours}"
            return (f"({spec.type}) has {key}={_show(ours)}, which LayerCanvas cannot represent "
                    f"(it would build {key}={_show(theirs)})")
        # Drop params that Keras fills in anyway (MaxPooling2D strides = pool_size,
        # Dense activation 'linear'): the smallest params that rebuild the same layer.
        for path in self._optional_paths(spec, params, approx):
            trial = _without(params, path)
            if diff(trial, removed=".".join(path)) is None:
                params = trial
        return params

    @staticmethod
    def _optional_paths(spec, params: dict, approx: set) -> list[tuple]:
        paths = []
        for name, value in params.items():
            ps = spec.param(name)
            if ps.kind == "layer":
                inner = LAYERS[value["type"]]
                paths += [(name, n) for n in value.get("params", {})
                          if not inner.param(n).required and n not in approx and inner.param(n).kind != "layer"]
            elif not ps.required and name not in approx:
                paths.append((name,))
        return paths


def _without(params: dict, path: tuple) -> dict:
    if len(path) == 1:
        return {k: v for k, v in params.items() if k != path[0]}
    outer, inner = path
    wrapped = dict(params[outer])
    wrapped["params"] = {k: v for k, v in wrapped.get("params", {}).items() if k != inner}
    return {**params, outer: wrapped}


# ---------------------------------------------------------------------------
# Raw nodes -> graph
# ---------------------------------------------------------------------------
def _order(raws: list[_Raw], inputs: list[int], outputs: list[int]) -> list[int]:
    """Inputs first, then a depth-first walk from each output through inputs in port order.

    This is the order in which one writes the model by hand (and the order of
    LayerCanvas's templates), so a saved graph comes back in its own order.
    """
    order: list[int] = []
    seen: set[int] = set()
    for k in inputs:
        if k not in seen:
            seen.add(k)
            order.append(k)
    for root in outputs:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(raws[root].inputs))]
        while stack:
            k, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                order.append(k)
            elif nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, iter(raws[nxt].inputs)))
    return order


def _graph_name(name: Any) -> str:
    text = "".join(ch if ch.isprintable() else " " for ch in str(name or "")).strip()[:200]
    text = text.encode("utf-8", "replace").decode("utf-8")  # an unpaired surrogate is not text: '?'
    return text or "model"


def _block_prefix(node_id: str) -> str | None:
    """The block a keras.applications-style layer name belongs to (`conv2_block1_1_conv` -> `conv2`; NASNet's
    `separable_conv_1_normal_left1_5` -> `cell_5`), or None."""
    for pattern in _BLOCK_NAMES:
        m = pattern.match(node_id)
        if m:
            return m.group(1)
    m = _NASNET_CELL.match(node_id)
    return f"cell_{m.group(1)}" if m else None


def _groups(raws: list[_Raw], order: list[int], ids: dict[int, str], nests: list[str]) -> tuple[Group, ...]:
    """Collapsed groups for an imported graph: one per expanded nested model, then, in a large model,
    one per run of consecutive layers of the same block (see the module docstring)."""
    used: set[str] = set()

    def fresh(stem: str) -> str:
        gid, n = stem, 0
        while gid in used:
            n += 1
            gid = f"{stem[: 64 - len(str(n)) - 1]}_{n}"
        used.add(gid)
        return gid

    groups: list[Group] = []
    for i, model_name in enumerate(nests):
        members = tuple(ids[k] for k in order if raws[k].nest == i)
        if len(members) >= MIN_GROUP:
            groups.append(Group(fresh(_sanitize(model_name)), _graph_name(model_name), members, True))
    if len(order) <= GROUP_ABOVE:
        return tuple(groups)
    nested = "/"  # not a block name: layers of nested models are never in a block group
    runs: list[tuple[str | None, list[str]]] = []  # (block or None, node ids), consecutive in node order
    for k in order:
        block = nested if raws[k].nest is not None else _block_prefix(ids[k])
        if runs and runs[-1][0] == block:
            runs[-1][1].append(ids[k])
        elif block not in (None, nested) and len(runs) >= 2 and runs[-1][0] is None and runs[-2][0] == block:
            # Unnamed layers between two parts of one block (ResNet50V2's shortcut `max_pooling2d`) belong to it.
            runs[-2][1].extend(runs.pop()[1] + [ids[k]])
        else:
            runs.append((block, [ids[k]]))
    groups += [Group(fresh(b), b, tuple(m), True) for b, m in runs if b not in (None, nested) and len(m) >= MIN_GROUP]
    return tuple(groups)


def _to_graph(walker: _Walker, model, outputs: list[int]) -> ImportResult:
    raws = walker.raws
    order = _order(raws, walker.input_keys, outputs)
    for (cls, type_), n in walker.op_layers.items():
        walker.notes.append(f"{n} keras.ops {cls} step(s) became {type_} layers, which compute the same")
    left_out = len(raws) - len(order)
    if left_out:
        walker.notes.append(f"{left_out} layer(s) of nested models do not lead to the model's outputs and were left out")
    ids = dict(zip(order, unique_ids([raws[k].name for k in order]), strict=False))
    counts: dict[str, int] = {}
    for k in order:
        counts[raws[k].name] = counts.get(raws[k].name, 0) + 1
    renamed = {}
    for k in order:
        r = raws[k]
        if ids[k] != r.name:
            renamed[r.name if counts[r.name] == 1 else r.path] = ids[k]
    nodes, edges, weights = [], [], {}
    for k in order:
        r = raws[k]
        nodes.append(Node(ids[k], r.type, r.params, r.trainable))
        many = len(r.inputs) > 1
        edges.extend(Edge(ids[s], ids[k], i if many else None) for i, s in enumerate(r.inputs))
        if r.weights:
            weights[ids[k]] = r.weights
    out_ids = [ids[k] for k in outputs]
    if len(set(out_ids)) != len(out_ids):
        raise ModelImportError("the model returns the same layer's output twice, which a LayerCanvas graph cannot express")
    graph = Graph(tuple(nodes), tuple(edges), _graph_name(model.name))
    if graph.output_ids() != out_ids:
        graph = Graph(graph.nodes, graph.edges, graph.name, tuple(out_ids))
    graph = replace(graph, groups=_groups(raws, order, ids, walker.nests))
    from builder.model.validate import ERROR, check_structure

    errors = [i for i in check_structure(graph) if i.severity == ERROR]
    if errors:  # a bug of the importer rather than of the file: still one line
        raise ModelImportError(f"the imported graph is not valid: {errors[0].message}")
    return ImportResult(graph, weights, renamed, walker.notes)


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------
def import_model(path_or_bytes: Any, filename: str | None = None, max_bytes: int | str | None = UPLOAD,
                 max_params: int | None = None) -> ImportResult:
    """Reads a saved Keras model into a graph, its weights and notes.

    The model is loaded with `keras.models.load_model(..., safe_mode=True,
    compile=False)`, after the file has been checked without Keras.

    Args:
        path_or_bytes: A path, the file's bytes, or a binary file object
            (e.g. a Streamlit `UploadedFile`).
        filename: The file's name, for its extension and messages (default:
            the path's or file object's name). Bytes without a name are
            recognized by their content.
        max_bytes: Larger files are refused before anything is read (default:
            the upload limit, LAYERCANVAS_MAX_UPLOAD_MB). None: any file that
            fits in this machine's memory (the command line's local files).
        max_params: A model with more weights is refused before they are
            allocated (default: the build limit, `builder.model.build.MAX_PARAMS`).

    Returns:
        An `ImportResult`: graph, weights by node id, renamed layers, notes.

    Raises:
        ModelImportError: one line saying why the file cannot be imported
            (size, empty, damaged, not a Keras model, wrong extension, Lambda,
            custom or unsupported layer, too many weights, or a setting the graph
            cannot express).
    """
    if max_params is None:
        from builder.model.build import MAX_PARAMS as max_params
    limit = _size_limit(MAX_BYTES if max_bytes == UPLOAD else max_bytes)
    src = _open_source(path_or_bytes, filename, limit)
    with tempfile.TemporaryDirectory(prefix="layercanvas-import-") as tmp:
        try:
            path = src.local_path(tmp)
        except OSError as e:
            raise ModelImportError(f"cannot read {src.label}: {e.strerror}") from None
        _prescan(_read_config(path, src, limit))
        model = _load(path, src.label, max_params)
        return _read_model(model, f"the model in {src.label}")


def import_keras_model(model, label: str = "the model") -> ImportResult:
    """A `keras.Model` already in memory (one LayerCanvas made, e.g. a keras.applications base) as a graph.

    No file checks: the model is trusted. The layers are still read one by one, so a layer the graph cannot
    express is refused as in `import_model`.

    Raises:
        ModelImportError: one line naming the layer that cannot be expressed.
    """
    register_keras_classes()
    return _read_model(model, label)


def _read_model(model, label: str) -> ImportResult:
    """The loaded model's layers as a graph; any failure one line that says where."""
    walker = _Walker(load_keras())
    try:
        outputs = walker.model(model, None, "", True)
        return _to_graph(walker, model, outputs)
    except ModelImportError:
        raise
    except Exception as e:  # noqa: BLE001 - never a traceback: one line that says where
        raise ModelImportError(f"LayerCanvas could not read {label}: {type(e).__name__}: {_one_line(e, 160)}") from None
