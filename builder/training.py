"""Training settings: optimizer, loss and metrics, suggested from the data and the model.

Losses and metrics are Keras objects, never strings: a model compiled with the
string "mse" fails to reload from .h5 (keras issue 19330).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from builder.catalog import LAYERS
from builder.graph import Graph

OPTIMIZERS = {
    "adam": "keras.optimizers.Adam(learning_rate={lr!r})",
    "sgd": "keras.optimizers.SGD(learning_rate={lr!r}, momentum=0.9)",
    "rmsprop": "keras.optimizers.RMSprop(learning_rate={lr!r})",
    "adagrad": "keras.optimizers.Adagrad(learning_rate={lr!r})",
    "adamw": "keras.optimizers.AdamW(learning_rate={lr!r})",
}
LOSSES = {
    "sparse_categorical_crossentropy": "keras.losses.SparseCategoricalCrossentropy(from_logits={logits!r})",
    "categorical_crossentropy": "keras.losses.CategoricalCrossentropy(from_logits={logits!r})",
    "binary_crossentropy": "keras.losses.BinaryCrossentropy(from_logits={logits!r})",
    "mse": "keras.losses.MeanSquaredError()",
    "mae": "keras.losses.MeanAbsoluteError()",
}
METRICS = {
    "accuracy": {
        "sparse_categorical_crossentropy": 'keras.metrics.SparseCategoricalAccuracy(name="accuracy")',
        "categorical_crossentropy": 'keras.metrics.CategoricalAccuracy(name="accuracy")',
        "binary_crossentropy": 'keras.metrics.BinaryAccuracy(name="accuracy"{threshold})',
    },
    "mae": 'keras.metrics.MeanAbsoluteError(name="mae")',
}


@dataclass
class CompileSettings:
    optimizer: str = "adam"
    learning_rate: float = 0.001
    loss: str = "sparse_categorical_crossentropy"
    from_logits: bool = False
    metrics: list[str] = field(default_factory=lambda: ["accuracy"])

    def to_dict(self) -> dict:
        return asdict(self)

    def optimizer_code(self) -> str:
        return OPTIMIZERS[self.optimizer].format(lr=self.learning_rate)

    def loss_code(self) -> str:
        return LOSSES[self.loss].format(logits=self.from_logits)

    def metrics_code(self) -> list[str]:
        out = []
        for m in self.metrics:
            code = METRICS[m]
            if isinstance(code, dict):
                if self.loss not in code:
                    continue
                code = code[self.loss].format(threshold=", threshold=0.0" if self.from_logits else "")
            out.append(code)
        return out

    def keras_objects(self):
        """(optimizer, loss, metrics) as new Keras objects."""
        from builder.kerasenv import load_keras

        scope = {"keras": load_keras()}
        return (eval(self.optimizer_code(), scope), eval(self.loss_code(), scope),
                [eval(m, scope) for m in self.metrics_code()])


def output_activation(graph: Graph, output_id: str | None = None) -> str | None:
    """The activation of an output node (None/'linear' mean logits)."""
    nid = output_id or graph.output_ids()[0]
    node = graph.node(nid)
    spec = LAYERS.get(node.type)
    if spec is None or spec.param("activation") is None:
        return None
    return spec.effective(node.params).get("activation")


def output_units(graph: Graph, output_id: str | None = None) -> int | None:
    node = graph.node(output_id or graph.output_ids()[0])
    units = node.params.get("units")
    return units if isinstance(units, int) else None


def suggest_compile(graph: Graph, task: str, classes: int) -> CompileSettings:
    """Loss and metrics that fit the labels and the output layer.

    A linear (or missing) last activation means the model outputs logits, so the
    loss is told `from_logits=True`.
    """
    saved = graph.extra.get("compile")
    act = output_activation(graph)
    logits = act in (None, "linear")
    if task == "regression":
        settings = CompileSettings(loss="mse", from_logits=False, metrics=["mae"])
    elif classes == 2 and output_units(graph) == 1:
        settings = CompileSettings(loss="binary_crossentropy", from_logits=act != "sigmoid")
    else:
        settings = CompileSettings(loss="sparse_categorical_crossentropy", from_logits=logits)
    if isinstance(saved, dict):  # a graph file's own choices, when they are well-formed
        checks = {
            "optimizer": lambda v: v in OPTIMIZERS,
            "learning_rate": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < 1e3,
            "loss": lambda v: v in LOSSES,
            "from_logits": lambda v: isinstance(v, bool),
            "metrics": lambda v: isinstance(v, list) and all(m in METRICS for m in v),
        }
        for key, ok in checks.items():
            if key in saved and ok(saved[key]):
                setattr(settings, key, saved[key])
    return settings
