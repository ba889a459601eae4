"""AppTest: a project keeps its data choice. Looking at a page writes nothing; the choice survives new sessions,
templates, copies, share links and runs opened in the editor; a read-only view shows it and changes nothing."""

from __future__ import annotations

import sqlite3

import pytest
from streamlit.testing.v1 import AppTest

from builder.data import datachoice
from builder.data.datasets import BUILTIN
from builder.model.share import encode
from builder.model.templates import TEMPLATES, template
from builder.store import Store, default_path
from components import state
from components.training_panel import RUN, registry
from tests.test_app_build import (
    PAGES,
    fresh_browser,
    loaded,
    messages,
    plain,
    run_app,
    use_data,
    widget,
)

TABLES = ("projects", "runs", "epochs", "uploads")


def dump() -> dict:
    """Every row of the store, as bytes would compare: what a page could have written."""
    with sqlite3.connect(default_path()) as conn:
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in TABLES}


def dump_of(pid: str) -> dict:
    """The rows of one project: itself, its runs and their epochs, byte for byte."""
    with sqlite3.connect(default_path()) as conn:
        runs = conn.execute("SELECT * FROM runs WHERE project_id = ? ORDER BY id", (pid,)).fetchall()
        return {"project": conn.execute("SELECT * FROM projects WHERE id = ?", (pid,)).fetchall(), "runs": runs,
                "epochs": conn.execute("SELECT * FROM epochs WHERE run_id IN (SELECT id FROM runs WHERE "
                                       "project_id = ?) ORDER BY run_id, epoch", (pid,)).fetchall()}


def store() -> Store:
    return Store(default_path())


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def page(at: AppTest, path: str) -> AppTest:
    return ok(at.switch_page(path).run())


def first_page(path: str, browser: str, query: dict) -> AppTest:
    """A new session (a reload, a new tab, a restarted server) whose first page is `path`."""
    at = AppTest.from_file("../app.py", default_timeout=120)
    for k, v in query.items():
        at.query_params[k] = v
    from components import owner

    at.session_state[owner.KEY] = browser
    at.session_state[owner.FROM_BROWSER] = True
    at.switch_page(path)
    return ok(at.run())


def using(at: AppTest) -> str | None:
    found = [m.value for m in at.markdown if m.value.startswith("**Using:**")]
    return found[0].replace("**Using:** ", "").replace("\\", "") if found else None


def compat_errors(at: AppTest) -> list[str]:
    return [m for m in messages(at.error) if "expects" in m or "classes" in m or "data has" in m]


def test_the_data_page_opened_first_in_a_new_session_shows_the_projects_data_and_writes_nothing():
    me = fresh_browser()
    at = run_app(browser=me)
    at.session_state[state.GRAPH] = template("digits_cnn").set_name("digits_first").set_extra("training", None)
    ok(at.run())
    pid = at.session_state[state.PROJECT]
    page(at, "pages/data.py")
    assert using(at) == "iris" and store().project_data(pid) is None  # the default, not written by looking
    widget(at.selectbox, "data_builtin").set_value("digits").run()
    assert store().project_data(pid) == {"kind": "builtin", "name": "digits"}
    page(at, "pages/build.py")  # the parameter total is counted once, as the projects list shows it
    before = dump()
    for path in PAGES:  # each page first, in a fresh session of the same browser (a reload, a new tab)
        again = first_page(path, me, {"project": pid})
        assert again.session_state[state.PROJECT] == pid
        if path in ("pages/data.py", "pages/train.py"):
            assert loaded(again).name == "digits", path
            assert not compat_errors(again), (path, compat_errors(again))
        if path == "pages/data.py":
            assert using(again) == "digits"
            assert widget(again.selectbox, "data_builtin").value == "digits"
        assert dump() == before, f"opening {path} first wrote to the store"


