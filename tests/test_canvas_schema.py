"""The canvas's wire format is one schema (components/canvas/schema.json), on both sides.

Python's side: canvas_data's payload for real graphs validates against it (every field named, none missing, none
extra), and each event kind the schema describes is one that take_events applies, with the fields the schema gives
it. The TypeScript side: frontend/src/types.ts is what components/canvas/typegen.py writes from the schema, and the
canvas's code is type-checked against it (scripts/check-bundle). A field renamed on either side fails here.
"""

import copy

import jsonschema
import pytest

from builder.model.build import build
from builder.model.graph import Graph
from builder.model.layout import NODE_H, NODE_W, auto_layout
from builder.model.profile import profile
from builder.model.templates import TEMPLATES, template
from components.canvas import (
    DRAW_ALL,
    EVENT_KINDS,
    MAX_DRAWN,
    MAX_EVENTS,
    apply_events,
    canvas_data,
    edge_id,
)
from components.canvas.typegen import TYPES, load_schema, typescript
from components.summary_panel import totals

SCHEMA = load_schema()
DATA = jsonschema.Draft202012Validator(SCHEMA)
SENT = jsonschema.Draft202012Validator({"$defs": SCHEMA["$defs"], "$ref": "#/$defs/Sent"})


def errors(validator, value) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(value)]


def placed(key: str) -> Graph:
    return auto_layout(template(key))


def searched_graph() -> Graph:
    g = placed("iris_mlp")
    first = next(n.id for n in g.nodes if n.type == "Dense")
    return g.set_extra("search", {"space": {f"{first}.units": {"values": [8, 16, 32]}}})


def grouped(collapsed: bool) -> Graph:
    g, gid = placed("small_resnet").group(placed("small_resnet").ids()[1:4])
    return auto_layout(g.set_group_collapsed(gid, collapsed))


def huge() -> Graph:
    nodes = [{"id": "x", "type": "Input", "params": {"shape": [4]}}] + [
        {"id": f"d{i}", "type": "Dense", "params": {"units": 4}} for i in range(MAX_DRAWN + 10)]
    edges = [{"source": "x" if i == 0 else f"d{i - 1}", "target": f"d{i}"} for i in range(MAX_DRAWN + 10)]
    return Graph.from_dict({"format": "layercanvas-graph", "version": 1, "nodes": nodes, "edges": edges})


def broken() -> Graph:
    return placed("cifar_cnn").set_params("dense", {"units": 4}).remove_node("flatten").connect("conv2d_2", "dense")


def unknown_type() -> Graph:
    d = template("mlp").to_dict()
    d["nodes"][1]["type"] = "<img src=x onerror=alert(1)>"
    return auto_layout(Graph.from_dict(d))


def payloads():
    """(name, payload) for real graphs in the states the canvas sees them in."""
    for key in TEMPLATES:
        g = placed(key)
        yield key, canvas_data(g, build(g), version=2, ack=5)
    g = placed("cifar_cnn")
    r = build(g)
    yield "with costs", canvas_data(g, r, cost=profile(r),
                                    head={"totals": totals(r, g, cost=profile(r)), "undo": True, "redo": False})
    yield "building", canvas_data(g, None, head={"totals": totals(None, g), "undo": False, "redo": True})
    yield "read-only", canvas_data(g, r, read_only=True, sel=(3, ["dense"]), fit=4,
                                   toast={"n": 2, "kind": "info", "text": "Copied 1 layer."})
    yield "errors", canvas_data(broken(), build(broken()))
    yield "search", canvas_data(searched_graph(), build(searched_graph()))
    yield "group open", canvas_data(grouped(False), build(grouped(False)))
    yield "group folded", canvas_data(grouped(True), build(grouped(True)))
    yield "unknown type", canvas_data(unknown_type(), build(unknown_type()))
    yield "huge", canvas_data(huge(), None)


def test_the_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("name, data", list(payloads()), ids=[name for name, _ in payloads()])
def test_canvas_data_is_what_the_schema_says(name, data):
    assert errors(DATA, data) == []


def test_the_payloads_fill_every_optional_field():
    """The cases above reach what a payload can hold: costs, search marks, groups, issues, a toast, a message."""
    every = {name: data for name, data in payloads()}
    nodes = [n for d in every.values() for n in d["nodes"]]
    assert any(n["macs"] for n in nodes) and any(n["heavy"] for n in nodes) and any(n["searched"] for n in nodes)
    assert any(n["issues"] for n in nodes) and any(n["group"] for n in nodes) and any(n["ports"] for n in nodes)
    assert every["group folded"]["groups"][0]["collapsed"] and every["huge"]["big"] and every["read-only"]["toast"]


