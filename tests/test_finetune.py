"""builder.train.finetune: which layers unfreeze, BatchNormalization stays frozen, and Keras agrees on the weights."""

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder.kerasenv import load_keras
from builder.model.build import build
from builder.model.catalog import LAYERS
from builder.model.graph import Graph
from builder.train.finetune import (
    MIN_LR,
    base_layers,
    finetune_learning_rate,
    finetune_record,
    finetune_settings,
    keeps_inference,
    plan,
    unfreeze_top,
)
from builder.train.settings import CompileSettings, TrainSettings

keras = load_keras()

BASE_TYPES = {  # layers a convolutional base is made of, and their params on an 8x8 image
    "Conv2D": {"filters": 3, "kernel_size": 3, "padding": "same"},
    "DepthwiseConv2D": {"kernel_size": 3, "padding": "same"},
    "BatchNormalization": {},
    "ReLU": {},
    "Activation": {"activation": "relu"},
    "PReLU": {},
}
PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def chain(types: list[str], base: int, group: bool = True, head_frozen: tuple[int, ...] = ()) -> Graph:
    """Input 8x8x3 -> types... -> GlobalAveragePooling2D -> Dense: the first `base` layers frozen (and grouped as
    "base" with `group`); head layers listed in `head_frozen` (indexes into the head) frozen too."""
    g = Graph(name="ft")
    g, prev = g.add_node("Input", {"shape": [8, 8, 3]}, node_id="input")
    ids = []
    for i, t in enumerate(types):
        g, prev = g.add_node(t, dict(BASE_TYPES[t]), node_id=f"l{i}", after=prev)
        ids.append(prev)
    g, prev = g.add_node("GlobalAveragePooling2D", {}, node_id="pool", after=prev)
    g, prev = g.add_node("Dense", {"units": 2, "activation": "softmax"}, node_id="out", after=prev)
    for nid in ids[:base]:
        g = g.set_trainable(nid, False)
    head = ids[base:] + ["pool", "out"]
    for i in head_frozen:
        if i < len(head) and group:  # without a group, a frozen head layer would move the base's end
            g = g.set_trainable(head[i], False)
    if group and base:
        g, _ = g.group(ids[:base], name="Pretrained base", group_id="base")
    return g


def small() -> Graph:
    return chain(["Conv2D", "BatchNormalization", "ReLU", "Conv2D"], base=4)


def test_the_catalog_flags_exactly_the_layers_keras_runs_in_inference_mode_when_frozen():
    flagged = {t for t, s in LAYERS.items() if s.inference_when_frozen}
    bn = keras.layers.BatchNormalization
    assert flagged == {t for t, s in LAYERS.items() if not s.is_input and issubclass(s.keras_class(), bn)}
    assert flagged == {"BatchNormalization"}


def test_a_frozen_batchnormalization_keeps_its_statistics_in_keras():
    """The fact the rule rests on: frozen, Keras runs it in inference mode (no update of the moving mean)."""
    import numpy as np

    layer = keras.layers.BatchNormalization()
    x = np.random.default_rng(0).normal(5.0, 2.0, (16, 4)).astype("float32")
    layer.build(x.shape)
    layer.trainable = False
    layer(x, training=True)
    np.testing.assert_array_equal(layer.moving_mean.numpy(), 0.0)
    layer.trainable = True
    layer(x, training=True)
    assert np.all(layer.moving_mean.numpy() > 0)


def test_base_is_the_group_named_base_in_topological_order():
    g = small()
    assert base_layers(g) == ["l0", "l1", "l2", "l3"]
    # another group of frozen layers is not the base when a "base" group exists
    g2 = g.set_trainable("pool", False)
    assert base_layers(g2) == ["l0", "l1", "l2", "l3"]


def test_without_a_base_group_the_base_ends_at_the_last_frozen_node():
    g = chain(["Conv2D", "BatchNormalization", "ReLU", "Conv2D"], base=2, group=False)
    assert base_layers(g) == ["l0", "l1"]
    assert base_layers(g.set_trainable("l0", True).set_trainable("l1", True)) == []
    assert base_layers(chain(["Conv2D"], base=0, group=False)) == []


def test_unfreeze_top_two_leaves_the_rest_frozen():
    g = unfreeze_top(small(), 2)
    assert {n.id: n.trainable for n in g.nodes} == {
        "input": True, "l0": False, "l1": False, "l2": True, "l3": True, "pool": True, "out": True}


