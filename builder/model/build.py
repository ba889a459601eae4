"""Graph -> keras.Model, layer by layer, with every error pinned to its node.

`ModelBuilder` keeps the layers of its last build. On the next build an
unchanged upstream part is reused as is (no new layers, no new calls), and an
unchanged layer downstream of an edit whose input shapes did not change is
called again instead of being re-created, so it keeps its weights and costs
no weight initialization. A one-parameter edit therefore creates one layer.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from builder.config import fmt_bytes, number
from builder.kerasenv import load_keras
from builder.model.catalog import (
    LAYERS,
    LayerSpec,
    channel_projection,
    inner_layer_name,
    show_value,
)
from builder.model.graph import Graph, GraphError, Node, describe, keras_name
from builder.model.memory import (
    BUDGET_BYTES,
    DEFAULT_BATCH,
    MemoryEstimate,
    estimate,
    over_budget,
)
from builder.model.validate import ERROR, WARNING, Fix, Issue, check_structure

# Weights beyond these counts are refused / warned about before anything is
# allocated (4 bytes each; training needs about 4x that with Adam).
PARAMS_SETTING = "LAYERCANVAS_MAX_PARAMS"
MAX_PARAMS = number(PARAMS_SETTING)
WARN_PARAMS = number("LAYERCANVAS_WARN_PARAMS")
# A layer object is called again at most this many times, then replaced by a
# fresh copy (weights carried over): each call leaves a node in Keras's history.
MAX_CALLS_PER_LAYER = 8


@dataclass
class NodeInfo:
    """What the canvas shows for a node once it is built."""

    output_shape: tuple | None = None
    params: int = 0
    trainable_params: int = 0
    non_trainable_params: int = 0
    formula: str = ""
    weight_bytes: int = 0


@dataclass
class BuildResult:
    """A build: its issues and what each node that built outputs. The `keras.Model` is put together from the built
    layers the first time `model` is asked for: an edit shows its shapes and counts without it (a layer after an
    edit whose input did not change is not called again until then)."""

    graph: Graph
    issues: list[Issue] = field(default_factory=list)
    infos: dict[str, NodeInfo] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    memory: MemoryEstimate | None = None  # training memory at batch DEFAULT_BATCH, of the nodes that built
    _link: Any = field(default=None, repr=False, compare=False)  # makes the model; None once made (or never)
    _model: Any = field(default=None, repr=False, compare=False)

    @property
    def model(self):
        """keras.Model when there is no error (made on first use; a refusal by Keras then adds a "model" issue)."""
        if self._link is not None:
            with _LINKING:
                if self._link is not None:
                    link, self._link = self._link, None
                    self._model = link(self)
        return self._model

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == ERROR]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == WARNING]

    @property
    def ok(self) -> bool:
        return self.model is not None

    def in_model(self) -> set[str] | None:
        """The nodes the model holds (every output and what leads to it), without making the model; None when
        the graph has errors (then no model)."""
        if self.errors:
            return None
        seen: set[str] = set()
        stack = [o for o in self.graph.output_ids() if o in self.infos]
        while stack:
            nid = stack.pop()
            if nid not in seen:
                seen.add(nid)
                stack.extend(self.graph.inputs_of(nid))
        return seen


_LINKING = threading.RLock()  # one model made at a time: making one calls layers that later builds keep


class BuildError(GraphError):
    """The graph does not build; `issues` says why, node by node."""

    def __init__(self, issues: list[Issue]):
        self.issues = issues
        errs = [i for i in issues if i.severity == ERROR] or issues
        super().__init__("; ".join(i.message for i in errs[:5]), errs[0].node_id if errs else None)


def fmt_shape(shape) -> str:
    """(None, 28, 28, 1) as Keras prints it."""
    if shape is None:
        return "?"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _keras_reason(exc: BaseException) -> str:
    """The useful sentence of a Keras error, on one line."""
    text = _ANSI.sub("", str(exc))
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith(("Exception encountered", "Arguments received", "•"))]
    reason = " ".join(lines[:2]) if lines else type(exc).__name__
    return reason if len(reason) <= 240 else reason[:237] + "..."


def _reshape_guess(shape: tuple, rank: int) -> list[int] | None:
    """A target shape of `rank` dims (batch included) for a fix, or None."""
    dims = list(shape[1:])
    if any(d is None for d in dims):
        return None
    want = rank - 1
    if len(dims) > want:  # collapse the trailing axes
        return dims[: want - 1] + [math.prod(dims[want - 1:])]
    n = math.prod(dims)
    if want == 3:
        for c in (1, 3):
            s = math.isqrt(n // c) if n % c == 0 else 0
            if s and s * s * c == n:
                return [s, s, c]
    return dims[:-1] + [dims[-1]] + [1] * (want - len(dims))


class ModelBuilder:
    """Builds graphs into Keras models, reusing what did not change.

    One builder per user session: it holds Keras layers, so it must not be
    shared between sessions.
    """

    def __init__(self, max_params: int | None = None, warn_params: int | None = None,
                 memory_budget: int | None = None, defer_weights: bool = True):
        self.defer_weights = defer_weights  # new layers' weights made when the model is (see _deferred_weights)
        self.max_params = MAX_PARAMS if max_params is None else max_params
        self.warn_params = WARN_PARAMS if warn_params is None else warn_params
        self.memory_budget = BUDGET_BYTES if memory_budget is None else memory_budget
        self._built_params = 0
        self.fresh_builds = 0  # times the kept layers were dropped because Keras refused a model made with them
        self._tensors: dict[str, tuple[Any, Any, NodeInfo]] = {}  # full signature -> (layer, output, info)
        self._layers: dict[str, tuple[Any, tuple]] = {}  # local signature -> (layer, input specs)
        self._counts: dict[tuple, tuple] = {}  # (id(layer), trainable) -> (layer, (trainable, frozen, bytes))

    def build(self, graph: Graph) -> BuildResult:
        """Validates and builds. Never raises for a bad graph."""
        load_keras()  # TensorFlow loads once per process
        _reuse_seed_generator_names()
        return self._build(graph)

    def _build(self, graph: Graph) -> BuildResult:
        result = BuildResult(graph, issues=check_structure(graph))
        try:
            result.order = graph.topological_order()
        except GraphError:
            return result
        blocked = {i.node_id for i in result.errors if i.node_id}
        self._built_params = 0  # weights so far: the limit is on the whole model
        outputs: dict[str, Any] = {}
        sigs: dict[str, str] = {}
        tensors, layers = {}, {}
        calls: dict[str, tuple[LayerSpec, list]] = {}  # node -> (spec, its entry in `tensors`), for `_link`
        kept = bool(self._tensors or self._layers)  # whether anything of an earlier build may be used
        image_origin: dict[str, str] = {}  # node -> the last-axis-only layer whose kept image axes it outputs
        counts: dict[tuple, tuple] = {}  # (id(layer), trainable) -> (layer, its weight counts), for the next build
        for nid in result.order:
            node = graph.node(nid)
            if nid in blocked or any(s not in outputs for s in graph.inputs_of(nid)):
                continue
            spec = LAYERS[node.type]
            ins = [outputs[s] for s in graph.inputs_of(nid)]
            local = json.dumps([nid, node.type, node.params], sort_keys=True)
            sig = hashlib.blake2b((local + "|".join(sigs[s] for s in graph.inputs_of(nid))).encode(), digest_size=16).hexdigest()
            if spec.flat_hint:  # here, not in _build_node: a kept tensor must warn again too
                self._flat_hint(graph, node, [tuple(t.shape) for t in ins], image_origin, result.issues)
            if sig in self._tensors:
                entry = self._tensors[sig]
            else:
                built = self._build_node(graph, node, spec, ins, local, result.issues)
                if built is None:
                    continue
                # [layer, output, info, linked]: linked when the output is joined to the Inputs by calls of
                # this build or a kept one (False: its call is put off; None: called on these inputs).
                entry = list(built)
                if entry[3] is None:
                    entry[3] = all(calls[s][1][3] is True for s in graph.inputs_of(nid))
            layer, out, info, _linked = entry
            if layer is not None:
                if layer.trainable != node.trainable:
                    layer.trainable = node.trainable
                info = self._count(layer, info, counts)
            sigs[nid], outputs[nid] = sig, out
            _trace_image_axes(graph, node, spec, ins, out, image_origin)
            tensors[sig] = entry
            calls[nid] = (spec, entry)
            if layer is not None:
                layers[local] = (layer, tuple((tuple(t.shape), t.dtype) for t in ins), (tuple(out.shape), out.dtype))
            result.infos[nid] = info
            self._built_params += info.params
        self._tensors, self._layers, self._counts = tensors, layers, counts
        result.memory = estimate(result.infos, result.order, DEFAULT_BATCH)
        if not result.errors:
            problem = over_budget(result.memory, self.memory_budget)
            if problem is not None:
                result.issues.append(Issue(result.memory.biggest_node, "memory", problem, None, WARNING))
        if not result.errors:
            result._link = lambda r: self._link(r, calls, kept)
        return result

    def _link(self, result: BuildResult, calls: dict, kept: bool):
        """The model of a build: each layer whose call was put off (its input's shape had not changed) is called
        on the tensors of this build, in order, and then keras.Model joins them."""
        outputs = {}
        try:
            for nid in result.order:
                if nid not in calls:
                    continue
                spec, entry = calls[nid]
                if entry[0] is not None:
                    _make_weights(entry[0])
                if entry[3] is not True:
                    entry[1] = call_layer(spec, entry[0], [outputs[s] for s in result.graph.inputs_of(nid)])
                    entry[3] = True
                outputs[nid] = entry[1]
        except Exception as e:  # noqa: BLE001 - Keras's refusal becomes an issue
            result.issues.append(Issue(None, "model", f"Keras cannot make a model of this graph: {_keras_reason(e)}"))
            model = None
        else:
            model = self._model(result.graph, outputs, result.issues)
        if model is None and kept and any(i.code == "model" for i in result.errors):
            # Keras refused a model made partly of kept layers and tensors (seen once under load in the 8-session
            # browser test: 'The name "m1_in" is used 2 times'). A fresh build does not depend on what was kept.
            self.fresh_builds += 1
            self._tensors, self._layers = {}, {}
            fresh = self._build(result.graph)
            model = fresh.model
            result.issues[:], result.infos, result.memory = fresh.issues, fresh.infos, fresh.memory
        if model is not None:
            _forget_old_calls(model)
        return model

    # -- one node ---------------------------------------------------------
    def _build_node(self, graph: Graph, node: Node, spec: LayerSpec, ins: list, local: str, issues: list[Issue]):
        import keras

        nid = node.id
        shapes = [tuple(t.shape) for t in ins]
        if spec.is_input:
            params = spec.effective(node.params)
            try:
                out = keras.Input(shape=tuple(params["shape"]), dtype=params["dtype"], name=nid)
            except Exception as e:  # noqa: BLE001 - any Keras refusal becomes an issue
                issues.append(Issue(nid, "shape", f"{describe(node)}: {_keras_reason(e)}: check its shape and dtype"))
                return None
            return None, out, NodeInfo(tuple(out.shape)), True
        if self._rank_issue(graph, node, spec, shapes, issues):
            return None
        try:
            formula, n_params, _ = spec.count(shapes, node.params)
        except Exception:  # noqa: BLE001 - an estimate only; Keras will say what is wrong
            formula, n_params = "", None
        if n_params is not None and self._size_issue(node, n_params, issues):
            return None
        layer, reused, same = self._layer_for(node, spec, ins, local)
        if same is not None:
            # Kept, on inputs of the same shapes: it outputs what it did, and is called when the model is made.
            return layer, keras.KerasTensor(same[0], dtype=same[1]), NodeInfo(same[0], formula=formula), False
        try:
            # Made inside the scope too: a seed generator's state is made with the layer. A layer that takes over
            # another's weights needs real variables to set.
            with _deferred_weights() if self.defer_weights and reused is None else contextlib.nullcontext():
                layer = make_layer(node) if layer is None else layer
                out = call_layer(spec, layer, ins)
            if reused is not None:
                set_layer_weights(layer, reused.get_weights())
        except Exception as e:  # noqa: BLE001 - every Keras refusal becomes an issue
            issues.append(self._call_issue(graph, node, spec, shapes, e))
            return None
        if any(d == 0 for d in tuple(out.shape)[1:]):
            issues.append(self._window_issue(node, spec, shapes))
            return None
        return layer, out, NodeInfo(tuple(out.shape), formula=formula), None

    @staticmethod
    def _flat_hint(graph: Graph, node: Node, shapes: list, image_origin: dict[str, str], issues: list[Issue]) -> None:
        """Warns a last-axis-only layer (Dense) that gets images; the fix goes where the images first came in.

        In Input(image) -> Dense 'dense' -> Dense 'dense_1', 'dense_1' gets image axes only because 'dense'
        kept them: Flatten belongs before 'dense' (before 'dense_1' it would leave 'dense' on the images).
        """
        if not shapes or len(shapes[0]) < 4:
            return
        nid, src = node.id, graph.inputs_of(node.id)[0]
        origin = image_origin.get(src)
        if origin is None:
            msg = (f"{describe(node)} got {fmt_shape(shapes[0])}: it acts on the last axis only, so its output keeps "
                   f"the image axes. To classify the whole image, add Flatten (or GlobalAveragePooling2D) before it")
            target, into = nid, src
        else:
            msg = (f"{describe(node)} got {fmt_shape(shapes[0])}: the image axes come through "
                   f"{describe(graph.node(origin))}, which acts on the last axis only. To classify the whole image, "
                   f"add Flatten (or GlobalAveragePooling2D) before '{origin}'")
            target, into = origin, graph.inputs_of(origin)[0]
        issues.append(Issue(nid, "flat_hint", msg, Fix(
            f"Insert Flatten before {target}", "insert_between", {"source": into, "target": target, "type_": "Flatten"}),
            WARNING))

    def _layer_for(self, node: Node, spec: LayerSpec, ins: list, local: str):
        """(layer to call again or None, layer whose weights to copy or None, the (shape, dtype) the kept layer
        outputs when its inputs have the shapes they had, else None)."""
        cached = self._layers.get(local)
        specs = tuple((tuple(t.shape), t.dtype) for t in ins)
        if cached is None:
            return None, None, None
        if cached[1] != specs:
            same_ranks = len(cached[1]) == len(specs) and all(
                len(a[0]) == len(b[0]) and a[1] == b[1] for a, b in zip(cached[1], specs, strict=True))
            if not (spec.any_shape and same_ranks):
                return None, None, None
        layer = cached[0]
        if len(getattr(layer, "_inbound_nodes", ())) >= MAX_CALLS_PER_LAYER:
            return None, layer, None
        return layer, None, cached[2] if cached[1] == specs else None

    def _count(self, layer, info: NodeInfo, counts: dict) -> NodeInfo:
        """`info` with the layer's weight counts (those of a layer kept from the last build are not counted again:
        Keras walks every weight of every inner layer to list them)."""
        key = (id(layer), layer.trainable)
        kept = self._counts.get(key)
        if kept is not None and kept[0] is layer:
            trainable, frozen, size = kept[1]
        else:
            trainable = sum(math.prod(w.shape) for w in layer.trainable_weights)
            frozen = sum(math.prod(w.shape) for w in layer.non_trainable_weights)
            size = sum(math.prod(w.shape) * _itemsize(w) for w in layer.weights)
        counts[key] = (layer, (trainable, frozen, size))
        return NodeInfo(info.output_shape, trainable + frozen, trainable, frozen, info.formula, size)

    # -- issues -----------------------------------------------------------
    def _rank_issue(self, graph: Graph, node: Node, spec: LayerSpec, shapes: list, issues: list[Issue]) -> bool:
        if spec.input_rank is None:
            return False
        bad = [(i, s) for i, s in enumerate(shapes) if len(s) not in spec.input_rank]
        if not bad:
            return False
        port, shape = bad[0]
        src = graph.inputs_of(node.id)[port]
        src_node = graph.node(src)
        want = min(spec.input_rank, key=lambda r: abs(r - len(shape)))
        msg = f"{describe(node)} got {fmt_shape(shape)} from '{src}': it needs {spec.rank_hint}"
        fix = None
        src_spec = LAYERS.get(src_node.type)
        seq_param = _return_sequences_param(src_spec, src_node)
        if len(shape) < want and seq_param is not None:
            fix = Fix(f"Set return_sequences=True on {src}", "set_param", {"node_id": src, "name": seq_param, "value": True})
            msg += f". Set return_sequences=True on '{src}' so it outputs every step"
        elif len(shape) > want and want == 2:
            fix = Fix(f"Insert Flatten before {node.id}", "insert_between", {"source": src, "target": node.id, "type_": "Flatten"})
            msg += ". Insert Flatten before it"
        else:
            target = _reshape_guess(shape, want)
            if target is not None:
                fix = Fix(f"Insert Reshape {target} before {node.id}", "insert_between",
                          {"source": src, "target": node.id, "type_": "Reshape", "params": {"target_shape": target}})
                msg += f". Insert Reshape (e.g. to {target}) before it"
            else:
                msg += ". Reshape its input first"
        issues.append(Issue(node.id, "rank", msg, fix))
        return True

    def _size_issue(self, node: Node, n: int, issues: list[Issue]) -> bool:
        size = f"{n:,} parameters (about {fmt_bytes(4 * n)} of weights, {fmt_bytes(16 * n)} to train with Adam)"
        if n > self.max_params:
            issues.append(Issue(node.id, "too_large",
                                f"{describe(node)} would have {size}; the limit is {self.max_params:,}: "
                                f"use fewer units or filters, or pool/shrink its input first (or set "
                                f"{PARAMS_SETTING} to allow more)"))
            return True
        total = self._built_params + n
        if total > self.max_params:
            issues.append(Issue(node.id, "too_large",
                                f"{describe(node)} would bring the model to {total:,} parameters (about "
                                f"{fmt_bytes(4 * total)} of weights); the limit for a whole model is "
                                f"{self.max_params:,}: use fewer units or filters here or before it (or set "
                                f"{PARAMS_SETTING} to allow more)"))
            return True
        if n > self.warn_params:
            issues.append(Issue(node.id, "large", f"{describe(node)} will have {size}: building and training it needs that much memory", None, WARNING))
        return False

    def _window_issue(self, node: Node, spec: LayerSpec, shapes: list) -> Issue:
        params = spec.effective(node.params)
        window = params.get("kernel_size", params.get("pool_size"))
        what = f"its window {window}" if window is not None else "its window"
        msg = f"{describe(node)} got {fmt_shape(shapes[0])}: {what} is larger than the input, so the output would be empty"
        fix = None
        if spec.param("padding") is not None and params.get("padding") != "same":
            msg += ". Use padding='same' or a smaller window"
            fix = Fix(f"Set padding='same' on {node.id}", "set_param", {"node_id": node.id, "name": "padding", "value": "same"})
        else:
            msg += ". Use a smaller window or a larger input"
        return Issue(node.id, "window", msg, fix)

    def _call_issue(self, graph: Graph, node: Node, spec: LayerSpec, shapes: list, exc: BaseException) -> Issue:
        reason = _keras_reason(exc)
        if "zero or negative" in reason or "negative dimension" in reason.lower():
            return self._window_issue(node, spec, shapes)
        if isinstance(exc, _PYTHON_ERRORS):  # "tuple index out of range": Keras's words would mean nothing here
            reason = _settings_reason(node, spec, shapes, exc)
        srcs = graph.inputs_of(node.id)
        if len(shapes) == 1:
            got = fmt_shape(shapes[0])
        else:
            got = ", ".join(f"{s} {fmt_shape(sh)}" for s, sh in zip(srcs[:-1], shapes[:-1], strict=False))
            got += f" and {srcs[-1]} {fmt_shape(shapes[-1])}"
        fix = None
        if spec.merge == "same":
            hint = "make the branches' shapes match (same units or filters, same size)"
            code = "merge_shape"
            fix = _projection_fix(node, srcs, shapes)
            if fix is not None:
                hint += f", e.g. {fix.label[0].lower()}{fix.label[1:]}"
        elif spec.merge == "concat":
            hint = "all axes but the joining axis must match: resize one branch or change axis"
            code = "merge_shape"
        else:
            hint = "check its parameters and the shape it receives"
            code = "shape"
        return Issue(node.id, code, f"{describe(node)} got {got}: {reason.rstrip('.')}. To fix: {hint}", fix)

    # -- model ------------------------------------------------------------
    def _model(self, graph: Graph, outputs: dict, issues: list[Issue]):
        import keras

        ins = [outputs[i] for i in graph.input_ids()]
        outs = [outputs[o] for o in graph.output_ids()]
        try:
            return keras.Model(
                inputs=ins[0] if len(ins) == 1 else ins,
                outputs=outs[0] if len(outs) == 1 else outs,
                name=keras_name(graph.name),
            )
        except Exception as e:  # noqa: BLE001 - Keras's refusal becomes an issue
            issues.append(Issue(None, "model", f"Keras cannot make a model of this graph: {_keras_reason(e)}"))
            return None


# What Keras raises when a setting the catalog accepts does not fit the input (an axis the input lacks).
_PYTHON_ERRORS = (TypeError, LookupError, AttributeError, AssertionError, ZeroDivisionError)


def _settings_reason(node: Node, spec: LayerSpec, shapes: list, exc: BaseException) -> str:
    """Why Keras failed, in the node's own terms, when Keras's message is a Python error's."""
    axes = [f"{p.name}={show_value(node.params[p.name])}" for p in spec.params if p.kind == "axes" and p.name in node.params]
    if axes and shapes and isinstance(exc, LookupError):
        return f"{', '.join(axes)} names an axis its input does not have ({len(shapes[0])} axes, the batch axis included)"
    shown = ", ".join(f"{k}={show_value(v)}" for k, v in node.params.items())
    return f"Keras cannot use these settings with this input ({shown[:160]})" if shown else "Keras cannot build it"


