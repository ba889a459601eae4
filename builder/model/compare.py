"""Compare two architectures (the graphs of two training runs): which layers were added, removed or changed.

A pure diff of two `Graph`s. Nodes are matched by id: a renamed node shows as one removed and one added. A node
is "changed" when its type, a parameter, `trainable` or its inputs (in port order) differ; parameter counts, when
given, are shown beside it but do not change its status (a layer's count moves when an earlier layer changes).
A param that one side does not set counts as the catalog's default, so `{}` and `{"activation": None}` on a
Dense are the same.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from builder.model.catalog import LAYERS
from builder.model.graph import Graph, Node, printable

SAME, CHANGED, ADDED, REMOVED = "same", "changed", "added", "removed"
STATUSES = (SAME, CHANGED, ADDED, REMOVED)
VALUE_LIMIT = 60  # characters of one value in a change's text


class _Absent:
    """A value one side does not have: a param neither set nor given a default by the catalog (a required or
    unknown param), or a training setting one run does not record."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self):
        return "ABSENT"


ABSENT = _Absent()


@dataclass(frozen=True)
class Change:
    """One value that differs: a layer param (`units`, `layer.units` inside a wrapper) or a training setting.

    Args:
        name: The param (Keras kwarg) or setting name.
        a: The value in the first graph or run (`ABSENT` when it has none).
        b: The value in the second.
    """

    name: str
    a: Any
    b: Any

    def text(self) -> str:
        """`units 16 → 32`."""
        return f"{self.name} {show(self.a)} → {show(self.b)}"


@dataclass(frozen=True)
class NodeDiff:
    """One node of either graph, and how it differs.

    Args:
        id: The node id (the same in both graphs: nodes are matched by id).
        status: `same`, `changed`, `added` (only in b) or `removed` (only in a).
        node_a: The node in a, or None when added.
        node_b: The node in b, or None when removed.
        param_changes: The params that differ, in catalog order (unknown params last, by name).
        trainable_change: (a, b) when `trainable` differs, else None.
        inputs_a: The nodes feeding it in a, in port order (empty when it is not in a).
        inputs_b: The same in b.
        count_a: Its parameter count in a, when the caller gave counts.
        count_b: The same in b.
    """

    id: str
    status: str
    node_a: Node | None
    node_b: Node | None
    param_changes: tuple[Change, ...] = ()
    trainable_change: tuple[bool, bool] | None = None
    inputs_a: tuple[str, ...] = ()
    inputs_b: tuple[str, ...] = ()
    count_a: int | None = None
    count_b: int | None = None

    @property
    def type_a(self) -> str | None:
        return None if self.node_a is None else self.node_a.type

    @property
    def type_b(self) -> str | None:
        return None if self.node_b is None else self.node_b.type

    @property
    def type_changed(self) -> bool:
        return self.status == CHANGED and self.type_a != self.type_b

    @property
    def inputs_changed(self) -> bool:
        return self.status == CHANGED and self.inputs_a != self.inputs_b

    @property
    def count_changed(self) -> bool:
        return self.count_a is not None and self.count_b is not None and self.count_a != self.count_b

    def changes(self) -> list[str]:
        """What differs, one short phrase each (`type Dense → Conv2D`, `units 16 → 32`, `inputs a → b`);
        empty unless the node is changed."""
        out = []
        if self.type_changed:
            out.append(f"type {printable(self.type_a)} → {printable(self.type_b)}")
        out.extend(c.text() for c in self.param_changes)
        if self.trainable_change is not None:
            out.append("trainable → frozen" if self.trainable_change == (True, False) else "frozen → trainable")
        if self.inputs_changed:
            out.append(f"inputs {_ids(self.inputs_a)} → {_ids(self.inputs_b)}")
        return out

    def count_text(self) -> str:
        """`params 1,024 → 2,048`, `params 1,024`, or "" without counts."""
        if self.count_changed:
            return f"params {self.count_a:,} → {self.count_b:,}"
        count = self.count_b if self.count_b is not None else self.count_a
        return "" if count is None else f"params {count:,}"


