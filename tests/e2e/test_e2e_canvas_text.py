"""Canvas text is read whole in a real browser: a long layer type, a collapsed group's long name, and the shape
labels of several edges into one layer (the pretrained start's grey-to-RGB Concatenate drew "(Nor (Nor")."""

from __future__ import annotations

import json

from playwright.sync_api import expect

from tests.e2e.helpers import ARTIFACTS, canvas_node, metric_value, settle, stable_box

GROUP_NAME = "MobileNetV2 base (frozen, ImageNet weights)"
GRAPH = {
    "format": "layercanvas-graph", "version": 1, "name": "long_texts",
    "nodes": [
        {"id": "image", "type": "Input", "params": {"shape": [8, 8, 1]}},
        {"id": "resize", "type": "Resizing", "params": {"height": 32, "width": 32}},
        {"id": "to_rgb", "type": "Concatenate", "params": {}},
        {"id": "conv1", "type": "Conv2D", "params": {"filters": 8, "kernel_size": [3, 3]}, "trainable": False},
        {"id": "bn1", "type": "BatchNormalization", "params": {}, "trainable": False},
        {"id": "pool", "type": "GlobalAveragePooling2D", "params": {}},
        {"id": "head", "type": "Dense", "params": {"units": 10, "activation": "softmax"}},
    ],
    "edges": [
        {"source": "image", "target": "resize"},
        {"source": "resize", "target": "to_rgb", "port": 0}, {"source": "resize", "target": "to_rgb", "port": 1},
        {"source": "resize", "target": "to_rgb", "port": 2},
        {"source": "to_rgb", "target": "conv1"}, {"source": "conv1", "target": "bn1"},
        {"source": "bn1", "target": "pool"}, {"source": "pool", "target": "head"},
    ],
    "groups": [{"id": "base", "name": GROUP_NAME, "nodes": ["conv1", "bn1"], "collapsed": True}],
}

WHOLE = """e => ({text: e.textContent, title: e.getAttribute('title'),
                 cut: e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1})"""


def test_long_type_group_name_and_edge_labels_into_one_layer_read_whole(page, server, tmp_path):
    path = tmp_path / "long_texts.json"
    path.write_text(json.dumps(GRAPH))
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(server)
    metric_value(page, "Total params").wait_for(timeout=120_000)
    settle(page)
    page.locator('[data-testid="stSidebar"] input[type="file"]').set_input_files(str(path))
    group = canvas_node(page, "g:base")
    expect(group).to_be_visible(timeout=60_000)
    expect(canvas_node(page, "pool")).to_be_visible(timeout=30_000)
    settle(page)
    stable_box(page, canvas_node(page, "pool"))
    page.locator(".lc-canvas").screenshot(path=str(ARTIFACTS / "canvas-long-texts.png"))

    # The type is shown whole, never "GlobalAveragePooling…", and is also its tooltip.
    kind = canvas_node(page, "pool").locator(".lc-type").evaluate(WHOLE)
    assert kind == {"text": "GlobalAveragePooling2D", "title": "GlobalAveragePooling2D", "cut": False}
    # The collapsed group's whole name (on two lines if need be), in its tooltip too.
    name = group.locator(".lc-type").evaluate(WHOLE)
    assert name["text"] == GROUP_NAME and not name["cut"] and GROUP_NAME in name["title"]
    inside = group.locator(".lc-type").bounding_box()
    box = group.bounding_box()
    assert inside["x"] + inside["width"] <= box["x"] + box["width"] + 0.5

    # Three edges from one layer into three ports: their labels, one shape, are drawn as one, never offset
    # over each other; no two different labels overlap anywhere.
    labels = page.locator(".react-flow__edge-textwrapper").evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect(); "
        "return {text: e.textContent, x: r.x, y: r.y, w: r.width, h: r.height}; })")
    assert len(labels) == 3 + 4 and all(lab["w"] > 20 for lab in labels), labels  # every edge has its label
    rgb = [lab for lab in labels if lab["text"] == "(None, 32, 32, 1)"]
    assert len(rgb) == 3
    assert max(lab["x"] for lab in rgb) - min(lab["x"] for lab in rgb) < 1
    assert max(lab["y"] for lab in rgb) - min(lab["y"] for lab in rgb) < 1
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            same = abs(a["x"] - b["x"]) < 1 and abs(a["y"] - b["y"]) < 1 and a["text"] == b["text"]
            apart = (a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"] or a["y"] + a["h"] <= b["y"]
                     or b["y"] + b["h"] <= a["y"])
            assert same or apart, (a, b)
