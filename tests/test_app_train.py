"""AppTest: the Data, Train and Runs pages; training through the page; freezing; bad data choices."""

import time

from streamlit.testing.v1 import AppTest

from builder.model.templates import template
from components import state
from components.network_view import FROZEN, NO_WEIGHTS, TRAINABLE, view_data
from components.training_panel import RUN, registry
from tests.test_app_build import widget


def app(page: str) -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=120)
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def texts(elements) -> list[str]:
    return [e.value.replace("\\", "") for e in elements]


def wait_for_job(at: AppTest, timeout: float = 120):
    job = registry().get(at.session_state[RUN])
    assert job is not None
    assert job.wait(timeout), "training did not end"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return job


def test_data_page_previews_the_default_dataset_and_checks_the_model():
    at = app("pages/data.py")
    assert metric(at, "Input shape") == "4" and metric(at, "Classes") == "3"
    assert metric(at, "Train / test samples") == "120 / 30"
    assert any("The model fits this data" in s for s in texts(at.success))
    assert at.dataframe and list(at.dataframe[0].value.columns)[-1] == "label"
    # Images with a model for 4 features: the check names the Input and what to set.
    widget(at.selectbox, "data_builtin").set_value("digits").run()
    assert metric(at, "Input shape") == "8 x 8 x 1"
    errors = texts(at.error)
    assert any("input" in e and "8, 8, 1" in e for e in errors), errors
    assert at.session_state[state.GRAPH].extra["training"]["dataset"] == "digits"


def test_keras_download_offline_says_what_to_do():
    at = app("pages/data.py")
    widget(at.segmented_control, "data_source").set_value("Download").run()
    widget(at.selectbox, "data_keras").set_value("mnist").run()
    widget(at.button, "data_keras_load").click().run()
    assert not at.exception
    assert any("Could not download mnist" in e and "NPZ" in e for e in texts(at.error))


def test_train_page_trains_and_shows_results_and_the_run_is_listed():
    at = app("pages/train.py")
    assert any("The model fits this data" in s for s in texts(at.success))
    at.number_input(key="train_epochs").set_value(5).run()
    at.button(key="train_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.query_params["run"] == at.session_state[RUN]
    job = wait_for_job(at)
    assert job.status == "finished" and len(job.history) == 5
    assert float(metric(at, "Test accuracy")) == round(job.result["metrics"]["accuracy"], 4)
    assert at.get("plotly_chart"), "no curves"
    assert at.session_state[state.GRAPH].extra["training"]["epochs"] == 5  # saved with the project
    at.switch_page("pages/runs.py").run()
    assert not at.exception
    runs = at.dataframe[0].value
    assert list(runs["status"]) == ["finished"] and list(runs["data"]) == ["iris"]


def test_an_exploding_loss_is_reported_on_the_page():
    at = app("pages/train.py")
    at.selectbox(key="train_optimizer").set_value("sgd").run()
    at.number_input(key="train_lr").set_value(1e6).run()
    at.number_input(key="train_epochs").set_value(10).run()
    at.button(key="train_start").click().run()
    job = wait_for_job(at)
    assert job.status == "failed"
    assert any("learning rate is probably too high" in e for e in texts(at.error))


def test_contradicting_loss_gets_a_warning_and_bad_data_blocks_start():
    at = app("pages/train.py")
    at.selectbox(key="train_loss").set_value("mse").run()
    assert any("crossentropy" in w for w in texts(at.warning))
    at.number_input(key="train_batch").set_value(500).run()
    assert any("Only 96 training samples are left" in w for w in texts(at.warning))
    at.session_state[state.GRAPH] = template("mnist_cnn").set_extra("training", None)  # 28x28x1 images, iris data
    at.run()
    assert at.button(key="train_start").disabled
    assert any("28, 28, 1" in e or "(4,)" in e for e in texts(at.error))


def test_stop_ends_a_run_early_and_keeps_its_weights_for_the_next():
    at = app("pages/train.py")
    at.number_input(key="train_epochs").set_value(5000).run()
    at.button(key="train_start").click().run()
    job = registry().get(at.session_state[RUN])
    deadline = time.time() + 60
    while job.epoch < 2 and time.time() < deadline:
        time.sleep(0.1)
    at.run()
    at.button(key="train_stop").click().run()
    job = wait_for_job(at)
    assert job.status == "stopped" and job.epoch < 5000
    assert "Stopped" in job.message
    # The trained weights are offered as the start of the next run.
    assert at.toggle(key="train_use_weights").value is True


def test_freezing_a_layer_moves_its_weights_to_non_trainable():
    at = app("pages/train.py")
    assert metric(at, "Non-trainable params") == "0"
    graph = at.session_state[state.GRAPH]
    at.session_state[state.GRAPH] = graph.set_trainable("dense", False)
    at.run()
    assert metric(at, "Non-trainable params") == f"{4 * 16 + 16:,}"
    assert metric(at, "Trainable params") == f"{243 - 80:,}"


def test_the_network_view_greys_frozen_layers_and_shows_no_user_markup():
    from builder.model.build import build

    graph = template("iris_mlp").set_trainable("dense", False)
    nodes, edges = view_data(graph, build(graph))
    colors = {n.id: n.color for n in nodes}
    assert colors["dense"] == FROZEN and colors["output"] == TRAINABLE and colors["input"] == NO_WEIGHTS
    assert len(edges) == len(graph.edges)
    assert all("<" not in n.title and "<" not in n.label for n in nodes)


def test_export_page_offers_every_format_untrained_then_trained():


    from builder.kerasenv import load_keras

    at = app("pages/export.py")
    assert any("Not trained yet" in i for i in texts(at.info))
    def keys():
        return {b.key for b in at.get("download_button") if b.key and b.key.startswith("download:")}

    # Every format but SavedModel, TFLite and ONNX right away; those are prepared on request.
    assert keys() == {f"download:{f}" for f in ("keras", "h5", "weights", "python", "script", "notebook", "graph")}
    at.button(key="prepare:savedmodel").click().run()
    assert not at.exception and "download:savedmodel" in keys()
    assert any("serving_default" in c.value for c in at.code)
    # Train, then the export is of the trained model.
    at.switch_page("pages/train.py").run()
    at.number_input(key="train_epochs").set_value(3).run()
    at.button(key="train_start").click().run()
    job = wait_for_job(at)
    at.switch_page("pages/export.py").run()
    assert any(f"trained in run {job.id[:6]}" in i for i in texts(at.info))
    from components.export_panel import PREPARED

    data = at.session_state[PREPARED]["keras"]
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".keras") as f:
        f.write(data)
        f.flush()
        model = load_keras().models.load_model(f.name)
    x = job.dataset.x_test[:5]
    import numpy as np

    np.testing.assert_allclose(model.predict(x, verbose=0), job.model.predict(x, verbose=0), atol=1e-5)



