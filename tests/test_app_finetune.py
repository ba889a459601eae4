"""AppTest: fine-tuning in two phases on the Train page (Keras's transfer-learning recipe), and the inspector's note
on a frozen BatchNormalization."""

import json

import numpy as np
import pytest

from builder.kerasenv import load_keras
from builder.model.graph import Graph
from builder.store import Store, default_path
from components import state
from components.training_panel import FINETUNE_GO, FINETUNE_N, RUN, WEIGHTS_FROM, registry
from tests.test_app_build import fresh_browser, press, run_app, set_graph, widget

BASE = ["conv1", "bn", "relu", "conv2"]


@pytest.fixture(autouse=True, scope="module")
def keras_loaded():
    load_keras()


def pretrained_like() -> Graph:
    """Input 8x8x1 (digits) -> Conv2D -> BatchNormalization -> ReLU -> Conv2D -> pooling -> Dense: the first four
    frozen in a group "base", as a pretrained start makes them."""
    g = Graph(name="finetune")
    g, prev = g.add_node("Input", {"shape": [8, 8, 1]}, node_id="input")
    for nid, type_, params in [("conv1", "Conv2D", {"filters": 4, "kernel_size": 3, "padding": "same"}),
                               ("bn", "BatchNormalization", {}), ("relu", "ReLU", {}),
                               ("conv2", "Conv2D", {"filters": 4, "kernel_size": 3, "padding": "same"}),
                               ("pool", "GlobalAveragePooling2D", {}),
                               ("out", "Dense", {"units": 10, "activation": "softmax"})]:
        g, prev = g.add_node(type_, params, node_id=nid, after=prev)
    for nid in BASE:
        g = g.set_trainable(nid, False)
    g, _ = g.group(BASE, name="Pretrained base", group_id="base")
    return g.set_extra("training", {"dataset": "digits", "epochs": 1})


def weights(model, nid):
    return model.get_layer(nid).get_weights()


def same(a, b) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def wait(at, previous=None):
    job = registry().get(at.session_state[RUN])
    assert job is not None and job.id != previous
    assert job.wait(120), "training did not end"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert job.status == "finished", job.message
    return job


def figures(at) -> dict:
    """The curves on the page: title -> figure dict."""
    out = {}
    for chart in at.get("plotly_chart"):
        fig = json.loads(chart.proto.spec)
        out[fig["layout"]["title"]["text"]] = fig
    return out


def train_line(fig: dict) -> list:
    return next(t["x"] for t in fig["data"] if t["name"] == "train loss")


def test_unfreeze_and_train_continues_the_run_with_the_top_of_the_base_and_a_lower_learning_rate():
    browser = fresh_browser()
    at = run_app(browser=browser)
    at.switch_page("pages/data.py").run()
    widget(at.selectbox, "data_builtin").set_value("digits").run()
    set_graph(at, pretrained_like())
    at.switch_page("pages/train.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.get("slider"), "no fine-tuning before a first run"
    at.number_input(key="train_epochs").set_value(1).run()
    at.number_input(key="train_lr").set_value(0.01).run()
    at.button(key="train_start").click().run()
    first = wait(at)

    # Phase 1: the head trained, the base untouched (BatchNormalization's moving statistics too).
    untrained = first.untrained_model()
    for nid in ["conv1", "bn", "conv2"]:
        assert same(weights(first.model, nid), weights(untrained, nid)), nid
    assert not same(weights(first.model, "out"), weights(untrained, "out"))
    assert at.session_state[WEIGHTS_FROM] == first.id

    # The box: a slider over the 4 base layers, and what N=2 does.
    slider = at.slider(key=FINETUNE_N)
    assert slider.label == "Unfreeze the top N layers of the base" and (slider.min, slider.max) == (1, 4)
    slider.set_value(2).run()
    caption = " ".join(c.value for c in at.caption)
    assert "2 layers become trainable (1 with weights: 148 weights)" in caption, caption
    assert "Learning rate 0.01 → 0.001 (÷ 10)" in caption

    at.button(key=FINETUNE_GO).click().run()
    assert not at.exception, [e.value for e in at.exception]
    second = wait(at, previous=first.id)

    graph = at.session_state[state.GRAPH]
    assert {n.id: n.trainable for n in graph.nodes} == {
        "input": True, "conv1": False, "bn": False, "relu": True, "conv2": True, "pool": True, "out": True}
    assert at.session_state["train_lr"] == pytest.approx(0.001)
    assert second.settings.compile.learning_rate == pytest.approx(0.001)
    with Store(default_path()) as store:  # the app's database
        run = store.get_run(second.id)
    assert run["settings"]["continues"] == first.id and run["settings"]["finetune"] == {"unfrozen": 2}
    assert run["settings"]["compile"]["learning_rate"] == pytest.approx(0.001)

    # Phase 2 started from phase 1's weights, trained the top conv only; conv1 and BatchNormalization unchanged.
    start2 = second.untrained_model()
    for nid in ["conv1", "bn", "conv2", "out"]:
        assert same(weights(start2, nid), weights(first.model, nid)), nid
    assert not same(weights(second.model, "conv2"), weights(first.model, "conv2"))
    assert same(weights(second.model, "conv1"), weights(first.model, "conv1"))
    assert same(weights(second.model, "bn"), weights(first.model, "bn"))

    # One chart with both phases: epoch 1 of phase 1, then epoch 2 (phase 2's first), a line between them.
    loss = figures(at)["loss"]
    assert train_line(loss) == [1, 2]
    assert [s["x0"] for s in loss["layout"]["shapes"]] == [1]
    assert [a["text"] for a in loss["layout"]["annotations"]] == ["fine-tuning: top 2 unfrozen"]

    # After a reload (a new session of the same browser): the stored run draws both phases too.
    again = run_app({"project": at.query_params["project"], "run": second.id}, browser=browser)
    again.switch_page("pages/train.py").run()
    assert not again.exception, [e.value for e in again.exception]
    loss = figures(again)["loss"]
    assert train_line(loss) == [1, 2] and [s["x0"] for s in loss["layout"]["shapes"]] == [1]

    # The whole edit is one undo step: the flags and the learning rate come back.
    at.switch_page("pages/build.py").run()
    press(at, "undo")
    graph = at.session_state[state.GRAPH]
    assert [graph.node(n).trainable for n in BASE] == [False] * 4
    assert graph.extra["compile"]["learning_rate"] == pytest.approx(0.01)


def test_the_inspector_says_why_a_frozen_batchnormalization_stays_frozen():
    at = run_app(browser=fresh_browser())
    set_graph(at, pretrained_like())
    at.session_state[state.SELECTED] = "bn"
    at.run()
    notes = " ".join(c.value for c in at.caption)
    assert "Stays frozen when fine-tuning" in notes and "inference mode" in notes
    at.session_state[state.SELECTED] = "conv1"  # a frozen conv has no such note
    at.run()
    assert "Stays frozen when fine-tuning" not in " ".join(c.value for c in at.caption)
    graph = at.session_state[state.GRAPH].set_trainable("bn", True)  # unfrozen by hand in the base: a warning
    set_graph(at, graph)
    at.session_state[state.SELECTED] = "bn"
    at.run()
    assert any("Better frozen in a pretrained base" in w.value for w in at.warning)
