"""Start from a pretrained keras.applications network: the base, its preprocessing and a new head.

`start_graph` makes the graph of a transfer-learning model, as Keras's transfer-learning guide builds it:

    image -> [Resizing] -> [gray to RGB] -> preprocessing -> base (frozen) -> GlobalAveragePooling2D
          -> Dropout -> Dense (classes)

- The base is `keras.applications.<Name>(include_top=False)`, read into the graph by the importer. Its
  layers form ONE group, id "base", collapsed and frozen. Its weights are ImageNet's (Keras's own download,
  which needs the internet), random, or read from a weights file the user brings.
- Each network was trained on pixels scaled its own way (`Application.preprocessing`). LayerCanvas datasets
  give pixels in [0, 1], so the graph starts with layers that turn [0, 1] into what the network expects.
  The model then predicts the same as `keras.applications.<Name>` given `preprocess_input(255 * x)`, in the
  app, in the exported model and in the exported code:
    - "tf" (MobileNet, MobileNetV2, ResNetV2, Inception, Xception, NASNet): [-1, 1],
      `Rescaling(scale=2, offset=-1)`;
    - "torch" (DenseNet): ImageNet mean and standard deviation per channel, `Normalization`;
    - "caffe" (VGG, ResNet): 0 to 255 minus the ImageNet mean in BGR order: `Rescaling(255)` and
      `Normalization` with the mean in RGB order; the first convolution's kernel gets its input channels
      reversed, so it takes RGB where the weights were trained on BGR (the same sums, in another order);
    - "builtin" (EfficientNet, EfficientNetV2, MobileNetV3, ConvNeXt): the network scales its input itself
      from 0 to 255: `Rescaling(255)`.
- The head: `GlobalAveragePooling2D -> Dropout(0.2) -> Dense`, with softmax over the classes (sigmoid with
  one unit for two classes, no activation for regression); the Train page suggests the matching loss.

No Streamlit here; the Projects page calls it.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
import threading
from dataclasses import dataclass, field, replace
from itertools import pairwise

from builder.model.graph import Edge, Graph, GraphError, Group, Node

BASE_GROUP = "base"
DROPOUT = 0.2
WEIGHT_CHOICES = ("imagenet", "random", "file")


class PretrainedError(GraphError):
    """A pretrained start that cannot be made; the message says why and what to do, in one line."""


class WeightsUnavailable(PretrainedError):
    """Keras could not download the ImageNet weights (offline, or the server refused).

    Attributes:
        url: Where Keras downloads them from (None if not known).
        filename: The file's name, to fetch it elsewhere and upload it.
    """

    def __init__(self, message: str, url: str | None):
        super().__init__(message)
        self.url = url
        self.filename = url.rsplit("/", 1)[-1] if url else None


@dataclass(frozen=True)
class Application:
    """One keras.applications network, with the figures of Keras's documentation table.

    Attributes:
        name: The function in `keras.applications` (`MobileNetV2`).
        family: For grouping on the start page.
        size: The input size it was trained at (pixels, square).
        min_size: The smallest input `include_top=False` accepts.
        params: Parameters with the ImageNet top, as Keras's table gives them.
        top1: ImageNet top-1 accuracy (%) from Keras's table.
        preprocessing: "tf", "torch", "caffe" or "builtin" (module docstring).
        macs: Multiply-accumulates of one image at `size`, with the top (LayerCanvas's count, from
            scripts/application_macs.py).
    """

    name: str
    family: str
    size: int
    min_size: int
    params: float
    top1: float
    preprocessing: str
    macs: float | None = None


def _apps(family: str, preprocessing: str, min_size: int, rows) -> list[Application]:
    return [Application(name, family, size, min_size, params * 1e6, top1, preprocessing) for name, size, params, top1 in rows]


# Parameters (millions) and top-1 (%): https://keras.io/api/applications/ (MobileNetV3: its docstring's table).
_TABLE = [
    *_apps("MobileNet", "tf", 32, [("MobileNet", 224, 4.3, 70.4), ("MobileNetV2", 224, 3.5, 71.3)]),
    *_apps("MobileNet", "builtin", 32, [("MobileNetV3Small", 224, 2.9, 68.1), ("MobileNetV3Large", 224, 5.4, 75.6)]),
    *_apps("EfficientNet", "builtin", 32, [
        ("EfficientNetB0", 224, 5.3, 77.1), ("EfficientNetB1", 240, 7.9, 79.1), ("EfficientNetB2", 260, 9.2, 80.1),
        ("EfficientNetB3", 300, 12.3, 81.6), ("EfficientNetB4", 380, 19.5, 82.9), ("EfficientNetB5", 456, 30.6, 83.6),
        ("EfficientNetB6", 528, 43.3, 84.0), ("EfficientNetB7", 600, 66.7, 84.3)]),
    *_apps("EfficientNetV2", "builtin", 32, [
        ("EfficientNetV2B0", 224, 7.2, 78.7), ("EfficientNetV2B1", 240, 8.2, 79.8),
        ("EfficientNetV2B2", 260, 10.2, 80.5), ("EfficientNetV2B3", 300, 14.5, 82.0),
        ("EfficientNetV2S", 384, 21.6, 83.9), ("EfficientNetV2M", 480, 54.4, 85.3),
        ("EfficientNetV2L", 480, 119.0, 85.7)]),
    *_apps("ResNet", "caffe", 32, [("ResNet50", 224, 25.6, 74.9), ("ResNet101", 224, 44.7, 76.4),
                                   ("ResNet152", 224, 60.4, 76.6)]),
    *_apps("ResNetV2", "tf", 32, [("ResNet50V2", 224, 25.6, 76.0), ("ResNet101V2", 224, 44.7, 77.2),
                                  ("ResNet152V2", 224, 60.4, 78.0)]),
    *_apps("DenseNet", "torch", 32, [("DenseNet121", 224, 8.1, 75.0), ("DenseNet169", 224, 14.3, 76.2),
                                     ("DenseNet201", 224, 20.2, 77.3)]),
    *_apps("Inception", "tf", 75, [("InceptionV3", 299, 23.9, 77.9), ("InceptionResNetV2", 299, 55.9, 80.3)]),
    *_apps("Xception", "tf", 71, [("Xception", 299, 22.9, 79.0)]),
    *_apps("NASNet", "tf", 32, [("NASNetMobile", 224, 5.3, 74.4), ("NASNetLarge", 331, 88.9, 82.5)]),
    *_apps("ConvNeXt", "builtin", 32, [
        ("ConvNeXtTiny", 224, 28.6, 81.3), ("ConvNeXtSmall", 224, 50.2, 82.3), ("ConvNeXtBase", 224, 88.5, 85.3),
        ("ConvNeXtLarge", 224, 197.7, 86.3), ("ConvNeXtXLarge", 224, 350.1, 86.7)]),
    *_apps("VGG", "caffe", 32, [("VGG16", 224, 138.4, 71.3), ("VGG19", 224, 143.7, 71.3)]),
]


def _with_macs(apps: list[Application]) -> dict[str, Application]:
    from builder.files.application_macs import MACS

    return {a.name: replace(a, macs=MACS.get(a.name)) for a in apps}


APPLICATIONS: dict[str, Application] = _with_macs(_TABLE)
FAMILIES: tuple[str, ...] = tuple(dict.fromkeys(a.family for a in _TABLE))

PREPROCESSING = {
    "tf": "pixels scaled to [-1, 1]",
    "torch": "pixels in [0, 1], then the ImageNet mean and standard deviation per channel",
    "caffe": "pixels 0 to 255 minus the ImageNet mean per channel (BGR order in the original)",
    "builtin": "pixels 0 to 255; the network scales them itself",
}
_CAFFE_MEAN_RGB = (123.68, 116.779, 103.939)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)


def application(name: str) -> Application:
    """The table row of a keras.applications network.

    Raises:
        PretrainedError: no such network.
    """
    if name not in APPLICATIONS:
        raise PretrainedError(f"'{name}' is not a keras.applications network: choose one of {', '.join(APPLICATIONS)}")
    return APPLICATIONS[name]


# ---------------------------------------------------------------------------
# Input sizes
# ---------------------------------------------------------------------------
def image_size(image_shape) -> tuple[int, int, int] | None:
    """(height, width, channels) of a dataset's images, or None when its samples are not images."""
    shape = tuple(image_shape or ())
    if len(shape) == 3 and shape[-1] in (1, 3) and all(isinstance(d, int) and d > 0 for d in shape):
        return shape
    return None


