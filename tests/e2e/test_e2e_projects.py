"""Projects in a real browser: the project survives page switches and reloads (mid-training too), the Projects
page opens, renames, deletes and undoes, a run reopens in the editor with its weights, and two visitors never
see or change each other's work."""

import re
from urllib.parse import parse_qs, urlparse

import numpy as np
from playwright.sync_api import expect

from builder.store import Store, default_path
from tests.e2e.helpers import (
    add_from_palette,
    canvas_node,
    download,
    go_to,
    metric_value,
    settle,
    start_run,
    start_training,
)


def project_of(page) -> str:
    return parse_qs(urlparse(page.url).query)["project"][0]


def run_of(page) -> str:
    return parse_qs(urlparse(page.url).query)["run"][0]


def open_app(page, server) -> None:
    page.goto(server)
    metric_value(page, "Total params").wait_for(timeout=120_000)
    settle(page)


def projects_page(page):
    go_to(page, "Projects", page.get_by_role("heading", name="Projects"))


def card(page, name: str):
    """A project's box on the Projects page, found by its name."""
    return page.locator("[class*='st-key-project-']").filter(has=page.get_by_text(name, exact=True))


def test_edit_switch_to_data_and_reload_keeps_the_graph(page, server):
    open_app(page, server)
    before = metric_value(page, "Total params").inner_text()
    add_from_palette(page, "Dense")
    canvas_node(page, "dense_2").wait_for(timeout=30_000)
    expect(metric_value(page, "Total params")).not_to_have_text(re.compile(rf"^({re.escape(before)}|…)$"),
                                                                timeout=60_000)
    settle(page)
    pid = project_of(page)
    total = metric_value(page, "Total params").inner_text()
    go_to(page, "Data", page.get_by_text("Model and data"))
    assert project_of(page) == pid and urlparse(page.url).path == "/data"
    page.reload()
    page.get_by_text("Model and data").wait_for(timeout=60_000)
    settle(page)
    assert project_of(page) == pid
    go_to(page, "Build", metric_value(page, "Total params"))
    canvas_node(page, "dense_2").wait_for(timeout=30_000)
    expect(metric_value(page, "Total params")).to_have_text(total, timeout=60_000)
    assert project_of(page) == pid


def test_reload_on_train_mid_training_keeps_the_project_and_the_run(page, server):
    start_training(page, server, epochs=3000)
    expect(page.get_by_text("Training: epoch")).to_be_visible(timeout=60_000)
    pid, run = project_of(page), run_of(page)
    page.reload()
    expect(page.get_by_text("Training: epoch")).to_be_visible(timeout=60_000)
    assert project_of(page) == pid
    stop = page.get_by_role("button", name="Stop")
    expect(stop).to_be_enabled(timeout=30_000)
    stop.click()
    expect(page.get_by_text("Stopped after").or_(page.get_by_text("Stopped during"))).to_be_visible(timeout=60_000)
    go_to(page, "Export", page.get_by_text("The model trained in run"))
    expect(page.get_by_text(f"The model trained in run {run[:6]}")).to_be_visible()
    page.reload()  # a reload on Export: the latest run's saved model is offered
    expect(page.get_by_text(f"The model trained in run {run[:6]}")).to_be_visible(timeout=60_000)
    assert project_of(page) == pid


def test_two_projects_switch_rename_delete_and_undo(page, server):
    open_app(page, server)
    first = project_of(page)
    projects_page(page)
    page.get_by_role("button", name="New", exact=True).click()
    page.get_by_text("New project:").wait_for(timeout=30_000)
    second = project_of(page)
    assert second != first
    projects_page(page)
    with Store(default_path()) as s:
        names = {first: s.project_info(first)["name"], second: s.project_info(second)["name"]}
    expect(card(page, names[first])).to_have_count(1)
    expect(card(page, names[second])).to_have_count(1)
    # Open the first one from the list.
    card(page, names[first]).get_by_role("button", name="Open").click()
    metric_value(page, "Total params").wait_for(timeout=30_000)
    assert project_of(page) == first
    # Rename it.
    projects_page(page)
    card(page, names[first]).get_by_role("button", name="Rename").click()
    box = page.get_by_label("New name").last
    box.fill("Renamed <b>first")
    page.get_by_role("button", name="Save name").last.click()
    expect(card(page, "Renamed <b>first")).to_have_count(1, timeout=30_000)  # markup shown as text
    expect(page.get_by_role("button", name="Save name")).to_have_count(0, timeout=30_000)  # the popover closed
    expect(page.locator("b", has_text="first")).to_have_count(0)
    # Delete the second one, then undo.
    card(page, names[second]).get_by_role("button", name="Delete").click()
    page.locator('[data-testid="stPopoverBody"]').get_by_role("button", name="Delete").click()
    expect(page.get_by_text(f"Deleted {names[second]}.")).to_be_visible(timeout=30_000)
    expect(card(page, names[second])).to_have_count(0)
    with Store(default_path()) as s:
        assert s.load_project(second) is None
    page.get_by_role("button", name="Undo").click()
    expect(card(page, names[second])).to_have_count(1, timeout=30_000)
    with Store(default_path()) as s:
        assert s.load_project(second) is not None and s.load_project(first).name == "Renamed <b>first"
    page.screenshot(path="artifacts/projects-page.png")


