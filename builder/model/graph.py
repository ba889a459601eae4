"""The graph: nodes (Keras layers), edges, outputs; the graph file; edits.

A `Graph` is immutable. Every edit returns a new graph or raises
`GraphEditError` with a message that names the node. The file format is
described in shared/CONTRACT.md.

Groups (`Graph.groups`) are blocks the canvas draws as one box; they change
nothing in the model. A node is in at most one group and a group is never
empty: every edit keeps it so (removing a node drops it from its group, and
a group that loses its last node goes too; renaming a node renames it there).
Group ids follow the node id rule; they are unique among groups, and are
their own namespace (a group may share an id with a node).
"""

from __future__ import annotations

import copy
import functools
import heapq
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from builder.model.catalog import LAYERS, default_params

FORMAT = "layercanvas-graph"
VERSION = 1
ID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
ID_RULE = "start with a letter or _, then letters, digits or _ (at most 64)"
KNOWN_FIELDS = ("format", "version", "name", "nodes", "edges", "outputs", "layout", "groups")
MAX_NAME = 200
MAX_DEPTH = 100  # lists and objects in lists and objects; a real graph file needs about 8


class GraphError(ValueError):
    """Base class of graph errors. `node_id` names the node, when there is one."""

    def __init__(self, message: str, node_id: str | None = None):
        super().__init__(message)
        self.node_id = node_id


class GraphEditError(GraphError):
    """An edit that cannot be made (unknown node, bad id, cycle, bad value)."""


class GraphFormatError(GraphError):
    """A graph file that cannot be read. `problems` lists (node_id, message)."""

    def __init__(self, problems: list[tuple[str | None, str]]):
        self.problems = problems
        super().__init__("; ".join(m for _, m in problems), problems[0][0] if problems else None)


class GraphCycleError(GraphError):
    """The graph has a cycle; `nodes` are the nodes on it."""

    def __init__(self, nodes: list[str]):
        self.nodes = nodes
        super().__init__(f"the graph has a cycle through {', '.join(nodes)}", nodes[0] if nodes else None)


def _jsonable(v: Any) -> Any:
    """Tuples to lists, recursively: params are stored JSON-typed."""
    if isinstance(v, (list, tuple)):
        return [_jsonable(i) for i in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(i) for k, i in v.items()}
    return v


def _surrogate(text: str) -> str | None:
    """The first unpaired surrogate in `text` (JSON's "\\ud800" escapes make them), or None.

    Such text is not Unicode: it cannot be written as UTF-8 (to a file, the store or a share link).
    """
    try:
        text.encode("utf-8")
        return None
    except UnicodeEncodeError as e:
        return text[e.start]


def name_problem(name: Any) -> str | None:
    """What is wrong with a model name (Keras refuses '/'), or None."""
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        return f"the model name must be text of 1 to {MAX_NAME} characters, got {str(name)[:40]!r}"
    if "/" in name:
        return f"the model name cannot contain '/', got {name[:40]!r}"
    bad = _surrogate(name)
    if bad is not None:
        return f"the model name holds an unpaired surrogate {bad!r}, which is not Unicode text: remove it"
    return None


def keras_name(name: Any) -> str:
    """The model name given to Keras: TensorFlow uses it as a root name scope when training, and refuses
    anything but ASCII letters, digits and `_.-` there ('my model' fails in `fit`), so the rest become '_'.
    The graph keeps the name as typed."""
    text = re.sub(r"[^A-Za-z0-9_.-]", "_", str(name))[:MAX_NAME]
    if not text or not (text[0].isascii() and (text[0].isalnum() or text[0] == ".")):
        text = "model_" + text
    return text.rstrip("_") or "model"