def default_size(app: Application, image_shape) -> int:
    """The input size to start from: the images' own (no resizing) when the network accepts it, else its minimum."""
    img = image_size(image_shape)
    if img is None:
        return app.size
    side = max(img[0], img[1])
    return min(max(side, app.min_size), app.size) if side < app.min_size else max(side, app.min_size)


def size_problem(app: Application, image_shape) -> str | None:
    """Why the dataset's images cannot go straight into the network (too small, not images), or None."""
    img = image_size(image_shape)
    if img is None:
        return (f"{app.name} takes images (height × width × 1 or 3 channels); this dataset's samples are "
                f"{'×'.join(map(str, image_shape or ()))}: choose an image dataset")
    h, w, _ = img
    if min(h, w) < app.min_size:
        return (f"these images are {h}×{w}; {app.name} needs at least {app.min_size}×{app.min_size}. "
                f"A Resizing layer can enlarge them to {default_size(app, image_shape)}×"
                f"{default_size(app, image_shape)} first")
    return None


def check_size(app: Application, size: int) -> None:
    """Raises PretrainedError when `size` is not an input size the network accepts."""
    if not isinstance(size, int) or isinstance(size, bool) or size < app.min_size or size > 1024:
        raise PretrainedError(f"{app.name} takes square images from {app.min_size} to 1024 pixels a side; "
                              f"got {size!r}: choose a size in that range")


