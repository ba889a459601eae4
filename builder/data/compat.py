"""Does a model fit a dataset? Input shape against the samples, output against the labels.

Read from the graph alone (no Keras): the Input's `shape` param and the output
node's `units` and `activation` params, whatever its layer type. When the app
has built the model it can pass the output's built shape, which also covers
output layers without `units`.

An issue whose message asks for one concrete change carries it as a `ModelFix`
(Graph edits, in the style of `validate.Fix`); `apply_fix` makes it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from builder.data.datasets import Dataset
from builder.model.catalog import LAYERS
from builder.model.graph import Graph, GraphError, Node, describe
from builder.model.layout import room_for_new
from builder.model.validate import Fix
from builder.model.validate import apply_fix as apply_edit

ERROR = "error"
WARNING = "warning"
LOGITS = (None, "linear")
NORMALIZING = ("softmax", "log_softmax")
# The range an activation can output: regression targets outside it cannot be fitted.
RANGES = {
    "sigmoid": (0.0, 1.0), "hard_sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "softsign": (-1.0, 1.0),
    "relu": (0.0, math.inf), "relu6": (0.0, 6.0), "softplus": (0.0, math.inf), "exponential": (0.0, math.inf),
    "elu": (-1.0, math.inf), "selu": (-1.7581, math.inf),
}
_UNKNOWN = object()  # the output layer has no activation param
_SAMPLE = 2000  # rows looked at when checking values


@dataclass(frozen=True)
class ModelFix:
    """The change an issue's message asks for, as one-click Graph edits.

    Args:
        label: What changes, naming the node ("Dense 'head': units 1 → 10").
        steps: `validate.Fix` edits, applied in order.
    """

    label: str
    steps: tuple[Fix, ...]


@dataclass(frozen=True)
class CompatIssue:
    """One mismatch between model and data.

    Args:
        level: "error" (training would fail or be meaningless) or "warning".
        node_id: The node to change; None for the model as a whole.
        message: What is wrong and what to do.
        code: The kind of mismatch (`input_shape`, `classes`, ...): one per node at most.
        fix: The change the message asks for, when it names one; None when the
            right change is the user's choice.
    """

    level: str
    node_id: str | None
    message: str
    code: str = ""
    fix: ModelFix | None = None


def apply_fix(graph: Graph, issue: CompatIssue) -> Graph:
    """The graph with `issue`'s fix made (a new graph; `graph` is unchanged).

    Raises:
        GraphError: the issue has no fix, or it no longer applies (the graph changed since).
    """
    if issue.fix is None:
        raise GraphError(f"there is no single change to make for this: {issue.message}", issue.node_id)
    fixed = graph
    for step in issue.fix.steps:
        fixed = apply_edit(fixed, step)
    return room_for_new(graph, fixed)


def _value(v) -> str:
    """A param value in a fix's label: `none` for no activation, shapes as `[8, 8, 1]`."""
    if v is None:
        return "none"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(str(x) for x in v) + "]"
    return str(v)


def _set_params(node: Node, changes: dict) -> ModelFix | None:
    """A fix setting params of `node` (a value None: back to the Keras default); None when there is nothing to
    set or its layer lacks one of them (units read from the built shape of a Dropout, say)."""
    spec = LAYERS[node.type]
    if not changes or any(spec.param(name) is None for name in changes):
        return None
    now = spec.effective(node.params)
    shown = ", ".join(f"{name} {_value(now.get(name))} → {_value(value)}" for name, value in changes.items())
    steps = tuple(Fix(f"Set {name} of {node.id} to {_value(value)}", "set_param",
                      {"node_id": node.id, "name": name, "value": value}) for name, value in changes.items())
    return ModelFix(f"{describe(node)}: {shown}", steps)


def _no_activation(node: Node, act) -> dict:
    """The change to "no activation": none when it has none (or no such param); else its default when that is
    linear (Dense), else "linear" (an RNN's default is tanh; Activation has no default)."""
    ps = LAYERS[node.type].param("activation")
    if ps is None or act in LOGITS:
        return {}
    return {"activation": None if not ps.required and ps.default in LOGITS else "linear"}