def _text_problem(data: Any) -> str | None:
    """A message when some text in a graph file (a key or a value, at any depth) is not Unicode, else None."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and _surrogate(item) is not None:
            return (f"the graph file holds text with an unpaired surrogate {_surrogate(item)!r} (in "
                    f"{item[:40]!r}), which is not Unicode: remove that escape")
    return None


def valid_id(node_id: Any) -> bool:
    return isinstance(node_id, str) and bool(ID_RE.fullmatch(node_id))


def describe(node: Node) -> str:
    """`Dense 'head'`: how messages name a node."""
    return f"{printable(node.type, None)} '{node.id}'"


def printable(text: Any, limit: int | None = 60) -> str:
    """Text from a file for a message: on one line (a newline shows as \\n), at most `limit` characters."""
    shown = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in str(text))
    return shown if limit is None or len(shown) <= limit else shown[: limit - 3] + "..."


@dataclass(frozen=True)
class Node:
    id: str
    type: str
    params: dict = field(default_factory=dict)
    trainable: bool = True
    extra: dict = field(default_factory=dict)  # unknown node fields, kept on save


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    port: int | None = None


@dataclass(frozen=True)
class Group:
    """A block of nodes drawn as one box on the canvas (changes nothing in the model).

    Args:
        id: Unique among groups; the node id rule.
        name: Shown on the box: text of 1 to 200 characters.
        nodes: The node ids in the group (never empty).
        collapsed: Drawn as one closed box.
    """

    id: str
    name: str
    nodes: tuple[str, ...]
    collapsed: bool = False


def group_name_problem(name: Any) -> str | None:
    """What is wrong with a group name, or None."""
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        return f"a group name must be text of 1 to {MAX_NAME} characters, got {printable(name, 40)!r}"
    bad = _surrogate(name)
    if bad is not None:
        return f"the group name holds an unpaired surrogate {bad!r}, which is not Unicode text: remove it"
    return None


@dataclass(frozen=True)
class Graph:
    nodes: tuple[Node, ...] = ()
    edges: tuple[Edge, ...] = ()
    name: str = "model"
    outputs: tuple[str, ...] | None = None  # None: every node without outgoing edges
    layout: dict = field(default_factory=dict)  # node id -> [x, y]
    extra: dict = field(default_factory=dict)  # compile, training and unknown fields
    groups: tuple[Group, ...] = ()  # blocks drawn as one box; a node is in at most one

    # -- queries (indexes are computed once per graph: graphs are immutable) --
    @functools.cached_property
    def _by_id(self) -> dict[str, Node]:
        return {n.id: n for n in self.nodes}

    @functools.cached_property
    def _in_index(self) -> dict[str, list[Edge]]:
        index: dict[str, list[Edge]] = {}
        for e in self.edges:
            index.setdefault(e.target, []).append(e)
        for target, edges in index.items():
            if all(e.port is not None for e in edges):
                index[target] = sorted(edges, key=lambda e: e.port)
        return index

    @functools.cached_property
    def _out_index(self) -> dict[str, list[str]]:
        index: dict[str, list[str]] = {}
        for e in self.edges:
            targets = index.setdefault(e.source, [])
            if e.target not in targets:
                targets.append(e.target)
        return index

    @functools.cached_property
    def _group_index(self) -> dict[str, Group]:
        return {nid: g for g in self.groups for nid in g.nodes}

    def ids(self) -> list[str]:
        return [n.id for n in self.nodes]

    def has(self, node_id: str) -> bool:
        return node_id in self._by_id

    def node(self, node_id: str) -> Node:
        try:
            return self._by_id[node_id]
        except (KeyError, TypeError):
            raise GraphEditError(f"there is no node '{node_id}'", node_id if isinstance(node_id, str) else None) from None

    def in_edges(self, node_id: str) -> list[Edge]:
        """Edges into a node, in input order: by port when all have one, else as listed."""
        return list(self._in_index.get(node_id, ()))

    def inputs_of(self, node_id: str) -> list[str]:
        return [e.source for e in self._in_index.get(node_id, ())]

    def successors(self, node_id: str) -> list[str]:
        return list(self._out_index.get(node_id, ()))

    def input_ids(self) -> list[str]:
        """Model inputs: the Input nodes in node order."""
        return [n.id for n in self.nodes if n.type in LAYERS and LAYERS[n.type].is_input]

    def output_ids(self) -> list[str]:
        if self.outputs is not None:
            return list(self.outputs)
        sources = {e.source for e in self.edges}
        return [n.id for n in self.nodes if n.id not in sources]

    def topological_order(self) -> list[str]:
        """Node ids so that every edge points forward; ties keep node order.

        Raises:
            GraphCycleError: the graph has a cycle.
        """
        index = {n.id: i for i, n in enumerate(self.nodes)}
        indeg = {n.id: 0 for n in self.nodes}
        out: dict[str, list[str]] = {n.id: [] for n in self.nodes}
        for e in self.edges:
            if e.source in index and e.target in index:
                indeg[e.target] += 1
                out[e.source].append(e.target)
        ready = [index[i] for i, d in indeg.items() if d == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            nid = self.nodes[heapq.heappop(ready)].id
            order.append(nid)
            for t in out[nid]:
                indeg[t] -= 1
                if indeg[t] == 0:
                    heapq.heappush(ready, index[t])
        if len(order) < len(self.nodes):
            raise GraphCycleError(self._cycle([i for i, d in indeg.items() if d > 0]))
        return order

    def drawing_order(self) -> list[str]:
        """The topological order, or the node order when the graph has a cycle (for drawing and layout, which
        must not fail on a graph the user is still fixing)."""
        try:
            return self.topological_order()
        except GraphCycleError:
            return self.ids()

    def _cycle(self, stuck: list[str]) -> list[str]:
        """One cycle among the nodes that Kahn's algorithm could not order.

        Every such node has an unordered predecessor, so walking predecessors
        must come back to a node already seen.
        """
        stuck_set = set(stuck)
        path, seen, nid = [], {}, stuck[0]
        while nid not in seen:
            seen[nid] = len(path)
            path.append(nid)
            nid = next(s for s in self.inputs_of(nid) if s in stuck_set)
        return path[seen[nid]:][::-1]

    # -- file -------------------------------------------------------------
    def to_dict(self) -> dict:
        nodes = []
        for n in self.nodes:
            d = {"id": n.id, "type": n.type, "params": copy.deepcopy(n.params)}
            if not n.trainable:
                d["trainable"] = False
            d.update(copy.deepcopy(n.extra))
            nodes.append(d)
        edges = [
            {"source": e.source, "target": e.target, **({} if e.port is None else {"port": e.port})}
            for e in self.edges
        ]
        out = {"format": FORMAT, "version": VERSION, "name": self.name, "nodes": nodes, "edges": edges}
        if self.outputs is not None:
            out["outputs"] = list(self.outputs)
        if self.layout:
            out["layout"] = {k: list(v) for k, v in self.layout.items()}
        if self.groups:
            out["groups"] = [
                {"id": g.id, "name": g.name, "nodes": list(g.nodes), "collapsed": g.collapsed} for g in self.groups
            ]
        out.update(copy.deepcopy(self.extra))
        return out

    def dumps(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_dict(cls, data: Any) -> Graph:
        """Reads a graph file's JSON object.

        Raises:
            GraphFormatError: with every problem found, each naming the node.
        """
        return _parse(data)

    @classmethod
    def loads(cls, text: str | bytes) -> Graph:
        try:
            if isinstance(text, bytes):
                text = text.decode("utf-8")
            data = json.loads(text, parse_constant=_no_constant)
        except UnicodeDecodeError:
            raise GraphFormatError([(None, "the graph file is not UTF-8 text")]) from None
        except json.JSONDecodeError as e:
            raise GraphFormatError([(None, f"the graph file is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}")]) from None
        except (RecursionError, ValueError) as e:
            raise GraphFormatError([(None, f"the graph file is not valid JSON: {e}")]) from None
        return _parse(data)

    @classmethod
    def load(cls, path) -> Graph:
        try:
            with open(path, "rb") as f:
                return cls.loads(f.read())
        except OSError as e:
            raise GraphFormatError([(None, f"cannot read {path}: {e.strerror}")]) from None

    def save(self, path) -> None:
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.dumps())

    # -- edits ------------------------------------------------------------
    def _replace_node(self, node: Node) -> Graph:
        return replace(self, nodes=tuple(node if n.id == node.id else n for n in self.nodes))

    def fresh_id(self, type_or_prefix: str) -> str:
        """A Keras-style id not yet used: `dense`, `dense_1`, `dense_2`, ..."""
        spec = LAYERS.get(type_or_prefix)
        stem = spec.prefix if spec else re.sub(r"\W", "_", type_or_prefix.lower())[:50] or "node"
        if not stem[0].isalpha() and stem[0] != "_":
            stem = "n_" + stem
        used = set(self.ids())
        if stem not in used:
            return stem
        i = 1
        while f"{stem}_{i}" in used:
            i += 1
        return f"{stem}_{i}"

    def add_node(
        self,
        type_: str,
        params: dict | None = None,
        node_id: str | None = None,
        trainable: bool = True,
        after: str | None = None,
        position: tuple[float, float] | None = None,
    ) -> tuple[Graph, str]:
        """Adds a node; with `after`, also connects `after` -> new node.

        Returns:
            (new graph, id of the new node).
        """
        spec = LAYERS.get(type_)
        if spec is None:
            raise GraphEditError(f"unknown layer type {type_!r}: pick one from the palette")
        node_id = node_id or self.fresh_id(type_)
        self._check_new_id(node_id)
        params = default_params(type_) if params is None else _jsonable(params)
        node = Node(node_id, type_, params, bool(trainable))
        for name, value in params.items():
            _check_param(node, name, value)
        g = replace(self, nodes=self.nodes + (node,))
        if position is not None:
            g = g.set_position(node_id, position)
        if after is not None:
            g = g.connect(after, node_id)
        return g, node_id

    def _check_new_id(self, node_id: Any) -> None:
        if not valid_id(node_id):
            raise GraphEditError(f"{node_id!r} is not a valid id: {ID_RULE}", None)
        if self.has(node_id):
            raise GraphEditError(f"the id '{node_id}' is already used: pick another", node_id)

    def remove_node(self, node_id: str, bridge: bool = False) -> Graph:
        """Removes a node and its edges.

        Args:
            bridge: When the node has one input, connect that input to each of
                the node's successors (at the same ports), so a chain stays whole.
        """
        self.node(node_id)
        sources = self.inputs_of(node_id)
        edges = []
        for e in self.edges:
            if e.source == node_id and bridge and len(sources) == 1:
                edges.append(Edge(sources[0], e.target, e.port))
            elif node_id not in (e.source, e.target):
                edges.append(e)
        outputs = None if self.outputs is None else tuple(o for o in self.outputs if o != node_id)
        layout = {k: v for k, v in self.layout.items() if k != node_id}
        return replace(
            self, extra=self._with_search(_search_without(self.extra.get("search"), node_id)),
            nodes=tuple(n for n in self.nodes if n.id != node_id), edges=tuple(edges),
            outputs=outputs, layout=layout, groups=_without_nodes(self.groups, {node_id}),
        )

    def connect(self, source: str, target: str, port: int | None = None) -> Graph:
        """Adds an edge source -> target.

        Args:
            port: Input position at the target; None appends. Edges at that
                position and after move up by one.
        """
        src, tgt = self.node(source), self.node(target)
        spec = LAYERS.get(tgt.type)
        if spec is not None and spec.arity[1] == 0:
            raise GraphEditError(f"{describe(tgt)} is a model input and takes no inputs", target)
        if source == target:
            raise GraphEditError(f"cannot connect {describe(src)} to itself", target)
        if self._reaches(target, source):
            raise GraphEditError(f"connecting {describe(src)} to {describe(tgt)} would make a cycle", target)
        current = self.in_edges(target)
        n = len(current)
        if port is None:
            port = n
        if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= n:
            raise GraphEditError(f"{describe(tgt)} has {n} input(s): port must be 0 to {n}, got {port!r}", target)
        if spec is not None and spec.arity[1] is not None and n >= spec.arity[1]:
            raise GraphEditError(
                f"{describe(tgt)} takes at most {spec.arity[1]} input(s) and already has {n}: remove one first",
                target,
            )
        ordered = [e.source for e in current]
        ordered.insert(port, source)
        return self._set_inputs(target, ordered)

    def _set_inputs(self, target: str, sources: list[str]) -> Graph:
        """Replaces the edges into `target` by `sources`, in that order."""
        keep = [e for e in self.edges if e.target != target]
        multi = len(sources) > 1
        new = [Edge(s, target, i if multi else None) for i, s in enumerate(sources)]
        return replace(self, edges=tuple(keep + new))

    def disconnect(self, source: str, target: str, port: int | None = None) -> Graph:
        """Removes the edge source -> target (at `port`, when given)."""
        current = self.in_edges(target)
        for i, e in enumerate(current):
            if e.source == source and (port is None or port == i):
                return self._set_inputs(target, [x.source for j, x in enumerate(current) if j != i])
        raise GraphEditError(f"there is no edge from '{source}' to '{target}'", target)

    def set_input_order(self, target: str, sources: list[str]) -> Graph:
        """Reorders a node's inputs; `sources` must be a permutation of them."""
        current = self.inputs_of(target)
        if sorted(current) != sorted(sources):
            raise GraphEditError(
                f"{describe(self.node(target))} has inputs {current}; a new order must list exactly these, got {sources}",
                target,
            )
        return self._set_inputs(target, list(sources))

    def _reaches(self, start: str, goal: str) -> bool:
        seen, stack = set(), [start]
        while stack:
            nid = stack.pop()
            if nid == goal:
                return True
            if nid not in seen:
                seen.add(nid)
                stack.extend(self.successors(nid))
        return False

    def set_param(self, node_id: str, name: str, value: Any) -> Graph:
        """Sets one Keras kwarg; None resets it to the Keras default.

        `name` may be `layer.units` to reach into a wrapped layer.

        Raises:
            GraphEditError: unknown param, or a value of the wrong type or range.
        """
        node = self.node(node_id)
        value = _jsonable(value)
        params = copy.deepcopy(node.params)
        if "." in name:
            outer, inner = name.split(".", 1)
            wrapped = params.get(outer)
            if not isinstance(wrapped, dict) or "type" not in wrapped:
                raise GraphEditError(f"{describe(node)} has no wrapped layer in '{printable(outer)}'", node_id)
            inner_node = Node(node_id, wrapped["type"], dict(wrapped.get("params", {})))
            inner_params = dict(wrapped.get("params", {}))
            inner_spec = LAYERS.get(wrapped["type"])
            if value is None and inner_spec is not None and inner_spec.param(inner) is not None \
                    and inner_spec.param(inner).required:
                raise GraphEditError(f"{describe(node)} (wrapped {wrapped['type']}) needs '{inner}': it has no default", node_id)
            if value is None:
                inner_params.pop(inner, None)
            else:
                _check_param(inner_node, inner, value, label=f"{describe(node)} (wrapped {wrapped['type']})")
                inner_params[inner] = value
            params[outer] = {"type": wrapped["type"], "params": inner_params}
        elif value is None:
            spec = LAYERS.get(node.type)
            if spec is not None and spec.param(name) is not None and spec.param(name).required:
                raise GraphEditError(f"{describe(node)} needs '{name}': it has no default", node_id)
            params.pop(name, None)
        else:
            _check_param(node, name, value)
            params[name] = value
        return self._replace_node(replace(node, params=params))

    def set_params(self, node_id: str, params: dict) -> Graph:
        """Replaces all params of a node (each one checked)."""
        node = self.node(node_id)
        params = _jsonable(params)
        for name, value in params.items():
            _check_param(node, name, value)
        return self._replace_node(replace(node, params=params))

    def set_trainable(self, node_id: str, trainable: bool) -> Graph:
        return self._replace_node(replace(self.node(node_id), trainable=bool(trainable)))

    def rename(self, old: str, new: str) -> Graph:
        """Changes a node's id everywhere (edges, outputs, layout, groups, search keys)."""
        self.node(old)
        if new == old:
            return self
        self._check_new_id(new)

        def r(x: str) -> str:
            return new if x == old else x

        return replace(
            self,
            extra=self._with_search(_search_renamed(self.extra.get("search"), old, new)),
            nodes=tuple(replace(n, id=new) if n.id == old else n for n in self.nodes),
            edges=tuple(Edge(r(e.source), r(e.target), e.port) for e in self.edges),
            outputs=None if self.outputs is None else tuple(r(o) for o in self.outputs),
            layout={r(k): v for k, v in self.layout.items()},
            groups=tuple(replace(g, nodes=tuple(r(n) for n in g.nodes)) for g in self.groups),
        )

    def insert_between(
        self, source: str, target: str, type_: str, params: dict | None = None, node_id: str | None = None
    ) -> tuple[Graph, str]:
        """Puts a new node on the edge source -> target, keeping the target's port.

        When source and target are in the same group, the new node joins it (after the source).
        """
        current = self.in_edges(target)
        if source not in [e.source for e in current]:
            raise GraphEditError(f"there is no edge from '{source}' to '{target}'", target)
        g, nid = self.add_node(type_, params, node_id)
        sources = [nid if s == source else s for s in [e.source for e in current]]
        g = g._set_inputs(target, sources)
        g = replace(g, edges=g.edges + (Edge(source, nid),))
        if source in self.layout and target in self.layout:
            (x1, y1), (x2, y2) = self.layout[source], self.layout[target]
            g = g.set_position(nid, ((x1 + x2) / 2, (y1 + y2) / 2))
        block = self._group_index.get(source)
        if block is not None and self._group_index.get(target) is block:
            members = list(block.nodes)
            members.insert(members.index(source) + 1, nid)
            g = g._replace_group(replace(block, nodes=tuple(members)))
        return g, nid

    def insert_after(self, source: str, type_: str, params: dict | None = None) -> Graph:
        """Adds a node after `source` and moves source's outgoing edges to it."""
        self.node(source)
        return self.add_layer(type_, source, params)[0]

    def add_layer(self, type_: str, selected: str | None = None, params: dict | None = None) -> tuple[Graph, str]:
        """Adds a layer where a palette click means it: after the selected node
        (taking over its outgoing edges), else after the end of the main chain.

        Returns:
            (new graph, id of the new node).
        """
        spec = LAYERS.get(type_)
        if spec is None:
            raise GraphEditError(f"unknown layer type {type_!r}: pick one from the palette")
        anchor = selected if selected is not None and self.has(selected) else None
        if anchor is None and not spec.is_input:
            outputs = self.output_ids()
            order = {nid: i for i, nid in enumerate(self.topological_order())} if outputs else {}
            anchor = max(outputs, key=lambda o: order.get(o, -1)) if outputs else None
        if spec.is_input or anchor is None:
            return self.add_node(type_, params)
        g, nid = self.add_node(type_, params)
        moved = tuple(Edge(nid, e.target, e.port) if e.source == anchor else e for e in g.edges)
        g = replace(g, edges=moved + (Edge(anchor, nid),))
        if g.outputs is not None and anchor in g.outputs:
            g = replace(g, outputs=tuple(nid if o == anchor else o for o in g.outputs))
        return g, nid

    def set_outputs(self, outputs: Iterable[str] | None) -> Graph:
        if outputs is None:
            return replace(self, outputs=None)
        outputs = tuple(outputs)
        for o in outputs:
            self.node(o)
        return replace(self, outputs=outputs)

    def set_name(self, name: str) -> Graph:
        problem = name_problem(name)
        if problem:
            raise GraphEditError(problem)
        return replace(self, name=name)

    def _with_search(self, search: Any) -> dict:
        """`extra` with its `search` field replaced (kept absent when it was)."""
        if "search" not in self.extra:
            return self.extra
        return {**self.extra, "search": search}

    def set_extra(self, key: str, value: Any) -> Graph:
        """Sets an optional top-level field (`compile`, `training`, ...); None removes it."""
        if key in KNOWN_FIELDS:
            raise GraphEditError(f"{key!r} is not an optional field")
        extra = {k: v for k, v in self.extra.items() if k != key}
        if value is not None:
            extra[key] = _jsonable(copy.deepcopy(value))
        return replace(self, extra=extra)

    def set_position(self, node_id: str, xy: tuple[float, float]) -> Graph:
        layout = dict(self.layout)
        layout[node_id] = [float(xy[0]), float(xy[1])]
        return replace(self, layout=layout)

    # -- groups -----------------------------------------------------------
    def group_by_id(self, group_id: str) -> Group:
        """The group with this id.

        Raises:
            GraphEditError: there is no such group.
        """
        for g in self.groups:
            if g.id == group_id:
                return g
        raise GraphEditError(f"there is no group '{printable(group_id)}'")

    def group_of(self, node_id: str) -> Group | None:
        """The group a node is in, or None.

        Raises:
            GraphEditError: there is no such node.
        """
        self.node(node_id)
        return self._group_index.get(node_id)

    def _replace_group(self, group: Group) -> Graph:
        return replace(self, groups=tuple(group if g.id == group.id else g for g in self.groups))

    def fresh_group_id(self, stem: str = "group") -> str:
        """A group id used by no group and no node: `group`, `group_1`, `group_2`, ..."""
        used = {g.id for g in self.groups} | set(self.ids())
        if stem not in used:
            return stem
        i = 1
        while f"{stem}_{i}" in used:
            i += 1
        return f"{stem}_{i}"

    def group(self, node_ids: Iterable[str], name: str | None = None, group_id: str | None = None) -> tuple[Graph, str]:
        """Puts nodes into a new group.

        A node already in another group moves out of it into the new one (so
        selecting nodes and grouping them always works); a group left empty by
        the move is dropped.

        Args:
            node_ids: At least one existing node; listed twice counts once.
            name: Shown on the box (default: the group id).
            group_id: Default: a fresh id, `group`, `group_1`, ...

        Returns:
            (new graph, id of the new group).

        Raises:
            GraphEditError: no nodes, an unknown node, a bad or used group id, a bad name.
        """
        if isinstance(node_ids, str):
            node_ids = [node_ids]
        wanted = list(dict.fromkeys(node_ids))
        if not wanted:
            raise GraphEditError("a group needs at least one node: select the nodes to group")
        for nid in wanted:
            self.node(nid)
        if group_id is None:
            group_id = self.fresh_group_id()
        elif not valid_id(group_id):
            raise GraphEditError(f"{printable(group_id)!r} is not a valid group id: {ID_RULE}")
        elif any(g.id == group_id for g in self.groups):
            raise GraphEditError(f"the group id '{group_id}' is already used: pick another")
        name = group_id if name is None else name
        problem = group_name_problem(name)
        if problem:
            raise GraphEditError(f"group '{group_id}': {problem}")
        members = set(wanted)
        block = Group(group_id, name, tuple(n for n in self.ids() if n in members), False)
        return replace(self, groups=_without_nodes(self.groups, members) + (block,)), group_id

    def ungroup(self, group_id: str) -> Graph:
        """Removes a group; its nodes stay in the graph, in no group."""
        self.group_by_id(group_id)
        return replace(self, groups=tuple(g for g in self.groups if g.id != group_id))

    def set_group_collapsed(self, group_id: str, collapsed: bool) -> Graph:
        """Draws a group as one closed box (True) or shows its nodes (False)."""
        return self._replace_group(replace(self.group_by_id(group_id), collapsed=bool(collapsed)))

    def rename_group(self, group_id: str, name: str) -> Graph:
        """Changes the name shown on a group's box (its id stays)."""
        block = self.group_by_id(group_id)
        problem = group_name_problem(name)
        if problem:
            raise GraphEditError(f"group '{group_id}': {problem}")
        return self._replace_group(replace(block, name=name))


