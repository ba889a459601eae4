"""Starter graphs for "New": from an empty Input to a small ResNet.

Each template is written as a list of nodes, each with its inputs, so that
branches read top to bottom.
"""

from __future__ import annotations

from builder.model.graph import Edge, Graph, Node

Spec = tuple  # (id, type, params, inputs)


def _graph(name: str, nodes: list[Spec], description: str, dataset: str | None = None, **compile_) -> Graph:
    ns, es = [], []
    for nid, type_, params, inputs in nodes:
        ns.append(Node(nid, type_, params))
        many = len(inputs) > 1
        es.extend(Edge(src, nid, i if many else None) for i, src in enumerate(inputs))
    extra = {"description": description}
    if dataset:
        extra["training"] = {"dataset": dataset}
    if compile_:
        extra["compile"] = compile_
    return Graph(tuple(ns), tuple(es), name, extra=extra)


def _chain(name: str, shape: list, layers: list[tuple[str, dict]], description: str, dataset=None, **compile_) -> Graph:
    specs: list[Spec] = [("input", "Input", {"shape": shape}, [])]
    counts: dict[str, int] = {}
    for type_, params in layers:
        stem = params.pop("id", None) or type_.lower()
        counts[stem] = counts.get(stem, 0) + 1
        nid = stem if counts[stem] == 1 else f"{stem}_{counts[stem] - 1}"
        specs.append((nid, type_, params, [specs[-1][0]]))
    return _graph(name, specs, description, dataset, **compile_)


def empty() -> Graph:
    return _chain("model", [4], [], "Just an Input: add layers from the palette.")


def mlp() -> Graph:
    return _chain(
        "mlp", [4],
        [("Dense", {"units": 16, "activation": "relu"}), ("Dense", {"units": 8, "activation": "relu"}),
         ("Dense", {"units": 1, "id": "output"})],
        "The seeds' MLP 4 -> 16 -> 8 -> 1 (225 parameters).",
    )


def iris_mlp() -> Graph:
    return _chain(
        "iris_mlp", [4],
        [("Dense", {"units": 16, "activation": "relu"}), ("Dense", {"units": 8, "activation": "relu"}),
         ("Dense", {"units": 3, "activation": "softmax", "id": "output"})],
        "A small classifier for the iris flowers (3 classes).", dataset="iris",
    )


def cifar_cnn() -> Graph:
    return _chain(
        "cifar_cnn", [32, 32, 3],
        [
            ("Conv2D", {"filters": 32, "kernel_size": [3, 3], "activation": "relu"}),
            ("MaxPooling2D", {"id": "pool"}),
            ("Conv2D", {"filters": 64, "kernel_size": [3, 3], "activation": "relu"}),
            ("MaxPooling2D", {"id": "pool"}),
            ("Conv2D", {"filters": 64, "kernel_size": [3, 3], "activation": "relu"}),
            ("Flatten", {}),
            ("Dense", {"units": 64, "activation": "relu"}),
            ("Dense", {"units": 10, "id": "head"}),
        ],
        "The seeds' CIFAR-10 CNN: Conv2D 32-64-64, two MaxPooling, Dense 64, Dense 10 (122,570 parameters).",
        dataset="cifar10",
    )


def mnist_cnn() -> Graph:
    return _chain(
        "mnist_cnn", [28, 28, 1],
        [
            ("Rescaling", {"scale": 1 / 255}),
            ("Conv2D", {"filters": 32, "kernel_size": [3, 3], "activation": "relu"}),
            ("MaxPooling2D", {"id": "pool"}),
            ("Conv2D", {"filters": 64, "kernel_size": [3, 3], "activation": "relu"}),
            ("MaxPooling2D", {"id": "pool"}),
            ("Flatten", {}),
            ("Dropout", {"rate": 0.5}),
            ("Dense", {"units": 10, "activation": "softmax", "id": "head"}),
        ],
        "A classic MNIST CNN for 28x28 grey images.", dataset="mnist",
    )


