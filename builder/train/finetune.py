"""Fine-tuning as Keras's transfer-learning guide does it, in two phases.

Phase 1 trains the head with the base frozen. Phase 2 unfreezes the top `n`
layers of the base and trains on from the phase-1 weights with a learning rate
10 times lower. Layers the catalog flags `inference_when_frozen`
(BatchNormalization) stay frozen whatever `n` is: frozen, Keras runs them in
inference mode, on the mean and variance learned in pretraining; trained on
the new data's small batches, those statistics would shift and undo what the
base learned.

`n` counts every layer of the base, BatchNormalization and layers without
weights included, as the guide's `base_model.layers[-n:]` does; `plan` says
how many of them gain trainable weights.

The base is the group with id "base" (a pretrained start makes one), else
every node up to and including the last frozen one in topological order.
Input nodes are never part of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from builder.model.catalog import LAYERS
from builder.model.graph import Graph, GraphCycleError, Node

BASE_GROUP = "base"
LR_FACTOR = 10  # phase 2's learning rate is phase 1's divided by this
MIN_LR = 1e-7  # the Train page's learning-rate field takes no less


def _order(graph: Graph) -> list[str]:
    try:
        return graph.topological_order()
    except GraphCycleError:  # a graph being fixed: node order
        return graph.ids()


def _is_input(node: Node) -> bool:
    spec = LAYERS.get(node.type)
    return spec is not None and spec.is_input


def keeps_inference(node: Node) -> bool:
    """True if the layer (or the layer a wrapper holds) must stay frozen in fine-tuning: the catalog flags it
    `inference_when_frozen` (BatchNormalization)."""
    spec = LAYERS.get(node.type)
    if spec is None:
        return False
    if spec.inference_when_frozen:
        return True
    for p in spec.params:  # TimeDistributed(BatchNormalization) behaves as the layer it wraps
        inner = node.params.get(p.name) if p.kind == "layer" else None
        kind = inner.get("type") if isinstance(inner, dict) else None
        if isinstance(kind, str) and kind in LAYERS and LAYERS[kind].inference_when_frozen:
            return True
    return False


def base_layers(graph: Graph) -> list[str]:
    """The nodes of the pretrained base, in topological order (Input nodes left out).

    Returns:
        The members of the group with id "base" if there is one; else every node up to and including the last
        frozen node; [] when nothing is frozen.
    """
    order = [nid for nid in _order(graph) if not _is_input(graph.node(nid))]
    group = next((g for g in graph.groups if g.id == BASE_GROUP), None)
    if group is not None:
        members = set(group.nodes)
        return [nid for nid in order if nid in members]
    frozen = [i for i, nid in enumerate(order) if not graph.node(nid).trainable]
    return order[: frozen[-1] + 1] if frozen else []


def unfreeze_top(graph: Graph, n: int) -> Graph:
    """The graph with the top `n` layers of the base trainable and the rest of the base frozen.

    Layers flagged `inference_when_frozen` (BatchNormalization) stay frozen, though they count in `n`, as in
    Keras's guide. Nodes outside the base keep their flags.

    Args:
        n: How many layers, counted from the top of the base; clipped to 0..len(base).

    Returns:
        A new graph (or the same one when no flag changes).
    """
    base = base_layers(graph)
    n = max(0, min(int(n), len(base)))
    top = set(base[len(base) - n:])
    out = graph
    for nid in base:
        node = graph.node(nid)
        want = nid in top and not keeps_inference(node)
        if node.trainable != want:
            out = out.set_trainable(nid, want)
    return out


@dataclass(frozen=True)
class Plan:
    """What `unfreeze_top(graph, n)` would do.

    Args:
        n: Layers counted (clipped to the base).
        base: The base's size, in layers.
        unfrozen: The layers it makes trainable (or leaves so), from the bottom up.
        kept_frozen: The BatchNormalization-style layers in the top `n`, which stay frozen.
        with_weights: Of `unfrozen`, those that have weights to train (known with a model, else None).
        weights: How many weights `unfrozen` train (with a model, else None).
        trainable_after: The model's trainable weights afterwards (with a model, else None).
    """

    n: int
    base: int
    unfrozen: tuple[str, ...]
    kept_frozen: tuple[str, ...]
    with_weights: tuple[str, ...] | None = None
    weights: int | None = None
    trainable_after: int | None = None


def learnable_weights(layer) -> int:
    """How many weights a Keras layer trains when it is trainable, frozen or not now (moving statistics and other
    state that is never trained do not count)."""
    # A frozen layer's `trainable_weights` is empty; `_trainable_variables` keeps the variables it created as
    # trainable (Keras flips their flag both ways when `layer.trainable` is set). Wrappers hold sub-layers.
    seen, total, stack = set(), 0, [layer]
    while stack:
        item = stack.pop()
        for v in getattr(item, "_trainable_variables", []):
            if id(v) not in seen:
                seen.add(id(v))
                total += math.prod(v.shape)
        stack.extend(getattr(item, "_layers", []))
    return total


def plan(graph: Graph, n: int, model=None) -> Plan:
    """What unfreezing the top `n` layers of the base does: for the Train page's caption.

    Args:
        model: The built model of `graph` (layer names are node ids), to count weights; optional.
    """
    base = base_layers(graph)
    n = max(0, min(int(n), len(base)))
    top = base[len(base) - n:]
    unfrozen = tuple(nid for nid in top if not keeps_inference(graph.node(nid)))
    kept = tuple(nid for nid in top if keeps_inference(graph.node(nid)))
    if model is None:
        return Plan(n, len(base), unfrozen, kept)
    names = {layer.name: layer for layer in model.layers}
    counts = {nid: learnable_weights(names[nid]) if nid in names else 0 for nid in unfrozen}
    in_base = set(base)
    others = sum(math.prod(w.shape) for layer in model.layers if layer.name not in in_base
                 for w in layer.trainable_weights)
    return Plan(n, len(base), unfrozen, kept, tuple(nid for nid in unfrozen if counts[nid]), sum(counts.values()),
                others + sum(counts.values()))


def finetune_learning_rate(lr: float) -> float:
    """Phase 2's learning rate: `lr` / 10, at least 1e-7."""
    return max(float(lr) / LR_FACTOR, MIN_LR)


def finetune_settings(settings):
    """A copy of `settings` (builder.train.settings.TrainSettings) with the learning rate divided by 10."""
    comp = settings.compile
    return replace(settings, compile=replace(comp, learning_rate=finetune_learning_rate(comp.learning_rate),
                                             metrics=list(comp.metrics)))


def finetune_record(previous_run: str, n: int) -> dict:
    """What a phase-2 run adds to its stored settings: the run it continues and how many layers it unfroze."""
    return {"continues": previous_run, "finetune": {"unfrozen": int(n)}}