def test_batchnormalization_counts_but_stays_frozen():
    g = unfreeze_top(small(), 3)
    assert [g.node(n).trainable for n in ("l0", "l1", "l2", "l3")] == [False, False, True, True]
    p = plan(small(), 3)
    assert p.unfrozen == ("l2", "l3") and p.kept_frozen == ("l1",) and p.base == 4


def test_unfreeze_zero_freezes_the_whole_base_again_and_n_is_clipped():
    g = unfreeze_top(small(), 4)
    assert unfreeze_top(g, 0) == small()
    assert unfreeze_top(small(), 99) == unfreeze_top(small(), 4)
    assert unfreeze_top(small(), -3) == small()


def test_a_wrapped_batchnormalization_stays_frozen_too():
    g = Graph()
    g, prev = g.add_node("Input", {"shape": [5, 4]}, node_id="input")
    g, prev = g.add_node("TimeDistributed", {"layer": {"type": "BatchNormalization", "params": {}}}, node_id="td",
                         after=prev)
    assert keeps_inference(g.node("td"))
    assert not keeps_inference(g.node("input"))


@PROPS
@given(types=st.lists(st.sampled_from(sorted(BASE_TYPES)), min_size=1, max_size=7), data=st.data())
def test_any_n_unfreezes_exactly_the_top_n_but_batchnormalization(types, data):
    base = data.draw(st.integers(1, len(types)), label="base")
    group = data.draw(st.booleans(), label="group")
    head_frozen = tuple(data.draw(st.lists(st.integers(0, 4), max_size=2), label="head_frozen"))
    g = chain(types, base, group, head_frozen)
    layers = base_layers(g)
    assert layers == [f"l{i}" for i in range(base)]
    n = data.draw(st.integers(0, len(layers)), label="n")
    out = unfreeze_top(g, n)
    top = set(layers[len(layers) - n:])
    for node in out.nodes:
        before = g.node(node.id)
        if node.id not in layers:
            assert node == before  # outside the base: untouched
        elif node.type == "BatchNormalization":
            assert node.trainable is False
        else:
            assert node.trainable is (node.id in top)
    p = plan(g, n)
    assert set(p.unfrozen) | set(p.kept_frozen) == top
    if group:  # the group keeps the base whatever is unfrozen (without one, the base ends at the last frozen node)
        assert base_layers(out) == layers
        assert unfreeze_top(out, n) == out


@pytest.mark.parametrize("types,n", [
    (["Conv2D", "BatchNormalization", "ReLU", "Conv2D"], 2),
    (["Conv2D", "BatchNormalization", "ReLU", "Conv2D"], 3),
    (["Conv2D", "BatchNormalization", "ReLU", "Conv2D"], 4),
    (["DepthwiseConv2D", "BatchNormalization", "PReLU", "Conv2D", "BatchNormalization", "Activation"], 5),
    (["Conv2D", "BatchNormalization"], 1),
])
def test_keras_trains_exactly_the_weights_the_plan_counts(types, n):
    g = chain(types, len(types))
    before = build(g).model
    frozen_trainable = sum(math.prod(w.shape) for w in before.trainable_weights)
    p = plan(g, n, before)
    after = build(unfreeze_top(g, n)).model
    assert sum(math.prod(w.shape) for w in after.trainable_weights) == frozen_trainable + p.weights
    assert p.trainable_after == frozen_trainable + p.weights
    again = plan(unfreeze_top(g, n), n, after)  # counted on a model whose top is trainable already: the same
    assert (again.weights, again.trainable_after) == (p.weights, p.trainable_after)
    for nid in p.kept_frozen:  # BatchNormalization: no trainable weights, so it runs in inference mode
        assert after.get_layer(nid).trainable is False and after.get_layer(nid).trainable_weights == []
    assert set(p.with_weights) == {nid for nid in p.unfrozen if after.get_layer(nid).trainable_weights}


def test_phase_two_learning_rate_is_ten_times_lower():
    s = TrainSettings(compile=CompileSettings(learning_rate=0.003, metrics=["accuracy"]), epochs=4)
    f = finetune_settings(s)
    assert f.compile.learning_rate == pytest.approx(0.0003)
    assert s.compile.learning_rate == 0.003  # the original is not changed
    assert f.epochs == 4 and f.compile.metrics == ["accuracy"] and f.compile.metrics is not s.compile.metrics
    f.check()
    assert finetune_learning_rate(1e-7) == MIN_LR


def test_the_record_names_the_run_it_continues():
    assert finetune_record("abcdefgh12", 2) == {"continues": "abcdefgh12", "finetune": {"unfrozen": 2}}
    s = TrainSettings()
    assert TrainSettings.from_dict({**s.to_dict(), **finetune_record("abcdefgh12", 2)}) == s
