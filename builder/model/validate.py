"""Graph checks. They return issues and never raise for a bad graph.

`check_structure` needs no Keras (types, params, edges, ports, arity, cycles,
outputs). `validate` adds the shape checks, which come from building the model
layer by layer (see builder.model.build).
"""

from __future__ import annotations

import difflib

from builder.model.catalog import LAYERS, STARTERS
from builder.model.graph import Graph, GraphCycleError, GraphError, Node, describe, printable
from builder.model.issues import ERROR, WARNING, Fix, Issue
from builder.model.layout import room_for_new
from builder.model.space import issues as search_issues

FIX_OPS = (
    "add_node", "remove_node", "connect", "disconnect", "set_param", "insert_between",
    "insert_after", "set_input_order", "set_outputs",
)


def apply_fix(graph: Graph, fix: Fix) -> Graph:
    """Applies a fix and returns the new graph.

    Raises:
        GraphError: the fix no longer applies (the graph changed since).
    """
    if fix.op not in FIX_OPS:
        raise GraphError(f"unknown fix {fix.op!r}")
    result = getattr(graph, fix.op)(**fix.args)
    return room_for_new(graph, result[0] if isinstance(result, tuple) else result)


def _param_issues(node: Node, label: str, issues: list[Issue], path: str = "") -> None:
    spec = LAYERS[node.type]
    for name, value in node.params.items():
        ps = spec.param(name)
        key = path + name
        if ps is None:
            known = [p.name for p in spec.params]
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            issues.append(Issue(node.id, "unknown_param", f"{label}: {printable(node.type)} has no parameter '{printable(name)}'{hint}: remove it",
                                Fix(f"Remove '{name}' from {node.id}", "set_param", {"node_id": node.id, "name": key, "value": None})))
            continue
        problem = ps.problem(value)
        if problem:
            fix = None
            if not ps.required:
                fix = Fix(f"Reset {name} of {node.id} to its default", "set_param", {"node_id": node.id, "name": key, "value": None})
            elif name in STARTERS.get(node.type, {}):
                starter = STARTERS[node.type][name]
                fix = Fix(f"Set {name} = {starter} on {node.id}", "set_param", {"node_id": node.id, "name": key, "value": starter})
            issues.append(Issue(node.id, "bad_param", f"{label}: {name} {problem}", fix))
        elif ps.kind == "layer":
            inner = Node(node.id, value["type"], value.get("params", {}))
            _param_issues(inner, f"{label} (wrapped {inner.type})", issues, path=f"{name}.")
    for ps in spec.params:
        if ps.required and ps.name not in node.params:
            starter = STARTERS.get(node.type, {}).get(ps.name)
            fix = None if starter is None else Fix(
                f"Set {ps.name} = {starter} on {node.id}", "set_param", {"node_id": node.id, "name": path + ps.name, "value": starter})
            issues.append(Issue(node.id, "missing_param", f"{label} needs '{ps.name}' ({ps.help.rstrip('.')}): set it", fix))


