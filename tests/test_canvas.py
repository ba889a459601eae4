"""The canvas adapter without a browser: graph -> what the canvas draws; canvas events -> graph edits."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builder.model.build import build
from builder.model.catalog import LAYERS
from builder.model.graph import Graph
from builder.model.layout import NODE_H, NODE_W, auto_layout
from builder.model.templates import template
from components.canvas import (
    MAX_DRAWN,
    apply_event,
    apply_events,
    canvas_data,
    edge_id,
    key_params_text,
    parse_edge_id,
)
from tests.test_layout import overlaps


def placed(key: str) -> Graph:
    return auto_layout(template(key))


def node(data: dict, nid: str) -> dict:
    return next(n for n in data["nodes"] if n["id"] == nid)


def events(*evs, v: int = 1, start: int = 1) -> list[dict]:
    return [{**e, "seq": start + i, "v": v} for i, e in enumerate(evs)]


def test_nodes_show_type_params_shape_count_ports_and_issues():
    g = placed("cifar_cnn")
    data = canvas_data(g, build(g), version=3, ack=7)
    conv = node(data, "conv2d")
    assert (conv["type"], conv["cat"], conv["keyp"]) == ("Conv2D", "convolution", "filters 32 · kernel_size 3×3 · relu")
    assert conv["shape"] == "(None, 30, 30, 32)" and conv["params"] == 896 and conv["issues"] == []
    assert [conv["x"], conv["y"]] == g.layout["conv2d"]
    assert node(data, "input")["input"] and node(data, "input")["maxin"] == 0
    assert data["v"] == 3 and data["ack"] == 7 and not data["building"] and data["big"] is None
    labels = {e["target"]: e["label"] for e in data["edges"]}
    assert labels["dense"] == "(None, 1024)"  # shapes on the edges
    assert {p["type"] for p in data["palette"]} == set(LAYERS)
    bad = g.set_params("dense", {"units": 4}).remove_node("flatten").connect("conv2d_2", "dense")
    dense = node(canvas_data(bad, build(bad)), "dense")
    assert dense["issues"] and dense["issues"][0]["sev"] == "warning" and "Flatten" in dense["issues"][0]["msg"]
    assert canvas_data(g, None)["building"] and node(canvas_data(g, None), "conv2d")["shape"] == ""


def test_merge_and_attention_layers_get_labelled_ports_in_input_order():
    g = placed("two_inputs")
    data = canvas_data(g, build(g))
    joined = node(data, "joined")
    assert joined["ports"] == ["0", "1", "2"] and joined["nin"] == 2 and joined["maxin"] is None
    ports = {e["source"]: e["port"] for e in data["edges"] if e["target"] == "joined"}
    assert ports == {"flat": 0, "table_dense": 1}
    g2, _ = g.add_node("MultiHeadAttention", {"num_heads": 2, "key_dim": 4})
    assert node(canvas_data(g2, None), "multi_head_attention")["ports"] == ["query", "value", "key"]
    assert node(data, "hidden")["ports"] == []


def test_user_text_goes_to_the_canvas_as_plain_text():
    d = template("mlp").to_dict()
    d["nodes"][1]["type"] = "<img src=x onerror=alert(1)>"
    g = auto_layout(Graph.from_dict(d))
    data = canvas_data(g, build(g))
    evil = node(data, "dense")
    assert evil["type"] == "<img src=x onerror=alert(1)>" and evil["cat"] == "unknown"  # React shows it as text
    assert key_params_text(g.node("dense")) == "unknown type"
    json.dumps(data)  # all of it is JSON


def test_add_on_empty_canvas_on_an_edge_after_a_node_and_after_the_selection():
    g = placed("mlp")
    new, sel, _ = apply_event(g, {"kind": "add", "type": "Dense", "x": 900.0, "y": 40.0})
    assert sel == ["dense_2"] and new.inputs_of("dense_2") == [] and new.layout["dense_2"] == [900.0, 40.0]

    new, sel, _ = apply_event(g, {"kind": "add", "type": "Dropout", "edge": edge_id("dense", "dense_1", None)})
    assert new.inputs_of("dropout") == ["dense"] and new.inputs_of("dense_1") == ["dropout"]
    assert not any(overlaps(new.layout[a], new.layout[b], NODE_W, NODE_H) for a in new.ids() for b in new.ids() if a < b)

    new, sel, _ = apply_event(g, {"kind": "add", "type": "Dense", "connect": "dense"})
    assert new.inputs_of("dense_2") == ["dense"] and new.inputs_of("dense_1") == ["dense"]  # a branch
    assert not overlaps(new.layout["dense_2"], new.layout["dense_1"], NODE_W, NODE_H)

    new, sel, _ = apply_event(g, {"kind": "add", "type": "Dropout", "after": "input"})
    assert new.inputs_of("dropout") == ["input"] and new.inputs_of("dense") == ["dropout"]
    assert new.layout["dropout"][0] == g.layout["input"][0]  # drawn in the chain, not beside it
    assert new.layout["dense"][1] > new.layout["dropout"][1] > new.layout["input"][1]


def test_a_layer_dropped_on_another_lands_beside_it():
    g = placed("mlp")
    new, _, _ = apply_event(g, {"kind": "add", "type": "Dense", "x": g.layout["dense"][0] + 20, "y": g.layout["dense"][1]})
    assert not overlaps(new.layout["dense_2"], new.layout["dense"], NODE_W, NODE_H)


def test_connect_delete_move_and_group_events():
    g = placed("two_inputs").disconnect("flat", "joined")
    new, _, _ = apply_event(g, {"kind": "connect", "source": "flat", "target": "joined", "port": 1})
    assert new.inputs_of("joined") == ["table_dense", "flat"]
    new, _, _ = apply_event(g, {"kind": "connect", "source": "flat", "target": "joined", "port": 0})
    assert new.inputs_of("joined") == ["flat", "table_dense"]

    h = placed("mlp")
    new, sel, _ = apply_event(h, {"kind": "delete", "nodes": ["dense", "dense_1"], "edges": []})
    assert new.ids() == ["input", "output"] and new.inputs_of("output") == ["input"] and sel == []
    new, _, _ = apply_event(h, {"kind": "delete", "nodes": [], "edges": [edge_id("dense", "dense_1", None)]})
    assert new.inputs_of("dense_1") == []
    new, _, _ = apply_event(h, {"kind": "move", "positions": {"dense": [5, 6], "ghost": [1, 2], "output": ["x", 1]}})
    assert new.layout["dense"] == [5.0, 6.0] and new.layout["output"] == h.layout["output"]

    new, _, _ = apply_event(h, {"kind": "group", "ids": ["dense", "dense_1"]})
    (grp,) = new.groups
    assert set(grp.nodes) == {"dense", "dense_1"} and not grp.collapsed
    folded, _, _ = apply_event(new, {"kind": "collapse", "group": grp.id, "collapsed": True})
    assert folded.groups[0].collapsed
    data = canvas_data(folded, build(folded))
    (gd,) = data["groups"]
    assert gd["collapsed"] and gd["inShape"] == "(None, 4)" and gd["outShape"] == "(None, 8)"
    assert gd["params"] == 4 * 16 + 16 + 16 * 8 + 8
    renamed, _, _ = apply_event(folded, {"kind": "rename_group", "group": grp.id, "name": "Body"})
    assert renamed.groups[0].name == "Body"
    gone, _, _ = apply_event(renamed, {"kind": "ungroup", "group": grp.id})
    assert gone.groups == () and gone.ids() == h.ids()
    laid, _, fit = apply_event(h.set_position("dense", (999, 999)), {"kind": "layout"})
    assert fit and laid.layout == auto_layout(h).layout


def test_paste_gives_fresh_ids_and_keeps_params_edges_and_ports():
    g = placed("two_inputs")
    clip = {"nodes": [{"id": n, "type": g.node(n).type, "params": g.node(n).params, "trainable": n != "flat",
                       "x": 0, "y": 0} for n in ("flat", "table_dense", "joined")],
            "edges": [{"source": "table_dense", "target": "joined", "port": 1}, {"source": "flat", "target": "joined", "port": 0}]}
    new, sel, _ = apply_event(g, {"kind": "paste", **clip})
    assert sel == ["flat_1", "table_dense_1", "joined_1"]
    assert new.inputs_of("joined_1") == ["flat_1", "table_dense_1"]
    assert new.node("table_dense_1").params == g.node("table_dense").params
    assert not new.node("flat_1").trainable


@pytest.mark.parametrize("ev, says", [
    ({"kind": "add", "type": "NotALayer", "x": 0, "y": 0}, "is not a layer type"),
    ({"kind": "add", "type": {"evil": 1}}, "is not a layer type"),
    ({"kind": "add", "type": "Dense", "edge": "e:nope:dense:"}, "no edge"),
    ({"kind": "add", "type": "Dense", "edge": "garbage"}, "connection is gone"),
    ({"kind": "connect", "source": "dense", "target": "input", "port": None}, "takes no inputs"),
    ({"kind": "connect", "source": "output", "target": "dense", "port": None}, "cycle"),
    ({"kind": "connect", "source": "input", "target": "dense_1", "port": 5}, "port must be"),
    ({"kind": "paste", "nodes": "rm -rf /", "edges": []}, "no LayerCanvas layers"),
    ({"kind": "paste", "nodes": [{"type": "<script>", "params": {}}], "edges": []}, "is not a layer type"),
    ({"kind": "paste", "nodes": [{"type": "Dense", "params": {"units": -3}}], "edges": []}, "units"),
    ({"kind": "group", "ids": ["ghost"]}, "Select the layers"),
    ({"kind": "whatever"}, "unknown action"),
])
def test_bad_events_change_nothing_and_say_why(ev, says):
    g = placed("mlp")
    change = apply_events(g, events(ev), last_seq=0, external_version=0)
    assert change.graph is None and len(change.errors) == 1
    assert says in change.errors[0]


def test_events_apply_once_in_order_and_stale_ones_are_ignored():
    g = placed("mlp")
    evs = events({"kind": "add", "type": "Dropout", "after": "dense"}, {"kind": "add", "type": "Dense", "x": 0, "y": 900},
                 v=4, start=10)
    change = apply_events(g, evs, last_seq=0, external_version=4)
    assert change.graph.has("dropout") and change.graph.has("dense_2") and change.last_seq == 11
    assert change.selected == ["dense_2"] and change.select_pushed
    again = apply_events(change.graph, evs, last_seq=11, external_version=4)
    assert again.graph is None and again.last_seq == 11  # the queue is sent again until acknowledged
    # Made on version 3, but the inspector changed the graph since (version 4): ignored, never misapplied.
    stale = apply_events(g, events({"kind": "delete", "nodes": ["dense"], "edges": []}, v=3, start=12),
                         last_seq=11, external_version=4)
    assert stale.graph is None and stale.stale == 1 and stale.last_seq == 12
    # A selection is harmless on any version.
    sel = apply_events(g, events({"kind": "select", "ids": ["dense", "ghost"]}, v=0, start=13), last_seq=12,
                       external_version=4)
    assert sel.selected == ["dense"] and not sel.select_pushed


def test_garbage_from_the_canvas_is_survived():
    g = placed("mlp")
    for junk in (None, "x", 3, [1, "a", None], [{"seq": "1"}], [{"seq": 1, "v": 0, "kind": "move", "positions": [1]}],
                 [{"seq": 2, "v": 0, "kind": "move", "positions": {"dense": "xy"}}]):
        change = apply_events(g, junk, last_seq=0, external_version=0)
        assert change.graph is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.fixed_dictionaries({
    "kind": st.sampled_from(["add", "connect", "delete", "move", "paste", "group", "collapse", "ungroup", "select"]),
    "type": st.sampled_from(["Dense", "Dropout", "Concatenate", "Input", "Nope"]),
    "source": st.sampled_from(["input", "dense", "dense_1", "output", "x"]),
    "target": st.sampled_from(["input", "dense", "dense_1", "output", "x"]),
    "port": st.sampled_from([None, 0, 1, 3]),
    "ids": st.lists(st.sampled_from(["input", "dense", "dense_1", "output", "dense_2"]), max_size=3),
    "nodes": st.lists(st.sampled_from(["dense", "dense_1", "zzz"]), max_size=2),
    "edges": st.lists(st.sampled_from([edge_id("dense", "dense_1", None), "e:a:b:", "junk"]), max_size=2),
    "group": st.sampled_from(["group", "nope"]),
    "collapsed": st.booleans(),
    "x": st.floats(-1e4, 1e4), "y": st.floats(-1e4, 1e4),
}), max_size=8))
def test_any_event_sequence_leaves_a_valid_graph(evs):
    g = placed("mlp")
    change = apply_events(g, events(*evs), last_seq=0, external_version=0)
    out = change.graph or g
    again = Graph.loads(out.dumps())  # still a valid, saveable graph file
    assert again.ids() == out.ids()
    member = [n for grp in out.groups for n in grp.nodes]
    assert len(member) == len(set(member)) and all(out.has(n) for n in member)
    canvas_data(out, None)


def test_edge_ids_round_trip():
    assert parse_edge_id(edge_id("a", "b", 2)) == ("a", "b", 2)
    assert parse_edge_id(edge_id("a_1", "b", None)) == ("a_1", "b", None)
    assert parse_edge_id("e:a") is None and parse_edge_id(None) is None


def test_a_huge_graph_sends_a_message_instead_of_every_node():
    nodes = [{"id": "x", "type": "Input", "params": {"shape": [4]}}] + [
        {"id": f"d{i}", "type": "Dense", "params": {"units": 4}} for i in range(MAX_DRAWN + 10)]
    edges = [{"source": "x" if i == 0 else f"d{i - 1}", "target": f"d{i}"} for i in range(MAX_DRAWN + 10)]
    g = Graph.from_dict({"format": "layercanvas-graph", "version": 1, "nodes": nodes, "edges": edges})
    data = canvas_data(g, None)
    assert data["big"] and f"{MAX_DRAWN + 11:,} layers" in data["big"] and data["nodes"] == []
    # Collapsed into groups, it is drawn.
    grouped = g
    for i in range(0, MAX_DRAWN + 10, 100):
        grouped, gid = grouped.group([f"d{j}" for j in range(i, min(i + 100, MAX_DRAWN + 10))])
        grouped = grouped.set_group_collapsed(gid, True)
    data = canvas_data(grouped, None)
    assert data["big"] is None and len(data["groups"]) == 16


def test_every_new_streamlit_runtime_gets_the_component_registered():
    """Each runtime has its own registry (AppTest makes one per run, and a new one may reuse an old one's
    id): registering must look at the registry, not at a cache, or the bundle's files go missing."""
    from streamlit.components.v2.component_manager import BidiComponentManager

    from components.canvas import HERE, NAME, _register

    for _ in range(3):
        manager = BidiComponentManager()
        assert manager.get_component_asset_root(NAME) is None
        _register(manager)
        assert manager.get_component_asset_root(NAME) == HERE / "dist"
        _register(manager)  # a second call on the same registry is harmless
        assert manager.get_component_asset_root(NAME) == HERE / "dist"


