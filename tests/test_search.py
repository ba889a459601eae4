"""The design-space search (builder/train/search.py) and the `tune` command: the space in the graph file, its checks, the
KerasTuner search with each trial a training run, and CONTRACT.md's output."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builder.cli.main import main
from builder.data import datasets
from builder.model import share, space
from builder.model.graph import Graph
from builder.model.validate import WARNING, check_structure
from builder.train import search
from builder.train.search import SearchError, SearchJob
from builder.train.settings import TrainSettings, settings_from_graph, suggest_compile

IRIS = {
    "format": "layercanvas-graph", "version": 1, "name": "iris_search",
    "nodes": [{"id": "x", "type": "Input", "params": {"shape": [4]}},
              {"id": "hidden", "type": "Dense", "params": {"units": 8, "activation": "relu"}},
              {"id": "drop", "type": "Dropout", "params": {"rate": 0.1}},
              {"id": "out", "type": "Dense", "params": {"units": 3, "activation": "softmax"}}],
    "edges": [{"source": "x", "target": "hidden"}, {"source": "hidden", "target": "drop"},
              {"source": "drop", "target": "out"}],
}
SPACE = {"hidden.units": {"values": [8, 16, 32, 64]}, "drop.rate": {"min": 0.0, "max": 0.5, "step": 0.1},
         "compile.learning_rate": {"min": 1e-3, "max": 3e-2, "sampling": "log"},
         "training.batch_size": {"values": [8, 16, 32]}}


def iris_graph(raw=None, **options) -> Graph:
    data = {**IRIS, "search": {"space": SPACE if raw is None else raw, **options}}
    return Graph.from_dict(data)


# -- the space ----------------------------------------------------------------------------------------------
def test_the_contracts_example_space_is_read_whole():
    spec, problems = space.read(iris_graph(tuner="random", max_trials=8, objective="val_accuracy"))
    assert problems == []
    assert [d.key for d in spec.dims] == list(SPACE)
    units, rate, lr, _batch = spec.dims
    assert units.values == (8, 16, 32, 64) and units.whole
    assert (rate.min, rate.max, rate.step, rate.sampling) == (0.0, 0.5, 0.1, "linear") and not rate.whole
    assert lr.sampling == "log" and lr.step is None and lr.grid() is None
    assert rate.grid() == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
    assert spec.combinations() is None  # the learning rate is continuous
    assert (spec.tuner, spec.max_trials, spec.objective) == ("random", 8, "val_accuracy")
    assert units.describe() == "8, 16, 32 or 64" and lr.describe() == "0.001 to 0.03, log scale"


@pytest.mark.parametrize("key, raw, fragment", [
    ("hidden.units", {"values": []}, "at least two values"),
    ("hidden.units", {"values": [8]}, "at least two values"),
    ("hidden.units", {"values": [8, 8]}, "lists 8 twice"),
    ("hidden.units", {"values": [8, 0]}, "value 0: expected a whole number >= 1"),
    ("hidden.units", {"min": 64, "max": 8}, "min 64 is above max 8"),
    ("hidden.units", {"min": 8, "max": 8}, "that is one value"),
    ("hidden.units", {"min": 8, "max": 64, "step": 0}, "step must be a number above 0"),
    ("hidden.units", {"min": 8, "max": 64, "step": -8}, "step must be a number above 0"),
    ("hidden.units", {"min": 8, "max": 64, "step": 100}, "leaves only the value 8"),
    ("hidden.units", {"min": 8, "max": 64, "step": 2.5}, "whole number"),
    ("hidden.units", {"min": 8}, "needs both min and max"),
    ("hidden.units", {"min": 8, "max": 64, "sampling": "cubic"}, "linear or log"),
    ("hidden.units", {"min": 8, "max": 64, "step": 1, "sampling": "log"}, "factor and must be above 1"),
    ("hidden.units", {"values": [8, 16], "min": 1}, "not both"),
    ("hidden.units", {"vals": [8, 16]}, "has no field 'vals'"),
    ("hidden.units", [8, 16], "expected"),
    ("drop.rate", {"min": 0.0, "max": 1.5}, "max:"),
    ("drop.rate", {"min": 0.0, "max": 0.5, "sampling": "log"}, "min above 0"),
    ("hidden.activation", {"min": 1, "max": 2}, "list the values to try instead"),
    ("hidden.activation", {"values": ["relu", "nope"]}, "value nope: expected one of"),
])
def test_a_contradictory_or_empty_space_is_refused_at_its_node(key, raw, fragment):
    graph = Graph.from_dict(IRIS)
    with pytest.raises(SearchError, match=fragment.replace("(", r"\(")):
        space.set_dim(graph, key, raw)
    # The same space in a file: a warning pinned to the node (the model still builds), and `tune` refuses it.
    bad = graph.set_extra("search", {"space": {key: raw}})
    issues = [i for i in check_structure(bad) if i.code == "search"]
    assert [(i.node_id, i.severity) for i in issues] == [(key.split(".")[0], WARNING)]
    assert fragment.split(":")[0] in issues[0].message
    with pytest.raises(SearchError, match=key.split(".")[0]):
        SearchJob(bad, datasets.load("iris"), TrainSettings())


@pytest.mark.parametrize("key, fragment", [
    ("nothere.units", "which is not a node"), ("hidden.nope", "has no parameter 'nope'"),
    ("compile.momentum", "cannot be searched in compile"), ("training.shuffle", "cannot be searched in training"),
    ("units", "is not a search key"),
])
def test_keys_must_name_something_searchable(key, fragment):
    with pytest.raises(SearchError, match=fragment):
        space.set_dim(Graph.from_dict(IRIS), key, {"values": [1, 2]})


def test_settings_keys_are_checked_too():
    graph = Graph.from_dict(IRIS)
    with pytest.raises(SearchError, match="learning rate: search min: expected a number above 0"):
        space.set_dim(graph, "compile.learning_rate", {"min": 0, "max": 0.1})
    with pytest.raises(SearchError, match="expected one of adam"):
        space.set_dim(graph, "compile.optimizer", {"values": ["adam", "lbfgs"]})
    ok = space.set_dim(graph, "compile.optimizer", {"values": ["adam", "sgd"]})
    assert space.read(ok)[0].dims[0].values == ("adam", "sgd")


def test_search_options_are_checked():
    graph = Graph.from_dict(IRIS)
    for options, fragment in [({"tuner": "grid"}, "tuner must be one of"), ({"max_trials": 0}, "max_trials"),
                              ({"max_minutes": -1}, "max_minutes"), ({"objective": ""}, "objective")]:
        with pytest.raises(SearchError, match=fragment):
            space.set_options(graph, **options)
    g = space.set_options(graph, tuner="hyperband", max_trials=4, max_minutes=2.5)
    spec = space.read(g)[0]
    assert (spec.tuner, spec.max_trials, spec.max_minutes) == ("hyperband", 4, 2.5)


def test_marking_and_unmarking_a_param_keeps_the_model_untouched():
    graph = Graph.from_dict(IRIS)
    marked = space.set_dim(graph, "hidden.units", {"values": [4, 8]})
    assert marked.node("hidden").params == graph.node("hidden").params  # the current value stays
    assert space.searched(marked) == {"hidden": {"units": "4 or 8"}}
    unmarked = space.set_dim(marked, "hidden.units", None)
    assert "search" not in unmarked.extra and space.searched(unmarked) == {}


def test_renaming_or_deleting_a_node_follows_in_the_space():
    graph = iris_graph()
    renamed = graph.rename("hidden", "wide")
    assert set(renamed.extra["search"]["space"]) == {"wide.units", "drop.rate", "compile.learning_rate",
                                                     "training.batch_size"}
    assert space.read(renamed)[1] == []
    dropped = graph.remove_node("drop", bridge=True)
    assert "drop.rate" not in dropped.extra["search"]["space"] and space.read(dropped)[1] == []
    assert "search" not in Graph.from_dict(IRIS).rename("hidden", "h").extra


def test_a_wrapped_layers_param_can_be_searched():
    graph = Graph.from_dict({
        "format": "layercanvas-graph", "version": 1,
        "nodes": [{"id": "seq", "type": "Input", "params": {"shape": [5, 3]}},
                  {"id": "bi", "type": "Bidirectional", "params": {"layer": {"type": "LSTM", "params": {"units": 4}}}},
                  {"id": "out", "type": "Dense", "params": {"units": 1}}],
        "edges": [{"source": "seq", "target": "bi"}, {"source": "bi", "target": "out"}]})
    g = space.set_dim(graph, "bi.layer.units", {"values": [2, 8]})
    assert space.apply_values(g, {"bi.layer.units": 8}).node("bi").params["layer"]["params"]["units"] == 8


def test_apply_values_sets_params_compile_and_training():
    graph = iris_graph()
    values = {"hidden.units": 32, "drop.rate": 0.3, "compile.learning_rate": 0.005, "training.batch_size": 16}
    out = space.apply_values(graph, values)
    assert out.node("hidden").params["units"] == 32 and out.node("drop").params["rate"] == 0.3
    assert out.extra["compile"]["learning_rate"] == 0.005 and out.extra["training"]["batch_size"] == 16
    assert out.extra["search"] == graph.extra["search"]  # the space is kept for the next search
    ds = datasets.load("iris")
    settings = settings_from_graph(out, ds)
    assert (settings.compile.learning_rate, settings.batch_size) == (0.005, 16)
    base = TrainSettings()
    trial = search.trial_settings(base, values)
    assert (trial.compile.learning_rate, trial.batch_size) == (0.005, 16)
    assert (base.compile.learning_rate, base.batch_size) == (0.001, 32)  # unchanged


# -- round trips -------------------------------------------------------------------------------------------
def _spaces():
    ints = st.lists(st.integers(1, 512), min_size=2, max_size=5, unique=True).map(lambda v: {"values": v})
    int_range = st.tuples(st.integers(1, 100), st.integers(1, 100), st.integers(1, 10)).filter(
        lambda t: t[0] + t[2] <= t[1]).map(lambda t: {"min": t[0], "max": t[1], "step": t[2]})
    rates = st.tuples(st.floats(0.0, 0.4), st.floats(0.05, 0.5)).filter(lambda t: t[0] + 0.01 < t[1]).map(
        lambda t: {"min": round(t[0], 3), "max": round(t[1], 3)})
    lr = st.tuples(st.floats(1e-5, 1e-3), st.floats(2e-3, 0.5)).map(
        lambda t: {"min": t[0], "max": t[1], "sampling": "log"})
    return st.fixed_dictionaries({"hidden.units": st.one_of(ints, int_range),
                                  "drop.rate": rates.filter(lambda d: d["min"] < d["max"]),
                                  "compile.learning_rate": lr})


@settings(max_examples=40, deadline=None)
@given(raw=_spaces(), tuner=st.sampled_from(list(space.TUNERS)), trials=st.integers(1, 50))
def test_the_space_round_trips_through_the_graph_file_and_share_links(raw, tuner, trials):
    graph = iris_graph(raw, tuner=tuner, max_trials=trials)
    spec = space.read(graph)[0]
    assert space.read(graph)[1] == [] and len(spec.dims) == 3
    for again in (Graph.loads(graph.dumps()), share.decode(share.encode(graph))):
        assert again.extra["search"] == graph.extra["search"]
        assert space.read(again)[0] == spec


@settings(max_examples=40, deadline=None)
@given(raw=_spaces(), seed=st.integers(0, 1000))
def test_kerastuner_values_stay_inside_the_space(raw, seed):
    import keras_tuner as kt

    spec = space.read(iris_graph(raw))[0]
    hp = kt.HyperParameters()
    search.declare(hp, spec)
    for d in spec.dims:  # random values the way the oracle draws them
        hp.values[d.key] = hp._hps[d.key][0].random_sample(seed)
    values = search.values_of(hp.values, spec)
    assert set(values) == {d.key for d in spec.dims}
    for d in spec.dims:
        v = values[d.key]
        if d.values is not None:
            assert v in d.values
        else:
            assert d.min - 1e-9 <= v <= d.max + 1e-9
            if d.whole:
                assert isinstance(v, int) and (d.step is None or (v - d.min) % d.step == 0)
    # ... and each one is a valid value for its node.
    space.apply_values(iris_graph(raw), {k: v for k, v in values.items() if not k.startswith("compile.")})


@settings(max_examples=60, deadline=None)
@given(points=st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=1, max_size=12),
       higher=st.booleans())
def test_the_pareto_front_is_exactly_the_undominated_points(points, higher):
    front = search.pareto(points, higher_is_better=higher)
    better = (lambda a, b: a > b) if higher else (lambda a, b: a < b)
    for (c, s), on in zip(points, front, strict=True):
        dominated = any((c2 <= c and (s2 == s or better(s2, s))) and (c2 < c or better(s2, s)) for c2, s2 in points)
        assert on is not dominated
    assert any(front)  # a non-empty set always has a front


# -- the search --------------------------------------------------------------------------------------------
def _settings(graph, ds, **kw):
    return TrainSettings(compile=suggest_compile(graph, ds.task, ds.classes), **kw)


def test_a_search_on_iris_finds_a_good_model_within_8_trials(tmp_path):
    from builder.store import Store

    ds = datasets.load("iris")
    graph = iris_graph()
    store = Store(str(tmp_path / "runs.db"))
    project = "project-1"
    store.save_project(project, graph)
    start = time.time()
    job = SearchJob(graph, ds, _settings(graph, ds, epochs=40, batch_size=16), store=store, project_id=project,
                    artifact_dir=str(tmp_path), max_trials=8)
    job.start()
    assert job.wait(300)
    seconds = time.time() - start
    assert job.status == "finished", job.message
    assert seconds < 120, f"8 trials took {seconds:.0f} s"
    assert len(job.trials) == 8 and all(t.status == "ok" for t in job.trials)
    best = job.best()
    assert best.score == max(t.score for t in job.trials)
    assert best.test["accuracy"] >= 0.9 - 1e-6, best.to_dict()  # 27 of 30 test flowers at least
    # Every trial is a run in the store, tagged with the search, with its epochs, metrics and model.
    runs = {r["id"]: r for r in store.list_runs(project)}
    for trial in job.trials:
        run = runs[trial.run_id]
        assert run["status"] == "finished" and run["settings"]["search"]["id"] == job.id
        assert run["settings"]["search"]["trial"] == trial.number
        assert run["settings"]["search"]["values"] == trial.to_dict()["values"]
        assert run["final_metrics"]["accuracy"] == pytest.approx(trial.test["accuracy"])
        assert (tmp_path / f"{trial.run_id}.keras").exists()
    # The values a trial ran with are the ones recorded for it.
    for trial in job.trials:
        assert trial.total_params == 4 * trial.values["hidden.units"] + trial.values["hidden.units"] \
            + trial.values["hidden.units"] * 3 + 3
    # The best graph carries the best values; the contract's JSON.
    out = job.best_graph()
    assert out.node("hidden").params["units"] == best.values["hidden.units"]
    result = job.result()
    assert result["objective"] == "val_accuracy" and result["best"]["score"] == best.score
    assert [set(t) >= {"values", "score", "status", "total_params"} for t in result["trials"]] == [True] * 8


def test_a_trial_whose_values_make_an_invalid_model_fails_and_the_search_goes_on():
    ds = datasets.load("digits")
    graph = Graph.from_dict({
        "format": "layercanvas-graph", "version": 1, "name": "digits_search",
        "nodes": [{"id": "img", "type": "Input", "params": {"shape": [8, 8, 1]}},
                  {"id": "conv", "type": "Conv2D", "params": {"filters": 4, "kernel_size": [3, 3], "activation": "relu"}},
                  {"id": "flat", "type": "Flatten", "params": {}},
                  {"id": "out", "type": "Dense", "params": {"units": 10, "activation": "softmax"}}],
        "edges": [{"source": "img", "target": "conv"}, {"source": "conv", "target": "flat"},
                  {"source": "flat", "target": "out"}],
        "search": {"space": {"conv.kernel_size": {"values": [[3, 3], [9, 9]]},
                             "conv.filters": {"values": [2, 4, 6]}}}})
    job = SearchJob(graph, ds, _settings(graph, ds, epochs=1), max_trials=6)
    job.start()
    assert job.wait(300) and job.status == "finished", job.message
    failed = [t for t in job.trials if t.status == "failed"]
    ok = [t for t in job.trials if t.status == "ok"]
    assert failed and ok, [t.to_dict() for t in job.trials]
    assert all(t.values["conv.kernel_size"] == (9, 9) for t in failed)
    assert all("conv" in t.reason and "larger than the input" in t.reason for t in failed)
    assert all(t.values["conv.kernel_size"] == (3, 3) for t in ok)
    assert job.result()["trials"][job.trials.index(failed[0])]["status"] == "failed"


def test_stop_keeps_every_finished_trial():
    ds = datasets.load("iris")
    graph = iris_graph({"hidden.units": {"values": [4, 8, 16, 32]}})
    job = SearchJob(graph, ds, _settings(graph, ds, epochs=400, batch_size=8), max_trials=8)
    job.start()
    deadline = time.time() + 120
    while time.time() < deadline and not (len(job.trials) >= 2 and job.trials[0].status == "ok"):
        time.sleep(0.05)
    assert job.trials[0].status == "ok"
    job.stop()
    assert job.wait(60)
    assert job.status == "stopped" and "finished ones are kept" in job.message
    assert len(job.trials) < 8
    assert job.trials[0].status == "ok" and job.trials[0].epochs == 400
    assert job.trials[-1].status in ("stopped", "failed") and job.trials[-1].epochs < 400
    assert job.best() is job.trials[0] or job.best().status == "ok"


def test_the_time_budget_ends_the_search():
    ds = datasets.load("iris")
    graph = iris_graph({"hidden.units": {"values": [4, 8, 16, 32]}}, max_minutes=0.05)  # 3 seconds
    job = SearchJob(graph, ds, _settings(graph, ds, epochs=2000, batch_size=8), max_trials=8)
    start = time.time()
    job.start()
    assert job.wait(120)
    assert time.time() - start < 30
    assert job.budget_hit and len(job.trials) == 1 and job.trials[0].epochs < 2000


def test_hyperband_continues_the_weights_of_earlier_rounds():
    ds = datasets.load("iris")
    graph = iris_graph({"hidden.units": {"values": [4, 8, 16]},
                        "compile.learning_rate": {"min": 1e-3, "max": 3e-2, "sampling": "log"}}, tuner="hyperband")
    job = SearchJob(graph, ds, _settings(graph, ds, epochs=9, batch_size=16), max_trials=12)
    job.start()
    assert job.wait(300) and job.status == "finished", job.message
    continued = [t for t in job.trials if t.continues]
    assert continued, [t.to_dict() for t in job.trials]
    for t in continued:
        earlier = job.trials[t.continues - 1]
        assert earlier.values == t.values and earlier.number < t.number


def test_nothing_to_search_is_a_message():
    with pytest.raises(SearchError, match="nothing is marked for search"):
        SearchJob(Graph.from_dict(IRIS), datasets.load("iris"), TrainSettings())


# -- the command line --------------------------------------------------------------------------------------
@pytest.fixture
def search_file(tmp_path):
    path = tmp_path / "search.json"
    graph = iris_graph({"hidden.units": {"values": [8, 32]}, "compile.learning_rate": {"values": [0.003, 0.01]}},
                       max_trials=3)
    path.write_text(graph.set_extra("training", {"epochs": 20, "batch_size": 16}).dumps())
    return path


def test_tune_json_follows_the_contract_and_writes_the_best_graph(search_file, tmp_path, capsys):
    out = tmp_path / "best.json"
    assert main(["tune", str(search_file), "--dataset", "iris", "--json", "-o", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    result = json.loads(lines[-1])
    assert set(result) >= {"objective", "best", "trials"} and result["objective"] == "val_accuracy"
    assert len(result["trials"]) == 3
    for t in result["trials"]:
        assert set(t) >= {"values", "score", "status", "total_params"} and t["status"] in ("ok", "failed")
        assert set(t["values"]) == {"hidden.units", "compile.learning_rate"}
    ok = [t for t in result["trials"] if t["status"] == "ok"]
    assert result["best"]["score"] == max(t["score"] for t in ok)
    best = Graph.load(str(out))
    assert best.node("hidden").params["units"] == result["best"]["values"]["hidden.units"]
    assert best.extra["compile"]["learning_rate"] == result["best"]["values"]["compile.learning_rate"]
    assert best.extra["training"] == {"epochs": 20, "batch_size": 16}


def test_tune_prints_one_line_per_trial(search_file, capsys):
    assert main(["tune", str(search_file), "--dataset", "iris", "--max-trials", "2", "--epochs", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    trial_lines = [ln for ln in lines if ln.startswith("trial ")]
    assert [ln.split(":")[0] for ln in trial_lines] == ["trial 1/2", "trial 2/2"]
    assert all("hidden.units=" in ln and "-> val_accuracy " in ln and "params)" in ln for ln in trial_lines)
    assert lines[-1].startswith("best: trial ")


@pytest.mark.parametrize("raw, code, fragment", [
    (None, 1, "has no search space"),
    ({"hidden.units": {"min": 64, "max": 8}}, 1, "error: hidden: "),
])
def test_tune_refuses_bad_spaces(tmp_path, capsys, raw, code, fragment):
    path = tmp_path / "g.json"
    graph = Graph.from_dict(IRIS) if raw is None else iris_graph(raw)
    path.write_text(graph.dumps())
    assert main(["tune", str(path), "--dataset", "iris"]) == code
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err


def test_tune_usage_and_dataset_errors(search_file, capsys):
    assert main(["tune", str(search_file), "--dataset", "nosuchdata"]) == 1
    assert "error: dataset:" in capsys.readouterr().err
    assert main(["tune", str(search_file), "--dataset", "iris", "--max-trials", "0"]) == 1
    assert "--max-trials must be 1 or more" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["tune", str(search_file), "--dataset", "iris", "--tuner", "grid"])
    assert e.value.code == 2


def test_float_steps_give_the_values_a_person_would_write():
    spec = space.read(iris_graph({"drop.rate": {"min": 0.0, "max": 0.5, "step": 0.1}}))[0]
    values = search.values_of({"drop.rate": 0.30000000000000004}, spec)
    assert repr(values["drop.rate"]) == "0.3"