def test_another_tab_choosing_data_is_seen_here_and_a_stale_tab_does_not_switch_it_back():
    me = fresh_browser()
    tab1 = run_app(browser=me)
    pid = tab1.session_state[state.PROJECT]
    page(tab1, "pages/data.py")
    assert using(tab1) == "iris"
    tab2 = first_page("pages/data.py", me, {"project": pid})
    widget(tab2.selectbox, "data_builtin").set_value("wine").run()
    page(tab1, "pages/train.py")  # the first tab reads the choice again
    assert loaded(tab1).name == "wine"
    page(tab1, "pages/build.py")
    from tests.test_app_build import canvas_event

    canvas_event(tab1, kind="add", type="Dropout", x=600.0, y=0.0)  # an edit from the stale tab's graph
    assert store().project_data(pid)["name"] == "wine"
    page(tab1, "pages/data.py")
    assert using(tab1) == "wine"


@pytest.mark.parametrize("key", [k for k in TEMPLATES if datachoice.in_graph(template(k)) is not None])
def test_a_template_opens_on_its_dataset(key):
    at = run_app(browser=fresh_browser())
    at.sidebar.selectbox(key="template_choice").set_value(key)
    button = next(b for b in at.sidebar.button if b.label == "New from template")
    ok(button.click().run())
    assert at.session_state[state.GRAPH].name == template(key).name
    name = datachoice.in_graph(template(key)).name
    before = dump()
    page(at, "pages/data.py")
    if name in BUILTIN:
        assert using(at) == name
        assert not compat_errors(at), compat_errors(at)
        assert any("The model fits this data" in m for m in messages(at.success))
        page(at, "pages/train.py")
        assert not compat_errors(at), compat_errors(at)
        assert not any(b.disabled for b in at.button if b.key == "train_start")
    else:  # Keras's downloads: offline here, the page says so and names the dataset; nothing switches to iris
        assert any(f"Could not download {name}" in m for m in messages(at.warning)), messages(at.warning)
        assert widget(at.selectbox, "data_keras").value == name
        assert not any("Apply to the model" == b.label for b in at.button)
    assert dump() == before  # looking at the template's data wrote nothing


def test_copies_share_links_and_runs_opened_in_the_editor_keep_the_data_choice():
    me = fresh_browser()
    at = run_app(browser=me)
    pid = at.session_state[state.PROJECT]
    csv = b"x1,x2,x3,x4,y\n" + b"".join(f"{i % 7},{i % 5},{i % 3},{i % 11},{'abc'[i % 3]}\n".encode()
                                          for i in range(60))  # fits the iris classifier: 4 features, 3 classes
    use_data(at, csv=csv, file_name="mine.csv", label="y", standardize=True)
    choice = datachoice.DataChoice.from_dict(store().project_data(pid))
    assert choice.kind == "upload" and choice.name == "mine.csv"
    page(at, "pages/data.py")
    assert using(at) == "upload: mine.csv"

    # Duplicate (Projects page)
    page(at, "pages/projects.py")
    ok(at.button(key=f"copy:{pid}").click().run())
    copy = next(p["id"] for p in store().list_projects(owner=f"key:{me}") if p["id"] != pid)
    assert datachoice.DataChoice.from_dict(store().project_data(copy)) == choice

    # A share link made by the owner, opened by the owner: the copy reads the same upload
    page(at, "pages/build.py")
    link = next(t.value for t in at.sidebar.text_input if t.label == "Share link")
    mine = run_app({"g": link.split("g=", 1)[1]}, browser=me)
    assert mine.session_state[state.PROJECT] not in (pid, copy)
    page(mine, "pages/data.py")
    assert using(mine) == "upload: mine.csv"
    # ...and by someone else: the reference comes along, the data does not
    other = run_app({"g": link.split("g=", 1)[1]}, browser=fresh_browser())
    page(other, "pages/data.py")
    assert using(other) is None
    assert any("uploaded by someone else" in m and "mine.csv" in m for m in messages(other.warning))
    page(other, "pages/train.py")
    assert not any(b.key == "train_start" for b in other.button)  # no data: nothing to start

    # A run opened in the editor
    page(at, "pages/train.py")
    at.number_input(key="train_epochs").set_value(1).run()
    ok(at.button(key="train_start").click().run())
    job = registry().get(at.session_state[RUN])
    assert job.wait(120) and job.status == "finished"
    assert datachoice.in_graph(store().get_run(job.id)["graph"]) == choice  # the run's graph names its data
    page(at, "pages/runs.py")
    ok(at.button(key=f"edit:{job.id}").click().run())
    opened = at.session_state[state.PROJECT]
    assert opened not in (pid, copy)
    page(at, "pages/data.py")
    assert using(at) == "upload: mine.csv"