# ---------------------------------------------------------------------------
# The base network
# ---------------------------------------------------------------------------
_URL = re.compile(r"https?://\S+?\.h5")
_DOWNLOAD_LOCK = threading.Lock()


def _max_params() -> int:
    from builder.model.build import MAX_PARAMS

    return MAX_PARAMS


def base_model(name: str, size: int, weights: str | None = None):
    """`keras.applications.<name>(include_top=False, input_shape=(size, size, 3))`.

    Args:
        name: The network.
        size: Input height and width.
        weights: "imagenet" (Keras's download, cached in ~/.keras/models), None (random), or the path of
            a weights file (Keras's `.h5` for this network without its top, or a `.weights.h5`).

    Raises:
        WeightsUnavailable: the ImageNet weights cannot be downloaded.
        PretrainedError: too many parameters, a size the network refuses, or a weights file that does
            not fit (naming the first layer that differs).
    """
    from builder.kerasenv import load_keras
    from builder.model.build import PARAMS_SETTING

    app = application(name)
    check_size(app, size)
    if app.params > _max_params():
        raise PretrainedError(f"{name} has about {app.params / 1e6:.0f} million parameters; the limit is "
                              f"{_max_params():,}: set {PARAMS_SETTING} to allow more, or choose a smaller network")
    keras = load_keras()
    make = getattr(keras.applications, name)
    shape = (size, size, 3)
    if weights not in (None, "imagenet"):
        model = _checked_base(make, shape, name)
        load_weights_file(model, weights, name)
        return model
    try:
        if weights != "imagenet":
            return make(include_top=False, weights=None, input_shape=shape)
        with _DOWNLOAD_LOCK:  # one download at a time in this process; no half file is looked at while written
            drop_broken_downloads()
            return make(include_top=False, weights=weights, input_shape=shape)
    except ValueError as e:
        raise PretrainedError(f"{name} at {size}×{size}: {_one_line(e)}") from None
    except Exception as e:  # noqa: BLE001 - Keras raises a bare Exception when a download fails
        text = str(e)
        if weights == "imagenet" and ("URL fetch failure" in text or "fetch" in text.lower() or isinstance(e, OSError)):
            m = _URL.search(text)
            url = m.group(0) if m else None
            raise WeightsUnavailable(
                f"the ImageNet weights of {name} could not be downloaded ({_reason(e)}). Choose random weights, "
                f"or upload the weights file{f' ({url.rsplit(chr(47), 1)[-1]})' if url else ''}", url) from None
        raise PretrainedError(f"{name} could not be made: {type(e).__name__}: {_one_line(e)}") from None


def _checked_base(make, shape, name):
    try:
        return make(include_top=False, weights=None, input_shape=shape)
    except ValueError as e:
        raise PretrainedError(f"{name} at {shape[0]}×{shape[1]}: {_one_line(e)}") from None


def _reason(e: BaseException) -> str:
    text = str(e)
    for pattern in (r"\[Errno -?\d+\] ([^\]>']+)", r"HTTP Error \d+[^:]*", r"-- (.+)$"):
        m = re.search(pattern, text)
        if m:
            return _one_line(m.group(1) if m.groups() else m.group(0), 80)
    return type(e).__name__


