"""Graph file round trips and edit operations (no Keras needed)."""

import json

import pytest

from builder.model.graph import (
    Edge,
    Graph,
    GraphCycleError,
    GraphEditError,
    GraphFormatError,
    Group,
    Node,
)
from builder.model.templates import TEMPLATES, template


def chain() -> Graph:
    g = Graph()
    g, _ = g.add_node("Input", {"shape": [4]})
    g, _ = g.add_node("Dense", {"units": 8}, after="input")
    g, _ = g.add_node("Dense", {"units": 2}, after="dense")
    return g


def test_fresh_ids_are_keras_style():
    g = chain()
    assert g.ids() == ["input", "dense", "dense_1"]
    assert g.fresh_id("Dense") == "dense_2"
    assert g.fresh_id("MaxPooling2D") == "max_pooling2d"
    assert g.fresh_id("BatchNormalization") == "batch_normalization"


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_template_round_trips_through_json(key):
    g = template(key)
    again = Graph.loads(g.dumps())
    assert again == g
    assert again.dumps() == g.dumps()


def test_unknown_top_level_fields_and_optional_fields_are_kept():
    d = chain().to_dict()
    d["x_custom"] = {"a": [1, 2]}
    d["compile"] = {"optimizer": "adam", "learning_rate": 0.001}
    d["layout"] = {"dense": [10, 20.5], "ghost": [1, 2]}
    d["nodes"][1]["comment"] = "hidden layer"
    g = Graph.from_dict(d)
    out = json.loads(g.dumps())
    assert out["x_custom"] == {"a": [1, 2]}
    assert out["compile"]["optimizer"] == "adam"
    assert out["layout"] == {"dense": [10.0, 20.5]}
    assert out["nodes"][1]["comment"] == "hidden layer"


def test_contract_example_loads():
    example = {
        "format": "layercanvas-graph", "version": 1, "name": "cifar_cnn",
        "nodes": [
            {"id": "image", "type": "Input", "params": {"shape": [32, 32, 3]}},
            {"id": "conv1", "type": "Conv2D", "params": {"filters": 32, "kernel_size": [3, 3], "activation": "relu"}},
            {"id": "flat", "type": "Flatten", "params": {}},
            {"id": "head", "type": "Dense", "params": {"units": 10, "activation": "softmax"}, "trainable": True},
        ],
        "edges": [{"source": "image", "target": "conv1"}, {"source": "conv1", "target": "flat"}, {"source": "flat", "target": "head"}],
        "outputs": ["head"],
    }
    g = Graph.from_dict(example)
    assert g.name == "cifar_cnn" and g.output_ids() == ["head"] and g.input_ids() == ["image"]
    assert g.topological_order() == ["image", "conv1", "flat", "head"]


@pytest.mark.parametrize(
    "mutate,fragment",
    [
        (lambda d: d.update(format="keras"), '"format" must be'),
        (lambda d: d.update(version=2), "newer LayerCanvas"),
        (lambda d: d.update(version="1"), "whole number"),
        (lambda d: d["nodes"].append({"id": "dense", "type": "Dense", "params": {"units": 1}}), "more than one node"),
        (lambda d: d["nodes"].append({"id": "1bad", "type": "Dense"}), "invalid id"),
        (lambda d: d["nodes"].append({"id": "x" * 65, "type": "Dense"}), "invalid id"),
        (lambda d: d["nodes"].append({"id": "nt", "params": {}}), 'no "type"'),
        (lambda d: d["nodes"].append({"id": "p", "type": "Dense", "params": [1]}), '"params" must be an object'),
        (lambda d: d["nodes"].append({"id": "t", "type": "Dense", "trainable": "yes"}), '"trainable" must be'),
        (lambda d: d["edges"].append({"source": "dense", "target": "ghost"}), "does not exist: 'ghost'"),
        (lambda d: d["edges"].append({"source": "dense", "target": "dense_1", "port": -1}), '"port" must be'),
        (lambda d: d.update(outputs=["nope"]), "does not exist"),
        (lambda d: d.update(nodes="x"), '"nodes" must be a list'),
        (lambda d: d.update(name=""), '"name": the model name must be'),
        (lambda d: d.update(name="a/b"), "cannot contain '/'"),
    ],
)
def test_bad_files_get_one_clear_message(mutate, fragment):
    assert_refused_with(mutate, fragment)


