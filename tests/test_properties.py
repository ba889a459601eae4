"""Property tests: whatever the graph or edit, only documented errors, and builds agree with Keras."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder.model.build import ModelBuilder, build
from builder.model.catalog import LAYERS
from builder.model.graph import Edge, Graph, GraphError, GraphFormatError, Node
from builder.model.summary import summarize
from builder.model.validate import Issue, apply_fix
from tests.strategies import JSONISH, TYPES, graphs, node_params

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(graphs())
def test_build_never_raises_and_counts_match_keras(g):
    result = build(g)
    assert all(isinstance(i, Issue) and i.message and "\n" not in i.message for i in result.issues)
    assert all(i.node_id is None or g.has(i.node_id) for i in result.issues)
    if result.errors:
        assert result.model is None
    else:
        assert result.model is not None
        s = summarize(result)
        assert s.total_params == result.model.count_params()
        for nid, info in result.infos.items():
            if nid in {layer.name for layer in result.model.layers}:
                assert info.params == result.model.get_layer(nid).count_params()


@SETTINGS
@given(graphs(), st.data())
def test_fixes_apply_or_refuse_cleanly(g, data):
    fixes = [i.fix for i in build(g).issues if i.fix is not None]
    if fixes:
        fix = data.draw(st.sampled_from(fixes))
        try:
            fixed = apply_fix(g, fix)
        except GraphError:
            return
        build(fixed)  # must not raise


@SETTINGS
@given(graphs(max_nodes=5), st.lists(st.tuples(st.sampled_from(TYPES), st.data()), min_size=1, max_size=4))
def test_incremental_builds_agree_with_fresh_builds(g, steps):
    builder = ModelBuilder()
    builder.build(g)
    for _type, data in steps:
        victims = [n for n in g.nodes if n.type in LAYERS]
        node = data.draw(st.sampled_from(victims))
        try:
            g = g.set_params(node.id, data.draw(node_params(node.type)))
        except GraphError:
            continue
        inc, fresh = builder.build(g), build(g)
        assert [i.line() for i in inc.issues] == [i.line() for i in fresh.issues]
        if fresh.model is not None:
            assert json.dumps(inc.model.get_config(), sort_keys=True, default=str) == json.dumps(
                fresh.model.get_config(), sort_keys=True, default=str)
            assert inc.model.count_params() == fresh.model.count_params()


CHAIN_TYPES = {"Dense": {"units": 4}, "Dropout": {"rate": 0.1}, "BatchNormalization": {}, "Activation": {}}


@st.composite
def valid_chains(draw):
    """Input -> a chain of layers that always builds (with the odd branch merged by Add)."""
    types = draw(st.lists(st.sampled_from(sorted(CHAIN_TYPES)), min_size=2, max_size=8))
    nodes = [Node("in0", "Input", {"shape": [draw(st.integers(1, 6))]})]
    nodes += [Node(f"n{i}", t, dict(CHAIN_TYPES[t])) for i, t in enumerate(types)]
    edges = [Edge(a.id, b.id) for a, b in zip(nodes, nodes[1:], strict=False)]
    if draw(st.booleans()):  # a skip joined by Add to the last layer: both 4 wide after a Dense
        last = nodes[-1].id
        nodes += [Node("side", "Dense", {"units": 4}), Node("join", "Add", {})]
        edges += [Edge("in0", "side"), Edge("side", "join", 0), Edge(last, "join", 1)]
    return Graph(tuple(nodes), tuple(edges), name="chain")


EDITS = st.sampled_from([("units", 3), ("units", 4), ("units", 5), ("activation", "tanh"), ("activation", "relu")])


@SETTINGS
@given(valid_chains(), st.lists(st.tuples(st.data(), EDITS, st.booleans()), min_size=1, max_size=6))
def test_builds_whose_model_is_not_asked_for_count_as_the_model_does_and_make_it_later(g, steps):
    """An edit shows its shapes and counts without making the model (a layer after it whose input is unchanged is
    not called): whichever builds had their model made in between, the counts equal the model's, and the model
    is made from the kept layers, the same as a fresh build's."""
    builder = ModelBuilder()
    results = [builder.build(g)]
    for data, (name, value), ask in steps:
        editable = [n.id for n in g.nodes if n.type == "Dense" or (n.type == "Activation" and name == "activation")]
        if not editable:
            continue
        nid = data.draw(st.sampled_from(editable))
        g = g.set_param(nid, name, value)
        results.append(builder.build(g))
        if ask:
            results[-1].model  # noqa: B018 - made now, as the Build page's summary would
    inc, fresh = results[-1], build(g)
    counted = summarize(inc)
    assert [(r.name, r.output_shape, r.params) for r in counted.rows] == [
        (r.name, r.output_shape, r.params) for r in summarize(fresh).rows]
    assert (fresh.model is None) == bool(fresh.errors)
    if fresh.model is not None:
        assert inc.model is not None, [i.line() for i in inc.issues]
        assert counted.total_params == inc.model.count_params() == fresh.model.count_params()
        assert json.dumps(inc.model.get_config(), sort_keys=True, default=str) == json.dumps(
            fresh.model.get_config(), sort_keys=True, default=str)
    for older in results[:-1]:  # an older build's model is still made right, after newer ones
        if not older.errors:
            assert older.model is not None and older.model.count_params() == summarize(older).total_params
    assert builder.fresh_builds == 0  # made from the kept layers, not by building again from scratch


