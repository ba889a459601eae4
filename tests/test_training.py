"""The training job: it learns, stops, catches exploding losses, queues, records runs and keeps weights."""

import os
import re
import threading
import time
import types

import numpy as np
import pytest

from builder.data import datasets
from builder.model.graph import Graph
from builder.model.templates import template
from builder.store import Store
from builder.train.job import TrainingJob
from builder.train.registry import JobRegistry
from builder.train.settings import CompileSettings, SettingsError, TrainSettings, loss_warnings, suggest_compile


def data(name):
    """A built-in dataset as the job takes it."""
    info = datasets.BUILTIN[name]
    x_train, y_train, x_test, y_test = info.load()
    return types.SimpleNamespace(name=name, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
                                 task=info.task, classes=info.classes)


def chain(name, shape, layers):
    nodes = [{"id": "input", "type": "Input", "params": {"shape": shape}}]
    nodes += [{"id": nid, "type": t, "params": p} for nid, t, p in layers]
    ids = [n["id"] for n in nodes]
    return Graph.from_dict({"format": "layercanvas-graph", "version": 1, "name": name, "nodes": nodes,
                            "edges": [{"source": a, "target": b} for a, b in zip(ids, ids[1:], strict=False)]})


def digits_cnn():
    return chain("digits_cnn", [8, 8, 1], [
        ("conv", "Conv2D", {"filters": 16, "kernel_size": [3, 3], "activation": "relu", "padding": "same"}),
        ("pool", "MaxPooling2D", {}),
        ("flat", "Flatten", {}),
        ("head", "Dense", {"units": 10, "activation": "softmax"}),
    ])


def settings(graph, ds, **kw):
    comp = suggest_compile(graph, ds.task, ds.classes)
    for key in ("learning_rate", "optimizer"):
        if key in kw:
            setattr(comp, key, kw.pop(key))
    return TrainSettings(compile=comp, **kw)


def run(graph, ds, **kw):
    job = TrainingJob(graph, ds, settings(graph, ds, **kw))
    job.start()
    assert job.wait(300), "the job did not end"
    return job


def test_iris_mlp_reaches_90_percent():
    ds = data("iris")
    job = run(template("iris_mlp"), ds, epochs=30, batch_size=16, learning_rate=0.01)
    assert job.status == "finished", job.message
    assert job.result["metrics"]["accuracy"] >= 0.9 - 1e-6  # float32: 27/30 reads as 0.89999998
    assert len(job.history) == 30 and job.epoch == 30
    assert job.history[-1]["loss"] < job.history[0]["loss"]
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(job.history[-1])
    conf = np.array(job.result["confusion"])
    assert conf.shape == (3, 3) and conf.sum() == len(ds.y_test)
    assert np.trace(conf) / conf.sum() == pytest.approx(job.result["metrics"]["accuracy"], abs=1e-6)
    assert len(job.result["misclassified"]) == conf.sum() - np.trace(conf)
    wrong = job.result["misclassified"]
    assert len(job.result["misclassified_pred"]) == len(wrong)  # the panel shows "true -> predicted" for each
    assert all(p != ds.y_test[i] for i, p in zip(wrong, job.result["misclassified_pred"], strict=True))
    assert job.result["samples"] and all(0 <= s["pred"] < 3 for s in job.result["samples"])
    predicted = np.array(job.result["predicted"])  # every test sample's class: a confusion cell lists its examples
    rebuilt = np.zeros((3, 3), dtype="int64")
    np.add.at(rebuilt, (ds.y_test.astype("int64"), predicted), 1)
    assert len(predicted) == len(ds.y_test) and (rebuilt == conf).all()


