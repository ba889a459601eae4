"""builder.model.compare: the architecture diff of two graphs (two training runs)."""

import json
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from builder.model.catalog import LAYERS, REQUIRED
from builder.model.compare import (
    ABSENT,
    ADDED,
    CHANGED,
    REMOVED,
    SAME,
    Change,
    Comparison,
    compare,
    settings_changes,
    show,
)
from builder.model.graph import Graph, GraphError, Node
from builder.model.templates import TEMPLATES, template
from tests.strategies import graphs, value_for

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KEYS = sorted(TEMPLATES)


def statuses(c: Comparison) -> dict[str, str]:
    return {r.id: r.status for r in c.rows}


def plain(v):
    """A value as the graph file stores it (tuples become lists)."""
    return json.loads(json.dumps(v))


# -- examples --------------------------------------------------------------
@pytest.mark.parametrize("key", KEYS)
def test_a_template_compared_with_itself_is_all_same(key):
    g = template(key)
    c = compare(g, template(key))
    assert [r.id for r in c.rows] == g.topological_order()
    assert set(statuses(c).values()) == {SAME}
    assert c.identical and (c.changed, c.added, c.removed) == (0, 0, 0)
    assert c.connections_added == c.connections_removed == ()
    assert all(r.changes() == [] for r in c.rows)
    assert c.headline() == "Same layers: none changed, added or removed"


def test_a_changed_unit_count_and_an_added_dropout():
    a = template("iris_mlp")
    b = a.set_param("dense_1", "units", 12)
    b, drop = b.insert_between("dense", "dense_1", "Dropout", {"rate": 0.25})
    c = compare(a, b)
    assert statuses(c) == {"input": SAME, "dense": SAME, drop: ADDED, "dense_1": CHANGED, "output": SAME}
    assert [r.id for r in c.rows] == ["input", "dense", drop, "dense_1", "output"]
    row = c.row("dense_1")
    assert row.param_changes == (Change("units", 8, 12),)
    assert row.inputs_a == ("dense",) and row.inputs_b == (drop,)
    assert row.changes() == ["units 8 → 12", f"inputs dense → {drop}"]
    assert c.row(drop).type_a is None and c.row(drop).type_b == "Dropout" and c.row(drop).inputs_b == ("dense",)
    assert c.connections_added == (("dense", drop), (drop, "dense_1"))  # in row order, whatever the edge order
    assert c.connections_removed == (("dense", "dense_1"),)
    assert (c.changed, c.added, c.removed) == (1, 1, 0)
    assert c.headline() == "1 layer changed, 1 added, 0 removed"
    assert not c.outputs_changed


def test_a_removed_node_is_listed_where_it_was():
    a = template("mnist_cnn")
    b = a.remove_node("dropout", bridge=True)
    c = compare(a, b)
    ids = [r.id for r in c.rows]
    assert ids.index("dropout") == ids.index("flatten") + 1
    assert c.row("dropout").status == REMOVED and c.row("dropout").node_b is None
    assert c.row("dropout").inputs_a == ("flatten",) and c.row("dropout").inputs_b == ()
    assert c.row("head").changes() == ["inputs dropout → flatten"]
    assert c.headline() == "1 layer changed, 0 added, 1 removed"


def test_a_removed_first_node_is_listed_first():
    a = template("two_inputs")
    b = a.remove_node("image")
    c = compare(a, b)
    assert c.rows[0].id == "image" and c.rows[0].status == REMOVED
    assert c.row("conv").inputs_b == () and c.row("conv").status == CHANGED


def test_a_renamed_node_is_one_removed_and_one_added():
    a = template("mlp")
    b = a.rename("dense", "hidden")
    c = compare(a, b)
    assert c.row("dense").status == REMOVED and c.row("hidden").status == ADDED
    assert c.row("dense_1").changes() == ["inputs dense → hidden"]
    assert (c.changed, c.added, c.removed) == (1, 1, 1)
    assert c.headline() == "1 layer changed, 1 added, 1 removed"


def test_reordered_inputs_change_the_node_but_no_connection():
    a = template("inception_block")
    order = a.inputs_of("mixed")
    b = a.set_input_order("mixed", order[::-1])
    c = compare(a, b)
    assert statuses(c)["mixed"] == CHANGED and c.changed == 1
    assert c.row("mixed").inputs_a == tuple(order) and c.row("mixed").inputs_b == tuple(order[::-1])
    assert c.row("mixed").param_changes == ()
    assert c.connections_added == c.connections_removed == ()


