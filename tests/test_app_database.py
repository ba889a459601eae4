"""AppTest: the app on PostgreSQL, and what a person sees when the project database stops answering (a server
restarting, a network cut) and comes back: the edit stays in the session, marked "not saved yet", and is saved once
the database answers; nothing is lost and no traceback reaches the page."""

import pytest

from builder.store import Store
from components import state
from tests.test_app_build import canvas_event, fresh_browser, messages, run_app


@pytest.fixture
def app_on(monkeypatch):
    """Points the app's store at `location` (the store is process-wide: it is opened again for this test, and for
    the tests after it)."""

    def use(location: str) -> None:
        monkeypatch.setenv("LAYERCANVAS_DB", location)
        state._open_store.clear()

    yield use
    monkeypatch.undo()
    state._open_store.clear()


def test_an_edit_while_postgresql_is_down_is_kept_and_saved_when_it_answers(postgres, app_on):
    url = postgres.create_db()
    app_on(url)
    at = run_app(browser=fresh_browser())
    pid = at.session_state[state.PROJECT]
    canvas_event(at, kind="add", type="Flatten", x=600.0, y=0.0)
    with Store(url) as db:
        assert db.load_project(pid).has("flatten")  # the app saves into PostgreSQL
    postgres.stop()
    try:
        canvas_event(at, kind="add", type="Dropout", x=600.0, y=100.0)
        assert at.session_state[state.GRAPH].has("dropout")  # the edit stays in the session...
        assert at.session_state[state.UNSAVED] == pid
        assert any(m.startswith("Not saved yet") for m in messages(at.warning))  # ...marked "not saved yet"
        at.switch_page("pages/projects.py").run()  # a page that reads the database
        assert not at.exception, [e.value for e in at.exception]
        errors = messages(at.error)
        assert any("does not answer (LAYERCANVAS_DB)" in m for m in errors), errors
    finally:
        postgres.start()
    at.switch_page("pages/build.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert state.UNSAVED not in at.session_state
    with Store(url) as db:
        saved = db.load_project(pid)
    assert saved.has("dropout") and saved.has("flatten")  # nothing lost
    assert not any(m.startswith("Not saved yet") for m in messages(at.warning))


def test_a_database_that_does_not_answer_at_start_is_one_clear_line(tmp_path, app_on):
    app_on(f"postgresql://layercanvas@/nowhere?host={tmp_path}")  # no server there
    at = run_app(browser=fresh_browser())
    errors = messages(at.error)
    assert len(errors) == 1 and "does not answer (LAYERCANVAS_DB)" in errors[0], errors
    app_on("mysql://somewhere/db")
    at = run_app(browser=fresh_browser())
    assert [m for m in messages(at.error) if "LAYERCANVAS_DB names a 'mysql' database" in m], messages(at.error)
