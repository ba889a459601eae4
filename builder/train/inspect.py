"""Looking inside a model: layer outputs for one sample, first-layer filters, Grad-CAM, saliency, and the weights
and gradients of each layer as training goes.

Everything here works on the model as it is (the one the user built or trained): layer outputs come from one
extra `keras.Model` over the same layers, never from a rebuild or a copy of the weights. Keras is imported lazily
(`builder.kerasenv.load_keras`); `WeightGradientSampler` is a Keras callback class made on first use.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from builder.kerasenv import load_keras
from builder.model.build import build_model
from builder.store import run_file
from builder.train.job import SEED_LOCK

KINDS = ("image", "vector", "sequence", "probabilities", "tensor")
MAX_STEPS = 512  # sequence outputs keep at most this many time steps
HIST_BINS = 20
INSPECT_FORMAT = "layercanvas-inspect"


class InspectError(ValueError):
    """A model or a sample that can't be inspected; str(e) says what was expected and what was received."""


@dataclass
class LayerOutput:
    """One layer's output for one sample, ready to draw.

    Attributes:
        name: The layer's name (the node id).
        kind: How to show it: "image" (H x W x C feature maps), "vector" (1-D), "sequence" (T x d),
            "probabilities" (the model's final softmax/sigmoid output) or "tensor" (any other rank).
        array: The values as float32, without the batch axis; images and sequences keep at most
            `max_channels` channels (and sequences `MAX_STEPS` steps), always the first ones.
        shape: The full output shape for the sample (without the batch axis).
        channels: How many channels (last axis) the full output has; `array.shape[-1]` are shown.
        min, max: Over the full output (a shared colour scale for every channel shown).
        layer_type: The Keras class name.
    """

    name: str
    kind: str
    array: np.ndarray
    shape: tuple
    channels: int
    min: float
    max: float
    layer_type: str = ""

    @property
    def capped(self) -> bool:
        """True when fewer channels (or steps) are shown than the layer has."""
        return tuple(self.array.shape) != tuple(self.shape)


# -- the sub-model cache ---------------------------------------------------------------------------------------------

_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> OrderedDict(key -> sub-model)
_CACHE_LOCK = threading.Lock()
_PER_MODEL = 8  # sub-models kept per model, least recently used dropped first


def _build_submodel(keras, model, outputs: list):
    """A `keras.Model` from the model's inputs to `outputs` (tensors of the same model): shares its layers and
    weights."""
    return keras.Model(model.inputs, outputs, name=f"{model.name}_inspect")


def _submodel(model, key: tuple, outputs_of):
    """The cached sub-model of `model` for `key`, made with `outputs_of()` (a list of tensors) when missing.

    Weak on the model (a model that is gone takes its sub-models with it) and least-recently-used per model, so
    rerunning a page with the same choice costs nothing.
    """
    with _CACHE_LOCK:
        per = _CACHE.get(model)
        if per is None:
            per = _CACHE[model] = OrderedDict()
        sub = per.get(key)
        if sub is not None:
            per.move_to_end(key)
            return sub
    sub = _build_submodel(load_keras(), model, outputs_of())
    with _CACHE_LOCK:
        per = _CACHE.setdefault(model, OrderedDict())
        sub = per.setdefault(key, sub)  # another thread may have made it meanwhile: keep one
        per.move_to_end(key)
        while len(per) > _PER_MODEL:
            per.popitem(last=False)
    return sub


def _layer_tensor(model, layer):
    """The output tensor of `layer` in this model's graph (not of an earlier build that reused the layer)."""
    for nodes in getattr(model, "_nodes_by_depth", {}).values():
        for node in nodes:
            if node.operation is layer and node.outputs:
                return node.outputs[0]
    out = layer.output
    return out[0] if isinstance(out, (list, tuple)) else out


def _functional(model) -> None:
    if not hasattr(model, "_nodes_by_depth") or not getattr(model, "inputs", None):
        raise InspectError(f"{type(model).__name__} {model.name!r} is not a functional model: only models built "
                           "from a graph (or loaded from a file) can be looked inside")


# -- samples ---------------------------------------------------------------------------------------------------------

