"""AppTest: the Train page when training goes to a Ray cluster that cannot be used: it says why in one line naming
LAYERCANVAS_RAY and refuses Start; the rest of the app works."""

import os
import signal

import pytest

from builder.train import remote
from components import state, training_panel
from tests.test_app_build import fresh_browser, messages, run_app


@pytest.fixture
def ray_setting(monkeypatch):
    def use(value: str) -> None:
        monkeypatch.setenv("LAYERCANVAS_RAY", value)

    yield use
    monkeypatch.undo()
    proc = training_panel._dispatchers().pop("proc", None)
    if proc is not None and proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


def start_button(at):
    return next(b for b in at.button if b.key == "train_start")


def test_a_malformed_ray_setting_refuses_start_with_one_line(ray_setting):
    ray_setting("not an address")
    at = run_app(browser=fresh_browser())
    at.switch_page("pages/train.py").run()
    assert not at.exception, [e.value for e in at.exception]
    errors = messages(at.error)
    assert any(m.startswith("Training is unavailable: LAYERCANVAS_RAY='not an address' is not a Ray address")
               for m in errors), errors
    assert start_button(at).disabled
    at.switch_page("pages/build.py").run()  # the rest of the app works
    assert not at.exception and at.session_state[state.GRAPH] is not None


def test_a_cluster_that_does_not_answer_refuses_start_and_says_where(ray_setting):
    ray_setting("127.0.0.1:9")
    at = run_app(browser=fresh_browser())
    store = state._open_store()[0]
    store.set_service(remote.SERVICE, {"ok": False, "address": "127.0.0.1:9", "error": "nothing answers"})
    at.switch_page("pages/train.py").run()
    assert not at.exception, [e.value for e in at.exception]
    errors = messages(at.error)
    assert any(m.replace("&#58;", ":").startswith("Training is unavailable: the Ray cluster at 127.0.0.1:9 does not "
                                                  "answer (LAYERCANVAS_RAY)") for m in errors), errors
    assert start_button(at).disabled
    dispatcher = training_panel._dispatchers()["proc"]
    assert dispatcher.poll() is None  # the server's dispatcher, trying again
    dispatcher.kill()  # (so that it does not report again while the cluster "answers" below)
    dispatcher.wait()
    store.set_service(remote.SERVICE, {"ok": True, "address": "127.0.0.1:9", "cpus": 2.0})
    at.run()
    assert not any("does not answer" in m for m in messages(at.error))
    assert not start_button(at).disabled