@dataclass(frozen=True)
class Comparison:
    """The difference between two graphs, a and b (see `compare`).

    Args:
        rows: One per node of either graph: b's topological order, each removed node placed after the node
            that preceded it in a (or first, when none did).
        connections_added: (source, target) of the edges only b has (an edge listed twice counts twice), in
            the order of the rows of their targets, then of their sources.
        connections_removed: The same for the edges only a has.
        outputs_a: a's model outputs.
        outputs_b: b's model outputs.
    """

    rows: tuple[NodeDiff, ...]
    connections_added: tuple[tuple[str, str], ...] = ()
    connections_removed: tuple[tuple[str, str], ...] = ()
    outputs_a: tuple[str, ...] = ()
    outputs_b: tuple[str, ...] = ()

    def _count(self, status: str) -> int:
        return sum(r.status == status for r in self.rows)

    @property
    def added(self) -> int:
        return self._count(ADDED)

    @property
    def removed(self) -> int:
        return self._count(REMOVED)

    @property
    def changed(self) -> int:
        return self._count(CHANGED)

    @property
    def same(self) -> int:
        return self._count(SAME)

    @property
    def outputs_changed(self) -> bool:
        return self.outputs_a != self.outputs_b

    @property
    def identical(self) -> bool:
        """No layer added, removed or changed, and the same outputs."""
        return self.same == len(self.rows) and not self.outputs_changed

    def row(self, node_id: str) -> NodeDiff:
        """The row of a node.

        Raises:
            KeyError: neither graph has that node.
        """
        for r in self.rows:
            if r.id == node_id:
                return r
        raise KeyError(node_id)

    def headline(self) -> str:
        """`3 layers changed, 1 added, 0 removed`, or that the layers are the same."""
        if not (self.changed or self.added or self.removed):
            return "Same layers: none changed, added or removed"
        return f"{self.changed} {'layer' if self.changed == 1 else 'layers'} changed, {self.added} added, {self.removed} removed"


def compare(a: Graph, b: Graph, counts_a: Mapping[str, int] | None = None,
            counts_b: Mapping[str, int] | None = None) -> Comparison:
    """Compares two graphs node by node (matched by id).

    Never raises on a graph that `Graph` can hold: a graph with a cycle is read in node order, unknown types
    and params compare by their stored values.

    Args:
        a: The first graph (e.g. the older run's).
        b: The second.
        counts_a: Parameter count per node id of a, shown beside each row (optional).
        counts_b: The same for b.

    Returns:
        A `Comparison`.
    """
    counts_a, counts_b = counts_a or {}, counts_b or {}
    rows = {}
    for nid in _order(a, b):
        na = a.node(nid) if a.has(nid) else None
        nb = b.node(nid) if b.has(nid) else None
        inputs_a = tuple(a.inputs_of(nid)) if na is not None else ()
        inputs_b = tuple(b.inputs_of(nid)) if nb is not None else ()
        params, trainable = (), None
        if na is None:
            status = ADDED
        elif nb is None:
            status = REMOVED
        else:
            params = tuple(_param_changes(na, nb))
            if na.trainable != nb.trainable:
                trainable = (na.trainable, nb.trainable)
            differs = na.type != nb.type or params or trainable or inputs_a != inputs_b
            status = CHANGED if differs else SAME
        rows[nid] = NodeDiff(
            nid, status, na, nb, params, trainable, inputs_a, inputs_b,
            counts_a.get(nid) if na is not None else None, counts_b.get(nid) if nb is not None else None,
        )
    rank = {nid: i for i, nid in enumerate(rows)}
    return Comparison(
        tuple(rows.values()),
        connections_added=_only_in(b, a, rank),
        connections_removed=_only_in(a, b, rank),
        outputs_a=tuple(a.output_ids()),
        outputs_b=tuple(b.output_ids()),
    )


def settings_changes(a: Mapping | None, b: Mapping | None) -> list[Change]:
    """The training settings that differ between two runs (nested dicts such as `compile` are read through).

    Args:
        a: The first run's settings (`TrainSettings.to_dict()`), or None.
        b: The second's.

    Returns:
        One `Change` per differing setting, named by its last key (`learning_rate`, `batch_size`), or by its
        dotted path when two settings share a last key; in a's order, then b's new ones. A setting only one run
        records has `ABSENT` on the other side.
    """
    flat_a, flat_b = _flatten(a or {}), _flatten(b or {})
    paths = list(dict.fromkeys([*flat_a, *flat_b]))
    last = Counter(p[-1] for p in paths)
    out = []
    for path in paths:
        va, vb = flat_a.get(path, ABSENT), flat_b.get(path, ABSENT)
        if not _same(va, vb):
            out.append(Change(path[-1] if last[path[-1]] == 1 else ".".join(path), va, vb))
    return out


def show(value: Any, limit: int = VALUE_LIMIT) -> str:
    """A value on one line for a table cell: `16`, `relu`, `None`, `[3, 3]`, `not set`."""
    return printable(_text(value), limit)