def assert_refused_with(mutate, fragment: str) -> None:
    """The chain's file, changed by `mutate`, is refused with one line that holds `fragment`."""
    d = chain().to_dict()
    mutate(d)
    with pytest.raises(GraphFormatError) as e:
        Graph.from_dict(d)
    assert fragment in str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("text", ["", "{", "[1, 2]", '{"format": "layercanvas-graph", "version": 1, "nodes": [NaN]}', b"\xff\xfe", "[" * 100000])
def test_malformed_json_is_refused_with_a_message(text):
    with pytest.raises(GraphFormatError) as e:
        Graph.loads(text)
    assert str(e.value)


def test_missing_file_is_a_format_error(tmp_path):
    with pytest.raises(GraphFormatError, match="cannot read"):
        Graph.load(tmp_path / "nope.json")


def test_remove_node_drops_edges_outputs_and_layout():
    g = chain().set_position("dense", (1, 2)).set_outputs(["dense_1"])
    g2 = g.remove_node("dense")
    assert g2.ids() == ["input", "dense_1"] and g2.edges == () and "dense" not in g2.layout
    g3 = g.remove_node("dense", bridge=True)
    assert g3.inputs_of("dense_1") == ["input"]
    g4 = g.remove_node("dense_1")
    assert g4.outputs == ()


def test_connect_with_ports_and_disconnect_renumbers():
    g = chain()
    g, add = g.add_node("Add")
    g = g.connect("dense", add).connect("input", add, port=0)
    assert g.inputs_of(add) == ["input", "dense"]
    assert [e.port for e in g.in_edges(add)] == [0, 1]
    g = g.disconnect("input", add)
    assert g.inputs_of(add) == ["dense"] and g.in_edges(add)[0].port is None
    with pytest.raises(GraphEditError, match="no edge"):
        g.disconnect("input", add)


def test_connect_refuses_cycles_self_loops_inputs_and_bad_ports():
    g = chain()
    with pytest.raises(GraphEditError, match="cycle"):
        g.connect("dense_1", "dense")
    with pytest.raises(GraphEditError, match="itself"):
        g.connect("dense", "dense")
    with pytest.raises(GraphEditError, match="takes no inputs"):
        g.connect("dense", "input")
    g, add = g.add_node("Add")
    with pytest.raises(GraphEditError, match="port must be 0 to 0"):
        g.connect("dense", add, port=3)
    with pytest.raises(GraphEditError, match="at most 1 input"):
        g.connect("input", "dense_1")
    with pytest.raises(GraphEditError, match="no node 'ghost'"):
        g.connect("ghost", add)


def test_set_param_checks_values_and_resets():
    g = chain()
    assert g.set_param("dense", "units", 64).node("dense").params["units"] == 64
    with pytest.raises(GraphEditError) as e:
        g.set_param("dense", "units", -3)
    assert "Dense 'dense'" in str(e.value) and "-3" in str(e.value) and e.value.node_id == "dense"
    with pytest.raises(GraphEditError, match="no parameter 'unitz'"):
        g.set_param("dense", "unitz", 3)
    with pytest.raises(GraphEditError, match="no default"):
        g.set_param("dense", "units", None)
    g2 = g.set_param("dense", "activation", "relu").set_param("dense", "activation", None)
    assert "activation" not in g2.node("dense").params


def test_set_param_reaches_into_wrapped_layers():
    g = Graph()
    g, _ = g.add_node("Input", {"shape": [5, 3]})
    g, bi = g.add_node("Bidirectional", after="input")
    g = g.set_param(bi, "layer.units", 7)
    assert g.node(bi).params["layer"] == {"type": "LSTM", "params": {"units": 7}}
    with pytest.raises(GraphEditError, match="wrapped LSTM"):
        g.set_param(bi, "layer.units", 0)


