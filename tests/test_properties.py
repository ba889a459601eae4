"""Property tests: whatever the graph or edit, only documented errors, and builds agree with Keras."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder.model.build import ModelBuilder, build
from builder.model.catalog import LAYERS
from builder.model.graph import Edge, Graph, GraphError, GraphFormatError
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
