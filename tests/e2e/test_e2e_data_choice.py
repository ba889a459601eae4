"""A project keeps its data, in a real browser: through a reload, a new tab and a server restart; and someone
else's trained project, seen read-only in a second browser, shows its data and model and changes nothing.

Clicks happen once; each test then waits for what the page shows.
"""

from __future__ import annotations

import re
import sqlite3
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import expect

from builder.store import Store
from tests.e2e.helpers import ARTIFACTS, metric_value, new_from_template, settle, start_server

VIEW = {"width": 1400, "height": 900}


def _stop(proc) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except Exception:  # noqa: BLE001 - it must go, one way or the other
            proc.kill()


def project_id(page) -> str:
    return parse_qs(urlparse(page.url).query)["project"][0]


def using(page):
    return page.locator('[data-testid="stMain"] [data-testid="stMarkdown"]').filter(has_text="Using:")


def main_select(page):
    return page.locator('[data-testid="stMain"] [data-testid="stSelectbox"]').first


def choose_builtin(page, name: str) -> None:
    main_select(page).click()
    page.get_by_role("option", name=re.compile(f"^{re.escape(name)}:")).click()
    expect(using(page)).to_contain_text(f"Using: {name}", timeout=60_000)
    settle(page)


def open_page(page, url: str, path: str, pid: str, ready) -> None:
    page.goto(f"{url}/{path}?project={pid}")
    ready.wait_for(timeout=120_000)
    settle(page)


def expect_fits(page) -> None:
    """The Train page with no model-versus-data error: the check passes and Start can be pressed."""
    expect(page.get_by_text("The model fits this data")).to_be_visible(timeout=60_000)
    expect(page.locator('[data-testid="stAlertContentError"]')).to_have_count(0)
    expect(page.get_by_role("button", name="Start training")).to_be_enabled()


def test_the_data_choice_survives_a_reload_a_new_tab_and_a_restart(browser, tmp_path):
    db = tmp_path / "choice.db"
    env = {"LAYERCANVAS_DB": str(db)}
    proc, url = start_server(env=env)
    context = browser.new_context(viewport=VIEW)
    page = context.new_page()
    try:
        page.goto(url)
        metric_value(page, "Total params").wait_for(timeout=120_000)
        first = project_id(page)
        new_from_template(page, "Digits CNN")
        page.wait_for_url(lambda u: "project=" in u and first not in u, timeout=60_000)
        pid = project_id(page)
        open_page(page, url, "data", pid, using(page))
        expect(using(page)).to_contain_text("Using: digits")  # the template's data
        choose_builtin(page, "wine")  # the user's choices, written when made
        choose_builtin(page, "digits")
        with Store(db) as s:
            assert s.project_data(pid) == {"kind": "builtin", "name": "digits"}
        page.reload()
        expect(using(page)).to_contain_text("Using: digits", timeout=120_000)
        settle(page)
        page.screenshot(path=str(ARTIFACTS / "data-choice-reload.png"))
        tab = context.new_page()
        open_page(tab, url, "data", pid, using(tab))
        expect(using(tab)).to_contain_text("Using: digits")
        open_page(tab, url, "train", pid, page.get_by_text("Train").first)
        expect_fits(tab)
        _stop(proc)
        proc, url = start_server(env=env)  # a restarted server: the same store
        restarted = context.new_page()
        open_page(restarted, url, "data", pid, using(restarted))
        expect(using(restarted)).to_contain_text("Using: digits")
        open_page(restarted, url, "train", pid, restarted.get_by_text("Data:").first)
        expect_fits(restarted)
        restarted.screenshot(path=str(ARTIFACTS / "data-choice-after-restart.png"))
        with Store(db) as s:
            assert s.project_data(pid) == {"kind": "builtin", "name": "digits"}
    finally:
        context.close()
        _stop(proc)