@settings(max_examples=300, deadline=None)
@given(JSONISH | st.dictionaries(st.sampled_from(["format", "version", "name", "nodes", "edges", "outputs", "layout", "groups"]), JSONISH))
def test_random_json_is_read_or_refused_with_format_error(data):
    try:
        Graph.from_dict(data)
    except GraphFormatError as e:
        assert e.problems and all(isinstance(m, str) and m for _, m in e.problems)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(max_nodes=5), st.data())
def test_mutated_valid_files_are_read_or_refused(g, data):
    d = json.loads(g.dumps())
    if data.draw(st.booleans()):  # some groups, valid or not
        d["groups"] = data.draw(st.lists(st.fixed_dictionaries(
            {"id": st.sampled_from(["g", "h", "1x"]), "nodes": st.lists(st.sampled_from([*g.ids(), "ghost"]), max_size=3)},
            optional={"name": JSONISH, "collapsed": JSONISH}) | JSONISH, max_size=3))
    path = data.draw(st.sampled_from(["nodes", "edges"]))
    if d[path]:
        i = data.draw(st.integers(0, len(d[path]) - 1))
        key = data.draw(st.sampled_from(sorted(d[path][i])))
        d[path][i][key] = data.draw(JSONISH)
    try:
        Graph.loads(json.dumps(d))
    except GraphFormatError as e:
        assert str(e)


EDIT = st.sampled_from(["add_node", "remove_node", "connect", "disconnect", "set_param", "rename", "set_trainable", "insert_between", "set_input_order"])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(max_nodes=5), st.lists(st.tuples(EDIT, st.data()), max_size=6))
def test_edits_return_graphs_or_raise_edit_errors(g, edits):
    ids = st.sampled_from(g.ids() + ["ghost", "", "1x"])
    for op, data in edits:
        ids = st.sampled_from(g.ids() + ["ghost", "", "1x"])
        try:
            if op == "add_node":
                g, _ = g.add_node(data.draw(st.sampled_from(TYPES + ["Nope"])), after=data.draw(st.none() | ids))
            elif op == "remove_node":
                g = g.remove_node(data.draw(ids), bridge=data.draw(st.booleans()))
            elif op in ("connect", "disconnect"):
                g = getattr(g, op)(data.draw(ids), data.draw(ids), data.draw(st.none() | st.integers(-1, 3)))
            elif op == "set_param":
                g = g.set_param(data.draw(ids), data.draw(st.text(max_size=12) | st.sampled_from(["units", "rate", "layer.units"])), data.draw(JSONISH))
            elif op == "rename":
                g = g.rename(data.draw(ids), data.draw(st.text(max_size=10) | ids))
            elif op == "set_trainable":
                g = g.set_trainable(data.draw(ids), data.draw(st.booleans()))
            elif op == "insert_between":
                g, _ = g.insert_between(data.draw(ids), data.draw(ids), data.draw(st.sampled_from(TYPES)))
            else:
                target = data.draw(ids)
                g = g.set_input_order(target, data.draw(st.permutations(g.inputs_of(target)) if g.has(target) else st.just([])))
        except GraphError as e:
            assert str(e)
        assert Graph.loads(g.dumps()) == g


@st.composite
def grouped_graphs(draw):
    """A random graph with some of its nodes in random groups (disjoint, none empty)."""
    g = draw(graphs(max_nodes=7))
    for i in range(draw(st.integers(0, 3))):
        members = draw(st.lists(st.sampled_from(g.ids()), min_size=1, max_size=4))
        g, _ = g.group(members, name=draw(st.none() | st.sampled_from(["Stage", "Block ✓"])), group_id=f"g{i}")
        if draw(st.booleans()):
            g = g.set_group_collapsed(f"g{i}", True)
    return g


GROUP_EDIT = st.sampled_from(["remove_node", "rename", "group", "ungroup", "insert_between"])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(grouped_graphs(), st.lists(st.tuples(GROUP_EDIT, st.data()), max_size=8))
def test_edits_keep_groups_existing_and_disjoint(g, edits):
    for op, data in edits:
        ids = st.sampled_from(g.ids() + ["ghost"])
        gids = st.sampled_from([x.id for x in g.groups] + ["nope"])
        try:
            if op == "remove_node":
                g = g.remove_node(data.draw(ids), bridge=data.draw(st.booleans()))
            elif op == "rename":
                g = g.rename(data.draw(ids), data.draw(ids | st.sampled_from(["renamed", "r2", "g0"])))
            elif op == "group":
                g, _ = g.group(data.draw(st.lists(ids, max_size=3)), group_id=data.draw(st.none() | gids))
            elif op == "ungroup":
                g = g.ungroup(data.draw(gids))
            else:
                e = data.draw(st.sampled_from(g.edges)) if g.edges else Edge("ghost", "ghost")
                g, _ = g.insert_between(e.source, e.target, "Dropout", {"rate": 0.1})
        except GraphError as e:
            assert str(e)
        members = [n for x in g.groups for n in x.nodes]
        assert all(g.has(n) for n in members)
        assert len(members) == len(set(members))
        assert all(x.nodes for x in g.groups)
        assert len({x.id for x in g.groups}) == len(g.groups)
        assert all(g.group_of(n).id == x.id for x in g.groups for n in x.nodes)
        assert Graph.loads(g.dumps()) == g
