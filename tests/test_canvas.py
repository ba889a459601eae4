"""The canvas adapter without a browser: graph -> canvas state -> user changes -> graph edits."""

from streamlit_flow.elements import StreamlitFlowEdge, StreamlitFlowNode
from streamlit_flow.state import StreamlitFlowState

from builder.build import build
from builder.graph import Graph
from builder.layout import auto_layout
from builder.templates import template
from components.canvas import (
    _stale,
    apply_canvas,
    flow_state,
    key_params_text,
    node_content,
)
from components.text import md_escape


def placed(key: str) -> Graph:
    return auto_layout(template(key))


def reply(state: StreamlitFlowState, nodes=None, edges=None, selected=None) -> StreamlitFlowState:
    """What the canvas sends back: node and edge dicts, as the component returns them."""
    return StreamlitFlowState(
        [StreamlitFlowNode.from_dict(n.asdict()) for n in (state.nodes if nodes is None else nodes)],
        [StreamlitFlowEdge.from_dict(e.asdict()) for e in (state.edges if edges is None else edges)],
        selected_id=selected,
    )


def test_nodes_show_type_params_shape_and_issues():
    g = placed("cifar_cnn")
    result = build(g)
    state = flow_state(g, result, "conv2d", version=3)
    node = next(n for n in state.nodes if n.id == "conv2d")
    assert "**Conv2D** · conv2d" in node.data["content"]
    assert "filters 32" in node.data["content"] and "\\(None, 30, 30, 32\\) · 896 params" in node.data["content"]
    assert node.data["v"] == 3 and node.style["boxShadow"]
    assert next(n for n in state.nodes if n.id == "input").type == "input"
    labels = {e.target: e.label for e in state.edges}
    assert labels["dense"] == "(None, 1024)"  # shapes on the edges
    bad = g.set_params("dense", {"units": 4}).remove_node("flatten").connect("conv2d_2", "dense")
    bad_state = flow_state(bad, build(bad), None)
    dense = next(n for n in bad_state.nodes if n.id == "dense")
    assert "**Warning:**" in dense.data["content"] and dense.style["border"].startswith("2px")


def test_merge_inputs_are_labelled_in_port_order():
    g = placed("two_inputs")
    state = flow_state(g, build(g), None)
    labels = sorted(e.label for e in state.edges if e.target == "joined")
    assert labels[0].startswith("0: ") and labels[1].startswith("1: ")


def test_user_text_is_shown_literally():
    assert md_escape("<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert\\(1\\)&gt;"
    assert md_escape("**bold** _x_ [a](b)\nnext") == "\\*\\*bold\\*\\* \\_x\\_ \\[a\\]\\(b\\) next"
    d = template("mlp").to_dict()
    d["nodes"][1]["type"] = "<img src=x onerror=alert(1)>"
    g = Graph.from_dict(d)
    content = node_content(g.node("dense"), build(g), [])
    assert "<img" not in content and "&lt;img" in content
    assert key_params_text(g.node("dense")) == "unknown type"


def test_a_new_edge_connects_and_a_removed_one_disconnects():
    g = placed("two_outputs")
    state = flow_state(g, None, None, version=1)
    new_edge = StreamlitFlowEdge("st-flow-edge_class_head-x", "features", "value_head")
    change = apply_canvas(g, reply(state, edges=[e for e in state.edges if e.target != "value_head"] + [new_edge]))
    assert change.graph.inputs_of("value_head") == ["features"]
    change = apply_canvas(g, reply(state, edges=[e for e in state.edges if e.target != "class_head"]))
    assert change.graph.inputs_of("class_head") == []


def test_a_refused_connection_is_reported_and_changes_nothing():
    g = placed("mlp")
    state = flow_state(g, None, None)
    change = apply_canvas(g, reply(state, edges=state.edges + [StreamlitFlowEdge("x", "output", "input")]))
    assert change.graph is None and any("takes no inputs" in e for e in change.errors)


def test_deleting_and_adding_nodes_from_the_canvas_menus():
    g = placed("mlp")
    state = flow_state(g, None, None)
    change = apply_canvas(g, reply(state, nodes=[n for n in state.nodes if n.id != "dense_1"],
                                   edges=[e for e in state.edges if "dense_1" not in (e.source, e.target)]))
    assert not change.graph.has("dense_1")
    assert change.graph.inputs_of("output") == ["dense"]  # the chain stays whole, as with the inspector's Delete
    typed = StreamlitFlowNode("st-flow-node_1", (50.0, 600.0), {"content": " batchnormalization "})
    change = apply_canvas(g, reply(state, nodes=state.nodes + [typed], selected="st-flow-node_1"))
    assert change.graph.node("batch_normalization").type == "BatchNormalization"
    assert change.graph.layout["batch_normalization"] == [50.0, 600.0]
    assert change.selected == "batch_normalization"
    junk = StreamlitFlowNode("st-flow-node_2", (0.0, 0.0), {"content": "<b>not a layer</b>"})
    change = apply_canvas(g, reply(state, nodes=state.nodes + [junk]))
    assert change.graph is None and "not a layer type" in change.errors[0]


def test_moves_update_the_layout_without_an_edit():
    g = placed("mlp")
    state = flow_state(g, None, None)
    moved = [StreamlitFlowNode.from_dict({**n.asdict(), "position": {"x": 999.0, "y": 5.0}}) if n.id == "dense" else n
             for n in state.nodes]
    change = apply_canvas(g, reply(state, nodes=moved))
    assert change.graph is None and change.moved.layout["dense"] == [999.0, 5.0]
    assert apply_canvas(g, reply(state)).moved is None  # an echo of the same state is no change


def test_replies_to_an_older_state_are_stale():
    g = placed("mlp")
    assert _stale(reply(flow_state(g, None, None, version=4)), version=5)
    assert not _stale(reply(flow_state(g, None, None, version=5)), version=5)


def test_a_long_issue_is_shortened_on_the_node_without_repeating_its_name():
    from builder.graph import describe
    from builder.validate import WARNING, Issue
    from components.canvas import node_content

    graph = template("iris_mlp")
    node = graph.node("dense")
    long = Issue("dense", "memory", f"{describe(node)} " + "needs far too much memory " * 10, None, WARNING)
    last = node_content(node, None, [long]).split("  \n")[-1]
    assert last.startswith("**Warning:** needs far too much memory") and "'dense'" not in last
    assert len(last.removeprefix("**Warning:** ")) <= 72 and last.endswith("…")
    short = Issue("dense", "x", "Training needs 5 GB", None, WARNING)
    assert node_content(node, None, [short]).endswith("**Warning:** Training needs 5 GB")
