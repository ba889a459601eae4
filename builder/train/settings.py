"""Training settings: optimizer, loss and metrics, suggested from the data and the model; the fit settings
and their checks; the memory a run needs.

Losses and metrics are Keras objects, never strings: a model compiled with the
string "mse" fails to reload from .h5 (keras issue 19330).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from builder.config import BATCH_SIZE, EPOCHS, OPTIMIZER_NAMES, PATIENCE, STEPS_PER_EXECUTION
from builder.model.catalog import LAYERS
from builder.model.graph import Graph

OPTIMIZERS = {
    "adam": "keras.optimizers.Adam(learning_rate={lr!r})",
    "sgd": "keras.optimizers.SGD(learning_rate={lr!r}, momentum=0.9)",
    "rmsprop": "keras.optimizers.RMSprop(learning_rate={lr!r})",
    "adagrad": "keras.optimizers.Adagrad(learning_rate={lr!r})",
    "adamw": "keras.optimizers.AdamW(learning_rate={lr!r})",
}


assert tuple(OPTIMIZERS) == OPTIMIZER_NAMES, "builder.config.OPTIMIZER_NAMES names these"


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
    # Only for numbers to predict: with class labels (sparse) it would compare a label with a row of scores.
    "mae": {"mse": 'keras.metrics.MeanAbsoluteError(name="mae")', "mae": 'keras.metrics.MeanAbsoluteError(name="mae")'},
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


def _value_source(graph: Graph, output_id: str | None = None):
    """The node whose values an output gives out: through dropout and noise layers, which pass them on."""
    node = graph.node(output_id or graph.output_ids()[0])
    seen = set()
    while node.id not in seen:
        seen.add(node.id)
        spec = LAYERS.get(node.type)
        sources = graph.inputs_of(node.id)
        if spec is None or not spec.passthrough or len(sources) != 1:
            break
        node = graph.node(sources[0])
    return node


def output_activation(graph: Graph, output_id: str | None = None) -> str | None:
    """The activation of an output node (None/'linear' mean logits)."""
    node = _value_source(graph, output_id)
    spec = LAYERS.get(node.type)
    if spec is None:
        return None
    if spec.param("activation") is None:
        return spec.applies
    return spec.effective(node.params).get("activation")


def output_units(graph: Graph, output_id: str | None = None) -> int | None:
    node = _value_source(graph, output_id)
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
            # Names are looked up only when they are text: a list or an object from the file is not hashable.
            "optimizer": lambda v: isinstance(v, str) and v in OPTIMIZERS,
            # The Train page's field takes 1e-7 to 1e6: a saved rate outside it would stop the page.
            "learning_rate": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 1e-7 <= v < 1e3,
            "loss": lambda v: isinstance(v, str) and v in LOSSES,
            "from_logits": lambda v: isinstance(v, bool),
            "metrics": lambda v: isinstance(v, list) and all(isinstance(m, str) and m in METRICS for m in v),
        }
        for key, ok in checks.items():
            if key in saved and ok(saved[key]):
                setattr(settings, key, saved[key])
    return settings


class SettingsError(ValueError):
    """Training settings that can't be used; str(e) says which and why."""


@dataclass
class TrainSettings:
    """Everything a training run needs besides the graph and the data."""

    compile: CompileSettings = field(default_factory=CompileSettings)
    epochs: int = 10
    batch_size: int = 32
    validation_split: float = 0.2
    patience: int = 0  # early stopping on the validation loss; 0 = off
    seed: int = 0
    strategy: str = "auto"  # builder.train.distribute.STRATEGIES
    mixed_precision: bool = False  # float16 compute, float32 weights (fast on recent GPUs)
    jit_compile: bool = False  # XLA
    steps_per_execution: int = 1  # batches per call into TensorFlow
    inspect: bool = True  # per-epoch weight and gradient norms and histograms of each layer (builder.train.inspect)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainSettings:
        """Settings from `to_dict` output (e.g. a stored run), checked.

        Raises:
            SettingsError: a value of the wrong type or out of range.
        """
        if not isinstance(data, dict):
            raise SettingsError("training settings must be a dict")
        comp = data.get("compile", {})
        if not isinstance(comp, dict):
            raise SettingsError("compile settings must be a dict")
        known = set(CompileSettings.__dataclass_fields__)
        settings = cls(compile=CompileSettings(**{k: v for k, v in comp.items() if k in known}),
                       **{k: data[k] for k in ("epochs", "batch_size", "validation_split", "patience", "seed",
                                                 "strategy", "mixed_precision", "jit_compile", "steps_per_execution",
                                                 "inspect")
                          if k in data})
        settings.check()
        return settings

    def check(self) -> None:
        """Raises SettingsError naming the first bad value."""
        c = self.compile

        def whole(name, value, low, high):
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise SettingsError(f"{name} must be a whole number from {low} to {high}, got {value!r}")

        whole("epochs", self.epochs, *EPOCHS)
        whole("batch size", self.batch_size, *BATCH_SIZE)
        whole("patience", self.patience, *PATIENCE)
        whole("seed", self.seed, 0, 2**31 - 1)
        whole("steps per execution", self.steps_per_execution, *STEPS_PER_EXECUTION)
        from builder.train.distribute import STRATEGIES

        if self.strategy not in STRATEGIES:
            raise SettingsError(f"unknown strategy {self.strategy!r}: use one of {', '.join(STRATEGIES)}")
        for name in ("mixed_precision", "jit_compile", "inspect"):
            if not isinstance(getattr(self, name), bool):
                raise SettingsError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if not isinstance(self.validation_split, (int, float)) or isinstance(self.validation_split, bool) \
                or not 0 <= self.validation_split < 1:
            raise SettingsError(f"validation split must be from 0 to 0.9, got {self.validation_split!r}")
        if c.optimizer not in OPTIMIZERS:
            raise SettingsError(f"unknown optimizer {c.optimizer!r}: use one of {', '.join(OPTIMIZERS)}")
        if c.loss not in LOSSES:
            raise SettingsError(f"unknown loss {c.loss!r}: use one of {', '.join(LOSSES)}")
        lr = c.learning_rate
        if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not 0 < lr < 1e7:
            raise SettingsError(f"learning rate must be a number above 0, got {lr!r}")
        if not isinstance(c.from_logits, bool):
            raise SettingsError(f"from_logits must be true or false, got {c.from_logits!r}")
        if not isinstance(c.metrics, list) or any(m not in METRICS for m in c.metrics):
            raise SettingsError(f"metrics must be a list of {', '.join(METRICS)}, got {c.metrics!r}")


