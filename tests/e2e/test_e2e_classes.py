"""A class in real browsers (issue 26, so far): a teacher (the teacher key, no login) makes a class and hands out a
model; a student joins by the link under a name with markup; the teacher's grid shows them; a third browser cannot
open the student's project by its id. Screenshots of the class view at 1400x900 and 1024x768."""

from __future__ import annotations

import subprocess

import pytest
from playwright.sync_api import expect

from builder import classes as cl
from builder.store import Store
from tests.e2e.helpers import ARTIFACTS, settle, start_server

KEY = "teach-e2e-2026"


@pytest.fixture(scope="module")
def class_server(tmp_path_factory):
    db = tmp_path_factory.mktemp("classes") / "lc.db"
    proc, url = start_server(env={"LAYERCANVAS_TEACHER_KEY": KEY, "LAYERCANVAS_DB": str(db)})
    yield url, db
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_a_teacher_hands_out_a_student_joins_and_a_stranger_sees_nothing(browser, class_server):
    url, db = class_server
    contexts = [browser.new_context(viewport={"width": 1400, "height": 900}) for _ in range(3)]
    teacher, student, stranger = (c.new_page() for c in contexts)
    try:
        teacher.goto(url + "/classes")
        teacher.get_by_text("I teach: enter the teacher key").click()
        teacher.get_by_role("textbox", name="Teacher key", exact=True).fill(KEY)
        teacher.get_by_role("button", name="Enter").click()
        teacher.get_by_label("Class name").fill("Deep learning B")
        teacher.get_by_role("button", name="Create class").click()
        link = teacher.get_by_label("Join link (send it to your students)")
        expect(link).to_be_visible(timeout=30_000)
        join = link.input_value()
        assert "/classes?join=" in join
        teacher.get_by_role("button", name="Hand out the open project").click()
        settle(teacher)

        student.goto(join)
        student.get_by_label("Your name, as your teacher will see it").fill("<b>Bob</b>")
        student.get_by_role("button", name="Join").click()
        expect(student.get_by_text("(from the teacher)")).to_be_visible(timeout=30_000)
        with Store(db) as store:
            (c,) = [k for k in store_classes(store)]
            (member,) = cl.overview(store, c.id, c.teacher)
            pid = member["project_id"]
        assert member["name"] == "<b>Bob</b>"

        card = teacher.locator('[data-testid="stVerticalBlockBorderWrapper"], [data-testid="stVerticalBlock"]').filter(
            has_text="<b>Bob</b>").last
        expect(teacher.get_by_text("<b>Bob</b>", exact=True)).to_be_visible(timeout=30_000)  # text, not markup
        expect(card.get_by_role("img")).to_be_visible()
        settle(teacher)
        teacher.screenshot(path=str(ARTIFACTS / "class-view-1400.png"))
        teacher.set_viewport_size({"width": 1024, "height": 768})
        settle(teacher)
        teacher.screenshot(path=str(ARTIFACTS / "class-view-1024.png"))

        stranger.goto(f"{url}/?project={pid}")
        # As for an id that is not there: a stranger learns nothing, not even that it exists.
        expect(stranger.get_by_text("There is no project")).to_be_visible(timeout=60_000)
        with Store(db) as store:
            assert store.project_info(pid)["owner"] == member["member"]  # nothing changed hands
    finally:
        for c in contexts:
            c.close()


def store_classes(store: Store) -> list[cl.ClassInfo]:
    """Every class in the store (the test's own server has one teacher)."""
    import sqlalchemy as sa

    with store.transaction(write=False) as conn:
        teachers = conn.execute(sa.text("SELECT DISTINCT teacher FROM classes")).scalars().all()
    return [c for t in teachers for c in cl.teacher_classes(store, t)]