def test_a_payload_that_drifts_from_the_schema_fails():
    data = canvas_data(placed("two_inputs"), None)
    assert errors(DATA, data) == []
    renamed = copy.deepcopy(data)
    renamed["nodes"][0]["n_in"] = renamed["nodes"][0].pop("nin")
    assert errors(DATA, renamed)  # a missing field, and an unknown one
    extra = {**data, "zoom": 1}
    assert errors(DATA, extra)
    wrong = copy.deepcopy(data)
    wrong["edges"][0]["port"] = "0"
    assert errors(DATA, wrong)


def test_sizes_and_limits_come_from_python_constants():
    data = canvas_data(placed("mlp"), None)
    assert data["box"] == {"w": NODE_W, "h": NODE_H}
    assert data["limits"] == {"events": MAX_EVENTS, "drawAll": DRAW_ALL}


def test_types_ts_is_generated_from_the_schema():
    assert TYPES.read_text(encoding="utf-8") == typescript(SCHEMA), (
        "frontend/src/types.ts is not what schema.json gives: run .venv/bin/python -m components.canvas.typegen "
        "(then rebuild the bundle)")


def test_typescript_names_every_field_of_the_schema():
    """The generated file declares each definition with its own fields (a generator that lost some would pass the
    comparison above)."""
    text = TYPES.read_text(encoding="utf-8")
    for name, sub in SCHEMA["$defs"].items():
        block = text.split(f"export type {name} =", 1)[1].split("\nexport type", 1)[0]
        for field in sub.get("properties", {}):
            assert f"{field}:" in block or f"{field}?:" in block, (name, field)


# -- events --------------------------------------------------------------------------------------------------


def mlp() -> Graph:
    return placed("mlp")


def two_inputs_open() -> Graph:
    return placed("two_inputs").disconnect("flat", "joined")


def mlp_grouped(collapsed: bool = False) -> Graph:
    g, gid = mlp().group(["dense", "dense_1"])
    return g.set_group_collapsed(gid, collapsed)