def _without_nodes(groups: tuple[Group, ...], node_ids: set[str]) -> tuple[Group, ...]:
    """Groups with these nodes taken out; a group left empty is dropped."""
    out = []
    for g in groups:
        kept = tuple(n for n in g.nodes if n not in node_ids)
        if kept:
            out.append(g if len(kept) == len(g.nodes) else replace(g, nodes=kept))
    return tuple(out)


def _check_param(node: Node, name: str, value: Any, label: str | None = None) -> None:
    label = label or describe(node)
    spec = LAYERS.get(node.type)
    if spec is None:
        raise GraphEditError(f"{label} has an unknown type: pick one from the palette", node.id)
    ps = spec.param(name)
    if ps is None:
        raise GraphEditError(f"{label}: {printable(node.type)} has no parameter '{printable(name)}'", node.id)
    problem = ps.problem(value)
    if problem is None and ps.kind == "layer":
        inner = Node(node.id, value["type"], value.get("params", {}))
        for k, v in inner.params.items():
            _check_param(inner, k, v, label=f"{label} (wrapped {inner.type})")
        return
    if problem:
        raise GraphEditError(f"{label}: {name} {problem}", node.id)


def _no_constant(name: str):
    raise ValueError(f"{name} is not allowed in a graph file")


def _depth(value: Any) -> int:
    """How deeply lists and objects nest in a JSON value (counted without recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (dict, list)):
            deepest = max(deepest, d)
            stack.extend((i, d + 1) for i in (v.values() if isinstance(v, dict) else v))
    return deepest


def _nonfinite(value: Any) -> tuple[str, float] | None:
    """(where, number) of the first NaN or infinite number in a JSON value, or None.

    JSON cannot hold them, so a graph that kept one could not be saved: `1e999` in a file reads as inf.
    """
    stack = [("", value)]
    while stack:
        where, v = stack.pop()
        if isinstance(v, float) and not math.isfinite(v):
            return where, v
        if isinstance(v, dict):
            stack.extend((f"{where}.{k}" if where else str(k), i) for k, i in v.items())
        elif isinstance(v, list):
            stack.extend((f"{where}[{n}]", i) for n, i in enumerate(v))
    return None


def _out_of_range(where: str, number: float) -> str:
    return f'"{where[:60]}" is {number}, a number out of range: write a finite number'


def _coordinate(c: Any) -> bool:
    """A usable layout coordinate: a finite number (a 400-digit integer is too large for a float)."""
    if isinstance(c, bool) or not isinstance(c, (int, float)):
        return False
    try:
        return math.isfinite(float(c))
    except OverflowError:
        return False


def _parse(data: Any) -> Graph:
    problems: list[tuple[str | None, str]] = []
    if not isinstance(data, dict):
        raise GraphFormatError([(None, "a graph file must hold a JSON object")])
    if _depth(data) > MAX_DEPTH:  # reading it would exhaust Python's recursion
        raise GraphFormatError([(None, (f"the graph file nests lists or objects more than {MAX_DEPTH} deep: "
                                        f"it is not a graph LayerCanvas can read"))])
    text_problem = _text_problem(data)
    if text_problem:
        raise GraphFormatError([(None, text_problem)])
    if data.get("format") != FORMAT:
        raise GraphFormatError([(None, f'not a LayerCanvas graph: "format" must be "{FORMAT}", got {data.get("format")!r}')])
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise GraphFormatError([(None, f'"version" must be a whole number, got {version!r}')])
    if version > VERSION:
        raise GraphFormatError([(None, f"this graph file is version {version}, made by a newer LayerCanvas; this one reads version {VERSION}")])
    name = data.get("name", "model")
    if name_problem(name):
        problems.append((None, f'"name": {name_problem(name)}'))
        name = "model"

    raw_nodes = data.get("nodes", [])
    if not isinstance(raw_nodes, list):
        raise GraphFormatError([(None, '"nodes" must be a list')])
    nodes, seen = [], set()
    for i, rn in enumerate(raw_nodes):
        nid = _entry_id(rn, i, seen, "node", problems)
        if nid is None:
            continue
        type_ = rn.get("type")
        if not isinstance(type_, str) or not type_:
            problems.append((nid, f"node '{nid}' has no \"type\" (a Keras layer name such as \"Dense\")"))
            continue
        params = rn.get("params", {})
        if params is None:
            params = {}
        if not isinstance(params, dict):
            problems.append((nid, f"{printable(type_)} '{nid}': \"params\" must be an object, got {str(params)[:40]!r}"))
            continue
        trainable = rn.get("trainable", True)
        if not isinstance(trainable, bool):
            problems.append((nid, f"{printable(type_)} '{nid}': \"trainable\" must be true or false, got {trainable!r}"))
            continue
        odd = _nonfinite(rn)
        if odd is not None:
            problems.append((nid, f"{printable(type_)} '{nid}': {_out_of_range(*odd)}"))
            continue
        extra = {k: v for k, v in rn.items() if k not in ("id", "type", "params", "trainable")}
        nodes.append(Node(nid, type_, _jsonable(params), trainable, extra))

    raw_edges = data.get("edges", [])
    if not isinstance(raw_edges, list):
        raise GraphFormatError(problems + [(None, '"edges" must be a list')])
    edges = []
    for i, re_ in enumerate(raw_edges):
        if not isinstance(re_, dict):
            problems.append((None, f"edge #{i + 1} must be an object, got {str(re_)[:40]!r}"))
            continue
        s, t, port = re_.get("source"), re_.get("target"), re_.get("port")
        bad = [x for x in (s, t) if not (isinstance(x, str) and x in seen)]
        if bad:
            known = [x for x in (s, t) if isinstance(x, str) and x in seen]
            problems.append((known[0] if known else None, f"edge #{i + 1} ({str(s)[:40]!r} -> {str(t)[:40]!r}) names a node that does not exist: {str(bad[0])[:40]!r}"))
            continue
        if port is not None and (not isinstance(port, int) or isinstance(port, bool) or port < 0):
            problems.append((t, f"edge {s} -> {t}: \"port\" must be a whole number >= 0, got {port!r}"))
            continue
        edges.append(Edge(s, t, port))

    outputs = data.get("outputs")
    if outputs is not None:
        if not isinstance(outputs, list) or not all(isinstance(o, str) for o in outputs):
            problems.append((None, '"outputs" must be a list of node ids'))
            outputs = None
        else:
            for o in outputs:
                if o not in seen:
                    problems.append((None, f'"outputs" names a node that does not exist: {o[:40]!r}'))
            if len(set(outputs)) != len(outputs):
                problems.append((None, '"outputs" lists a node twice'))
            outputs = tuple(outputs)

    layout = {}
    raw_layout = data.get("layout")
    if isinstance(raw_layout, dict):  # optional and advisory: bad entries are dropped
        for k, v in raw_layout.items():
            if k in seen and isinstance(v, (list, tuple)) and len(v) == 2 and all(_coordinate(c) for c in v):
                layout[k] = [float(v[0]), float(v[1])]

    groups = _parse_groups(data.get("groups"), seen, problems)

    odd = _nonfinite({k: v for k, v in data.items() if k not in KNOWN_FIELDS})
    if odd is not None:
        problems.append((None, _out_of_range(*odd)))
    if problems:
        raise GraphFormatError(problems)
    extra = {k: copy.deepcopy(v) for k, v in data.items() if k not in KNOWN_FIELDS}
    return Graph(tuple(nodes), tuple(edges), name, outputs, layout, extra, groups)


def _entry_id(entry: Any, i: int, seen: set[str], kind: str, problems: list) -> str | None:
    """The id of the `i`-th node or group of a graph file, added to `seen`; None (with the problem added) when
    the entry is not an object, or its id is invalid or already used by another entry of that kind."""
    if not isinstance(entry, dict):
        problems.append((None, f"{kind} #{i + 1} must be an object, got {str(entry)[:40]!r}"))
        return None
    eid = entry.get("id")
    label = "" if kind == "node" else f"{kind} "
    if not valid_id(eid):
        problems.append((None, f"{kind} #{i + 1} has an invalid id {str(eid)[:70]!r}: {label}ids {ID_RULE}"))
        return None
    if eid in seen:
        problems.append((eid if kind == "node" else None,
                         f"the {label}id '{eid}' is used by more than one {kind}: {label}ids must be unique"))
        return None
    seen.add(eid)
    return eid


def _parse_groups(raw: Any, node_ids: set[str], problems: list) -> tuple[Group, ...]:
    """The `groups` field; each bad entry adds a problem naming the group. Unknown keys in an entry are ignored."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append((None, f'"groups" must be a list of groups, got {printable(raw, 40)!r}'))
        return ()
    groups: list[Group] = []
    owner: dict[str, str] = {}  # node id -> id of the group that lists it
    seen: set[str] = set()
    for i, rg in enumerate(raw):
        gid = _entry_id(rg, i, seen, "group", problems)
        if gid is None:
            continue
        ok = True
        name = rg.get("name", gid)
        problem = group_name_problem(name)
        if problem:
            problems.append((None, f"group '{gid}': {problem}"))
            ok = False
        collapsed = rg.get("collapsed", False)
        if not isinstance(collapsed, bool):
            problems.append((None, f'group \'{gid}\': "collapsed" must be true or false, got {printable(collapsed, 40)!r}'))
            ok = False
        members = rg.get("nodes")
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            problems.append((None, f'group \'{gid}\': "nodes" must be a list of node ids'))
            continue
        if not members:
            problems.append((None, f"group '{gid}' lists no nodes: add nodes to it or remove it"))
            continue
        for m in members:
            if m not in node_ids:
                problems.append((None, f"group '{gid}' lists a node that does not exist: {printable(m, 40)!r}"))
                ok = False
            elif m in owner:
                other = owner[m]
                problems.append((m, f"group '{gid}' lists node '{m}' twice" if other == gid else
                                 f"node '{m}' is in group '{other}' and in group '{gid}': a node is in at most one group"))
                ok = False
            else:
                owner[m] = gid
        if ok:
            groups.append(Group(gid, name, tuple(members), collapsed))
    return tuple(groups)


# -- the `search` field follows its nodes (builder.model.space reads it; a key starts with its node's id) ---------

def _search_renamed(raw: Any, old: str, new: str) -> Any:
    """The `search` field with the keys of node `old` renamed to `new`."""
    if not isinstance(raw, dict) or not isinstance(raw.get("space"), dict):
        return raw
    space = {(new + k[len(old):] if k.startswith(old + ".") else k): v for k, v in raw["space"].items()}
    return {**raw, "space": space}


def _search_without(raw: Any, node_id: str) -> Any:
    """The `search` field without the keys of a removed node."""
    if not isinstance(raw, dict) or not isinstance(raw.get("space"), dict):
        return raw
    return {**raw, "space": {k: v for k, v in raw["space"].items() if not k.startswith(node_id + ".")}}