def test_digits_cnn_reaches_90_percent_and_samples_batches():
    ds = data("digits")
    job = run(digits_cnn(), ds, epochs=15, batch_size=32, learning_rate=0.005)
    assert job.status == "finished", job.message
    assert job.result["metrics"]["accuracy"] >= 0.9 - 1e-6  # float32: 27/30 reads as 0.89999998
    snap = job.snapshot()
    assert snap["samples_per_s"] > 0 and snap["steps"] == int(np.ceil(len(ds.x_train) * 0.8 / 32))
    steps = [b["step"] for b in snap["batches"]]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)  # one sample per step, in order
    assert all(b["loss"] > 0 for b in snap["batches"])  # never a reset (zero) metric between epochs
    assert all(0 <= b["accuracy"] <= 1 for b in snap["batches"])  # never a torn (half-updated) reading


def test_stop_mid_epoch_keeps_the_weights(tmp_path):
    ds = data("digits")
    graph = digits_cnn()
    store = Store(tmp_path / "lc.db")
    job = TrainingJob(graph, ds, settings(graph, ds, epochs=50, batch_size=1), store=store,
                      artifact_dir=str(tmp_path / "runs"))
    job.start()
    deadline = time.time() + 120
    while job.snapshot()["batch"] < 50 and time.time() < deadline:  # well into the first epoch (1,150 batches)
        time.sleep(0.05)
    job.stop()
    assert job.wait(60)
    assert job.status == "stopped" and "during epoch 1 of 50, at batch" in job.message
    assert len(job.history) == 1 and job.history[-1]["partial"]
    assert 50 <= job.batch < job.steps
    trained = job.model.get_layer("head").get_weights()
    from builder.kerasenv import load_keras
    from builder.model.build import build_model

    load_keras().utils.set_random_seed(0)  # the job's seed: the same starting weights
    untrained = build_model(graph).get_layer("head").get_weights()
    assert not np.allclose(trained[0], untrained[0])  # what it learned before the stop is kept
    # The model as trained so far is evaluated and saved; the saved file holds the same weights.
    assert job.result["metrics"]["accuracy"] > 0.15  # 10 classes: chance is 0.1

    saved = load_keras().models.load_model(job.artifact_path)
    np.testing.assert_allclose(saved.get_layer("head").get_weights()[0], trained[0])
    row = store.get_run(job.id)
    assert row["status"] == "stopped" and row["artifact_path"] == job.artifact_path
    assert row["final_metrics"]["accuracy"] == pytest.approx(job.result["metrics"]["accuracy"])


def test_huge_learning_rate_stops_with_a_message():
    ds = data("iris")
    for optimizer in ("sgd", "adam"):
        job = run(template("iris_mlp"), ds, epochs=30, learning_rate=1e6, optimizer=optimizer)
        assert job.status == "failed"
        assert "loss" in job.message and "learning rate is probably too high" in job.message
        assert len(job.history) < 30


def test_store_records_the_run(tmp_path):
    ds = data("iris")
    graph = template("iris_mlp")
    store = Store(tmp_path / "lc.db")
    job = TrainingJob(graph, ds, settings(graph, ds, epochs=3), store=store, project_id="proj_12345",
                      artifact_dir=str(tmp_path / "runs"))
    job.start()
    job.wait(120)
    row = store.get_run(job.id)
    assert row["status"] == "finished" and row["project_id"] == "proj_12345" and row["dataset"] == "iris"
    assert [e["epoch"] for e in row["epochs"]] == [1, 2, 3]
    assert row["epochs"][-1]["metrics"]["loss"] == pytest.approx(job.history[-1]["loss"])
    assert TrainSettings.from_dict(row["settings"]) == job.settings
    assert row["graph"] == graph and os.path.exists(row["artifact_path"])
    # What the Train page shows of it after a restart (no live job): the speed it trained at, not 0.
    assert row["stats"]["samples_per_s"] == pytest.approx(job.snapshot()["samples_per_s"], rel=1e-3)
    assert row["stats"]["samples_per_s"] > 0 and row["stats"]["samples"] == job.samples