def settings_from_graph(graph: Graph, dataset, **overrides) -> TrainSettings:
    """Settings for training `graph` on `dataset`: the compile settings suggested for the model and the data, with
    the graph file's `compile` (optimizer, learning_rate) and `training` fields (epochs, batch_size,
    validation_split, patience, seed) on top, and `overrides` (None: not given) over everything.

    Raises:
        SettingsError: a value of the wrong type or out of range.
    """
    comp = suggest_compile(graph, dataset.task, dataset.classes)
    saved_compile = graph.extra.get("compile") if isinstance(graph.extra.get("compile"), dict) else {}
    for key in ("optimizer", "learning_rate"):
        value = overrides.pop(key, None)
        value = saved_compile.get(key) if value is None else value
        if value is not None:
            setattr(comp, key, value)
    saved = graph.extra.get("training") if isinstance(graph.extra.get("training"), dict) else {}
    plain = TrainSettings()  # the defaults, as the dataclass declares them
    defaults = {k: getattr(plain, k) for k in ("epochs", "batch_size", "validation_split", "patience", "seed")}
    values = {k: saved.get(k, v) if saved.get(k) is not None else v for k, v in defaults.items()}
    values.update({k: v for k, v in overrides.items() if v is not None})
    settings = TrainSettings(compile=comp, **values)
    settings.check()
    return settings


def suggest_epochs(n_train: int, batch_size: int, steps: int = 300) -> int:
    """Enough epochs for about `steps` batches in all (small datasets need many), from 10 to 100."""
    per_epoch = max(1, math.ceil(n_train * 0.8 / max(batch_size, 1)))
    return min(100, max(10, math.ceil(steps / per_epoch)))


def loss_warnings(graph: Graph, settings: CompileSettings, task: str, classes: int) -> list[str]:
    """Plain warnings when the chosen loss contradicts the labels or the output layer."""
    out = []
    act = output_activation(graph)
    units = output_units(graph)
    linear = act in (None, "linear")
    loss = settings.loss
    if task == "regression" and loss not in ("mse", "mae"):
        out.append(f"The labels are numbers to predict (regression), but the loss is {loss}: use mse or mae.")
    if task == "classification" and loss in ("mse", "mae"):
        out.append(f"The labels are {classes} classes, but the loss is {loss}: use a crossentropy loss.")
    if loss == "binary_crossentropy" and classes > 2:
        out.append(f"binary_crossentropy is for 2 classes; the data has {classes}: "
                   "use sparse_categorical_crossentropy.")
    if loss in ("sparse_categorical_crossentropy", "categorical_crossentropy") and units == 1:
        out.append(f"{loss} needs one output unit per class, but the model ends in 1 unit: "
                   "use binary_crossentropy, or Dense(2, softmax).")
    if loss.endswith("crossentropy"):
        if linear and not settings.from_logits:
            out.append("The last layer has no activation (it outputs logits): tick from_logits.")
        if not linear and settings.from_logits:
            out.append(f"The last layer applies {act}, so its outputs are not logits: untick from_logits.")
        if act == "softmax" and loss == "binary_crossentropy" and units == 1:
            out.append("softmax over 1 unit always outputs 1: use sigmoid.")
    return out


def memory_problem(result, settings: TrainSettings, budget: int | None = None) -> str | None:
    """None if training a built graph (`BuildResult`) with these settings fits the server's memory
    budget (LAYERCANVAS_MEMORY_BUDGET_MB); else what to change."""
    from builder.model.memory import BUDGET_BYTES, estimate, over_budget

    need = estimate(result.infos, result.order, settings.batch_size, settings.compile.optimizer)
    return over_budget(need, BUDGET_BYTES if budget is None else budget)
