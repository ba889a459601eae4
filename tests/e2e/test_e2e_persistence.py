"""Crash safety: kill the server (SIGKILL) while a model trains, start it again on the same database.

Projects and finished runs must be intact, the trained model of the finished run must still load,
and the run that was training must be marked interrupted, in the store and on the Runs page.
"""

import re
import sqlite3
import time
from urllib.parse import parse_qs, urlparse

import numpy as np
from playwright.sync_api import expect

from builder.store import INTERRUPTED_MESSAGE, Store
from tests.e2e.helpers import (
    ARTIFACTS,
    add_from_palette,
    canvas_ids,
    canvas_node,
    go_to,
    metric_value,
    settle,
    start_run,
    start_server,
)


def _stop(proc) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


def _wait(what, check, timeout: float = 120, page=None):
    """Polls `check`; with a page, waits through Playwright so that its events (URL changes) come in."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        page.wait_for_timeout(300) if page is not None else time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _train(page, epochs: int, previous: str | None = None) -> str:
    """Starts training on the Train page; returns the new run's id from the URL."""
    start_run(page, epochs)

    def new_run():
        run = parse_qs(urlparse(page.url).query).get("run", [None])[0]
        return run if run != previous else None

    return _wait("the new run's id in the URL", new_run, 60, page)


def test_kill_the_server_while_training_and_restart(browser, tmp_path):
    db = tmp_path / "classroom.db"
    env = {"LAYERCANVAS_DB": str(db)}
    proc, url = start_server(env=env)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    try:
        # A project with an edit of its own.
        page.goto(url)
        metric_value(page, "Total params").wait_for(timeout=120_000)
        add_from_palette(page, "Dropout")
        canvas_node(page, "dropout").wait_for(timeout=30_000)
        settle(page)
        project = parse_qs(urlparse(page.url).query)["project"][0]
        nodes_before = canvas_ids(page)
        # A run that finishes, then one that is still training when the server dies.
        finished = _train(page, epochs=2)
        expect(page.get_by_text("Training finished").or_(page.get_by_text("Test accuracy"))).to_be_visible(
            timeout=120_000)
        with Store(db) as s:
            _wait("the finished run", lambda: s.get_run(finished)["status"] == "finished", 60, page)
        page.get_by_role("button", name="Start training").wait_for(timeout=30_000)
        killed = _train(page, epochs=5000, previous=finished)
        with Store(db) as s:
            _wait("two recorded epochs", lambda: len(s.get_run(killed)["epochs"]) >= 2, 120, page)
        proc.kill()  # SIGKILL: no clean-up of any kind runs
        proc.wait(10)
        browser_state = context.storage_state()  # the same browser comes back: its key is in a cookie
        context.close()

        with Store(db) as s:  # the file as the dead server left it
            assert s.get_run(killed)["status"] == "running"
            epochs_at_kill = len(s.get_run(killed)["epochs"])
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)

        proc, url = start_server(env=env)
        context = browser.new_context(viewport={"width": 1400, "height": 900}, storage_state=browser_state)
        page = context.new_page()
        page.goto(f"{url}/?project={project}")
        metric_value(page, "Total params").wait_for(timeout=120_000)
        settle(page)
        assert canvas_ids(page) == nodes_before  # the project, with its edit
        go_to(page, "Runs", page.get_by_text("This project", exact=True))
        table = page.locator('[data-testid="stDataFrame"]').first  # the runs table (Compare has more)
        expect(table).to_be_visible(timeout=30_000)
        with Store(db) as s:
            runs = {r["id"]: r for r in s.list_runs(project)}
            assert set(runs) == {finished, killed}
            assert runs[killed]["status"] == "interrupted"
            assert runs[killed]["message"] == INTERRUPTED_MESSAGE
            assert len(s.get_run(killed)["epochs"]) == epochs_at_kill  # its curves so far are kept
            done = s.get_run(finished)
            assert done["status"] == "finished" and len(done["epochs"]) == 2
            assert 0 <= done["final_metrics"]["accuracy"] <= 1
            assert s.load_project(project) is not None
        # The finished run's model is intact and predicts.
        import keras

        model = keras.models.load_model(done["artifact_path"])
        out = model.predict(np.zeros((3, 4), "float32"), verbose=0)
        assert out.shape == (3, 3) and np.allclose(out.sum(axis=1), 1, atol=1e-4)
        # The page says so too: open the interrupted run's details.
        expect(page.get_by_text(re.compile(r"interrupted", re.IGNORECASE)).first).to_be_attached(timeout=30_000)
        settle(page)
        page.screenshot(path=str(ARTIFACTS / "persistence-runs.png"), full_page=True)
        page.goto(f"{url}/train?project={project}&run={killed}")
        expect(page.get_by_text(INTERRUPTED_MESSAGE, exact=False).first).to_be_visible(timeout=60_000)
        settle(page)
        page.screenshot(path=str(ARTIFACTS / "persistence-train.png"), full_page=True)
    finally:
        context.close()
        _stop(proc)