def digits_cnn() -> Graph:
    return _chain(
        "digits_cnn", [8, 8, 1],
        [
            ("Conv2D", {"filters": 16, "kernel_size": [3, 3], "padding": "same", "activation": "relu"}),
            ("MaxPooling2D", {"id": "pool"}),
            ("Conv2D", {"filters": 32, "kernel_size": [3, 3], "padding": "same", "activation": "relu"}),
            ("Flatten", {}),
            ("Dense", {"units": 64, "activation": "relu"}),
            ("Dense", {"units": 10, "activation": "softmax", "id": "head"}),
        ],
        "A small CNN for the built-in 8x8 digits (no download): trains in seconds, then draw a digit on the "
        "Inspect page.", dataset="digits",
    )


def lenet5() -> Graph:
    return _chain(
        "lenet5", [28, 28, 1],
        [
            ("Conv2D", {"filters": 6, "kernel_size": [5, 5], "padding": "same", "activation": "tanh", "id": "c1"}),
            ("AveragePooling2D", {"pool_size": [2, 2], "id": "s2"}),
            ("Conv2D", {"filters": 16, "kernel_size": [5, 5], "activation": "tanh", "id": "c3"}),
            ("AveragePooling2D", {"pool_size": [2, 2], "id": "s4"}),
            ("Flatten", {}),
            ("Dense", {"units": 120, "activation": "tanh", "id": "c5"}),
            ("Dense", {"units": 84, "activation": "tanh", "id": "f6"}),
            ("Dense", {"units": 10, "activation": "softmax", "id": "output"}),
        ],
        "LeNet-5 (LeCun et al., 1998) for 28x28 digits.", dataset="mnist",
    )


def small_resnet() -> Graph:
    conv = {"filters": 16, "kernel_size": [3, 3], "padding": "same"}
    return _graph(
        "small_resnet",
        [
            ("image", "Input", {"shape": [32, 32, 3]}, []),
            ("stem", "Conv2D", {**conv, "activation": "relu"}, ["image"]),
            ("b1_conv1", "Conv2D", {**conv, "activation": "relu"}, ["stem"]),
            ("b1_conv2", "Conv2D", conv, ["b1_conv1"]),
            ("b1_add", "Add", {}, ["stem", "b1_conv2"]),
            ("b1_relu", "ReLU", {}, ["b1_add"]),
            ("b2_conv1", "Conv2D", {**conv, "activation": "relu"}, ["b1_relu"]),
            ("b2_conv2", "Conv2D", conv, ["b2_conv1"]),
            ("b2_add", "Add", {}, ["b1_relu", "b2_conv2"]),
            ("b2_relu", "ReLU", {}, ["b2_add"]),
            ("pool", "GlobalAveragePooling2D", {}, ["b2_relu"]),
            ("head", "Dense", {"units": 10, "activation": "softmax"}, ["pool"]),
        ],
        "Two residual blocks: each adds its input back to its output (skip connections).",
        dataset="cifar10",
    )


def inception_block() -> Graph:
    return _graph(
        "inception_block",
        [
            ("image", "Input", {"shape": [32, 32, 3]}, []),
            ("branch_1x1", "Conv2D", {"filters": 16, "kernel_size": [1, 1], "activation": "relu"}, ["image"]),
            ("branch_3x3_reduce", "Conv2D", {"filters": 8, "kernel_size": [1, 1], "activation": "relu"}, ["image"]),
            ("branch_3x3", "Conv2D", {"filters": 16, "kernel_size": [3, 3], "padding": "same", "activation": "relu"}, ["branch_3x3_reduce"]),
            ("branch_5x5_reduce", "Conv2D", {"filters": 4, "kernel_size": [1, 1], "activation": "relu"}, ["image"]),
            ("branch_5x5", "Conv2D", {"filters": 8, "kernel_size": [5, 5], "padding": "same", "activation": "relu"}, ["branch_5x5_reduce"]),
            ("branch_pool", "MaxPooling2D", {"pool_size": [3, 3], "strides": [1, 1], "padding": "same"}, ["image"]),
            ("branch_pool_proj", "Conv2D", {"filters": 8, "kernel_size": [1, 1], "activation": "relu"}, ["branch_pool"]),
            ("mixed", "Concatenate", {}, ["branch_1x1", "branch_3x3", "branch_5x5", "branch_pool_proj"]),
            ("pool", "GlobalAveragePooling2D", {}, ["mixed"]),
            ("head", "Dense", {"units": 10, "activation": "softmax"}, ["pool"]),
        ],
        "An Inception-style block: four parallel branches joined by Concatenate.",
        dataset="cifar10",
    )