def check_structure(graph: Graph) -> list[Issue]:
    """Checks everything that needs no shapes. Never raises for a bad graph."""
    issues: list[Issue] = []
    ids = set(graph.ids())
    if not graph.input_ids():
        issues.append(Issue(None, "no_input", "the graph has no Input: add an Input layer with the shape of one sample",
                            Fix("Add an Input", "add_node", {"type_": "Input"})))
    for node in graph.nodes:
        if node.type not in LAYERS:
            close = difflib.get_close_matches(node.type, list(LAYERS), n=1)
            hint = f": did you mean '{close[0]}'?" if close else ": pick a layer from the palette"
            issues.append(Issue(node.id, "unknown_type", f"{describe(node)}: '{printable(node.type)}' is not a layer LayerCanvas knows{hint}"))
            continue
        _param_issues(node, describe(node), issues)

    for e in graph.edges:
        missing = [x for x in (e.source, e.target) if x not in ids]
        if missing:
            issues.append(Issue(e.target if e.target in ids else None, "bad_edge",
                                f"the edge {e.source} -> {e.target} names a node that does not exist ('{missing[0]}'): remove the edge"))

    for node in graph.nodes:
        in_edges = [e for e in graph.in_edges(node.id) if e.source in ids]
        ported = [e.port for e in in_edges if e.port is not None]
        if ported and (len(ported) != len(in_edges) or sorted(ported) != list(range(len(in_edges)))):
            issues.append(Issue(
                node.id, "port",
                f"{describe(node)} has {len(in_edges)} input(s), so its ports must be 0 to {len(in_edges) - 1} once each; "
                f"got {sorted((p for p in ported), key=int)}{' and unnumbered edges' if len(ported) != len(in_edges) else ''}: renumber them",
                Fix(f"Renumber the inputs of {node.id}", "set_input_order",
                    {"target": node.id, "sources": [e.source for e in in_edges]}),
            ))
        spec = LAYERS.get(node.type)
        if spec is None:
            continue
        n, (lo, hi) = len(in_edges), spec.arity
        if spec.is_input and n:
            issues.append(Issue(node.id, "arity", f"{describe(node)} is a model input and takes no inputs, got {n}: remove the edge(s) into it"))
        elif n == 0 and lo > 0:
            issues.append(Issue(node.id, "arity", f"{describe(node)} has no input: connect a layer into it"))
        elif n < lo:
            issues.append(Issue(node.id, "arity", f"{describe(node)} needs at least {lo} inputs, got {n}: connect another branch into it"))
        elif hi is not None and n > hi:
            what = "1 input" if hi == 1 else f"at most {hi} inputs"
            hint = ": merge them first with Concatenate or Add" if hi == 1 else ": remove the extra edge(s)"
            issues.append(Issue(node.id, "arity", f"{describe(node)} takes {what}, got {n}{hint}"))

    try:
        graph.topological_order()
    except GraphCycleError as e:
        loop = " -> ".join(e.nodes + [e.nodes[0]])
        for nid in e.nodes:
            issues.append(Issue(nid, "cycle", f"{describe(graph.node(nid))} is on a cycle ({loop}): remove one of these connections",
                                Fix(f"Remove the edge {e.nodes[-1]} -> {e.nodes[0]}", "disconnect",
                                    {"source": e.nodes[-1], "target": e.nodes[0]})))

    outputs = graph.output_ids()
    if graph.outputs is not None:
        for o in outputs:
            if o not in ids:
                issues.append(Issue(None, "bad_output", f"the outputs name '{o}', which does not exist: remove it from the outputs"))
    if not outputs and graph.nodes:
        issues.append(Issue(None, "bad_output", "the model has no output: list at least one node in the outputs"))
    issues.extend(_connectivity(graph, [o for o in outputs if o in ids]))
    if "search" in graph.extra:  # the design space for `tune`: its problems are pinned to the searched nodes, as
        # warnings (the model itself is fine; tune refuses)
        issues.extend(Issue(i.node_id, i.code, i.message, i.fix, WARNING) for i in search_issues(graph))
    return issues


def _connectivity(graph: Graph, outputs: list[str]) -> list[Issue]:
    """Inputs that feed nothing and layers that feed no output."""
    if len(graph.nodes) < 2:
        return []
    feeds_output, stack = set(), list(outputs)
    while stack:
        nid = stack.pop()
        if nid not in feeds_output:
            feeds_output.add(nid)
            stack.extend(graph.inputs_of(nid))
    issues = []
    for node in graph.nodes:
        spec = LAYERS.get(node.type)
        if spec is not None and spec.is_input and not graph.successors(node.id):
            issues.append(Issue(node.id, "disconnected", f"{describe(node)} is not connected to any layer: connect it or delete it",
                                Fix(f"Delete {node.id}", "remove_node", {"node_id": node.id}), WARNING))
        elif node.id not in feeds_output:
            issues.append(Issue(node.id, "unused", f"{describe(node)} does not lead to any model output, so it is left out: connect it or delete it",
                                Fix(f"Delete {node.id}", "remove_node", {"node_id": node.id}), WARNING))
    return issues


def errors(issues: list[Issue]) -> list[Issue]:
    return [i for i in issues if i.severity == ERROR]