def test_a_missing_param_counts_as_the_catalog_default():
    dense = LAYERS["Dense"]
    assert dense.param("activation").default is None and dense.param("use_bias").default is True
    a = Graph((Node("x", "Input", {"shape": [4]}), Node("d", "Dense", {"units": 8})))
    assert compare(a, a.set_param("d", "activation", "linear")).row("d").param_changes == (
        Change("activation", None, "linear"),)
    same = replace(a, nodes=(a.nodes[0], Node("d", "Dense", {"units": 8, "activation": None, "use_bias": True})))
    assert compare(a, same).identical
    c = compare(a, a.set_param("d", "use_bias", False))
    assert c.row("d").param_changes == (Change("use_bias", True, False),)
    assert c.row("d").changes() == ["use_bias True → False"]


def test_a_required_param_set_on_one_side_only_is_absent_on_the_other():
    a = Graph((Node("d", "Dense", {}),))
    b = Graph((Node("d", "Dense", {"units": 4}),))
    change = compare(a, b).row("d").param_changes
    assert change == (Change("units", ABSENT, 4),)
    assert change[0].text() == "units not set → 4"
    assert compare(b, a).row("d").param_changes == (Change("units", 4, ABSENT),)


def test_params_of_unknown_types_compare_by_stored_value():
    a = Graph((Node("n", "NotALayer", {"k": 1}),))
    b = Graph((Node("n", "NotALayer", {"k": 1.0, "z": [1, 2]}),))
    assert compare(a, b).row("n").param_changes == (Change("z", ABSENT, [1, 2]),)  # 1 and 1.0 are one value


def test_true_is_not_one():
    a = Graph((Node("n", "NotALayer", {"k": 1}),))
    b = Graph((Node("n", "NotALayer", {"k": True}),))
    assert compare(a, b).row("n").param_changes == (Change("k", 1, True),)


def test_params_are_listed_in_catalog_order():
    a = Graph((Node("d", "Dense", {"units": 8}),))
    b = Graph((Node("d", "Dense", {"use_bias": False, "activation": "relu", "units": 9}),))
    assert [ch.name for ch in compare(a, b).row("d").param_changes] == ["units", "activation", "use_bias"]


def test_a_type_change_is_shown_with_its_params():
    a = template("mlp")
    b = replace(a, nodes=tuple(Node(n.id, "Conv1D", {"filters": 8, "kernel_size": 3}) if n.id == "dense_1" else n
                               for n in a.nodes))
    row = compare(a, b).row("dense_1")
    assert row.status == CHANGED and row.type_changed
    assert row.type_a == "Dense" and row.type_b == "Conv1D"
    names = [ch.name for ch in row.param_changes]
    assert names == ["filters", "units", "activation", "kernel_size"]  # each type's catalog order, merged
    assert row.param_changes[1] == Change("units", 8, ABSENT)  # Conv1D has no units
    assert row.changes()[0] == "type Dense → Conv1D"


def test_a_wrapped_layer_param_is_named_inside_the_wrapper():
    a, bi = Graph((Node("x", "Input", {"shape": [5, 3]}),)).add_node(
        "Bidirectional", {"layer": {"type": "LSTM", "params": {"units": 8}}}, after="x")
    c = compare(a, a.set_param(bi, "layer.units", 16))
    assert c.row(bi).param_changes == (Change("layer.units", 8, 16),)
    other = a.set_param(bi, "layer", {"type": "GRU", "params": {"units": 8}})
    ch = compare(a, other).row(bi).param_changes
    assert [x.name for x in ch] == ["layer"] and show(ch[0].b) == "GRU(units=8)"


def test_freezing_a_layer_is_a_trainable_change():
    a = template("cifar_cnn")
    c = compare(a, a.set_trainable("conv2d", False))
    assert c.row("conv2d").trainable_change == (True, False)
    assert c.row("conv2d").changes() == ["trainable → frozen"]
    assert compare(a.set_trainable("conv2d", False), a).row("conv2d").changes() == ["frozen → trainable"]
    assert c.changed == 1


