"""Hypothesis strategies: graphs and parameter values, valid and not."""

from hypothesis import strategies as st

from builder.model.catalog import LAYERS, STARTERS
from builder.model.graph import Edge, Graph, Node

TYPES = sorted(LAYERS)
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def value_for(ps):
    """Mostly plausible values for a ParamSpec, sometimes anything at all."""
    k = ps.kind
    if k == "int":
        plausible = st.integers(1 if ps.min is None else int(ps.min), 64)
    elif k == "float":
        lo = -2.0 if ps.min is None else ps.min
        hi = 2.0 if ps.max is None else ps.max
        plausible = st.floats(lo, hi, exclude_max=ps.max_exclusive, exclude_min=ps.min_exclusive)
    elif k == "bool":
        plausible = st.booleans()
    elif k in ("choice", "initializer"):
        plausible = st.sampled_from(ps.choices)
    elif k == "ints":
        plausible = st.integers(1, 4) | st.lists(st.integers(1, 4), min_size=ps.length, max_size=ps.length)
    elif k == "shape":
        plausible = st.lists(st.integers(1, 12), min_size=1, max_size=3)
    elif k == "axes":
        plausible = st.integers(-3, 3) | st.lists(st.integers(-3, 3), min_size=1, max_size=2)
    elif k == "range":
        plausible = st.floats(0, 0.5)
    elif k == "pad2d":
        plausible = st.integers(0, 2)
    elif k == "regularizer":
        plausible = st.fixed_dictionaries({"l2": st.floats(0, 0.1)})
    elif k == "layer":
        plausible = st.sampled_from(ps.layer_types).map(lambda t: {"type": t, "params": dict(STARTERS.get(t, {}))})
    else:
        plausible = JSONISH
    return st.one_of(plausible, plausible, plausible, JSONISH)


@st.composite
def node_params(draw, type_):
    spec = LAYERS.get(type_)
    params = dict(STARTERS.get(type_, {}))
    if spec is None:
        return params
    for ps in draw(st.lists(st.sampled_from(spec.params), max_size=3, unique_by=lambda p: p.name)) if spec.params else []:
        params[ps.name] = draw(value_for(ps))
    if draw(st.integers(0, 20)) == 0:
        params[draw(st.text(min_size=1, max_size=5))] = draw(JSONISH)
    if draw(st.integers(0, 15)) == 0 and params:
        params.pop(draw(st.sampled_from(sorted(params))))
    return params


@st.composite
def graphs(draw, max_nodes=7):
    """Mostly forward-wired graphs of random layers, with the odd bad edge, port or type."""
    n = draw(st.integers(1, max_nodes))
    nodes = [Node("in0", "Input", {"shape": draw(st.lists(st.integers(1, 10), min_size=1, max_size=3))})]
    for i in range(1, n):
        type_ = draw(st.sampled_from(TYPES + ["NotALayer"]) if draw(st.integers(0, 30)) == 0 else st.sampled_from(TYPES))
        nodes.append(Node(f"n{i}", type_, draw(node_params(type_)), draw(st.booleans())))
    edges = []
    for i in range(1, n):
        k = draw(st.integers(0, 3))
        sources = draw(st.lists(st.integers(0, i - 1), min_size=min(k, i), max_size=min(k, i)))
        use_ports = len(sources) > 1 and draw(st.booleans())
        edges += [Edge(nodes[s].id, nodes[i].id, p if use_ports else None) for p, s in enumerate(sources)]
    if n > 2 and draw(st.integers(0, 10)) == 0:  # the odd backward edge: a cycle
        edges.append(Edge(nodes[n - 1].id, nodes[1].id))
    if edges and draw(st.integers(0, 12)) == 0:
        e = edges[0]
        edges[0] = Edge(e.source, e.target, draw(st.integers(0, 5)))
    return Graph(tuple(nodes), tuple(edges), name="fuzz")