def _shape_text(shape) -> str:
    dims = ["None" if d is None else str(int(d)) for d in shape]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def _batch(model, sample) -> list[np.ndarray]:
    """The sample as a batch of one per model input, checked against the input shapes and cast to their dtypes.

    Raises:
        InspectError: the wrong number of inputs, a shape that does not fit, or values that are not numbers.
    """
    inputs = model.inputs
    samples = list(sample) if isinstance(sample, (list, tuple)) and len(inputs) > 1 else [sample]
    if isinstance(sample, (list, tuple)) and len(inputs) == 1 and len(sample) == 1 \
            and isinstance(sample[0], np.ndarray):
        samples = [sample[0]]
    if len(samples) != len(inputs):
        expected = ", ".join(f"{t.name} {_shape_text(t.shape[1:])}" for t in inputs)
        raise InspectError(f"the model has {len(inputs)} inputs ({expected}): pass a list of {len(inputs)} "
                           f"samples, got {len(samples)}")
    out = []
    for tensor, value in zip(inputs, samples, strict=True):
        try:
            arr = np.asarray(value)
        except Exception as e:  # noqa: BLE001 - ragged lists and the like
            raise InspectError(f"input {tensor.name!r}: the sample is not an array ({e})") from None
        expected = tuple(tensor.shape[1:])
        fits = arr.ndim == len(expected) and all(e is None or e == a for e, a in zip(expected, arr.shape, strict=False))
        if not fits:
            raise InspectError(f"input {tensor.name!r} expects one sample of shape {_shape_text(expected)} "
                               f"(without the batch axis), got {_shape_text(arr.shape)}")
        if arr.dtype.kind not in "biuf":
            raise InspectError(f"input {tensor.name!r} expects numbers, got {arr.dtype} values")
        out.append(arr.astype(str(tensor.dtype or "float32"), copy=False)[None])
    return out


def _to_numpy(value) -> np.ndarray:
    return np.asarray(value.numpy() if hasattr(value, "numpy") else value)


# -- layer outputs ---------------------------------------------------------------------------------------------------

def _activation_name(layer) -> str:
    keras = load_keras()
    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    act = getattr(layer, "activation", None)
    return getattr(act, "__name__", "") or ""


def _output_layers(model) -> set:
    return {id(t._keras_history[0]) for t in model.outputs if hasattr(t, "_keras_history")}


def _kind(layer, rank: int, is_output: bool) -> str:
    if rank == 1:
        return "probabilities" if is_output and _activation_name(layer) in ("softmax", "sigmoid") else "vector"
    return {2: "sequence", 3: "image"}.get(rank, "tensor")


def _shown(arr: np.ndarray, kind: str, max_channels: int, channels_first: bool) -> np.ndarray:
    """The part of one sample's output to return: images and sequences capped, channels last."""
    if kind == "image":
        if channels_first:
            arr = np.moveaxis(arr, 0, -1)
        return arr[..., :max_channels]
    if kind == "sequence":
        return arr[:MAX_STEPS, :max_channels]
    return arr