def test_open_a_run_in_the_editor_and_export_it(page, server, tmp_path):
    from builder.kerasenv import load_keras

    keras = load_keras()
    start_training(page, server, epochs=3)
    expect(page.get_by_text("Confusion matrix (test data)")).to_be_visible(timeout=120_000)
    run = run_of(page)
    with Store(default_path()) as s:
        artifact = s.get_run(run)["artifact_path"]
    go_to(page, "Runs", page.get_by_text("This project", exact=True))
    page.locator('[data-testid="stExpander"] summary').filter(has_text=run[:6]).click()
    page.get_by_role("button", name="Open in editor").click()
    page.locator(".react-flow__node").first.wait_for(timeout=60_000)
    expect(page.get_by_text(f"Opened run {run[:6]} in the editor")).to_be_visible(timeout=30_000)
    with Store(default_path()) as s:
        assert s.project_info(project_of(page))["weights_run"] == run
    go_to(page, "Export", page.get_by_text("with the weights imported or trained before"))
    download(page, "keras", tmp_path / "opened.keras")
    x = np.random.default_rng(1).normal(size=(16, 4)).astype("float32")
    mine = keras.models.load_model(tmp_path / "opened.keras").predict(x, verbose=0)
    trained = keras.models.load_model(artifact).predict(x, verbose=0)
    np.testing.assert_allclose(mine, trained, atol=1e-6)
    assert not np.allclose(mine, mine[0])
    # After a reload the weights are still there (the project remembers the run it came from).
    page.reload()
    expect(page.get_by_text("with the weights imported or trained before")).to_be_visible(timeout=60_000)


def test_two_visitors_see_only_their_own_work(browser, server):
    alice = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    bob = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    try:
        open_app(alice, server)
        a_project = project_of(alice)
        alice.get_by_role("textbox", name="Project name").fill("alice_secret")
        alice.get_by_role("textbox", name="Project name").press("Enter")
        settle(alice)
        start_run(alice, 1)
        expect(alice.get_by_text("Confusion matrix (test data)")).to_be_visible(timeout=120_000)
        a_run = run_of(alice)

        open_app(bob, server)
        b_project = project_of(bob)
        assert b_project != a_project
        projects_page(bob)
        expect(card(bob, "alice_secret")).to_have_count(0)
        go_to(bob, "Runs", bob.get_by_text("This project", exact=True))
        bob.get_by_text("All my projects").click()
        expect(bob.get_by_text("You have no runs yet")).to_be_visible(timeout=30_000)
        # Alice's run by its id: not Bob's to see.
        bob.goto(f"{server}/train?project={b_project}&run={a_run}")
        bob.get_by_role("button", name="Start training").wait_for(timeout=60_000)
        settle(bob)
        expect(bob.get_by_text("Confusion matrix (test data)")).to_have_count(0)
        # Alice's project link: read-only.
        bob.goto(f"{server}/?project={a_project}")
        expect(bob.get_by_text("This project is someone else's")).to_be_visible(timeout=60_000)
        bob.locator(".react-flow__node").first.wait_for(timeout=60_000)
        expect(bob.get_by_placeholder("Search layers")).to_have_count(0)  # no palette
        expect(bob.get_by_role("textbox", name="Project name")).to_be_disabled()
        go_to(bob, "Train", bob.get_by_role("button", name="Start training"))
        expect(bob.get_by_role("button", name="Start training")).to_be_disabled()
        with Store(default_path()) as s:
            assert s.load_project(a_project).name == "alice_secret"
        # Save a copy: Bob's own, editable.
        bob.get_by_role("button", name="Save a copy").click()
        bob.get_by_text("this one is yours").wait_for(timeout=30_000)
        copy = project_of(bob)
        assert copy != a_project
        with Store(default_path()) as s:
            assert s.project_info(copy)["owner"] == s.project_info(b_project)["owner"] != s.project_info(a_project)["owner"]
        projects_page(bob)
        expect(card(bob, "alice_secret")).to_have_count(1)  # the copy is Bob's
        projects_page(alice)
        expect(alice.get_by_text(re.compile(r"\d+ run"))).to_have_count(1)  # Alice's list: her project only
        expect(card(alice, "alice_secret")).to_have_count(1)
    finally:
        alice.context.close()
        bob.context.close()


def test_every_template_title_fits_in_the_sidebar_select(page, server):
    """A title wider than the sidebar's select is cut ("Digits CNN (8×8×1, built-i…"): each is measured in the
    select's own font against the room its box leaves for text."""
    from builder.model.templates import TEMPLATES

    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(server)
    box = page.get_by_role("combobox", name="New project from template")
    box.wait_for(timeout=120_000)
    page.evaluate("document.fonts.ready")
    widths = box.evaluate("""(e, titles) => {
        const cs = getComputedStyle(e), room = e.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
        return titles.map(t => {
            const m = document.createElement('span');
            Object.assign(m.style, {font: cs.font, whiteSpace: 'pre', position: 'absolute'});
            m.textContent = t;
            document.body.appendChild(m);
            const w = m.getBoundingClientRect().width;
            m.remove();
            return [t, w, room];
        });
    }""", [title for title, _ in TEMPLATES.values()])
    assert widths and widths[0][2] > 100  # the select was measured, not an empty box
    assert [t for t, w, room in widths if w > room] == []