def _one_line(e, limit: int = 200) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _shapes(arrays) -> str:
    return ", ".join("×".join(map(str, s)) or "scalar" for s in arrays) or "no weights"


def load_weights_file(model, path: str, name: str) -> None:
    """Loads a weights file into a base network, after checking that every layer's weights fit.

    Keras's own files (`…_notop.h5`, the legacy HDF5 layout) are matched layer by layer in order, as Keras
    loads them; a `.weights.h5` file is loaded by Keras and its error reported.

    Raises:
        PretrainedError: the file is not HDF5, or does not fit: the first layer that differs is named.
    """
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError:
        raise PretrainedError("the weights file is not an HDF5 file (.h5): upload the .h5 weights Keras publishes "
                              "for this network") from None
    with f:
        group = f.get("model_weights", f)
        names = group.attrs.get("layer_names")
        if names is None:
            legacy = None
        else:
            legacy = []
            for raw in names:
                layer_name = raw.decode("utf8") if isinstance(raw, bytes) else str(raw)
                g = group[layer_name]
                weight_names = [w.decode("utf8") if isinstance(w, bytes) else str(w) for w in g.attrs.get("weight_names", [])]
                if weight_names:
                    legacy.append((layer_name, [tuple(g[w].shape) for w in weight_names]))
    if legacy is None:
        try:
            model.load_weights(path)
        except Exception as e:  # noqa: BLE001 - Keras's message, on one line
            raise PretrainedError(f"the weights file does not fit {name}: {_one_line(e)}") from None
        return
    from keras.src.legacy.saving import legacy_h5_format

    order = legacy_h5_format._legacy_weights  # the order Keras's loader reads a layer's weights in
    mine = [(layer.name, [tuple(w.shape) for w in order(layer)]) for layer in model.layers if order(layer)]
    for (mn, ms), (fn, fs) in zip(mine, legacy, strict=False):
        if ms != fs:
            raise PretrainedError(
                f"the weights file does not fit {name}: its layer '{fn}' holds {_shapes(fs)}, where {name}'s layer "
                f"'{mn}' needs {_shapes(ms)}. Upload the file for {name} without its top ('notop')")
    if len(legacy) != len(mine):
        if len(legacy) > len(mine):
            extra = legacy[len(mine)][0]
            why = (f"it has more layers than {name} without its top, from '{extra}' on: upload the file without "
                   f"the top ('notop')")
        else:
            why = f"it stops before {name}'s layer '{mine[len(legacy)][0]}'"
        raise PretrainedError(f"the weights file does not fit {name}: {why}")
    with h5py.File(path, "r") as f:
        legacy_h5_format.load_weights_from_hdf5_group(f.get("model_weights", f), model)


# ---------------------------------------------------------------------------
# The graph
# ---------------------------------------------------------------------------
@dataclass
class PretrainedStart:
    """What `start_graph` made.

    Attributes:
        graph: Input, preprocessing, the base (group "base", collapsed, frozen) and the head.
        weights: node id -> weights (arrays in `layer.get_weights()` order), for the base's layers.
        notes: One line each: what was added and why.
        app: The network.
        size: Its input size.
        base_params: The base's weights (count).
    """

    graph: Graph
    weights: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    app: Application | None = None
    size: int = 0
    base_params: int = 0


def _fresh(taken: set[str], stem: str) -> str:
    nid, i = stem, 1
    while nid in taken:
        nid, i = f"{stem}_{i}", i + 1
    taken.add(nid)
    return nid


def preprocessing_nodes(app: Application, taken: set[str]) -> list[Node]:
    """The layers that turn [0, 1] pixels (RGB) into what the network was trained on."""
    if app.preprocessing == "tf":
        return [Node(_fresh(taken, "to_minus1_1"), "Rescaling", {"scale": 2.0, "offset": -1.0})]
    if app.preprocessing == "torch":
        return [Node(_fresh(taken, "imagenet_norm"), "Normalization",
                     {"axis": -1, "mean": list(_TORCH_MEAN), "variance": [s * s for s in _TORCH_STD]})]
    scale = Node(_fresh(taken, "to_0_255"), "Rescaling", {"scale": 255.0})
    if app.preprocessing == "caffe":
        return [scale, Node(_fresh(taken, "imagenet_mean"), "Normalization",
                            {"axis": -1, "mean": list(_CAFFE_MEAN_RGB), "variance": [1.0, 1.0, 1.0]})]
    return [scale]


