"""Graph -> readable Keras code: Functional (any graph) or Sequential (a chain).

The code builds exactly the model that `builder.build` builds: same layers,
same explicit names, same config. User text never reaches the code as code:
node ids are checked identifiers (keywords get a trailing `_`), and every
string goes through `repr`.
"""

from __future__ import annotations

import keyword
from typing import Any

from builder.catalog import LAYERS, LayerSpec, _tuples, inner_layer_name
from builder.graph import Graph, GraphError, Node
from builder.validate import check_structure, errors

# Names the generated module uses itself; a node with one of these ids gets a `_`.
RESERVED = frozenset({"keras", "layers", "build_model", "model", "np", "tf", "main", "argparse", "json", "os", "sys"})
LINE_LENGTH = 100


class CodegenError(GraphError):
    """The graph has structural errors, so there is no code to write."""


def var_name(node_id: str) -> str:
    """The Python variable for a node: its id, unless that is a keyword or taken."""
    return node_id + "_" if keyword.iskeyword(node_id) or node_id in RESERVED else node_id


def literal(value: Any) -> str:
    """A Python literal for a JSON value (lists become tuples, strings go through repr)."""
    value = _tuples(value)
    if isinstance(value, tuple):
        inner = ", ".join(literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, (bool, int, float, str)) or value is None:
        return repr(value)
    raise TypeError(f"no literal for {type(value).__name__}")


def _regularizer(value: dict) -> str:
    l1, l2 = float(value.get("l1", 0.0)), float(value.get("l2", 0.0))
    if l1 and l2:
        return f"keras.regularizers.L1L2(l1={l1!r}, l2={l2!r})"
    if l1:
        return f"keras.regularizers.L1({l1!r})"
    return f"keras.regularizers.L2({l2!r})" if l2 else "None"


def _differs(spec: LayerSpec, name: str, value: Any) -> bool:
    ps = spec.param(name)
    return ps.required or _tuples(value) != _tuples(ps.default)


def layer_expr(node: Node, name: str | None = None) -> str:
    """`layers.Dense(64, activation='relu', name='dense')` for a node."""
    spec = LAYERS[node.type]
    name = node.id if name is None else name
    args = []
    for ps in spec.params:
        if ps.name not in node.params or not _differs(spec, ps.name, node.params[ps.name]):
            continue
        value = node.params[ps.name]
        if ps.kind == "layer":
            inner = Node(inner_layer_name(node.id, value["type"]), value["type"], value.get("params", {}))
            code = layer_expr(inner)
        elif ps.kind == "regularizer":
            code = _regularizer(value)
        else:
            code = literal(value)
        args.append(code if ps.required and not spec.is_input else f"{ps.name}={code}")
    if not node.trainable and not spec.is_input:
        args.append("trainable=False")
    args.append(f"name={name!r}")
    head = "keras.Input" if spec.is_input else f"layers.{node.type}"
    return f"{head}({', '.join(args)})"


def _call(spec: LayerSpec, args: list[str]) -> str:
    if spec.call_style == "list":
        return f"([{', '.join(args)}])"
    if spec.call_style == "positional":
        return f"({', '.join(args)})"
    return f"({args[0]})"


def model_nodes(graph: Graph) -> list[str]:
    """Node ids that are part of the model, in topological order."""
    needed, stack = set(), list(graph.output_ids())
    while stack:
        nid = stack.pop()
        if nid not in needed:
            needed.add(nid)
            stack.extend(graph.inputs_of(nid))
    needed.update(graph.input_ids())
    return [n for n in graph.topological_order() if n in needed]


def is_chain(graph: Graph) -> bool:
    """One input, then one layer after another: Sequential can express it."""
    order = model_nodes(graph)
    if len(graph.input_ids()) != 1 or len(graph.output_ids()) != 1 or len(order) < 2:
        return False
    for prev, nid in zip(order, order[1:]):
        spec = LAYERS[graph.node(nid).type]
        if graph.inputs_of(nid) != [prev] or spec.call_style != "single" or graph.successors(prev) != [nid]:
            return False
    return graph.node(order[0]).params.get("dtype") is None


def _check(graph: Graph) -> None:
    problems = errors(check_structure(graph))
    if problems:
        raise CodegenError("; ".join(i.message for i in problems[:3]), problems[0].node_id)


def _functional_body(graph: Graph) -> list[str]:
    lines = []
    for nid in model_nodes(graph):
        node = graph.node(nid)
        spec = LAYERS[node.type]
        expr = layer_expr(node)
        if not spec.is_input:
            expr += _call(spec, [var_name(s) for s in graph.inputs_of(nid)])
        lines.append(f"{var_name(nid)} = {expr}")
    ins = [var_name(i) for i in graph.input_ids()]
    outs = [var_name(o) for o in graph.output_ids()]
    pack = lambda xs: xs[0] if len(xs) == 1 else f"[{', '.join(xs)}]"  # noqa: E731
    lines.append(f"return keras.Model(inputs={pack(ins)}, outputs={pack(outs)}, name={graph.name!r})")
    return lines


def _sequential_body(graph: Graph) -> list[str]:
    items = [layer_expr(graph.node(nid)) + "," for nid in model_nodes(graph)]
    return ["return keras.Sequential(", "    [", *("        " + i for i in items), "    ],", f"    name={graph.name!r},", ")"]


def build_model_source(graph: Graph, style: str = "functional") -> str:
    """The `build_model()` function alone (no imports)."""
    _check(graph)
    if style == "sequential":
        if not is_chain(graph):
            raise CodegenError("Sequential code needs a single chain of layers: use the Functional style for this graph")
        body = _sequential_body(graph)
    elif style == "functional":
        body = _functional_body(graph)
    else:
        raise ValueError(f"unknown code style {style!r}")
    doc = '"""Returns the Keras model drawn in LayerCanvas."""'
    return "\n".join(["def build_model():", "    " + doc, *("    " + ln for ln in body)]) + "\n"


def fmt(source: str) -> str:
    """Formats with black when it is installed (it is in requirements.txt)."""
    try:
        import black
    except ImportError:  # formatting is a nicety; the code is valid without it
        return source
    return black.format_str(source, mode=black.Mode(line_length=LINE_LENGTH))


def generate_code(graph: Graph, style: str = "functional") -> str:
    """A Python module defining `build_model()` that returns the graph's model.

    Args:
        graph: A graph without structural errors.
        style: `functional` (any graph) or `sequential` (a single chain).

    Raises:
        CodegenError: the graph has structural errors, or is not a chain for
            the Sequential style.
    """
    source = build_model_source(graph, style)
    imports = "import keras\nfrom keras import layers\n" if "layers." in source else "import keras\n"
    return fmt(f'"""Keras model generated by LayerCanvas."""\n\n{imports}\n\n{source}')