def _shape(shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _names(ids: list[str]) -> str:
    shown = ", ".join(ids[:4]) + (", ..." if len(ids) > 4 else "")
    return f" ({shown})" if ids else ""


def _count(n: int, word: str) -> str:
    return f"no {word}s" if n == 0 else f"{n} {word}{'s' * (n != 1)}"


def check(graph: Graph, dataset: Dataset, output_shape: tuple | None = None) -> list[CompatIssue]:
    """What stops (errors) or spoils (warnings) training this graph on this dataset.

    Args:
        output_shape: The output node's shape as built, batch axis first
            (`BuildResult.infos[id].output_shape`); default: read `units` from
            its params.

    Returns:
        Issues, errors first; empty when the two fit.
    """
    inputs = [i for i in graph.input_ids() if graph.has(i)]
    outputs = [o for o in graph.output_ids() if graph.has(o)]
    if len(inputs) != 1 or len(outputs) != 1:
        wrong = []
        if len(inputs) != 1:
            wrong.append(_count(len(inputs), "input") + _names(inputs))
        if len(outputs) != 1:
            wrong.append(_count(len(outputs), "output") + _names(outputs))
        return [CompatIssue(ERROR, None, f"Training here needs one input and one output; this model has "
                                         f"{' and '.join(wrong)}.", "inputs_outputs")]
    if inputs[0] == outputs[0]:
        return [CompatIssue(ERROR, inputs[0], f"The model is only its input '{inputs[0]}': add layers after it.",
                            "bare_input")]
    issues = _input_issues(graph, inputs[0], dataset) + _output_issues(graph, outputs[0], dataset, output_shape)
    return sorted(issues, key=lambda i: i.level != ERROR)


# -- input ---------------------------------------------------------------------
def _input_issues(graph: Graph, nid: str, dataset: Dataset) -> list[CompatIssue]:
    node = graph.node(nid)
    spec = LAYERS[node.type]
    params = spec.effective(node.params)
    expected, data = params.get("shape"), dataset.input_shape
    if not isinstance(expected, (list, tuple)) or not all(d is None or isinstance(d, int) for d in expected):
        return []  # validation reports a malformed shape
    expected = tuple(expected)
    name = describe(node)
    set_shape = _set_params(node, {"shape": list(data)})
    if len(expected) == len(data) and all(e is None or e == d for e, d in zip(expected, data, strict=True)):
        issues = []
    elif None not in expected and math.prod(expected) == math.prod(data):
        # The layers after the Input were made for `expected`: a Reshape back to it keeps them working.
        back = Fix(f"Add a Reshape to {list(expected)} after {nid}", "insert_after",
                   {"source": nid, "type_": "Reshape", "params": {"target_shape": list(expected)}})
        fix = ModelFix(set_shape.label + f", and a Reshape to {list(expected)} after it", set_shape.steps + (back,))
        issues = [CompatIssue(ERROR, nid, (
            f"{name} expects {_shape(expected)} but the data has {_shape(data)} (the same {math.prod(data):,} values): "
            f"set its shape to {list(data)} and add a Reshape to {list(expected)} after it, so the layers after it "
            f"still get {_shape(expected)}."
        ), "input_shape", fix)]
    elif len(expected) == 1 and len(data) > 1 and set_shape is not None:
        # A flat model (Dense after the Input) meets images: it needs them flat, one vector per sample.
        flat = Fix(f"Add a Flatten after {nid}", "insert_after", {"source": nid, "type_": "Flatten", "params": {}})
        fix = ModelFix(set_shape.label + ", and a Flatten after it", set_shape.steps + (flat,))
        issues = [CompatIssue(ERROR, nid, f"{name} expects {_shape(expected)} but the data has {_shape(data)}: "
                                          f"set its shape to {list(data)} and add a Flatten after it, so the "
                                          f"layers after it get one flat vector per sample.", "input_shape", fix)]
    else:
        issues = [CompatIssue(ERROR, nid, f"{name} expects {_shape(expected)} but the data has {_shape(data)}: "
                                          f"set its shape to {list(data)}.", "input_shape", set_shape)]
    dtype = params.get("dtype")
    if isinstance(dtype, str) and dtype.startswith(("int", "bool")) and not _whole(dataset.x_train):
        issues.append(CompatIssue(WARNING, nid, (
            f"{name} has dtype {dtype} but the data holds fractions, which would be cut to whole numbers: "
            f"set its dtype to float32."
        ), "input_dtype", _set_params(node, {"dtype": "float32"})))
    return issues


def _whole(x: np.ndarray) -> bool:
    if np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.bool_):
        return True
    sample = x[:_SAMPLE]
    return bool(np.all(sample == np.round(sample)))


# -- output --------------------------------------------------------------------
def _output_issues(graph: Graph, nid: str, dataset: Dataset, output_shape: tuple | None) -> list[CompatIssue]:
    node = graph.node(nid)
    spec = LAYERS.get(node.type)
    if spec is None:
        return []  # validation reports unknown types
    params = spec.effective(node.params)
    act = params.get("activation") if spec.param("activation") is not None else _UNKNOWN
    units = params.get("units") if isinstance(params.get("units"), int) and not isinstance(params.get("units"), bool) else None
    name = describe(node)
    if output_shape is not None:
        sample = tuple(output_shape)[1:]
        label = tuple(dataset.y_train.shape[1:]) if dataset.task == "regression" else ()
        if len(sample) > max(1, len(label)):
            what = "each label is one class" if dataset.task == "classification" else _targets(dataset.y_train)
            # No fix: Flatten or which pooling is the user's choice, and neither goes before every last layer.
            return [CompatIssue(ERROR, nid, (
                f"{name} outputs {_shape(sample)} per sample but {what}: add Flatten (or global pooling) before the "
                f"last layer so it outputs one vector."
            ), "output_axes")]
        units = sample[-1] if sample and isinstance(sample[-1], int) else units
    if dataset.task == "classification":
        return _classifier_issues(node, name, units, act, dataset.classes)
    return _regression_issues(node, name, units, act, dataset)