# -- helpers -------------------------------------------------------------
def _order(a: Graph, b: Graph) -> list[str]:
    """b's nodes in topological order, with each node only a has placed after its predecessor in a's order."""
    order_b = b.drawing_order()
    after: dict[str | None, list[str]] = {}
    anchor = None
    for nid in a.drawing_order():
        if b.has(nid):
            anchor = nid
        else:
            after.setdefault(anchor, []).append(nid)
    out = list(after.get(None, ()))
    for nid in order_b:
        out.append(nid)
        out.extend(after.get(nid, ()))
    return list(dict.fromkeys(out))


def _default(type_: str, name: str) -> Any:
    spec = LAYERS.get(type_)
    ps = spec.param(name) if spec is not None else None
    return ABSENT if ps is None or ps.required else _plain(ps.default)


def _value(node: Node, name: str) -> Any:
    return _plain(node.params[name]) if name in node.params else _default(node.type, name)


def _param_changes(a: Node, b: Node) -> list[Change]:
    ranks = [{p.name: i for i, p in enumerate(LAYERS[t].params)} for t in (a.type, b.type) if t in LAYERS]
    # Catalog order (the first of either type's), unknown params last, then by name: the same both ways round.
    names = sorted(set(a.params) | set(b.params),
                   key=lambda n: (min((r[n] for r in ranks if n in r), default=math.inf), n))
    out = []
    for name in names:
        va, vb = _value(a, name), _value(b, name)
        if _same(va, vb):
            continue
        inner = []
        if _wrapped(va) and _wrapped(vb) and va["type"] == vb["type"]:
            inner = _param_changes(Node(a.id, va["type"], va.get("params") or {}),
                                   Node(b.id, vb["type"], vb.get("params") or {}))
        out.extend([Change(f"{name}.{c.name}", c.a, c.b) for c in inner] or [Change(name, va, vb)])
    return out


def _wrapped(v: Any) -> bool:
    """A wrapped layer's value (`{"type": "LSTM", "params": {...}}`) and nothing else."""
    return (isinstance(v, dict) and isinstance(v.get("type"), str) and set(v) <= {"type", "params"}
            and isinstance(v.get("params", {}), dict))


def _only_in(g: Graph, other: Graph, rank: dict[str, int]) -> tuple[tuple[str, str], ...]:
    """(source, target) of g's edges that `other` lacks (an edge listed twice counts twice), by the rows of
    their targets, then of their sources."""
    left = Counter((e.source, e.target) for e in other.edges)
    out = []
    for e in g.edges:
        key = (e.source, e.target)
        if left[key]:
            left[key] -= 1
        else:
            out.append(key)
    last = len(rank)
    return tuple(sorted(out, key=lambda k: (rank.get(k[1], last), rank.get(k[0], last))))


def _same(x: Any, y: Any) -> bool:
    """Equal as JSON values: lists and tuples alike, 1 and 1.0 alike, but True is not 1."""
    if isinstance(x, bool) or isinstance(y, bool):
        return type(x) is type(y) and x == y
    if isinstance(x, (int, float)) and isinstance(y, (int, float)):
        return x == y
    if isinstance(x, (list, tuple)) and isinstance(y, (list, tuple)):
        return len(x) == len(y) and all(_same(i, j) for i, j in zip(x, y, strict=False))
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(_same(x[k], y[k]) for k in x)
    return x is y or (type(x) is type(y) and x == y)


def _plain(v: Any) -> Any:
    """Tuples as lists (catalog defaults are tuples, stored params lists)."""
    if isinstance(v, (list, tuple)):
        return [_plain(i) for i in v]
    if isinstance(v, dict):
        return {k: _plain(i) for k, i in v.items()}
    return v


def _flatten(d: Mapping, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    out = {}
    for k, v in d.items():
        path = prefix + (str(k),)
        if isinstance(v, Mapping) and v:
            out.update(_flatten(v, path))
        else:
            out[path] = _plain(v)
    return out


def _ids(ids: tuple[str, ...]) -> str:
    return ", ".join(ids) if ids else "none"


def _text(v: Any) -> str:
    if v is ABSENT:
        return "not set"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_text(i) for i in v) + "]"
    if isinstance(v, dict):
        if _wrapped(v):
            inner = v.get("params") or {}
            return f"{v['type']}(" + ", ".join(f"{k}={_text(i)}" for k, i in inner.items()) + ")"
        return "{" + ", ".join(f"{k}: {_text(i)}" for k, i in v.items()) + "}"
    return str(v)