def test_rename_updates_everything_and_checks_ids():
    g = chain().set_outputs(["dense_1"]).set_position("dense", (0, 0))
    g2 = g.rename("dense", "hidden")
    assert g2.ids() == ["input", "hidden", "dense_1"]
    assert g2.inputs_of("dense_1") == ["hidden"] and "hidden" in g2.layout
    for bad in ["", "1x", "a b", "a-b", "x" * 65, "é"]:
        with pytest.raises(GraphEditError, match="not a valid id"):
            g.rename("dense", bad)
    with pytest.raises(GraphEditError, match="already used"):
        g.rename("dense", "dense_1")


def test_insert_between_keeps_port():
    g = chain()
    g, add = g.add_node("Add")
    g = g.connect("input", add).connect("dense", add)
    g, nid = g.insert_between("dense", add, "Dropout", {"rate": 0.1})
    assert g.inputs_of(add) == ["input", nid] and g.inputs_of(nid) == ["dense"]
    with pytest.raises(GraphEditError, match="no edge"):
        g.insert_between("input", "dense_1", "Flatten")


def test_insert_after_moves_outgoing_edges():
    g = chain().insert_after("dense", "Dropout", {"rate": 0.2})
    assert g.inputs_of("dense_1") == ["dropout"] and g.inputs_of("dropout") == ["dense"]


def test_set_trainable_and_input_order():
    g = chain().set_trainable("dense", False)
    assert g.node("dense").trainable is False
    assert Graph.loads(g.dumps()).node("dense").trainable is False
    g, c = g.add_node("Concatenate")
    g = g.connect("dense", c).connect("input", c).set_input_order(c, ["input", "dense"])
    assert g.inputs_of(c) == ["input", "dense"]
    with pytest.raises(GraphEditError, match="exactly these"):
        g.set_input_order(c, ["input"])


def test_topological_order_is_stable_and_detects_cycles():
    nodes = tuple(Node(i, "Dense", {"units": 1}) for i in "abc")
    g = Graph(nodes, (Edge("c", "a"), Edge("a", "b")))
    assert g.topological_order() == ["c", "a", "b"]
    cyc = Graph(nodes, (Edge("a", "b"), Edge("b", "c"), Edge("c", "a")))
    with pytest.raises(GraphCycleError) as e:
        cyc.topological_order()
    assert sorted(e.value.nodes) == ["a", "b", "c"]


def test_edits_never_change_the_original():
    g = chain()
    before = g.dumps()
    g.set_param("dense", "units", 99)
    g.rename("dense", "zzz")
    g.remove_node("dense")
    g.add_node("Dense", {"units": 1})
    assert g.dumps() == before


def test_add_node_refuses_unknown_types_and_bad_params():
    with pytest.raises(GraphEditError, match="unknown layer type"):
        chain().add_node("Dens")
    with pytest.raises(GraphEditError, match="units"):
        chain().add_node("Dense", {"units": "many"})


def test_add_layer_goes_after_selection_or_at_the_end_of_the_main_chain():
    g = chain()
    g2, nid = g.add_layer("Dropout", selected="dense")
    assert g2.inputs_of(nid) == ["dense"] and g2.inputs_of("dense_1") == [nid]
    g3, nid3 = g.add_layer("Dense")
    assert g3.inputs_of(nid3) == ["dense_1"] and g3.output_ids() == [nid3]
    g4, nid4 = g.add_layer("Input")
    assert g4.inputs_of(nid4) == [] and g4.successors(nid4) == []
    g5, nid5 = Graph().add_layer("Dense")
    assert g5.ids() == [nid5] and g5.edges == ()
    with pytest.raises(GraphEditError, match="unknown layer type"):
        g.add_layer("Nope")


# ---------------------------------------------------------------------------
# Groups
# ---------------------------------------------------------------------------
def grouped() -> Graph:
    """input -> dense -> dense_1 -> dense_2, with dense and dense_1 in group 'body'."""
    g, _ = chain().add_node("Dense", {"units": 1}, after="dense_1")
    g, gid = g.group(["dense_1", "dense"], name="Body", group_id="body")
    assert gid == "body"
    return g


