"""Two app servers behind one address, as a class server grows past one machine: one PostgreSQL, one artifact folder
and one Ray cluster shared by both. An edit on one shows on the other; a run started on one streams its curves on
the other; one server killed, the other keeps serving and the run keeps training."""

import time

from playwright.sync_api import expect

from builder.store import Store
from tests.e2e.helpers import (
    ARTIFACTS,
    POINTS,
    add_from_palette,
    chart_points,
    go_to,
    metric_value,
    open_app,
    settle,
    start_run,
    start_server,
)


def test_two_servers_share_projects_and_runs_and_survive_one_going_away(browser, postgres, ray_cluster, tmp_path):
    url = postgres.create_db()
    env = {"LAYERCANVAS_DB": url, "LAYERCANVAS_ARTIFACTS": str(tmp_path / "artifacts"),
           "LAYERCANVAS_RAY": ray_cluster.address, "LAYERCANVAS_PRELOAD": "0"}
    (one, url_one), (two, url_two) = start_server(env=env), start_server(env=env)
    context = browser.new_context(viewport={"width": 1400, "height": 900})  # one browser: its key opens on both
    try:
        first = context.new_page()
        open_app(first, url_one)
        add_from_palette(first, "Dropout")  # after the last layer: the model still fits the data
        expect(metric_value(first, "Layers")).to_have_text("5")
        total = metric_value(first, "Total params").inner_text()
        pid = first.url.split("project=")[1].split("&")[0]
        with Store(url) as store:  # saved in PostgreSQL, not in a file of server one's
            assert [n.type for n in store.load_project(pid).nodes].count("Dropout") == 1

        second = context.new_page()
        second.goto(f"{url_two}/?project={pid}")  # the edit made through server one, opened through server two
        expect(metric_value(second, "Layers")).to_have_text("5", timeout=90_000)
        # Server two loads TensorFlow once the canvas has painted (no preload here): seconds on a busy machine.
        expect(metric_value(second, "Total params")).to_have_text(total, timeout=90_000)

        start_run(first, epochs=3000)  # on server one: a Ray task
        go_to(second, "Train", second.get_by_role("button", name="Stop"))
        second.locator(".js-plotly-plot").first.wait_for(timeout=120_000)
        second.wait_for_function("() => document.body.innerText.includes('Training: epoch')", timeout=120_000)
        before = chart_points(second)
        grows = f"n => ({POINTS})().some(c => c > n)"
        second.wait_for_function(grows, arg=before, timeout=60_000)  # the curves stream on server two
        second.screenshot(path=str(ARTIFACTS / "scale-out-second-server.png"))

        one.kill()  # server one goes away mid-run
        one.wait(30)
        with Store(url) as store:
            run = store.list_runs(pid, limit=1)[0]
            assert run["status"] == "running" and run["backend"] == "ray"
            epochs_then = len(store.get_run(run["id"])["epochs"])
        time.sleep(3)
        with Store(url) as store:
            assert store.get_run(run["id"])["status"] == "running"
            assert len(store.get_run(run["id"])["epochs"]) > epochs_then  # it keeps training
        now = chart_points(second)
        second.wait_for_function(grows, arg=now, timeout=60_000)  # server two keeps serving it

        settle(second)
        second.get_by_role("button", name="Stop").click()
        expect(second.get_by_text("Stopped after").or_(second.get_by_text("Stopped during"))).to_be_visible(
            timeout=60_000)
        expect(metric_value(second, "Test accuracy")).to_be_visible()
        with Store(url) as store:
            ended = store.get_run(run["id"])
        assert ended["status"] == "stopped" and ended["artifact_path"].startswith(str(tmp_path / "artifacts"))
    finally:
        context.close()
        for proc in (one, two):
            if proc.poll() is None:
                proc.kill()