def head_nodes(task: str, classes: int, taken: set[str]) -> list[Node]:
    """Global pooling, dropout and a Dense layer sized from the dataset."""
    if task == "classification" and classes > 2:
        dense = {"units": int(classes), "activation": "softmax"}
    elif task == "classification":
        dense = {"units": 1, "activation": "sigmoid"}
    else:
        dense = {"units": max(1, int(classes or 1))}
    return [Node(_fresh(taken, "pool"), "GlobalAveragePooling2D", {}),
            Node(_fresh(taken, "head_dropout"), "Dropout", {"rate": DROPOUT}),
            Node(_fresh(taken, "predictions"), "Dense", dense)]


def _first_rgb_kernel(weights: dict, ids: list[str]) -> str | None:
    """The first layer whose kernel reads the 3 image channels (caffe networks: their first convolution)."""
    for nid in ids:
        arrays = weights.get(nid)
        if arrays:
            kernel = arrays[0]
            return nid if getattr(kernel, "ndim", 0) == 4 and kernel.shape[2] == 3 else None
    return None


def start_graph(name: str, image_shape, classes: int, task: str = "classification", size: int | None = None,
                weights: str | None = None, resize: bool = True) -> PretrainedStart:
    """A transfer-learning graph: the dataset's images through `name`'s frozen base into a new head.

    Args:
        name: The keras.applications network.
        image_shape: The dataset's sample shape (height, width, channels), pixels in [0, 1].
        classes: The dataset's classes (for regression, the number of targets).
        task: "classification" or "regression".
        size: The network's input size (default `default_size`).
        weights: "imagenet", None (random) or a weights file's path (`base_model`).
        resize: Whether images of another size may be resized (a Resizing layer). Without it, images
            smaller than the network's minimum are refused.

    Raises:
        PretrainedError / WeightsUnavailable: as `base_model`, or images the network cannot take.
    """
    from builder.files.importer import ModelImportError, import_keras_model

    app = application(name)
    img = image_size(image_shape)
    if img is None:
        raise PretrainedError(size_problem(app, image_shape))
    size = default_size(app, image_shape) if size is None else size
    check_size(app, size)
    h, w, channels = img
    if (h, w) != (size, size) and not resize:
        problem = size_problem(app, image_shape)
        raise PretrainedError(problem or f"these images are {h}×{w}; the network's input is {size}×{size}: "
                                         f"allow resizing, or choose {h} as the size")
    base = base_model(name, size, weights)
    try:
        imported = import_keras_model(base, f"{name}'s base")
    except ModelImportError as e:
        raise PretrainedError(str(e)) from None
    base_params = int(base.count_params())
    del base
    bg = imported.graph
    base_input = bg.input_ids()[0]
    base_ids = [nid for nid in bg.topological_order() if nid != base_input]
    taken = set(bg.ids())
    notes = []

    front: list[Node] = [Node(_fresh(taken, "image"), "Input", {"shape": [h, w, channels]})]
    if (h, w) != (size, size):
        front.append(Node(_fresh(taken, "resize"), "Resizing", {"height": size, "width": size}))
        notes.append(f"Resizing enlarges the {h}×{w} images to {size}×{size}" if size > min(h, w)
                     else f"Resizing scales the {h}×{w} images to {size}×{size}")
    edges: list[Edge] = [Edge(a.id, b.id) for a, b in pairwise(front)]
    if channels == 1:
        gray = Node(_fresh(taken, "to_rgb"), "Concatenate", {"axis": -1})
        edges += [Edge(front[-1].id, gray.id, port) for port in range(3)]
        front.append(gray)
        notes.append("Concatenate repeats the grey channel three times: the network takes RGB")
    pre = preprocessing_nodes(app, taken)
    edges.append(Edge(front[-1].id, pre[0].id))
    edges += [Edge(a.id, b.id) for a, b in pairwise(pre)]
    notes.append(f"{' and '.join(n.type for n in pre)} turn{'s' if len(pre) == 1 else ''} pixels in [0, 1] into what "
                 f"{name} was trained on: "
                 f"{PREPROCESSING[app.preprocessing]}")
    last_pre = pre[-1].id

    nodes = list(front) + pre
    nodes += [replace(bg.node(nid), trainable=False) for nid in base_ids]
    for e in bg.edges:
        edges.append(Edge(last_pre if e.source == base_input else e.source, e.target, e.port))
    head = head_nodes(task, classes, taken)
    (base_out,) = bg.output_ids()
    edges.append(Edge(base_out, head[0].id))
    edges += [Edge(a.id, b.id) for a, b in pairwise(head)]
    nodes += head

    weights_out = {nid: list(arrays) for nid, arrays in imported.weights.items()}
    if app.preprocessing == "caffe":
        first = _first_rgb_kernel(weights_out, base_ids)
        if first is not None:
            arrays = weights_out[first]
            weights_out[first] = [arrays[0][:, :, ::-1, :].copy(), *arrays[1:]]
            notes.append(f"'{first}' reads RGB: its kernel's input channels are reversed from the BGR order "
                         f"{name} was trained on, which computes the same")
    weight_note = {"imagenet": "ImageNet weights", None: "random weights"}.get(weights, "the weights file's weights")
    group = Group(BASE_GROUP, f"{name} base (frozen, {weight_note})", tuple(base_ids), True)
    graph = Graph(tuple(nodes), tuple(edges), f"{name} transfer", groups=(group,))
    notes.insert(0, f"{name} ({len(base_ids)} layers, {base_params:,} weights, {weight_note}) is one frozen group: "
                    f"train the head first, then fine-tune")
    return PretrainedStart(graph, weights_out, notes, app, size, base_params)