def test_mirrored_without_gpus_trains_on_the_cpu_with_a_notice():
    at = app("pages/train.py")
    at.selectbox(key="train_strategy").set_value("mirrored").run()
    at.number_input(key="train_epochs").set_value(2).run()
    at.button(key="train_start").click().run()
    job = wait_for_job(at)
    assert job.status == "finished" and job.settings.strategy == "mirrored"
    assert any("none is visible" in i for i in texts(at.info))


def test_a_batch_beyond_the_memory_budget_is_refused_with_the_size_to_use(monkeypatch):
    from builder.model import memory

    monkeypatch.setattr(memory, "BUDGET_BYTES", 32 * 1024)  # a tiny server: the iris MLP fits batches up to ~90
    at = app("pages/train.py")
    assert not at.button(key="train_start").disabled
    at.number_input(key="train_batch").set_value(120).run()
    [err] = [e for e in texts(at.error) if "needs about" in e]
    assert err.startswith("Training this model with batch 120 needs about") and "the 32 kB this server allows per run" in err
    fits = int(err.split("lower the batch size to ")[1].split(" ")[0])
    assert 32 <= fits < 120
    assert at.button(key="train_start").disabled
    at.number_input(key="train_batch").set_value(fits).run()
    assert not [e for e in texts(at.error) if "needs about" in e]
    assert not at.button(key="train_start").disabled


def test_saved_settings_out_of_range_fall_back_instead_of_stopping_the_page():
    for batch, epochs in [(0, 0), (1_000_000, 10**9), (-5, -1), ("32", "ten")]:
        at = AppTest.from_file("../app.py", default_timeout=120)
        at.run()  # the Build page: the Train page's widgets have no values yet
        graph = template("iris_mlp").set_extra("training", {"dataset": "iris", "batch_size": batch, "epochs": epochs})
        at.session_state[state.GRAPH] = graph
        at.switch_page("pages/train.py").run()
        assert not at.exception, (batch, [e.value for e in at.exception])
        assert at.number_input(key="train_batch").value == 32
        assert 1 <= at.number_input(key="train_epochs").value <= 10_000


def test_a_stored_run_shows_the_speed_it_trained_at_and_a_dash_when_not_known():
    from components.training_panel import stored_snapshot

    run = {"id": "run_12345678", "status": "finished", "message": None, "epochs": [], "settings": {"epochs": 2},
           "created_at": 0.0, "updated_at": 3.0, "final_metrics": {}, "stats": {"samples_per_s": 4464.2}}
    assert stored_snapshot(run)["samples_per_s"] == 4464.2
    at = AppTest.from_string("""
from components.training_panel import render_progress, stored_snapshot
run = {"id": "run_12345678", "status": "finished", "message": None, "epochs": [], "settings": {"epochs": 2},
       "created_at": 0.0, "updated_at": 3.0, "final_metrics": {}}
render_progress(stored_snapshot({**run, "stats": {"samples_per_s": 4464.2}}))
render_progress(stored_snapshot(run))  # a run from before the speed was kept
""", default_timeout=60).run()
    assert [m.value for m in at.metric if m.label == "Samples per second"] == ["4,464", "-"]