def test_a_branch_added_after_a_layer_stays_in_view_and_the_only_successor_goes_right_below():
    g = placed("mlp")
    x, y = g.layout["dense"]
    view = [x - 400, y - 100, x + 640, y + 400]
    new, sel, _ = apply_event(g, {"kind": "add", "type": "Dense", "connect": "dense", "view": view})
    nid = sel[0]
    bx, by = new.layout[nid]
    assert view[0] <= bx and bx + NODE_W <= view[2] and view[1] <= by and by + NODE_H <= view[3]
    assert not any(overlaps(new.layout[nid], new.layout[o], NODE_W, NODE_H) for o in new.ids() if o != nid)
    assert by >= y + NODE_H  # below its input, never above it (its edge would run back up)
    # A branch from a layer near the bottom of the view, with room only above it: still below it (the canvas pans).
    low = [x - 400, y - 600, x + 640, y + NODE_H + 30]
    new, sel, _ = apply_event(g, {"kind": "add", "type": "Dense", "connect": "dense", "view": low})
    assert new.layout[sel[0]][1] >= y + NODE_H
    assert not any(overlaps(new.layout[sel[0]], new.layout[o], NODE_W, NODE_H) for o in new.ids() if o != sel[0])
    # After the last layer: right below it, in the chain's line (the canvas pans to it if it must).
    new, sel, _ = apply_event(g, {"kind": "add", "type": "Dense", "connect": "output", "view": view})
    assert new.layout[sel[0]][0] == g.layout["output"][0] and new.layout[sel[0]][1] > g.layout["output"][1]