def layer_outputs(model, sample, names=None, max_channels: int = 64) -> dict[str, LayerOutput]:
    """Runs one sample through the model and returns each chosen layer's output for it.

    One extra `keras.Model` from the model's inputs to the chosen layers' outputs does the work; it shares the
    model's layers and weights, and is cached per (model, names), so calling again with another sample is fast.

    Args:
        model: A functional Keras model (as built from a graph).
        sample: One sample without the batch axis, as a numpy array of the input's shape; a list of them for a
            model with several inputs.
        names: The layers to show, by name; default every layer except the inputs.
        max_channels: Images and sequences keep at most this many channels (the first ones);
            `LayerOutput.channels` keeps the total.

    Returns:
        {layer name: LayerOutput}, in the model's layer order.

    Raises:
        InspectError: a sample of the wrong shape (the message gives the expected and received shapes), an
            unknown layer name, or a model that is not functional.
    """
    _functional(model)
    if not isinstance(max_channels, int) or max_channels < 1:
        raise InspectError(f"max_channels must be a whole number from 1, got {max_channels!r}")
    keras = load_keras()
    if names is None:
        layers = [la for la in model.layers if not isinstance(la, keras.layers.InputLayer)]
    else:
        names = [names] if isinstance(names, str) else list(names)
        known = {la.name: la for la in model.layers}
        missing = [n for n in names if n not in known]
        if missing:
            raise InspectError(f"no layer named {', '.join(map(repr, missing))} in model {model.name!r}")
        wanted = set(names)
        layers = [la for la in model.layers if la.name in wanted]  # model order, each once
    if not layers:
        return {}
    batch = _batch(model, sample)
    key = ("outputs", *(la.name for la in layers))
    sub = _submodel(model, key, lambda: [_layer_tensor(model, la) for la in layers])
    values = sub(batch, training=False)
    values = values if isinstance(values, (list, tuple)) else [values]
    outputs = _output_layers(model)
    result = {}
    for layer, value in zip(layers, values, strict=True):
        arr = _to_numpy(value)[0].astype(np.float32, copy=False)
        kind = _kind(layer, arr.ndim, id(layer) in outputs)
        channels_first = kind == "image" and getattr(layer, "data_format", None) == "channels_first"
        shown = np.ascontiguousarray(_shown(arr, kind, max_channels, channels_first))
        finite = arr[np.isfinite(arr)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
        total = int(arr.shape[0 if channels_first else -1]) if arr.ndim else 1
        shape = tuple(int(d) for d in (np.moveaxis(arr, 0, -1).shape if channels_first else arr.shape))
        result[layer.name] = LayerOutput(layer.name, kind, shown, shape, total, lo, hi, type(layer).__name__)
    return result


def model_with_weights(model, weights: list):
    """A copy of `model` holding `weights` (e.g. the untrained ones, `TrainingJob.start_weights`): for showing
    outputs "untrained vs trained" without touching the model itself."""
    keras = load_keras()
    clone = keras.models.clone_model(model)
    clone.set_weights(weights)
    return clone


UNTRAINED = "Untrained"
AT_START = "At the start of this run"
_FRESH: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # job -> its graph's model, freshly initialized
_FRESH_LOCK = threading.Lock()


def fresh_model(graph, seed: int):
    """The graph's model with the weights a run with this `seed` draws before it loads any earlier weights: the
    untrained model. Keras's seed is process-wide: the lock runs hold while they draw theirs is held here too."""
    keras = load_keras()
    with SEED_LOCK:
        keras.utils.set_random_seed(seed)
        return build_model(graph)


def started_from_earlier_weights(job) -> bool:
    """The run loaded weights (imported, or an earlier run's) into at least one layer that has weights."""
    if job.model is None:
        return False
    names = {layer.name for layer in job.model.layers if layer.weights}
    return any(name in names for name in job.loaded_weights or [])


def compared_models(job) -> list[tuple[str, object]]:
    """The models to show beside a run's trained model, each with its label, oldest first.

    For a run that started from earlier weights: ("Untrained", the graph's model freshly initialized with the
    run's seed), then ("At the start of this run", the weights it started from), which look trained. For a run
    that started from fresh weights, those are the untrained ones: ("At the start of this run (untrained)", ...).
    The starting weights are known when the run kept them (settings.inspect); made once per job.

    Args:
        job: A builder.train.job.TrainingJob whose model is trained (not running).
    """
    if job.model is None:
        return []
    earlier = started_from_earlier_weights(job)
    out = []
    if earlier:
        with _FRESH_LOCK:
            if job not in _FRESH:
                _FRESH[job] = fresh_model(job.graph, job.settings.seed)
            out.append((UNTRAINED, _FRESH[job]))
    start = job.untrained_model()  # the model with its starting weights (job.start_weights), or None
    if start is not None:
        out.append((AT_START if earlier else f"{AT_START} ({UNTRAINED.lower()})", start))
    return out


# -- filters ---------------------------------------------------------------------------------------------------------

def _conv_layers(model) -> list:
    """Layers with 2-D feature maps out of a 4-D kernel (2-D convolutions of every kind) or a nested image model,
    in the model's order."""
    found = []
    for layer in model.layers:
        if any(len(w.shape) == 4 for w in layer.weights) or _nested_image_model(layer):
            with contextlib.suppress(Exception):
                if len(_layer_tensor(model, layer).shape) == 4:
                    found.append(layer)
    return found


def _nested_image_model(layer) -> bool:
    """A model used as a layer (e.g. a keras.applications base) whose output is image-shaped feature maps."""
    keras = load_keras()
    if not isinstance(layer, keras.Model):
        return False
    with contextlib.suppress(Exception):
        return len(layer.output.shape) == 4
    return False


def first_conv_layer(model):
    """The first layer with a 2-D convolution kernel, or None."""
    for layer in model.layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is not None and len(kernel.shape) == 4:
            return layer
    return None


def last_conv_layer(model):
    """The last layer with 2-D feature maps worth a Grad-CAM (a convolution, or a nested image model), or None."""
    found = _conv_layers(model)
    return found[-1] if found else None


def first_conv_filters(model, max_filters: int = 64, per_filter: bool = True) -> np.ndarray | None:
    """The first convolution's kernels as small images.

    Args:
        max_filters: At most this many filters (the first ones).
        per_filter: Stretch each filter to 0..1 on its own (its pattern shows whatever its scale);
            False scales all of them together (their strengths compare).

    Returns:
        float32 array (n, kh, kw, input channels) in 0..1, or None if the model has no 2-D convolution.
    """
    layer = first_conv_layer(model)
    if layer is None:
        return None
    kernel = _to_numpy(layer.kernel).astype(np.float32)  # (kh, kw, in, out)
    filters = np.moveaxis(kernel, -1, 0)[:max(1, int(max_filters))]
    axes = (1, 2, 3) if per_filter else None
    lo = filters.min(axis=axes, keepdims=per_filter)
    span = filters.max(axis=axes, keepdims=per_filter) - lo
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(span > 0, (filters - lo) / np.where(span > 0, span, 1), 0.5)
    return out.astype(np.float32)


# -- Grad-CAM and saliency -------------------------------------------------------------------------------------------

def _image_input(model, image) -> np.ndarray:
    """The image as a batch of one, for a model with one image input (H x W x C).

    Raises:
        InspectError: a model that does not take one image, or an image of the wrong shape.
    """
    _functional(model)
    inputs = model.inputs
    if len(inputs) != 1 or len(inputs[0].shape) != 4:
        shapes = ", ".join(_shape_text(t.shape[1:]) for t in inputs)
        raise InspectError(f"Grad-CAM and saliency need a model with one image input (height, width, channels); "
                           f"model {model.name!r} takes {shapes}")
    if not str(inputs[0].dtype).startswith("float"):
        raise InspectError(f"the input of model {model.name!r} is {inputs[0].dtype}, not an image")
    return _batch(model, image)[0]


def _score(model, preds, class_index: int | None):
    """The class score to explain, as a scalar tensor, and the class.

    Grad-CAM explains a logit. Probabilities (a final softmax or sigmoid) are taken back to logits through their
    logs: for a sigmoid log p - log(1 - p) is the logit; for a softmax log p_c - mean(log p_others) is the logit
    of the class less the mean of the others' (a softmax forgets a shift of all logits). The probability itself
    saturates (a confident model outputs exactly 1.0 in float32) and its gradient is then zero everywhere.
    """
    import tensorflow as tf

    preds = tf.reshape(tf.cast(preds, tf.float32), [tf.shape(preds)[0], -1])[0]
    out_layer = model.outputs[0]._keras_history[0] if hasattr(model.outputs[0], "_keras_history") else None
    act = _activation_name(out_layer) if out_layer is not None else ""
    tiny = float(np.finfo(np.float32).tiny)  # probabilities that underflowed to 0 give no gradient, not NaN

    def log(p):
        return tf.math.log(tf.maximum(p, tiny))

    n = int(preds.shape[-1])
    if n == 1:  # one unit: a binary classifier (class 1 = the unit's value high) or a regression
        value = preds[0]
        if class_index is None:
            class_index = int(float(value) > (0.5 if act == "sigmoid" else 0.0))
        if class_index not in (0, 1):
            raise InspectError(f"the model has one output unit (classes 0 and 1), got class {class_index}")
        if act == "sigmoid":
            value = log(value) - log(1 - value)
        return (value if class_index == 1 else -value), int(class_index)
    if class_index is None:
        class_index = int(tf.argmax(preds))
    if not isinstance(class_index, (int, np.integer)) or isinstance(class_index, bool) or not 0 <= class_index < n:
        raise InspectError(f"class_index must be from 0 to {n - 1}, got {class_index!r}")
    c = int(class_index)
    if act == "softmax":
        logp = log(preds)
        others = tf.concat([logp[:c], logp[c + 1:]], 0)
        return logp[c] - tf.reduce_mean(others), c
    if act == "sigmoid":
        return log(preds[c]) - log(1 - preds[c]), c
    return preds[c], c


def _normalized(heat: np.ndarray) -> np.ndarray:
    heat = np.nan_to_num(heat.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    top = float(heat.max()) if heat.size else 0.0
    return (heat / top if top > 0 else np.zeros_like(heat)).astype(np.float32)


CAM_METHODS = ("auto", "grad_cam", "hires_cam")


def grad_cam(model, image, class_index: int | None = None, layer_name: str | None = None,
             method: str = "auto") -> np.ndarray:
    """Grad-CAM: where in the image the chosen layer's feature maps support the class.

    Grad-CAM weighs each feature map by its gradient averaged over the image. Behind Flatten and Dense every
    position has its own weights, and the averages can all come out negative (the model reads the class as the
    absence of another's evidence): the map is then empty. "auto" falls back, in that case only, to HiResCAM
    (gradient times feature map, position by position, summed over the maps), which shows what each position
    adds to the score; for a global-pooling head the two agree.

    Args:
        model: A functional model with one image input.
        image: One image (H, W, C) as the model takes it.
        class_index: The class to explain; default the predicted one.
        layer_name: The layer whose feature maps to use; default the last convolution.
        method: "auto", "grad_cam" or "hires_cam".

    Returns:
        float32 (H, W) heatmap in 0..1 at the input's resolution (all zeros when nothing supports the class).

    Raises:
        InspectError: not an image model, no convolution (use `saliency`), a layer without 2-D feature maps, a
            wrong image shape, class or method.
    """
    import tensorflow as tf

    if method not in CAM_METHODS:
        raise InspectError(f"method must be one of {', '.join(CAM_METHODS)}, got {method!r}")
    x = _image_input(model, image)
    if layer_name is None:
        layer = last_conv_layer(model)
        if layer is None:
            raise InspectError(f"model {model.name!r} has no convolution for Grad-CAM: use saliency instead")
    else:
        try:
            layer = model.get_layer(layer_name)
        except ValueError:
            raise InspectError(f"no layer named {layer_name!r} in model {model.name!r}") from None
    tensor = _layer_tensor(model, layer)
    if len(tensor.shape) != 4:
        raise InspectError(f"layer {layer.name!r} outputs {_shape_text(tensor.shape[1:])}: Grad-CAM needs "
                           "feature maps (height, width, channels)")
    sub = _submodel(model, ("gradcam", layer.name), lambda: [tensor, model.outputs[0]])
    x_t = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        maps, preds = sub([x_t], training=False)
        tape.watch(maps)
        score, _ = _score(model, preds, class_index)
    grads = tape.gradient(score, maps)
    if grads is None:
        raise InspectError(f"the output does not depend on layer {layer.name!r}")
    if getattr(layer, "data_format", None) == "channels_first":
        maps, grads = tf.transpose(maps, [0, 2, 3, 1]), tf.transpose(grads, [0, 2, 3, 1])
    maps, grads = tf.cast(maps, tf.float32), tf.cast(grads, tf.float32)
    cam = None
    if method != "hires_cam":
        weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)  # one per feature map
        cam = tf.nn.relu(tf.reduce_sum(weights * maps, axis=-1))[0]  # (h, w)
    if method == "hires_cam" or (method == "auto" and not bool(tf.reduce_any(cam > 0))):
        cam = tf.nn.relu(tf.reduce_sum(grads * maps, axis=-1))[0]
    size = [int(x.shape[1]), int(x.shape[2])]
    cam = tf.image.resize(cam[..., None], size, method="bilinear")[..., 0]
    return _normalized(cam.numpy())


def saliency(model, image, class_index: int | None = None) -> np.ndarray:
    """|d score / d input|, the largest over the channels: which pixels move the class score most.

    For image models without convolutions (Grad-CAM needs feature maps).

    Returns:
        float32 (H, W) in 0..1.

    Raises:
        InspectError: not an image model, a wrong image shape or class.
    """
    import tensorflow as tf

    x = tf.convert_to_tensor(_image_input(model, image))
    with tf.GradientTape() as tape:
        tape.watch(x)
        preds = _submodel(model, ("output",), lambda: [model.outputs[0]])([x], training=False)
        preds = preds[0] if isinstance(preds, (list, tuple)) else preds
        score, _ = _score(model, preds, class_index)
    grads = tape.gradient(score, x)
    if grads is None:
        return np.zeros(x.shape[1:3], np.float32)
    return _normalized(np.abs(grads.numpy()[0]).max(axis=-1))


def heatmap(model, image, class_index: int | None = None) -> tuple[str, np.ndarray]:
    """("grad_cam", map) for a model with convolutions, else ("saliency", map)."""
    if last_conv_layer(model) is not None:
        return "grad_cam", grad_cam(model, image, class_index)
    return "saliency", saliency(model, image, class_index)


# -- weights and gradients during training ---------------------------------------------------------------------------

def histogram(values: np.ndarray, bins: int = HIST_BINS) -> dict:
    """{"edges": bins + 1 floats, "counts": bins ints} of the finite values (NaN and infinities are left out and
    counted in "nonfinite" when there are any)."""
    flat = _flat(values)
    finite = np.isfinite(flat)
    if not finite.all():
        flat = flat[finite]
    counts, edges = np.histogram(flat, bins=bins) if flat.size else (np.zeros(bins, int), np.zeros(bins + 1))
    out = {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}
    if flat.size != finite.size:
        out["nonfinite"] = int(finite.size - flat.size)
    return out


def _flat(values) -> np.ndarray:
    """The values as one float array, in their own precision. No float64 copy of a float32 layer: a large
    temporary there measurably slowed the NEXT epoch of training (about 15% more CPU on a 26k-weight MLP),
    presumably through the allocator, although the sampling itself took 20 ms."""
    flat = np.asarray(values).ravel()
    return flat if flat.dtype.kind == "f" else flat.astype(np.float32)


def _norm(flat: np.ndarray) -> float:
    with np.errstate(over="ignore", invalid="ignore"):  # an exploding run: the norm is inf or NaN, and says so
        return float(np.linalg.norm(_flat(flat)))


def _take(data, index):
    """Rows `index` of an array, or of each array in a list/tuple/dict."""
    if isinstance(data, dict):
        return {k: _take(v, index) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_take(v, index) for v in data]
    return np.asarray(data)[index]


def fixed_batch(x, y, size: int = 32, n: int | None = None, seed: int = 0):
    """(x, y) of up to `size` samples drawn once (seeded) from the first `n` samples (the part `fit` trains on
    when a validation split takes the end)."""
    first = x[0] if isinstance(x, (list, tuple)) else next(iter(x.values())) if isinstance(x, dict) else x
    total = len(first) if n is None else min(n, len(first))
    rng = np.random.default_rng(seed)
    index = np.sort(rng.choice(total, size=min(size, total), replace=False))
    return _take(x, index), _take(y, index)


def _sampler_class():
    keras = load_keras()

    class WeightGradientSampler(keras.callbacks.Callback):
        """Records, per trainable layer, the L2 norm and a histogram of its weights and of its gradients.

        The gradients are those of the compiled loss on ONE small fixed batch, computed with a GradientTape at
        each epoch end (and, if asked, every `every_n_batches` batches); training steps are not hooked, so `fit`
        keeps its speed. The gradient computation is a `tf.function` traced at the first sample (about 0.1 s,
        once per run); each later sample takes a few milliseconds for small models. By default the batch runs in inference mode (dropout off, batch normalization on its
        moving statistics), so sampling changes nothing in the model; with `training=True` the layers' state
        (moving statistics, random seeds) is put back afterwards.

        Call `sample_start(model)` before `fit` for rows of epoch 0 (the starting point); the one-time tracing then
        happens there, not during training.

        Rows (append-only, safe to read while training runs): {"epoch" (1-based; 0 for `sample_start`), "batch" (1-based within the
        epoch, None at the epoch's end), "step" (optimizer steps so far), "layer", "params", "weight_norm",
        "grad_norm", "loss", "weight_hist": {"edges", "counts"}, "grad_hist": {...}}.

        Args:
            x, y: The fixed batch (keep it small: 32 samples is plenty).
            every_n_batches: Also sample every this many batches (None: epoch ends only). Each sample then
                runs between two training steps, and the training loop waits for it.
            bins: Histogram bins.
            training: Run the batch in training mode.
            max_rows: Batch rows stop once this many rows exist (epoch rows go on).
        """

        def __new__(cls, *args, every_n_batches: int | None = None, **kwargs):
            # With `every_n_batches`, the subclass that has a per-batch hook; the plain sampler has none, so
            # nothing of ours runs between the training steps.
            if every_n_batches is not None and (not isinstance(every_n_batches, int) or every_n_batches < 1):
                raise InspectError(f"every_n_batches must be a whole number from 1, got {every_n_batches!r}")
            batched = every_n_batches and cls is WeightGradientSampler
            return super().__new__(BatchWeightGradientSampler if batched else cls)

        def __init__(self, x, y, every_n_batches: int | None = None, bins: int = HIST_BINS,
                     training: bool = False, max_rows: int = 50_000):
            super().__init__()
            self.x, self.y = x, y
            self.every_n_batches = every_n_batches
            self.bins, self.training, self.max_rows = bins, training, max_rows
            self.rows: list[dict] = []
            self.seconds = 0.0  # time spent sampling
            self.start_seconds = 0.0  # of which before `fit` (sample_start: epoch 0 and the tracing)
            self.calls = 0
            self.error: str | None = None  # the first failure; sampling then stops (training goes on)
            self._epoch = 0
            self._compute = None  # (eager, traced) functions, made at the first sample
            self._data = None
            self._traced = True

        def sample_start(self, model) -> None:
            """Records the model as it starts (rows of epoch 0: the initial weights and their gradients), before
            `fit` is called. This also traces the sampled step once, so that tracing is not part of training."""
            self.set_model(model)
            before = self.seconds
            self.sample(0, None)
            self.start_seconds = self.seconds - before

        # -- hooks
        def on_epoch_begin(self, epoch, logs=None):
            self._epoch = epoch

        def on_epoch_end(self, epoch, logs=None):
            self.sample(epoch + 1, None)

        # -- the work
        def _layers(self):
            return [la for la in self.model.layers if la.trainable_weights]

        def _make_compute(self):
            """(eager, traced) functions of (x, y) giving (loss, gradients of every trainable variable). Only the
            gradients are traced (quick to trace); norms and histograms are numpy's, on the host."""
            import tensorflow as tf

            model, training = self.model, self.training
            variables = list(model.trainable_variables)

            def compute(x, y):
                with tf.GradientTape() as tape:
                    y_pred = model(x, training=training)
                    try:
                        loss = model.compute_loss(x=x, y=y, y_pred=y_pred, training=training)
                    except TypeError:  # a compute_loss override without `training` (Keras < 3.3 style)
                        loss = model.compute_loss(x=x, y=y, y_pred=y_pred)
                grads = tape.gradient(loss, variables)
                return loss, [tf.zeros_like(v.value) if g is None else tf.convert_to_tensor(g)
                              for v, g in zip(variables, grads, strict=True)]

            return compute, tf.function(compute, reduce_retracing=True, autograph=False)

        def sample(self, epoch: int, batch: int | None) -> None:
            """Records one row per trainable layer now; never raises (a failure is kept in `error`)."""
            if self.error is not None or self.model is None:
                return
            start = time.perf_counter()
            model = self.model
            try:
                if self._compute is None:
                    import tensorflow as tf

                    self._compute = self._make_compute()
                    self._data = tuple(tf.nest.map_structure(tf.convert_to_tensor, d) for d in (self.x, self.y))
                keep = self._state_to_restore()
                saved = [v.numpy() for v in keep]
                try:
                    try:
                        loss, grads = self._compute[1 if self._traced else 0](*self._data)
                    except Exception:  # a model that doesn't trace: the same in eager mode
                        if not self._traced:
                            raise
                        self._traced = False
                        loss, grads = self._compute[0](*self._data)
                finally:
                    for v, value in zip(keep, saved, strict=True):
                        v.assign(value)
                by_id = {id(v): g for v, g in zip(model.trainable_variables, grads, strict=True)}
                loss = float(loss)
                step = int(model.optimizer.iterations.numpy()) if getattr(model, "optimizer", None) else None
                rows = []
                for layer in self._layers():
                    weights = [_to_numpy(v) for v in layer.trainable_weights]
                    grads_ = [np.zeros(w.shape, w.dtype) if by_id.get(id(v)) is None else _to_numpy(by_id[id(v)])
                              for v, w in zip(layer.trainable_weights, weights, strict=True)]
                    flat_w = np.concatenate([w.ravel() for w in weights])
                    flat_g = np.concatenate([g.ravel() for g in grads_])
                    rows.append({"epoch": epoch, "batch": batch, "step": step, "layer": layer.name,
                                 "params": int(flat_w.size), "weight_norm": _norm(flat_w), "grad_norm": _norm(flat_g),
                                 "loss": loss, "weight_hist": histogram(flat_w, self.bins),
                                 "grad_hist": histogram(flat_g, self.bins)})
                self.rows.extend(rows)  # one extend: a reader sees all of a sample's layers or none
                self.calls += 1
            except Exception as e:  # noqa: BLE001 - looking inside must never stop training
                self.error = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]
            finally:
                self.seconds += time.perf_counter() - start

        def _state_to_restore(self) -> list:
            """Variables the extra forward pass may change: the per-output loss trackers of the compiled loss
            (a multi-output model) and, in training mode, the layers' state."""
            model = self.model
            keep = [v for m in getattr(getattr(model, "_compile_loss", None), "metrics", None) or []
                    for v in m.variables]
            if self.training:
                keep += list(model.non_trainable_variables)
            return keep

    class BatchWeightGradientSampler(WeightGradientSampler):
        """The sampler with a per-batch hook (only made when `every_n_batches` is set)."""

        def on_train_batch_end(self, batch, logs=None):
            if (batch + 1) % self.every_n_batches == 0 and len(self.rows) < self.max_rows:
                self.sample(self._epoch + 1, batch + 1)

    for cls in (WeightGradientSampler, BatchWeightGradientSampler):
        cls.__module__, cls.__qualname__ = __name__, cls.__name__
    return WeightGradientSampler