def test_registry_caps_running_jobs_and_queues_the_rest():
    ds = data("iris")
    graph = template("iris_mlp")
    reg = JobRegistry(max_running=1)
    jobs = [TrainingJob(graph, ds, settings(graph, ds, epochs=4)) for _ in range(3)]
    most = [0]
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            most[0] = max(most[0], reg.running())
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    for job in jobs:
        reg.submit(job)
    assert [j.queue_position for j in jobs[1:]] == [1, 2]
    assert jobs[1].status == "queued"
    for job in jobs:
        assert job.wait(120)
    stop.set()
    watcher.join()
    assert [j.status for j in jobs] == ["finished"] * 3
    assert most[0] == 1
    assert reg.get(jobs[0].id) is jobs[0]


def test_stop_while_queued_ends_at_once():
    ds = data("iris")
    graph = template("iris_mlp")
    reg = JobRegistry(max_running=1)
    first = reg.submit(TrainingJob(graph, ds, settings(graph, ds, epochs=200)))
    second = reg.submit(TrainingJob(graph, ds, settings(graph, ds, epochs=2)))
    assert second.status == "queued"
    second.stop()
    assert second.wait(1) and second.status == "stopped" and "waiting in line" in second.message
    first.stop()
    assert first.wait(60) and first.status == "stopped"


def test_weights_carry_over_to_unchanged_layers_and_frozen_layers_stay():
    ds = data("iris")
    graph = template("iris_mlp")
    first = run(graph, ds, epochs=5)
    weights = first.trained_weights()
    ids = [n.id for n in graph.nodes if n.type == "Dense"]
    frozen, edited = ids[0], ids[1]
    changed = graph.set_trainable(frozen, False).set_param(edited, "units", 12)
    second = TrainingJob(changed, ds, settings(changed, ds, epochs=3), weights=weights)
    second.start()
    second.wait(120)
    assert second.status == "finished", second.message
    # The edited layer and the one after it changed shape: they start fresh; the frozen one kept its weights.
    assert second.loaded_weights == [frozen]
    np.testing.assert_array_equal(second.model.get_layer(frozen).get_weights()[0], weights[frozen][0])


def test_settings_are_checked():
    good = TrainSettings()
    assert TrainSettings.from_dict(good.to_dict()) == good
    for bad, word in [({"epochs": 0}, "epochs"), ({"batch_size": "32"}, "batch size"),
                      ({"validation_split": 1.0}, "validation split"), ({"seed": -1}, "seed"),
                      ({"compile": {"optimizer": "lion"}}, "optimizer"),
                      ({"compile": {"learning_rate": 0}}, "learning rate"),
                      ({"compile": {"loss": "hinge"}}, "loss"), ({"compile": {"metrics": ["f1"]}}, "metrics"),
                      ({"compile": "adam"}, "compile")]:
        with pytest.raises(SettingsError, match=word):
            TrainSettings.from_dict({**good.to_dict(), **bad})


def test_loss_warnings_name_the_contradiction():
    graph = template("iris_mlp")  # ends in Dense(3, softmax)
    assert loss_warnings(graph, suggest_compile(graph, "classification", 3), "classification", 3) == []
    assert any("regression" in w for w in loss_warnings(graph, CompileSettings(), "regression", 0))
    assert any("crossentropy" in w for w in
               loss_warnings(graph, CompileSettings(loss="mse"), "classification", 3))
    assert any("untick from_logits" in w for w in
               loss_warnings(graph, CompileSettings(from_logits=True), "classification", 3))
    logits = graph.set_param("output", "activation", "linear")
    assert any("tick from_logits" in w for w in loss_warnings(logits, CompileSettings(), "classification", 3))
    assert any("binary_crossentropy is for 2 classes" in w for w in
               loss_warnings(graph, CompileSettings(loss="binary_crossentropy"), "classification", 3))