def test_counts_are_shown_but_do_not_change_the_status():
    a = template("iris_mlp")
    b = a.set_param("dense", "units", 32)
    c = compare(a, b, counts_a={"dense": 80, "dense_1": 136}, counts_b={"dense": 160, "dense_1": 264})
    assert c.row("dense_1").status == SAME and c.row("dense_1").count_changed
    assert c.row("dense_1").count_text() == "params 136 → 264"
    assert c.row("dense").count_text() == "params 80 → 160"
    assert c.row("output").count_a is None and c.row("output").count_text() == ""
    assert compare(a, a, counts_a={"dense": 1024}, counts_b={"dense": 1024}).row("dense").count_text() == "params 1,024"
    big = compare(a, b, counts_a={"dense": 1024}, counts_b={"dense": 2048}).row("dense")
    assert big.count_text() == "params 1,024 → 2,048"


def test_a_duplicate_connection_counts_twice():
    g = Graph((Node("x", "Input", {"shape": [4]}),))
    g, add = g.add_node("Add", {}, after="x")
    doubled = g.connect("x", add)
    c = compare(g, doubled)
    assert c.connections_added == (("x", add),) and c.connections_removed == ()
    assert c.row(add).inputs_b == ("x", "x")


def test_changed_outputs_are_reported():
    a = template("two_outputs")
    b = a.set_outputs(["class_head"])
    c = compare(a, b)
    assert c.outputs_a == ("class_head", "value_head") and c.outputs_b == ("class_head",)
    assert c.outputs_changed and not c.identical
    assert c.changed == 0


def test_a_graph_with_a_cycle_is_compared_in_node_order():
    g = template("mlp")
    cyclic = replace(g, edges=g.edges + (type(g.edges[0])("output", "dense"),))
    with pytest.raises(GraphError):
        cyclic.topological_order()
    c = compare(cyclic, g)
    assert [r.id for r in c.rows] == g.topological_order()
    assert c.connections_removed == (("output", "dense"),) and c.row("dense").changes() == [
        "inputs input, output → input"]


def test_row_of_an_unknown_node_raises_key_error():
    with pytest.raises(KeyError):
        compare(template("mlp"), template("mlp")).row("ghost")


def test_settings_changes():
    a = {"compile": {"optimizer": "adam", "learning_rate": 0.001, "metrics": ["accuracy"]}, "epochs": 10,
         "batch_size": 32}
    b = {"compile": {"optimizer": "sgd", "learning_rate": 0.001, "metrics": ["accuracy", "auc"]}, "epochs": 10,
         "batch_size": 64, "seed": 3}
    assert settings_changes(a, b) == [
        Change("optimizer", "adam", "sgd"), Change("metrics", ["accuracy"], ["accuracy", "auc"]),
        Change("batch_size", 32, 64), Change("seed", ABSENT, 3),
    ]
    assert settings_changes(a, a) == [] and settings_changes(None, None) == []
    assert settings_changes({"a": {"x": 1}, "b": {"x": 1}}, {"a": {"x": 2}, "b": {"x": 1}}) == [Change("a.x", 1, 2)]


def test_show():
    assert [show(v) for v in (16, 0.001, None, True, "relu", [3, 3], ABSENT, {"l2": 0.01})] == [
        "16", "0.001", "None", "True", "relu", "[3, 3]", "not set", "{l2: 0.01}"]
    assert show("x" * 500).endswith("...") and len(show("x" * 500)) == 60
    assert show("a\nb") == "a\\nb"  # one line


# -- properties --------------------------------------------------------------
@SETTINGS
@given(graphs())
def test_any_graph_compared_with_itself_is_all_same(g):
    c = compare(g, g)
    assert sorted(r.id for r in c.rows) == sorted(g.ids())
    assert all(r.status == SAME and r.changes() == [] for r in c.rows)
    assert c.identical and c.connections_added == c.connections_removed == ()


def _mirrored(c: Comparison, m: Comparison) -> None:
    flip = {ADDED: REMOVED, REMOVED: ADDED, CHANGED: CHANGED, SAME: SAME}
    assert {r.id: flip[r.status] for r in c.rows} == statuses(m)
    assert (c.added, c.removed, c.changed) == (m.removed, m.added, m.changed)
    assert sorted(c.connections_added) == sorted(m.connections_removed)
    assert sorted(c.connections_removed) == sorted(m.connections_added)
    for r in c.rows:
        s = m.row(r.id)
        assert (r.type_a, r.type_b, r.inputs_a, r.inputs_b) == (s.type_b, s.type_a, s.inputs_b, s.inputs_a)
        assert [(x.name, x.a, x.b) for x in r.param_changes] == [(x.name, x.b, x.a) for x in s.param_changes]
        assert r.trainable_change == (None if s.trainable_change is None else s.trainable_change[::-1])