def _projection_fix(node: Node, srcs: list[str], shapes: list) -> Fix | None:
    """For a merge of equal shapes whose inputs differ in the last axis only: project the first narrower input.

    Dense(32) on (None, 8) makes it (None, 32); on images, a 1x1 convolution (`catalog.channel_projection`). With
    several narrower inputs the fix does one; the next build offers the next.
    """
    if len(shapes) < 2 or len({len(s) for s in shapes}) != 1 or len({s[1:-1] for s in shapes}) != 1:
        return None
    lasts = [s[-1] for s in shapes]
    if any(d is None for d in lasts) or len(set(lasts)) == 1:
        return None
    width = max(lasts)
    src = srcs[lasts.index(min(lasts))]
    type_, params = channel_projection(len(shapes[0]), width)
    shown = f"{type_}({', '.join(str(v) for v in params.values())})"
    return Fix(f"Insert {shown} before {node.id} on the input from {src}", "insert_between",
               {"source": src, "target": node.id, "type_": type_, "params": params})


def _trace_image_axes(graph: Graph, node: Node, spec: LayerSpec, ins: list, out, image_origin: dict[str, str]) -> None:
    """Notes in `image_origin` when a node outputs image axes that a last-axis-only layer kept.

    A flat_hint layer on images starts such a trace (or continues its input's); a layer that would take a flat
    input as well (Dropout, BatchNormalization, another Dense) and keeps the image axes passes it on. A layer
    that needs images (Conv2D) ends it: its images are meant.
    """
    if len(ins) != 1:
        return
    in_shape, out_shape = tuple(ins[0].shape), tuple(out.shape)
    if len(in_shape) < 4 or len(out_shape) != len(in_shape) or out_shape[1:-1] != in_shape[1:-1]:
        return
    src = graph.inputs_of(node.id)[0]
    if spec.flat_hint:
        image_origin[node.id] = image_origin.get(src, node.id)
    elif src in image_origin and (spec.input_rank is None or 2 in spec.input_rank):
        image_origin[node.id] = image_origin[src]