def test_groups_round_trip_and_are_written_only_when_present():
    assert "groups" not in chain().to_dict()
    g = grouped().set_group_collapsed("body", True)
    d = json.loads(g.dumps())
    assert d["groups"] == [{"id": "body", "name": "Body", "nodes": ["dense", "dense_1"], "collapsed": True}]
    again = Graph.loads(g.dumps())
    assert again == g and again.groups == (Group("body", "Body", ("dense", "dense_1"), True),)
    assert again.extra == {} and again.dumps() == g.dumps()


def test_contract_group_example_and_defaults():
    d = chain().to_dict()
    d["groups"] = [{"id": "stage1", "name": "Stage 1", "nodes": ["dense", "dense_1"], "collapsed": True},
                   {"id": "ins", "nodes": ["input"], "color": "red"}]
    g = Graph.from_dict(d)
    assert g.groups == (Group("stage1", "Stage 1", ("dense", "dense_1"), True), Group("ins", "ins", ("input",), False))
    assert g.group_of("dense") == g.group_by_id("stage1") and g.group_of("input").name == "ins"


def test_graph_still_takes_six_positional_fields():
    g = Graph((Node("a", "Dense", {"units": 1}),), (), "m", None, {}, {})
    assert g.groups == () and Graph.loads(g.dumps()) == g


def _with_groups(*groups):
    def mutate(d):
        d["groups"] = list(groups)
    return mutate


@pytest.mark.parametrize(
    "mutate,fragment",
    [
        (lambda d: d.update(groups={"id": "g"}), '"groups" must be a list'),
        (_with_groups(["g"]), "group #1 must be an object"),
        (_with_groups({"id": "1g", "nodes": ["dense"]}), "group #1 has an invalid id '1g'"),
        (_with_groups({"nodes": ["dense"]}), "group #1 has an invalid id"),
        (_with_groups({"id": "g", "nodes": ["dense"]}, {"id": "g", "nodes": ["dense_1"]}), "the group id 'g' is used by more than one group"),
        (_with_groups({"id": "g", "name": "", "nodes": ["dense"]}), "group 'g': a group name must be text of 1 to 200"),
        (_with_groups({"id": "g", "name": "x" * 201, "nodes": ["dense"]}), "group 'g': a group name must be"),
        (_with_groups({"id": "g", "name": 3, "nodes": ["dense"]}), "group 'g': a group name must be"),
        (_with_groups({"id": "g", "nodes": ["dense"], "collapsed": "yes"}), 'group \'g\': "collapsed" must be true or false'),
        (_with_groups({"id": "g", "nodes": "dense"}), 'group \'g\': "nodes" must be a list of node ids'),
        (_with_groups({"id": "g"}), 'group \'g\': "nodes" must be a list'),
        (_with_groups({"id": "g", "nodes": ["dense", 1]}), '"nodes" must be a list of node ids'),
        (_with_groups({"id": "g", "nodes": []}), "group 'g' lists no nodes"),
        (_with_groups({"id": "g", "nodes": ["dense", "ghost"]}), "group 'g' lists a node that does not exist: 'ghost'"),
        (_with_groups({"id": "g", "nodes": ["dense", "dense"]}), "group 'g' lists node 'dense' twice"),
        (_with_groups({"id": "a", "nodes": ["dense"]}, {"id": "b", "nodes": ["input", "dense"]}),
         "node 'dense' is in group 'a' and in group 'b': a node is in at most one group"),
    ],
)
def test_bad_groups_are_named(mutate, fragment):
    assert_refused_with(mutate, fragment)


def test_every_bad_group_is_reported_at_once():
    d = chain().to_dict()
    d["groups"] = [{"id": "a", "nodes": ["ghost"]}, {"id": "b", "name": "", "nodes": ["dense"]}]
    with pytest.raises(GraphFormatError) as e:
        Graph.from_dict(d)
    assert len(e.value.problems) == 2


