"""AppTest: "Apply to the model" on the Data page changes the graph as its message says, one undoable step each."""

from streamlit.testing.v1 import AppTest

from builder.kerasenv import load_keras
from builder.model.templates import template
from components import state
from components.data_panel import DATASET
from tests.test_app_build import press, widget

INPUT_FIX = "compat_fix:input_shape:input"
CLASSES_FIX = "compat_fix:classes:output"


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(elements) -> list[str]:
    return [e.value.replace("\\", "") for e in elements]


def model(graph) -> dict:
    """The graph without its layout (the Build page lays out a graph that has none, as no undo step)."""
    return {k: v for k, v in graph.to_dict().items() if k != "layout"}


def fix_keys(at: AppTest) -> list[str]:
    return [b.key for b in at.button if b.key and b.key.startswith("compat_fix:")]


def test_apply_to_the_model_fixes_the_input_and_the_output_and_undo_reverts_each():
    at = AppTest.from_file("../app.py", default_timeout=120)
    ok(at.run())
    ok(at.switch_page("pages/data.py").run())
    ok(widget(at.selectbox, "data_builtin").set_value("digits_flat").run())  # 64 features, 10 classes
    assert at.session_state[DATASET][1].name == "digits_flat"
    original = template("iris_mlp")  # Input (4,), ... Dense(3, softmax) 'output'
    at.session_state[state.GRAPH] = original
    at.session_state[state.UNDO], at.session_state[state.REDO] = [], []
    ok(at.run())
    errors = texts(at.error)
    assert any("Input 'input' expects (4,) but the data has (64,): set its shape to [64]." in e for e in errors), errors
    assert any("ends in Dense(3, softmax) ('output') but the data has 10 classes: use Dense(10, softmax)." in e
               for e in errors), errors
    assert fix_keys(at) == [INPUT_FIX, CLASSES_FIX]
    assert {b.label for b in at.button if b.key in (INPUT_FIX, CLASSES_FIX)} == {"Apply to the model"}

    ok(at.button(key=INPUT_FIX).click().run())
    graph = at.session_state[state.GRAPH]
    assert graph.node("input").params["shape"] == [64]
    assert graph.node("output").params == original.node("output").params  # only what the message said
    assert not any("expects (4,)" in e for e in texts(at.error))
    assert fix_keys(at) == [CLASSES_FIX]
    assert any("Changed Input 'input': shape [4] → [64]" in s for s in texts(at.toast)), texts(at.toast)
    assert at.session_state[state.UNDO][-1].to_dict() == original.to_dict()

    ok(at.button(key=CLASSES_FIX).click().run())
    graph = at.session_state[state.GRAPH]
    assert graph.node("output").params["units"] == 10 and graph.node("output").params["activation"] == "softmax"
    assert graph.node("input").params["shape"] == [64]
    assert not at.error and fix_keys(at) == []
    assert any("The model fits this data" in s for s in texts(at.success))
    assert any("Changed Dense 'output': units 3 → 10" in s for s in texts(at.toast))
    assert len(at.session_state[state.UNDO]) == 2  # one step per click

    # The Build page's Undo reverts one click at a time. (Its toolbar waits for TensorFlow, which the app loads in
    # the background: have it loaded.)
    load_keras()
    ok(at.switch_page("pages/build.py").run())
    press(at, "undo")
    ok(at)
    back = at.session_state[state.GRAPH]
    assert back.node("output").params["units"] == 3 and back.node("input").params["shape"] == [64]
    press(at, "undo")
    ok(at)
    assert model(at.session_state[state.GRAPH]) == model(original)
    ok(at.switch_page("pages/data.py").run())
    assert fix_keys(at) == [INPUT_FIX, CLASSES_FIX]  # the issues are back with the old graph