def _return_sequences_param(spec: LayerSpec | None, node: Node) -> str | None:
    """The param path that makes `node` output sequences, when it has one off."""
    if spec is None:
        return None
    params = spec.effective(node.params)
    if spec.param("return_sequences") is not None:
        return None if params.get("return_sequences") else "return_sequences"
    if spec.wrapper and isinstance(params.get("layer"), dict) and params["layer"].get("type") in LAYERS:
        inner = LAYERS[params["layer"]["type"]]
        inner_params = inner.effective(params["layer"].get("params", {}))
        if inner.param("return_sequences") is not None and not inner_params.get("return_sequences"):
            return "layer.return_sequences"
    return None


@contextlib.contextmanager
def _deferred_weights():
    """Layers built inside make their weights later (`_make_weights`): Keras's StatelessScope puts off a new
    variable's initial value, so an edit that creates a layer only to show its shape and counts costs no weight
    initialization (about 3 ms a variable with TensorFlow). The variables are taken off Keras's own list of
    variables to initialize: the model's maker (`_link`) initializes those of its layers, once."""
    import keras
    from keras.src.backend.common import global_state

    waiting = global_state.get_global_attribute("uninitialized_variables", [], set_to_default=True)
    before = len(waiting)
    try:
        with keras.StatelessScope(initialize_variables=False):
            yield
    finally:
        del global_state.get_global_attribute("uninitialized_variables", [], set_to_default=True)[before:]