def test_a_model_ending_in_a_softmax_layer_is_not_told_from_logits():
    graph = chain("soft", [4], [("d", "Dense", {"units": 3}), ("sm", "Softmax", {})])
    assert suggest_compile(graph, "classification", 3).from_logits is False
    logits = chain("logits", [4], [("d", "Dense", {"units": 3})])
    assert suggest_compile(logits, "classification", 3).from_logits is True


def test_dropout_or_noise_after_the_output_layer_is_looked_through():
    for type_, params in [("Dropout", {"rate": 0.2}), ("GaussianNoise", {"stddev": 0.1})]:
        probs = chain("p", [4], [("d", "Dense", {"units": 3, "activation": "softmax"}), ("x", type_, params)])
        assert suggest_compile(probs, "classification", 3).from_logits is False
        assert loss_warnings(probs, suggest_compile(probs, "classification", 3), "classification", 3) == []
        logits = chain("l", [4], [("d", "Dense", {"units": 3}), ("x", type_, params), ("y", "Dropout", {"rate": 0.1})])
        assert suggest_compile(logits, "classification", 3).from_logits is True
        binary = chain("b", [4], [("d", "Dense", {"units": 1, "activation": "sigmoid"}), ("x", type_, params)])
        assert suggest_compile(binary, "classification", 2).loss == "binary_crossentropy"
        assert suggest_compile(binary, "classification", 2).from_logits is False


def test_a_project_name_with_spaces_or_unicode_trains():
    # TensorFlow takes the Keras model name as a root name scope in fit: 'my model' used to fail there.
    from builder.model.graph import keras_name

    for name in ["student 5 moons", "名字", "x<y>", "-lead", ".dot", "a/b".replace("/", " "), "ok_name"]:
        graph = template("iris_mlp").set_name(name)
        job = TrainingJob(graph, datasets.load("iris"), TrainSettings(epochs=1))
        job.start()
        assert job.wait(60)
        assert job.status == "finished", (name, job.message)
        assert job.model.name == keras_name(name)
        assert re.fullmatch(r"[A-Za-z0-9.][A-Za-z0-9_.\\/>-]*", job.model.name)
    assert keras_name("ok_name") == "ok_name" and keras_name("student 5 moons") == "student_5_moons"


def test_labels_that_do_not_fit_the_loss_get_the_reason_not_graph_execution_error():
    # A regression model trained with a classification loss: TensorFlow's op error names the bad label.
    graph = chain("reg", [10], [("d", "Dense", {"units": 8}), ("out", "Dense", {"units": 1})])
    ds = datasets.load("diabetes")
    ds.y_train = (ds.y_train * 0 + 259).astype("int64")
    job = TrainingJob(graph, ds, TrainSettings(epochs=1, compile=CompileSettings(loss="sparse_categorical_crossentropy",
                                                                                 from_logits=True, metrics=[])))
    job.start()
    assert job.wait(60)
    assert job.status == "failed"
    assert "Received a label value of 259" in job.message and "Graph execution error" not in job.message
    assert "use the suggested loss" in job.message and "\n" not in job.message


def test_the_default_job_cap_is_one_per_two_cores(monkeypatch):
    from builder.train.registry import JobRegistry, default_max_jobs

    for cores, jobs in [(1, 1), (2, 1), (3, 1), (4, 2), (16, 8), (None, 1)]:
        monkeypatch.setattr(os, "cpu_count", lambda cores=cores: cores)
        assert default_max_jobs() == jobs
        monkeypatch.delenv("LAYERCANVAS_MAX_JOBS", raising=False)
        assert JobRegistry().max_running == jobs
    monkeypatch.setenv("LAYERCANVAS_MAX_JOBS", "3")
    assert JobRegistry().max_running == 3