def test_group_edit_fresh_ids_names_and_order():
    g, gid = chain().group(["dense_1", "dense", "dense"])
    assert gid == "group" and g.group_by_id("group") == Group("group", "group", ("dense", "dense_1"), False)
    g, gid2 = g.group(["input"], name="Inputs")
    assert gid2 == "group_1" and g.group_of("input").name == "Inputs"
    g, _ = g.group("input", group_id="solo")  # a single id works too; group_1 is left empty and goes
    assert [x.id for x in g.groups] == ["group", "solo"] and g.group_of("input").id == "solo"
    g2, _ = g.add_node("Dense", {"units": 1}, node_id="group_1")
    assert g2.fresh_group_id() == "group_2"  # fresh ids avoid node ids as well


def test_group_moves_nodes_out_of_their_old_group():
    g = grouped()
    g2, gid = g.group(["dense_1", "dense_2"])
    assert g2.group_by_id("body").nodes == ("dense",)
    assert g2.group_by_id(gid).nodes == ("dense_1", "dense_2")
    g3, gid3 = g2.group(["dense"])  # 'body' loses its last node: it goes
    assert [x.id for x in g3.groups] == [gid, gid3]
    assert Graph.loads(g3.dumps()) == g3


def test_group_edit_errors_name_things():
    g = grouped()
    with pytest.raises(GraphEditError, match="at least one node"):
        g.group([])
    with pytest.raises(GraphEditError, match="no node 'ghost'"):
        g.group(["dense", "ghost"])
    with pytest.raises(GraphEditError, match="'1x' is not a valid group id"):
        g.group(["input"], group_id="1x")
    with pytest.raises(GraphEditError, match="group id 'body' is already used"):
        g.group(["input"], group_id="body")
    with pytest.raises(GraphEditError, match="group 'g': a group name must be text"):
        g.group(["input"], name="  ", group_id="g")
    for op in (lambda: g.ungroup("nope"), lambda: g.set_group_collapsed("nope", True),
               lambda: g.rename_group("nope", "x"), lambda: g.group_by_id("nope")):
        with pytest.raises(GraphEditError, match="no group 'nope'"):
            op()
    with pytest.raises(GraphEditError, match="group 'body': a group name must be"):
        g.rename_group("body", "x" * 201)
    with pytest.raises(GraphEditError, match="no node 'ghost'"):
        g.group_of("ghost")


def test_ungroup_collapse_and_rename_group():
    g = grouped()
    assert g.group_of("input") is None
    assert g.ungroup("body").groups == () and g.ungroup("body").ids() == g.ids()
    assert g.set_group_collapsed("body", True).group_by_id("body").collapsed is True
    assert g.set_group_collapsed("body", True).set_group_collapsed("body", False) == g
    assert g.rename_group("body", "Trunk ✓").group_by_id("body") == Group("body", "Trunk ✓", ("dense", "dense_1"))
    assert g.groups == (Group("body", "Body", ("dense", "dense_1")),)  # edits never change the original


def test_remove_node_keeps_groups_consistent():
    g = grouped()
    g2 = g.remove_node("dense", bridge=True)
    assert g2.groups == (Group("body", "Body", ("dense_1",)),)
    g3 = g2.remove_node("dense_1")
    assert g3.groups == () and "groups" not in g3.to_dict()
    assert g.remove_node("input").groups == g.groups


def test_rename_renames_inside_groups():
    g = grouped().rename("dense", "hidden")
    assert g.group_by_id("body").nodes == ("hidden", "dense_1") and g.group_of("hidden").id == "body"
    assert Graph.loads(g.dumps()) == g


def test_insert_between_joins_the_group_of_both_ends_only():
    g = grouped()
    g2, nid = g.insert_between("dense", "dense_1", "Dropout", {"rate": 0.1})
    assert g2.group_by_id("body").nodes == ("dense", nid, "dense_1")
    g3, nid3 = g.insert_between("dense_1", "dense_2", "Dropout", {"rate": 0.1})
    assert g3.group_of(nid3) is None and g3.groups == g.groups
    g4, nid4 = g.add_layer("Dropout", selected="dense")
    assert g4.group_of(nid4) is None and g4.groups == g.groups