def _make_weights(layer) -> None:
    """Gives each variable of `layer` (its inner layers' too) whose value was put off by `_deferred_weights` its
    initial value."""
    for v in layer.variables:
        if getattr(v, "_value", True) is None and getattr(v, "_initializer", None) is not None:
            v._deferred_initialize()


def _forget_old_calls(model) -> None:
    """Drops the links from kept layers to the calls of earlier builds.

    A layer that is kept between builds records every later layer that was ever called on its output (its
    outbound nodes), and each such record holds that whole earlier graph: the Input layer alone gained one per
    edit, and memory grew without end. Only the calls of the current model are kept. (Inbound nodes stay: Keras
    keys the model's nodes by their position there.)
    """
    try:
        current = {id(n) for nodes in model._nodes_by_depth.values() for n in nodes}
        for op in model._operations:
            outbound = getattr(op, "_outbound_nodes", None)
            if outbound:
                op._outbound_nodes = [n for n in outbound if id(n) in current]
    except AttributeError:  # another Keras layout: nothing to drop
        return


def _reuse_seed_generator_names() -> None:
    """Lets new random layers (Dropout, noise) reuse their seed generators' names.

    Keras numbers each new SeedGenerator (`seed_generator_41`, ...), and TensorFlow keeps about 35 kB for every
    variable name it has seen, for good: each edit that made a new Dropout grew the server for ever (bench/memory.py).
    Names only need to be unique within a layer, so the count starts again at each build. A Keras without this
    counter is left as it is.
    """
    try:
        from keras.src.backend.common import global_state

        uids = global_state.get_global_attribute("object_name_uids")
    except Exception:  # noqa: BLE001 - another Keras layout: nothing to do
        return
    if isinstance(uids, dict):
        uids.pop("seed_generator", None)