def rows_of(db, pid: str) -> dict:
    with sqlite3.connect(db) as conn:
        return {"project": conn.execute("SELECT * FROM projects WHERE id = ?", (pid,)).fetchall(),
                "runs": conn.execute("SELECT * FROM runs WHERE project_id = ? ORDER BY id", (pid,)).fetchall(),
                "epochs": conn.execute("SELECT * FROM epochs WHERE run_id IN (SELECT id FROM runs WHERE "
                                       "project_id = ?) ORDER BY run_id, epoch", (pid,)).fetchall()}


def enabled_buttons(page) -> list[str]:
    """The labels of the main area's enabled buttons (Save a copy left out: it makes Bob's own project)."""
    labels = []
    for b in page.locator('[data-testid="stMain"] button:enabled').all():
        text = (b.inner_text() or "").strip()
        if text and "Save a copy" not in text and b.is_visible():
            labels.append(text)
    return labels


def test_someone_elses_trained_project_is_read_only_everywhere(browser, tmp_path):
    db = tmp_path / "shared.db"
    env = {"LAYERCANVAS_DB": str(db)}
    proc, url = start_server(env=env)
    alice_ctx = browser.new_context(viewport=VIEW)
    bob_ctx = browser.new_context(viewport=VIEW)
    alice, bob = alice_ctx.new_page(), bob_ctx.new_page()
    try:
        alice.goto(url)
        metric_value(alice, "Total params").wait_for(timeout=120_000)
        first = project_id(alice)
        new_from_template(alice, "Digits CNN")
        alice.wait_for_url(lambda u: "project=" in u and first not in u, timeout=60_000)
        pid = project_id(alice)
        open_page(alice, url, "train", pid, alice.get_by_role("button", name="Start training"))
        box = alice.get_by_label("Epochs")
        box.fill("2")
        box.press("Enter")
        settle(alice)
        alice.get_by_role("button", name="Start training").click()
        expect(metric_value(alice, "Test accuracy")).to_be_visible(timeout=180_000)
        settle(alice)
        before = rows_of(db, pid)
        assert before["runs"] and before["epochs"]

        open_page(bob, url, "", pid, bob.get_by_text("someone else's"))
        # The data: Alice's choice, shown, not changeable.
        open_page(bob, url, "data", pid, using(bob))
        expect(using(bob)).to_contain_text("Using: digits")
        expect(main_select(bob).locator("input")).to_be_disabled()
        bob.screenshot(path=str(ARTIFACTS / "read-only-data.png"))
        # Train: Alice's run, and nothing to start or set.
        open_page(bob, url, "train", pid, metric_value(bob, "Test accuracy"))
        expect(bob.get_by_role("button", name="Start training")).to_be_disabled()
        expect(bob.get_by_text("The model fits this data")).to_be_visible()
        for field in bob.locator('[data-testid="stMain"] [data-testid="stNumberInput"] input').all():
            expect(field).to_be_disabled()
        bob.screenshot(path=str(ARTIFACTS / "read-only-train.png"), full_page=True)
        # Inspect and Export: the trained model.
        open_page(bob, url, "inspect", pid, bob.locator('[data-testid="stMain"]'))
        expect(bob.get_by_text("Not trained yet")).to_have_count(0)
        open_page(bob, url, "export", pid, bob.get_by_role("button", name="Download", exact=True).first)
        expect(bob.get_by_text("Not trained yet")).to_have_count(0)
        bob.screenshot(path=str(ARTIFACTS / "read-only-export.png"), full_page=True)
        # Everything Bob is offered, clicked once on each page: Alice's project does not change.
        for path in ("", "data", "train", "inspect", "export", "runs"):
            open_page(bob, url, path, pid, bob.locator('[data-testid="stMain"]'))
            for label in enabled_buttons(bob):
                button = bob.locator('[data-testid="stMain"] button:enabled').filter(has_text=label).first
                if button.count() and button.is_visible():
                    button.click()
                    settle(bob)
                    if project_id(bob) != pid:
                        open_page(bob, url, path, pid, bob.locator('[data-testid="stMain"]'))
        expect(bob.get_by_text("Changed")).to_have_count(0)
        assert rows_of(db, pid) == before
    finally:
        alice_ctx.close()
        bob_ctx.close()
        _stop(proc)