@SETTINGS
@given(graphs(max_nodes=6), graphs(max_nodes=6))
def test_compare_of_any_two_graphs_mirrors_its_reverse(a, b):
    c = compare(a, b)
    _mirrored(c, compare(b, a))
    assert {r.id for r in c.rows if r.status == ADDED} == set(b.ids()) - set(a.ids())
    assert {r.id for r in c.rows if r.status == REMOVED} == set(a.ids()) - set(b.ids())
    assert len(c.rows) == len(set(a.ids()) | set(b.ids()))


OPS = st.sampled_from(["set_param", "remove_node", "add_layer", "rename", "set_trainable", "insert_between",
                       "disconnect"])


@st.composite
def edited(draw, key):
    """A template and a copy changed by a few random edits (each valid, or skipped)."""
    a = template(key)
    b = a
    for op in draw(st.lists(OPS, min_size=1, max_size=4)):
        if not b.nodes:
            break
        ids = st.sampled_from(b.ids())
        try:
            if op == "set_param":
                node = b.node(draw(ids))
                specs = [p for p in LAYERS[node.type].params if p.kind != "layer"]
                if specs:
                    ps = draw(st.sampled_from(specs))
                    b = b.set_param(node.id, ps.name, draw(value_for(ps)))
            elif op == "remove_node":
                b = b.remove_node(draw(ids), bridge=draw(st.booleans()))
            elif op == "add_layer":
                b, _ = b.add_layer(draw(st.sampled_from(["Dense", "Dropout", "BatchNormalization"])), draw(ids))
            elif op == "rename":
                b = b.rename(draw(ids), draw(st.sampled_from(["renamed", "other"])))
            elif op == "set_trainable":
                b = b.set_trainable(draw(ids), draw(st.booleans()))
            elif op == "insert_between" and b.edges:
                e = draw(st.sampled_from(b.edges))
                b, _ = b.insert_between(e.source, e.target, "Dropout", {"rate": 0.1})
            elif op == "disconnect" and b.edges:
                e = draw(st.sampled_from(b.edges))
                b = b.disconnect(e.source, e.target)
        except GraphError:
            continue
    return a, b


@SETTINGS
@given(st.sampled_from(KEYS).flatmap(edited))
def test_edits_to_a_template_mirror(pair):
    a, b = pair
    c, m = compare(a, b), compare(b, a)
    _mirrored(c, m)
    changed_wiring = {e.target for e in set(a.edges) ^ set(b.edges) if a.has(e.target) and b.has(e.target)}
    for nid in changed_wiring:
        if a.inputs_of(nid) != b.inputs_of(nid):
            assert c.row(nid).status == CHANGED and c.row(nid).inputs_changed
    order = [r.id for r in c.rows if r.status != REMOVED]
    assert order == b.topological_order()


def _editable(key):
    g = template(key)
    return [(n.id, p) for n in g.nodes for p in LAYERS[n.type].params if p.kind != "layer"]


@SETTINGS
@given(st.sampled_from(KEYS).flatmap(lambda k: st.tuples(st.just(k), st.sampled_from(_editable(k)))), st.data())
def test_a_random_param_edit_shows_up_as_exactly_that_change(case, data):
    key, (nid, ps) = case
    a = template(key)
    value = data.draw(value_for(ps).filter(lambda v: ps.problem(v) is None))
    try:
        b = a.set_param(nid, ps.name, value)
    except GraphError:
        assume(False)
    default = ABSENT if ps.default is REQUIRED else plain(ps.default)
    old = plain(a.node(nid).params[ps.name]) if ps.name in a.node(nid).params else default
    new = default if value is None else plain(value)
    c = compare(a, b)
    if plain(old) == new and type(old) is type(new):  # the same value set again
        assert c.identical
        return
    assume(old != new)  # 1 and 1.0, True and 1: left to test_true_is_not_one
    assert [r.id for r in c.rows if r.status != SAME] == [nid]
    assert c.row(nid).param_changes == (Change(ps.name, old, new),)
    assert c.row(nid).inputs_a == c.row(nid).inputs_b and c.row(nid).trainable_change is None
    assert c.headline() == "1 layer changed, 0 added, 0 removed"