def _layer_text(type_: str, units, act) -> str:
    shown = "" if act in LOGITS or act is _UNKNOWN else f", {act}"
    return f"{type_}({units}{shown})"


def _classifier_issues(node: Node, name: str, units, act, k: int) -> list[CompatIssue]:
    nid, type_ = node.id, node.type
    binary_ok = k == 2 and units == 1
    if units is not None and units != k and not binary_ok:
        # Units read from the built shape of a layer without a `units` param: _set_params gives no fix.
        if units == 1 and act in NORMALIZING:
            return [CompatIssue(ERROR, nid, f"{name}: softmax over 1 unit always outputs 1, and the data has {k} "
                                            f"classes: use {type_}({k}, softmax).", "classes",
                                _set_params(node, {"units": k, "activation": "softmax"}))]
        logits = act in LOGITS
        keep = f"{type_}({k})" if logits else f"{type_}({k}, softmax)"
        return [CompatIssue(ERROR, nid, (
            f"The model ends in {_layer_text(type_, units, act)} ('{nid}') but the data has {k} classes: use {keep}."
        ), "classes", _set_params(node, {"units": k} if logits else {"units": k, "activation": "softmax"}))]
    if units == 1 and act in NORMALIZING:
        # Two right answers; the fix takes the first, which changes one param.
        return [CompatIssue(ERROR, nid, f"{name}: softmax over 1 unit always outputs 1: use {type_}(1, sigmoid) or "
                                        f"{type_}(2, softmax).", "softmax_one_unit",
                            _set_params(node, {"activation": "sigmoid"}))]
    if act is _UNKNOWN or act in LOGITS or act == "softmax" or (binary_ok and act == "sigmoid"):
        return []  # probabilities, or logits (the loss is told from_logits)
    softmax = _set_params(node, {"activation": "softmax"})
    if act == "sigmoid":
        return [CompatIssue(WARNING, nid, (
            f"{name} ends in sigmoid, which scores each of the {k} classes on its own: use softmax"
            + (f", or {type_}(1, sigmoid) for two classes." if k == 2 else ".")
        ), "classifier_activation", softmax)]
    return [CompatIssue(WARNING, nid, f"{name} ends in {act}, which is unusual for a classifier: use softmax, or no "
                                      f"activation for logits.", "classifier_activation", softmax)]


def _target_size(y: np.ndarray) -> int:
    return int(math.prod(y.shape[1:])) if y.ndim > 1 else 1


def _targets(y: np.ndarray) -> str:
    d = _target_size(y)
    return "each target is one number" if d == 1 else f"each target has {d} values"


def _regression_issues(node: Node, name: str, units, act, dataset: Dataset) -> list[CompatIssue]:
    nid, type_ = node.id, node.type
    y = dataset.y_train
    d = _target_size(y)
    targets = _targets(y)
    linear = _no_activation(node, act)
    if units is not None and units != d:
        return [CompatIssue(ERROR, nid, f"{name} outputs {units} values but {targets}: use {type_}({d}) with no "
                                        f"activation.", "targets", _set_params(node, {"units": d, **linear}))]
    if act in NORMALIZING:
        return [CompatIssue(ERROR, nid, f"{name} ends in {act}, which cannot fit regression targets"
                                        f"{' (over 1 unit it always outputs 1)' if d == 1 and act == 'softmax' else ''}: "
                                        f"use {type_}({d}) with no activation.", "regression_activation",
                            _set_params(node, linear))]
    if isinstance(act, str) and act in RANGES:
        lo, hi = RANGES[act]
        both = np.concatenate([y.ravel(), dataset.y_test.ravel()])
        y_lo, y_hi = float(both.min()), float(both.max())
        if y_lo < lo or y_hi > hi:
            bounds = f"at least {lo:g}" if hi == math.inf else f"between {lo:g} and {hi:g}"
            return [CompatIssue(WARNING, nid, (
                f"{name} ends in {act}, which outputs values {bounds}, but the targets range from {y_lo:.4g} to "
                f"{y_hi:.4g}: use {type_}({d}) with no activation."
            ), "target_range", _set_params(node, linear))]
    return []