# One example of each kind the canvas sends, with every field the schema gives it somewhere, the graph it is
# applied to, and what it must do there. A field Python reads under another name does nothing and fails its check.
EXAMPLES = [
    (mlp, {"kind": "add", "type": "Dense", "x": 900.0, "y": 40.0},
     lambda g, c: g.layout["dense_2"] == [900.0, 40.0] and c.selected == ["dense_2"]),
    (mlp, {"kind": "add", "type": "Dropout", "after": "input"},
     lambda g, c: g.inputs_of("dropout") == ["input"] and g.inputs_of("dense") == ["dropout"]),
    (mlp, {"kind": "add", "type": "Dropout", "edge": edge_id("dense", "dense_1", None), "x": 0, "y": 0},
     lambda g, c: g.inputs_of("dense_1") == ["dropout"] and g.inputs_of("dropout") == ["dense"]),
    (mlp, {"kind": "add", "type": "Dense", "x": -4000.0, "y": 9000.0, "view": [1000, 0, 1800, 600]},
     lambda g, c: 1000 <= g.layout["dense_2"][0] <= 1800 - NODE_W and 0 <= g.layout["dense_2"][1] <= 600 - NODE_H),
    (mlp, {"kind": "add", "type": "Dense", "connect": "dense", "after": None, "edge": None},
     lambda g, c: g.inputs_of("dense_2") == ["dense"] and g.inputs_of("dense_1") == ["dense"]),
    (two_inputs_open, {"kind": "connect", "source": "flat", "target": "joined", "port": 0},
     lambda g, c: g.inputs_of("joined") == ["flat", "table_dense"]),
    (mlp, {"kind": "delete", "nodes": ["dense"], "edges": [edge_id("dense_1", "output", None)]},
     lambda g, c: not g.has("dense") and g.inputs_of("output") == []),
    (mlp, {"kind": "move", "positions": {"dense": [5, 6]}}, lambda g, c: g.layout["dense"] == [5.0, 6.0]),
    (mlp, {"kind": "select", "ids": ["dense", "output"]}, lambda g, c: c.selected == ["dense", "output"]),
    (mlp, {"kind": "paste", "nodes": [
        {"id": "dense", "type": "Dense", "params": {"units": 7}, "trainable": False, "x": 0, "y": 0},
        {"id": "dense_1", "type": "Dense", "params": {"units": 3}, "trainable": True, "x": 0, "y": 124}],
        "edges": [{"source": "dense", "target": "dense_1", "port": None}], "x": 600, "y": 10},
     lambda g, c: g.inputs_of("dense_3") == ["dense_2"] and g.node("dense_2").params["units"] == 7
     and not g.node("dense_2").trainable and g.layout["dense_2"] == [600.0, 10.0]),
    (mlp, {"kind": "paste", "nodes": [{"id": "dense", "type": "Dense", "params": {"units": 7}, "trainable": True,
                                      "x": 0, "y": 0}], "edges": [], "view": [2000, 2000, 2600, 2400]},
     lambda g, c: 2000 <= g.layout["dense_2"][0] <= 2600 - NODE_W and 2000 <= g.layout["dense_2"][1] <= 2400 - NODE_H),
    (mlp, {"kind": "group", "ids": ["dense", "dense_1"]}, lambda g, c: set(g.groups[0].nodes) == {"dense", "dense_1"}),
    (mlp_grouped, {"kind": "ungroup", "group": "group"}, lambda g, c: g.groups == ()),
    (mlp_grouped, {"kind": "collapse", "group": "group", "collapsed": True},
     lambda g, c: g.groups[0].collapsed and c.fit),
    (mlp_grouped, {"kind": "rename_group", "group": "group", "name": "Body"}, lambda g, c: g.groups[0].name == "Body"),
    (lambda: mlp().set_position("dense", (999, 999)), {"kind": "layout"},
     lambda g, c: g.layout == auto_layout(mlp()).layout and c.fit),
    (mlp, {"kind": "layout", "dir": "LR"},
     lambda g, c: g.extra.get("layout_direction") == "LR" and g.layout["dense"][0] > g.layout["input"][0] and c.fit),
    (mlp, {"kind": "ready"}, lambda g, c: c.ready and not c.sync),
    (mlp, {"kind": "sync"}, lambda g, c: c.sync and not c.ready and c.graph is None),
    # Commands the page carries out (components: pages/build.py): handed over in order, the graph left alone.
    (mlp, {"kind": "undo"}, lambda g, c: c.commands == ["undo"] and c.graph is None),
    (mlp, {"kind": "redo"}, lambda g, c: c.commands == ["redo"] and c.graph is None),
    (mlp, {"kind": "present"}, lambda g, c: c.commands == ["present"] and c.graph is None),
]


def schema_kinds() -> dict[str, dict]:
    """kind -> the schema of that event."""
    out = {}
    for ref in SCHEMA["$defs"]["CanvasEvent"]["oneOf"]:
        sub = SCHEMA["$defs"][ref["$ref"].rsplit("/", 1)[-1]]
        out[sub["properties"]["kind"]["const"]] = sub
    return out


def test_the_schema_names_the_event_kinds_python_applies():
    assert set(schema_kinds()) == EVENT_KINDS
    assert {ev["kind"] for _, ev, _ in EXAMPLES} == EVENT_KINDS


def test_the_examples_use_every_field_of_every_event():
    for kind, sub in schema_kinds().items():
        used = {f for _, ev, _ in EXAMPLES if ev["kind"] == kind for f in ev}
        assert used == set(sub["properties"]), kind


@pytest.mark.parametrize("make, ev, check", EXAMPLES, ids=[f"{i}-{ev['kind']}" for i, (_, ev, _) in enumerate(EXAMPLES)])
def test_each_event_the_schema_allows_is_applied(make, ev, check):
    sent = {**ev, "seq": 1, "v": 0}
    assert errors(SENT, sent) == []
    g = make()
    change = apply_events(g, [sent], last_seq=0, external_version=0)
    assert change.errors == [] and change.last_seq == 1
    assert check(change.graph or g, change)


@pytest.mark.parametrize("sent", [
    {"kind": "connect", "source": "a", "target": "b", "port": None, "seq": 1, "v": 0, "extra": 1},  # unknown field
    {"kind": "connect", "source": "a", "target": "b", "seq": 1, "v": 0},  # port missing
    {"kind": "connect", "source": "a", "target": "b", "port": None, "v": 0},  # not stamped
    {"kind": "move", "positions": {"a": [1, 2, 3]}, "seq": 1, "v": 0},
    {"kind": "zoom", "seq": 1, "v": 0},
])
def test_an_event_that_drifts_from_the_schema_fails(sent):
    assert errors(SENT, sent)
