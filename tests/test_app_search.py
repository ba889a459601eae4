"""AppTest: marking parameters for search in the inspector, and a search from the Train page (start, table, chart,
apply with undo, the trials on the Runs page)."""

import pytest

from builder.kerasenv import load_keras
from builder.model import space
from components import state
from components.search_panel import SEARCH, parse_values
from components.training_panel import registry
from tests.test_app_build import messages, plain, press, run_app, set_graph


@pytest.fixture(autouse=True, scope="module")
def keras_loaded():
    load_keras()  # as a running server has it after its first page: the Build page then draws everything


def select(at, node_id):
    """Selects a layer and opens its inspector's search box (made only while open)."""
    at.session_state[state.SELECTED] = node_id
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not [t for t in at.text_input if t.label == "Values to try"]  # closed: not made
    at.session_state[f"search_open:{node_id}"] = True
    at.run()


def submit(at, label="Search it"):
    button = next(b for b in at.button if b.label == label)
    button.click().run()
    assert not at.exception, [e.value for e in at.exception]


def test_parse_values():
    assert parse_values("8, 16, 32") == [8, 16, 32]
    assert parse_values("[3, 3], [5, 5]") == [[3, 3], [5, 5]]
    assert parse_values("relu, tanh") == ["relu", "tanh"]
    assert parse_values("0.1,0.2") == [0.1, 0.2]
    assert parse_values("  ") == []


def test_the_inspector_marks_a_param_for_search_and_refuses_a_bad_space():
    at = run_app()
    select(at, "dense")
    before = at.session_state[state.GRAPH]
    at.text_input(key="search_values:dense:units").input("8")  # a form: its values go with the submit
    submit(at)
    assert any("needs at least two values to choose from, got [8]" in m for m in messages(at.error)), \
        messages(at.error)
    assert at.session_state[state.GRAPH] == before  # nothing kept
    at.text_input(key="search_values:dense:units").input("8, 16, 32")
    submit(at)
    graph = at.session_state[state.GRAPH]
    assert graph.extra["search"]["space"] == {"dense.units": {"values": [8, 16, 32]}}
    assert graph.node("dense").params == before.node("dense").params  # the value in use is unchanged
    assert any("Searched: 8, 16 or 32" in c.value for c in at.caption)
    # A range on another param, then unmark the first one.
    at.selectbox(key="search_param:dense").set_value("units").run()
    at.segmented_control(key="search_mode:dense:units").set_value("range").run()
    at.number_input(key="search_min:dense:units").set_value(64)
    at.number_input(key="search_max:dense:units").set_value(8)
    submit(at)
    assert any("min 64 is above max 8" in m for m in messages(at.error))
    assert at.session_state[state.GRAPH].extra["search"]["space"]["dense.units"] == {"values": [8, 16, 32]}
    at.button(key="unsearch:dense:units").click().run()
    assert "search" not in at.session_state[state.GRAPH].extra


def test_a_search_from_the_train_page_applies_the_chosen_trial_with_undo():
    at = run_app()
    graph = space.set_dim(at.session_state[state.GRAPH], "dense.units", {"values": [4, 32]})
    set_graph(at, graph)
    at.switch_page("pages/train.py").run()
    assert not at.exception, [e.value for e in at.exception]
    at.segmented_control(key="train_mode").set_value("search").run()
    assert any("**dense.units**: 4 or 32" in plain(m.value) for m in at.markdown)
    assert at.session_state[state.GRAPH].extra["search"] == graph.extra["search"]  # looking writes nothing
    assert at.selectbox(key="search_objective").value == "val_accuracy"
    at.number_input(key="train_epochs").set_value(30).run()
    at.number_input(key="train_batch").set_value(16).run()
    at.number_input(key="search_trials").set_value(2).run()
    assert at.session_state[state.GRAPH].extra["search"]["max_trials"] == 2
    at.toggle(key="search_on:compile.learning_rate").set_value(True).run()
    assert "compile.learning_rate" in at.session_state[state.GRAPH].extra["search"]["space"]
    at.button(key="search_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    job = registry().get(at.session_state[SEARCH])
    assert job is not None and at.query_params["search"] == job.id
    assert job.objective == "val_accuracy" == at.session_state[state.GRAPH].extra["search"]["objective"]
    assert job.wait(300) and job.status == "finished", job.message
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value
    assert list(table["trial"]) == [1, 2] and set(table["status"]) == {"ok"}
    assert {"dense.units", "compile.learning_rate", "val_accuracy", "params", "MACs"} <= set(table.columns)
    assert at.get("plotly_chart"), "no chart"
    # Apply the trial that is not the current value, then undo.
    other = next(t for t in job.trials if t.values["dense.units"] != 16)
    at.selectbox(key="search_apply_pick").set_value(other.number).run()
    at.button(key="search_apply").click().run()
    assert not at.exception, [e.value for e in at.exception]
    graph = at.session_state[state.GRAPH]
    assert graph.node("dense").params["units"] == other.values["dense.units"]
    assert graph.extra["compile"]["learning_rate"] == other.values["compile.learning_rate"]
    assert at.session_state["train_lr"] == other.values["compile.learning_rate"]
    assert at.query_params["run"] == other.run_id  # its weights are the next run's starting point
    at.switch_page("pages/build.py").run()
    press(at, "undo")
    assert at.session_state[state.GRAPH].node("dense").params["units"] == 16
    # Every trial is a run.
    at.switch_page("pages/runs.py").run()
    assert not at.exception, [e.value for e in at.exception]
    runs = at.dataframe[0].value
    trials = sorted(v for v in runs["search"] if v)
    assert trials == sorted(f"trial {t.number}: dense.units={t.values['dense.units']}, compile.learning_rate="
                            f"{t.values['compile.learning_rate']:.4g}" for t in job.trials)