def test_a_run_whose_epochs_pass_between_two_samples_is_running(tmp_path, monkeypatch):
    """Tiny data: whole epochs end before the sampler looks; the first recorded epoch marks the run running."""
    import builder.train.job as job_module

    monkeypatch.setattr(job_module, "SAMPLE_EVERY_S", 30.0)  # the sampler never gets to look
    ds = data("iris")
    graph = template("iris_mlp")
    store = Store(tmp_path / "lc.db")
    job = TrainingJob(graph, ds, settings(graph, ds, epochs=3000, batch_size=64), store=store)
    job.start()
    deadline = time.time() + 120
    while len(store.get_run(job.id)["epochs"]) < 2 and time.time() < deadline:
        time.sleep(0.05)
    assert store.get_run(job.id)["status"] == "running" and job.status == "running"
    assert job.snapshot()["samples_per_s"] > 0  # counted at the epoch ends, with no sample taken
    job.stop()
    assert job.wait(60)
    assert store.get_run(job.id)["stats"]["samples_per_s"] > 0
    store.close()


def test_a_class_run_is_scored_by_the_server_on_the_class_test_split(tmp_path, monkeypatch):
    """The leaderboard's number: the trained model's accuracy on the class's own test split, computed when the run
    ends, with its parameters and MACs; a run outside a class gets none."""
    from builder import classes as cl

    monkeypatch.setenv("LAYERCANVAS_ARTIFACTS", str(tmp_path))
    teacher, student = "user:ada@school.org", "key:" + "s" * 22
    store = Store(tmp_path / "lc.db")
    c = cl.create_class(store, teacher, "Iris", data={"kind": "builtin", "name": "iris"})
    cl.hand_out(store, c.id, teacher, template("iris_mlp"))
    cl.join(store, c.token, student, "Alice")
    pid = store.list_projects(owner=student)[0]["id"]
    ds, graph = data("iris"), template("iris_mlp")
    job = TrainingJob(graph, ds, settings(graph, ds, epochs=20), store=store, project_id=pid, owner=student)
    job.start()
    assert job.wait(120) and job.status == "finished"
    x, y = ds.x_test, ds.y_test
    expected = float(np.mean(job.model.predict(x, verbose=0).argmax(axis=1) == y))
    (row,) = cl.leaderboard(store, c.id, teacher)
    assert row["name"] == "Alice" and row["run_id"] == job.id
    assert row["score"] == pytest.approx(expected) and row["params"] == 243 and row["macs"] > 0
    # Scored again without the run's own evaluation: the class's data is loaded and evaluated, the same score.
    from builder.train.classscore import score_class_run

    assert score_class_run(store, job.id, job.model, job._built, job.settings.compile) == pytest.approx(expected)
    # Not a class project: no score.
    store.save_project("own_project_1", graph, owner=student)
    other = TrainingJob(graph, ds, settings(graph, ds, epochs=1), store=store, project_id="own_project_1",
                        owner=student)
    other.start()
    assert other.wait(120)
    assert [r["run_id"] for r in cl.leaderboard(store, c.id, teacher)] == [job.id]


def test_a_run_in_a_class_made_from_the_teachers_file_is_scored_on_its_hidden_test_split(tmp_path, monkeypatch):
    """The students train on the training part only; the server scores on the test split they never get."""
    from builder import classes as cl
    from tests.test_classes import class_on_file

    monkeypatch.setenv("LAYERCANVAS_ARTIFACTS", str(tmp_path))
    teacher, student = "user:ada@school.org", "key:" + "s" * 22
    store = Store(tmp_path / "lc.db")
    c, pid, ds, _test, x_test, y_test = class_on_file(store, teacher, student)
    graph = template("iris_mlp")
    job = TrainingJob(graph, ds, settings(graph, ds, epochs=3), store=store, project_id=pid, owner=student)
    job.start()
    assert job.wait(120) and job.status == "finished"
    expected = float(np.mean(job.model.predict(x_test, verbose=0).argmax(axis=1) == y_test))
    (row,) = cl.leaderboard(store, c.id, teacher)
    assert row["score"] == pytest.approx(expected)
    assert float(np.concatenate([ds.x_train, ds.x_test]).max()) < 50.0  # the run never had a test sample
    store.close()