def test_a_share_link_copy_gets_a_name_of_its_own():
    me = fresh_browser()
    token = encode(template("digits_cnn"))
    first = run_app({"g": token}, browser=me)
    second = run_app({"g": token}, browser=me)
    names = {p["name"] for p in store().list_projects(owner=f"key:{me}")}
    assert {"digits_cnn", "digits_cnn (shared)"} <= names
    assert first.session_state[state.PROJECT] != second.session_state[state.PROJECT]
    page(second, "pages/data.py")
    assert using(second) == "digits"  # the template's data came with the link


def test_someone_elses_trained_project_is_shown_as_it_is_and_clicking_everything_changes_nothing():
    alice = run_app(browser=fresh_browser())
    alice.session_state[state.GRAPH] = template("digits_cnn")
    ok(alice.run())
    pid = alice.session_state[state.PROJECT]
    page(alice, "pages/data.py")
    widget(alice.selectbox, "data_builtin").set_value("digits").run()
    page(alice, "pages/train.py")
    alice.number_input(key="train_epochs").set_value(2).run()
    ok(alice.button(key="train_start").click().run())
    job = registry().get(alice.session_state[RUN])
    assert job.wait(120) and job.status == "finished"
    ok(alice.run())
    before = dump_of(pid)
    assert before["project"] and before["runs"] and before["epochs"]

    bob = run_app({"project": pid}, browser=fresh_browser())
    assert bob.session_state[state.READ_ONLY]
    page(bob, "pages/data.py")
    assert using(bob) == "digits" and not compat_errors(bob)
    assert all(w.disabled for w in [widget(bob.selectbox, "data_builtin")])
    page(bob, "pages/train.py")
    assert any(m.label == "Test accuracy" for m in bob.metric), [m.label for m in bob.metric]  # Alice's run
    assert bob.button(key="train_start").disabled
    assert all(n.disabled for n in bob.number_input if (n.key or "").startswith("train_"))
    assert all(s.disabled for s in bob.selectbox if (s.key or "").startswith("train_"))
    page(bob, "pages/export.py")
    assert not any("Not trained yet" in m or "not trained" in m.lower() for m in messages(bob.info) +
                   messages(bob.warning) + [c.value for c in bob.caption])
    page(bob, "pages/inspect.py")
    assert not any("Not trained yet" in m for m in messages(bob.info))
    page(bob, "pages/runs.py")  # Alice's run of this project, to look at
    assert any(plain(e.label).startswith("digits_cnn on digits") for e in bob.expander), [e.label for e in bob.expander]
    # Everything Bob can click, on every page, leaves Alice's project as it was.
    for path in PAGES:
        page(bob, path)
        for key in [b.key for b in bob.button if not b.disabled and b.key and b.key != "save_copy"]:
            if key.startswith(("open:", "edit:", "claim:", "copy:", "delete:", "rename:")):
                continue  # the Projects page: Bob's own projects, not Alice's
            matches = [b for b in bob.button if b.key == key and not b.disabled]
            if matches:
                ok(matches[0].click().run())
                if bob.session_state[state.PROJECT] != pid:  # a button that opened another project: back
                    bob = run_app({"project": pid}, browser=bob.session_state["lc_owner_key"])
                    page(bob, path)
        assert dump_of(pid) == before, path
    assert not any("Changed" in m for m in messages(bob.toast) + messages(bob.success))  # nothing claims a change that did not happen
    # Bob's own copy: Alice's data choice comes along (built-in data is everyone's).
    page(bob, "pages/build.py")
    ok(bob.button(key="save_copy").click().run())
    copy = bob.session_state[state.PROJECT]
    assert copy != pid and not bob.session_state[state.READ_ONLY]
    page(bob, "pages/data.py")
    assert using(bob) == "digits" and not compat_errors(bob)
    assert dump_of(pid) == before