def calibrate_batch_norm(model, graph: Graph, weights: dict, images, most: int = 256) -> dict:
    """The weights with every BatchNormalization's moving mean and variance measured on `images`.

    A network with random weights, its BatchNormalization frozen (inference mode), fades its input away: in
    MobileNetV2 the features are about 1e-13 after 16 blocks, so a head trained on them learns nothing. Measured
    statistics keep every layer's output at about unit scale, and random features are then worth training a
    head on. (ImageNet weights bring their own statistics: this is for random weights only.)

    Args:
        model: `graph` built, holding `weights`; its BatchNormalization layers get the measured statistics.
        graph: A `start_graph` graph.
        weights: Its weights (`PretrainedStart.weights`).
        images: Training images as the graph takes them (pixels in [0, 1]); the first `most` are used.

    Returns:
        A copy of `weights` with the BatchNormalization layers' statistics replaced.
    """
    import numpy as np

    from builder.model.catalog import LAYERS

    norms = [model.get_layer(n.id) for n in graph.nodes if LAYERS[n.type].inference_when_frozen]
    saved = [(layer, layer.momentum, layer.trainable) for layer in norms]
    try:
        for layer in norms:
            layer.momentum, layer.trainable = 0.0, True  # one training-mode call sets the statistics to the batch's
        model(np.asarray(images[:most], dtype="float32"), training=True)
    finally:
        for layer, momentum, trainable in saved:
            layer.momentum, layer.trainable = momentum, trainable
    out = dict(weights)
    for layer in norms:
        out[layer.name] = [np.array(w) for w in layer.get_weights()]
    return out


def weights_cache_dir() -> str:
    """Where Keras keeps downloaded weights: the `models` folder of its home (KERAS_HOME, else ~/.keras)."""
    from keras.src.backend import config

    home = os.path.expanduser(config.keras_home())
    if not os.access(home, os.W_OK):  # as keras.utils.get_file falls back
        home = os.path.join("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir(), ".keras")
    return os.path.join(home, "models")


def drop_broken_downloads() -> list[str]:
    """Removes weight files in Keras's cache that are not whole HDF5 files.

    Keras writes a download straight to its final name and removes it when the download fails, but a process
    killed meanwhile leaves a half file, which Keras would then load (and fail on) every time, as most
    applications give no hash to check it by. Called under `_DOWNLOAD_LOCK`, before Keras looks.

    Returns:
        The paths removed.
    """
    import h5py

    folder = weights_cache_dir()
    removed = []
    try:
        names = [n for n in os.listdir(folder) if n.endswith(".h5")]
    except OSError:
        return removed
    for n in names:
        path = os.path.join(folder, n)
        try:
            with h5py.File(path, "r"):
                pass
        except OSError:
            try:
                os.remove(path)
                removed.append(path)
            except OSError:
                pass
    return removed


def parameter_text(n: float) -> str:
    """3.5 million -> '3.5M'."""
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.0f}k"


def macs_text(n: float | None) -> str:
    """MACs in G or M, '–' when unknown."""
    if n is None or not math.isfinite(n):
        return "–"
    return f"{n / 1e9:.2f}G" if n >= 1e9 else f"{n / 1e6:.0f}M"
