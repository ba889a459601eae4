"""The memory estimate and the limits that keep one user from taking a shared server down."""

import math
import resource

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builder.config import fmt_bytes
from builder.model.build import ModelBuilder, build
from builder.model.memory import MB, OPTIMIZER_SLOTS, estimate, over_budget
from builder.model.templates import template
from builder.train.settings import CompileSettings, TrainSettings, memory_problem
from tests.test_training import chain


def _by_hand(model, batch: int, slots: int) -> int:
    """The same estimate from the Keras model itself."""
    trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
    outputs = sum(math.prod(layer.output.shape[1:]) for layer in model.layers)
    return 4 * model.count_params() + 4 * trainable * (1 + slots) + 2 * 4 * outputs * batch


@pytest.mark.parametrize("name", ["iris_mlp", "mnist_cnn", "small_resnet", "lstm_text", "two_outputs", "inception_block"])
@pytest.mark.parametrize("optimizer", ["adam", "sgd", "rmsprop"])
def test_the_estimate_adds_up_what_keras_holds(name, optimizer):
    result = build(template(name))
    assert result.model is not None
    est = estimate(result.infos, result.order, 64, optimizer)
    assert est.total == _by_hand(result.model, 64, OPTIMIZER_SLOTS[optimizer])
    assert est.biggest_node in result.graph.ids()


@settings(max_examples=60, deadline=None)
@given(units=st.integers(1, 4096), side=st.integers(1, 64), batch=st.integers(1, 4096),
       budget_mb=st.integers(1, 512))
def test_largest_batch_is_the_largest_that_fits(units, side, batch, budget_mb):
    graph = chain("m", [side, side, 3], [("f", "Flatten", {}), ("d", "Dense", {"units": units})])
    result = build(graph)
    budget = budget_mb * MB
    est = estimate(result.infos, result.order, batch)
    fits = est.largest_batch(budget)
    if fits:
        assert estimate(result.infos, result.order, fits).total <= budget
    assert estimate(result.infos, result.order, fits + 1).total > budget
    assert (over_budget(est, budget) is None) == (est.total <= budget)
    assert estimate(result.infos, result.order, batch + 1).total > est.total  # grows with the batch


def test_huge_activations_are_warned_about_on_the_node_that_makes_them():
    graph = chain("big", [1024, 1024, 3], [("conv", "Conv2D", {"filters": 64, "kernel_size": 3, "padding": "same"}),
                                          ("pool", "GlobalAveragePooling2D", {}), ("out", "Dense", {"units": 2})])
    result = build(graph)
    assert result.model is not None  # a warning: the weights are tiny, only training would be too big
    [warn] = [i for i in result.issues if i.code == "memory"]
    assert warn.node_id == "conv" and warn.severity == "warning"
    assert "with batch 32 needs about" in warn.message and "more than the 4 GB this server allows per run" in warn.message
    assert warn.message.endswith(" (or set LAYERCANVAS_MEMORY_BUDGET_MB to allow more)")
    fits = estimate(result.infos, result.order).largest_batch(4096 * MB)
    assert 1 <= fits < 32 and f"lower the batch size to {fits} or less" in warn.message
    assert "shrink the largest layer output ('conv', (None, 1024, 1024, 64))" in warn.message
    assert not [i for i in build(template("mnist_cnn")).issues if i.code == "memory"]


def test_the_train_settings_decide_and_the_job_refuses_before_training():
    graph = chain("big", [256, 256, 3], [("conv", "Conv2D", {"filters": 64, "kernel_size": 3, "padding": "same"}),
                                        ("pool", "GlobalAveragePooling2D", {}), ("out", "Dense", {"units": 2})])
    result = build(graph)
    small = TrainSettings(compile=CompileSettings(optimizer="sgd"), batch_size=8)
    large = TrainSettings(batch_size=1024)
    assert memory_problem(result, small) is None
    problem = memory_problem(result, large)
    assert problem.startswith("Training this model with batch 1024 needs about")
    fits = estimate(result.infos, result.order).largest_batch(4096 * MB)
    assert f"lower the batch size to {fits} or less" in problem and 8 < fits < 1024