_SAMPLER = None


def __getattr__(name):  # PEP 562: the Keras callback class is made on first use, so importing stays light
    global _SAMPLER
    if name == "WeightGradientSampler":
        if _SAMPLER is None:
            _SAMPLER = _sampler_class()
        return _SAMPLER
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# -- rows of past runs -----------------------------------------------------------------------------------------------

def _inspect_path(directory: str, run_id: str) -> str:
    return run_file(directory, run_id, ".inspect.json")


def save_rows(rows: list[dict], directory: str, run_id: str) -> str | None:
    """Writes a run's sampler rows to <directory>/<run id>.inspect.json (atomically); the path, or None if it
    failed.

    Raises:
        ValueError: `run_id` is not a store id.
    """
    path = _inspect_path(directory, run_id)
    tmp = os.path.join(directory, f".{run_id}.inspect.tmp")
    try:
        os.makedirs(directory, exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"format": INSPECT_FORMAT, "version": 1, "run_id": run_id, "rows": rows}, f)
        os.replace(tmp, path)
        return path
    except (OSError, TypeError, ValueError):  # the run still counts; only its inspection is not kept
        with contextlib.suppress(OSError):
            os.remove(tmp)
        return None


def load_rows(directory: str, run_id: str) -> list[dict] | None:
    """The sampler rows saved for a past run, or None when there are none (or the file is unreadable).

    Raises:
        ValueError: `run_id` is not a store id.
    """
    path = _inspect_path(directory, run_id)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != INSPECT_FORMAT or not isinstance(data.get("rows"), list):
        return None
    return [r for r in data["rows"] if isinstance(r, dict)]