def layer_kwargs(node: Node) -> dict:
    """The Keras constructor kwargs of a node (wrapped layers built too)."""
    spec = LAYERS[node.type]
    kwargs = {}
    for name, value in node.params.items():
        ps = spec.param(name)
        if ps.kind == "layer":
            inner = Node(inner_layer_name(node.id, value["type"]), value["type"], value.get("params", {}))
            kwargs[name] = make_layer(inner)
        else:
            kwargs[name] = ps.to_keras(value)
    return kwargs


def make_layer(node: Node):
    """A new Keras layer for a (non-Input) node, named after it."""
    kwargs = layer_kwargs(node)
    if not node.trainable:
        kwargs["trainable"] = False
    return LAYERS[node.type].keras_class()(name=node.id, **kwargs)


def set_layer_weights(layer, arrays: list) -> bool:
    """`layer.set_weights(arrays)`, and whatever the layer computes from its weights made again.

    Normalization turns its mean and variance weights into constants when it is built (`finalize_state`), so
    `set_weights` alone would leave it computing with the old values.

    Returns:
        Whether the layer remade such constants: a model that has already predicted then needs its predict
        function traced again (see `apply_weights`).
    """
    layer.set_weights(arrays)
    finalize = getattr(layer, "finalize_state", None)
    if callable(finalize) and getattr(layer, "built", False):
        finalize()
        return True
    return False