def test_a_job_over_the_budget_fails_with_the_message_and_allocates_no_batch(monkeypatch):
    import numpy as np

    from builder.data.datasets import Dataset
    from builder.model import memory
    from builder.train.job import TrainingJob

    monkeypatch.setattr(memory, "BUDGET_BYTES", 1 * MB)
    graph = chain("m", [32, 32, 3], [("conv", "Conv2D", {"filters": 32, "kernel_size": 3, "padding": "same"}),
                                    ("pool", "GlobalAveragePooling2D", {}), ("out", "Dense", {"units": 2})])
    x = np.zeros((64, 32, 32, 3), "float32")
    y = np.arange(64) % 2
    ds = Dataset("tiny", "classification", x, y, x[:8], y[:8], classes=2, class_names=["a", "b"], kind="image")
    job = TrainingJob(graph, ds, TrainSettings(epochs=1, batch_size=32))
    job.start()
    job.wait(60)
    snap = job.snapshot()
    assert snap["status"] == "failed"
    assert snap["message"].startswith("Training this model with batch 32 needs about")
    assert "the 1 MB this server allows per run" in snap["message"] and snap["batch"] == 0


def test_a_million_units_after_a_large_flatten_is_refused_before_anything_is_allocated():
    graph = chain("huge", [224, 224, 3], [("flat", "Flatten", {}), ("dense", "Dense", {"units": 1_000_000})])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = build(graph)
    grew_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    [err] = [i for i in result.issues if i.code == "too_large"]
    assert err.node_id == "dense" and result.model is None
    assert "150,529,000,000 parameters" in err.message and "the limit is 250,000,000" in err.message
    assert err.message.endswith("(or set LAYERCANVAS_MAX_PARAMS to allow more)")
    assert grew_mb < 200  # 560 GB of weights were never asked for


def test_the_parameter_limit_is_on_the_whole_model():
    layers = [(f"d{i}", "Dense", {"units": 30}) for i in range(4)]
    graph = chain("deep", [30], layers)  # 930 params each
    result = ModelBuilder(max_params=2_000).build(graph)
    [err] = [i for i in result.issues if i.code == "too_large"]
    assert err.node_id == "d2" and "would bring the model to 2,790 parameters" in err.message
    assert "the limit for a whole model is 2,000" in err.message
    assert err.message.endswith("(or set LAYERCANVAS_MAX_PARAMS to allow more)")
    assert ModelBuilder(max_params=4_000).build(graph).model is not None


@pytest.mark.parametrize("n, text", [(0, "0 bytes"), (1023, "1023 bytes"), (1024, "1 kB"), (1536, "1.5 kB"),
                                     (250 * MB, "250 MB"), (int(2.5 * 2**30), "2.5 GB"), (3 * 2**40, "3 TB")])
def test_sizes_read_plainly(n, text):
    assert fmt_bytes(n) == text


def test_an_unbuilt_graph_estimates_what_did_build():
    graph = chain("bad", [4], [("d", "Dense", {"units": 8}), ("c", "Conv2D", {"filters": 2, "kernel_size": 3})])
    result = build(graph)
    assert result.model is None and "c" not in result.infos
    est = estimate(result.infos, result.order)
    assert est.weights == 4 * 40 and est.per_sample == 2 * 4 * (4 + 8)


def test_the_build_keeps_its_estimate_for_the_summary():
    result = build(template("mnist_cnn"))
    assert result.memory == estimate(result.infos, result.order)
    broken = build(chain("bad", [4], [("d", "Dense", {"units": 8}), ("c", "Conv2D", {"filters": 2, "kernel_size": 3})]))
    assert broken.model is None and broken.memory.weights == 4 * 40  # what did build
