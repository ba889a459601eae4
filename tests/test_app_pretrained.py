"""AppTest: the Pretrained page makes a project from a keras.applications network."""

import urllib.error

import pytest

from builder.files.pretrained import APPLICATIONS, BASE_GROUP
from builder.kerasenv import load_keras
from components import state
from components.data_panel import DATASET
from components.pretrained_panel import table_rows
from components.training_panel import WEIGHTS
from tests.test_app_build import messages, run_app


@pytest.fixture(autouse=True, scope="module")
def keras_loaded():
    load_keras()


def ok(at):
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_table_lists_every_network_by_family():
    rows = table_rows()
    assert [r["network"] for r in rows] == sorted(APPLICATIONS, key=lambda n: [r["network"] for r in rows].index(n))
    assert len(rows) == len(APPLICATIONS) == 40
    families = [r["family"] for r in rows]
    assert families == sorted(families, key=families.index)  # each family's rows together
    mobilenet = next(r for r in rows if r["network"] == "MobileNetV2")
    assert mobilenet["ImageNet top-1"] == "71.3%" and mobilenet["parameters"] == "3.5M"


def test_digits_into_mobilenet_v2_with_random_weights(monkeypatch):
    from keras.src.utils import file_utils

    def offline(url, target, *args):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(file_utils, "urlretrieve", offline)
    at = ok(run_app())
    before = at.session_state[state.PROJECT]
    ok(at.switch_page("pages/pretrained.py").run())
    assert at.selectbox(key="pt_app").value == "MobileNetV2"
    at.selectbox(key="pt_data").set_value("digits")
    ok(at.run())
    assert any("8×8; MobileNetV2 needs at least 32×32" in m for m in messages(at.warning))
    create = at.button(key="pt_create")
    assert create.disabled  # the resize is offered, not done behind the user's back
    at.checkbox(key="pt_resize").check()
    ok(at.run())
    assert not at.button(key="pt_create").disabled
    at.button(key="pt_create").click()  # ImageNet (the default): offline here
    ok(at.run())
    errors = messages(at.error)
    assert any("could not be downloaded" in m and "Choose random weights, or upload the weights file" in m
               for m in errors), errors
    assert any("storage.googleapis.com" in c.value for c in at.code)
    assert at.session_state[state.PROJECT] == before  # nothing made
    at.radio(key="pt_weights").set_value("random")
    ok(at.run())
    at.button(key="pt_create").click()
    ok(at.run())
    assert at.session_state[state.PROJECT] != before
    graph = at.session_state[state.GRAPH]
    (group,) = graph.groups
    assert group.id == BASE_GROUP and group.collapsed
    assert all(not graph.node(n).trainable for n in group.nodes)
    assert graph.node(graph.output_ids()[0]).params == {"units": 10, "activation": "softmax"}
    assert graph.extra["training"]["dataset"] == "digits"
    assert at.session_state[DATASET][1].name == "digits"
    assert state.get_store().project_data(at.session_state[state.PROJECT]) == {"kind": "builtin", "name": "digits"}
    weights = at.session_state[WEIGHTS]
    assert set(weights) <= set(group.nodes) and len(weights) == 104
    info = state.get_store().project_info(at.session_state[state.PROJECT])
    assert info["weights_file"] and info["weights_file"].endswith(".keras")
    assert any("New project from MobileNetV2" in m for m in messages(at.toast))