def _itemsize(w) -> int:
    import numpy as np

    return np.dtype(str(getattr(w, "dtype", "float32"))).itemsize


def call_layer(spec: LayerSpec, layer, ins: list):
    if spec.call_style == "list":
        return layer(list(ins))
    if spec.call_style == "positional":
        return layer(*ins)
    return layer(ins[0])


def build(graph: Graph) -> BuildResult:
    """Validates and builds `graph` with a fresh builder, the model made at once: in the caller's context (a
    distribution strategy's scope, for one: the model belongs to the strategy it is made under)."""
    result = ModelBuilder(defer_weights=False).build(graph)
    result.model  # noqa: B018 - made now, not on first use
    return result


def build_model(graph: Graph):
    """Returns the `keras.Model` of a graph.

    Raises:
        BuildError: the graph has errors; `issues` lists them by node.
    """
    result = build(graph)
    if result.model is None:
        raise BuildError(result.errors or result.issues)
    return result.model


def validate(graph: Graph) -> list[Issue]:
    """All issues: structure, then shapes (this builds the model, so it loads Keras)."""
    return ModelBuilder().build(graph).issues


def apply_weights(model, weights: dict) -> list[str]:
    """Loads imported weights into a built model, layer by layer, where the shapes match.

    Args:
        model: A `keras.Model` whose layers are named after node ids (as
            `builder.model.build` names them).
        weights: node id -> list of arrays (`builder.files.importer.ImportResult.weights`, or a trained model's).

    Returns:
        The node ids whose weights were loaded. A missing layer, or one whose
        weight shapes differ (the node was edited), is skipped.
    """
    loaded, remade = [], False
    for nid, arrays in weights.items():
        try:
            layer = model.get_layer(nid)
        except ValueError:
            continue
        current = layer.weights
        if len(current) != len(arrays) or any(tuple(w.shape) != tuple(getattr(a, "shape", ())) for w, a in zip(current, arrays, strict=False)):
            continue
        remade = set_layer_weights(layer, arrays) or remade
        loaded.append(nid)
    if remade:  # a predict function traced before holds the old constants: trace it again
        for attr in ("predict_function", "test_function", "train_function"):
            if getattr(model, attr, None) is not None:
                setattr(model, attr, None)
    return loaded
