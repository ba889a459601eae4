"""AppTest: the app starts, shows the summary of a template, and follows edits."""

from streamlit.testing.v1 import AppTest

from builder.templates import template
from components import state


def run_app() -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_app_shows_summary_of_the_default_template():
    at = run_app()
    assert at.title[0].value == "iris_mlp"
    assert metric(at, "Total params") == f"{4 * 16 + 16 + 16 * 8 + 8 + 8 * 3 + 3:,}"
    assert metric(at, "Non-trainable") == "0"
    names = list(at.dataframe[0].value["name"])
    assert names == ["input", "dense", "dense_1", "output"]


def test_new_from_template_and_an_edit_change_the_totals():
    at = run_app()
    at.sidebar.selectbox(key="template_choice").set_value("cifar_cnn")
    at.sidebar.button[0].click().run()
    assert metric(at, "Total params") == "122,570"
    at.session_state[state.GRAPH] = template("cifar_cnn").set_param("dense", "units", 32)
    at.run()
    assert metric(at, "Total params") == f"{122570 - 65600 - 650 + 1024 * 32 + 32 + 32 * 10 + 10:,}"
    at.session_state[state.GRAPH] = template("cifar_cnn").set_trainable("conv2d", False)
    at.run()
    assert metric(at, "Non-trainable") == "896"


def test_errors_are_shown_pinned_to_their_node():
    at = run_app()
    g = template("mlp").remove_node("dense_1")
    at.session_state[state.GRAPH] = g
    at.run()
    assert not at.exception
    assert any("output" in e.value and "has no input" in e.value for e in at.error)