def test_an_edit_taken_by_a_run_that_stopped_before_committing_it_is_committed_by_the_next_run():
    """Streamlit stops a run at any session-state access when a newer click waits. A canvas edit taken from the
    canvas's queue but not committed by that run is not lost: the next run returns it again (an expand of a group
    was lost this way in about one browser test of eight)."""
    import streamlit as st

    from components import canvas

    for key in (canvas.KEY, canvas.META):
        st.session_state.pop(key, None)
    try:
        g = placed("mlp")
        st.session_state[canvas.KEY] = {"events": [{"kind": "add", "type": "Dropout", "after": "input", "seq": 1,
                                                    "v": 0}]}
        first = canvas.take_events(g)
        assert first.graph is not None and first.graph.has("dropout")
        again = canvas.take_events(g)  # the run stopped before commit(): the session's graph is still g
        assert again.graph is first.graph
        # A new event goes on top of the uncommitted edit.
        st.session_state[canvas.KEY] = {"events": [{"kind": "add", "type": "Dropout", "after": "input", "seq": 1,
                                                    "v": 0}, {"kind": "delete", "nodes": ["output"], "edges": [],
                                                              "seq": 2, "v": 0}]}
        both = canvas.take_events(g)
        assert both.graph.has("dropout") and not both.graph.has("output")
        canvas.committed()
        assert canvas.take_events(both.graph).graph is None  # committed: nothing more
        # An uncommitted edit made on a graph that has since been replaced (another project, undo) is dropped.
        st.session_state[canvas.KEY] = {"events": [{"kind": "delete", "nodes": ["dense"], "edges": [], "seq": 3,
                                                    "v": 0}]}
        taken = canvas.take_events(both.graph)
        assert taken.graph is not None
        other = placed("two_inputs")
        assert canvas.take_events(other).graph is None
        # A fit the edit asks for (auto-layout, an expand) is recorded with it, before anything can stop the run.
        fits = canvas.meta().fit_n
        st.session_state[canvas.KEY] = {"events": [{"kind": "layout", "seq": 4, "v": 0}]}
        assert canvas.take_events(other).graph is not None and canvas.meta().fit_n == fits + 1
    finally:
        for key in (canvas.KEY, canvas.META):
            st.session_state.pop(key, None)


def test_presenter_mode_is_in_the_payload():
    from components.canvas import canvas_data

    g = placed("mlp")
    assert canvas_data(g, None)["present"] is False and canvas_data(g, None, present=True)["present"] is True