def lstm_text() -> Graph:
    return _graph(
        "lstm_text",
        [
            ("tokens", "Input", {"shape": [20], "dtype": "int32"}, []),
            ("embedding", "Embedding", {"input_dim": 50, "output_dim": 16}, ["tokens"]),
            ("lstm", "LSTM", {"units": 32}, ["embedding"]),
            ("head", "Dense", {"units": 2, "activation": "softmax"}, ["lstm"]),
        ],
        "A text classifier: token ids -> Embedding -> LSTM -> Dense.",
        dataset="tokens",
    )


def conv1d_series() -> Graph:
    return _chain(
        "conv1d_series", [32, 1],
        [
            ("Conv1D", {"filters": 16, "kernel_size": 3, "activation": "relu"}),
            ("MaxPooling1D", {"id": "pool"}),
            ("Conv1D", {"filters": 32, "kernel_size": 3, "activation": "relu"}),
            ("GlobalAveragePooling1D", {"id": "gap"}),
            ("Dense", {"units": 1, "id": "forecast"}),
        ],
        "Forecasts the next value of a time series with 1-D convolutions.",
        dataset="waves",
    )


def autoencoder() -> Graph:
    return _chain(
        "autoencoder", [64],
        [
            ("Dense", {"units": 32, "activation": "relu", "id": "enc"}),
            ("Dense", {"units": 8, "activation": "relu", "id": "code"}),
            ("Dense", {"units": 32, "activation": "relu", "id": "dec"}),
            ("Dense", {"units": 64, "activation": "sigmoid", "id": "reconstruction"}),
        ],
        "A dense autoencoder: squeezes 64 features through an 8-unit code and rebuilds them.",
        dataset="digits_rebuild",
    )


def two_inputs() -> Graph:
    return _graph(
        "two_inputs",
        [
            ("image", "Input", {"shape": [8, 8, 1]}, []),
            ("table", "Input", {"shape": [4]}, []),
            ("conv", "Conv2D", {"filters": 8, "kernel_size": [3, 3], "activation": "relu"}, ["image"]),
            ("flat", "Flatten", {}, ["conv"]),
            ("table_dense", "Dense", {"units": 8, "activation": "relu"}, ["table"]),
            ("joined", "Concatenate", {}, ["flat", "table_dense"]),
            ("hidden", "Dense", {"units": 16, "activation": "relu"}, ["joined"]),
            ("head", "Dense", {"units": 10, "activation": "softmax"}, ["hidden"]),
        ],
        "Two inputs (an image and a table of numbers) joined into one prediction.",
    )


def two_outputs() -> Graph:
    return _graph(
        "two_outputs",
        [
            ("features", "Input", {"shape": [16]}, []),
            ("shared", "Dense", {"units": 32, "activation": "relu"}, ["features"]),
            ("class_head", "Dense", {"units": 3, "activation": "softmax"}, ["shared"]),
            ("value_head", "Dense", {"units": 1}, ["shared"]),
        ],
        "One body, two heads: a class and a number predicted together.",
    )


TEMPLATES = {
    "empty": ("Empty (one Input)", empty),
    "mlp": ("MLP 4→16→8→1", mlp),
    "iris_mlp": ("Iris classifier (MLP)", iris_mlp),
    "cifar_cnn": ("CIFAR-10 CNN", cifar_cnn),
    "mnist_cnn": ("MNIST CNN (28×28×1)", mnist_cnn),
    "digits_cnn": ("Digits CNN (8×8 images)", digits_cnn),
    "lenet5": ("LeNet-5", lenet5),
    "small_resnet": ("Small ResNet (skips)", small_resnet),
    "inception_block": ("Inception (Concatenate)", inception_block),
    "lstm_text": ("LSTM text classifier", lstm_text),
    "conv1d_series": ("Conv1D time series", conv1d_series),
    "autoencoder": ("Dense autoencoder", autoencoder),
    "two_inputs": ("Two inputs: image, table", two_inputs),
    "two_outputs": ("Two outputs", two_outputs),
}


def template(key: str) -> Graph:
    """A fresh copy of a template graph by key (see TEMPLATES)."""
    return TEMPLATES[key][1]()
