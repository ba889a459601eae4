"""A class of three in real browsers (issue 26), start to end: a teacher (the teacher key, no login) makes a class on
the iris data and hands out the model they have open; two students join by the link (one under a name with
markup), each changes the model and trains it; the teacher watches the grid follow, the leaderboard ranks them in
the order of the test accuracies the server computed, and opens a student's project read-only with its curves.
Privacy: a student cannot open the other's project by its id, and sees the leaderboard only once the teacher shows
it; another teacher (a fourth browser) sees nothing of the class; a student who leaves keeps their project.
Screenshots of the class view and the leaderboard at 1400x900 and 1024x768."""

from __future__ import annotations

import csv
import re
import subprocess

import pytest
from playwright.sync_api import expect

from builder import classes as cl
from builder.store import Store
from tests.e2e.helpers import ARTIFACTS, canvas_node, metric_value, settle, start_run, start_server

KEY = "teach-e2e-2026"
# iris MLP: 4 -> dense -> dense_1 (8) -> output (3). Params with `dense` at u units: (4u + u) + (8u + 8) + 27.
ANA_UNITS, BEN_UNITS = 32, 4


def params(units: int) -> str:
    return f"{5 * units + 8 * units + 8 + 27:,}"


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


def test_a_class_of_three_start_to_end(browser, class_server, tmp_path):
    url, db = class_server
    contexts = [browser.new_context(viewport={"width": 1400, "height": 900}) for _ in range(3)]
    teacher, ana, ben = (c.new_page() for c in contexts)
    try:
        # The teacher: the key once, a class on iris, and the project they have open (the iris MLP) handed out.
        teacher.goto(url)
        expect(metric_value(teacher, "Total params")).to_have_text(params(16), timeout=120_000)
        teacher.goto(url + "/classes")
        teacher.get_by_text("I teach: enter the teacher key").click()
        teacher.get_by_role("textbox", name="Teacher key", exact=True).fill(KEY)
        teacher.get_by_role("button", name="Enter").click()
        teacher.get_by_label("Class name").fill("Deep learning B")
        teacher.get_by_test_id("stSelectbox").filter(has_text="Its data").click()
        teacher.get_by_role("option", name="iris", exact=True).click()
        teacher.get_by_role("button", name="Create class").click()
        link = teacher.get_by_label("Join link (send it to your students)")
        expect(link).to_be_visible(timeout=30_000)
        join = link.input_value()
        assert "/classes?join=" in join
        teacher.get_by_role("button", name="Hand out the open project").click()
        expect(teacher.get_by_text("Handed out")).to_be_visible(timeout=30_000)
        settle(teacher)

        # Each student joins, opens the hand-out, changes it and trains it.
        for page, name, units, epochs in ((ana, "Ana", ANA_UNITS, 60), (ben, "<b>Ben</b>", BEN_UNITS, 1)):
            page.goto(join)
            page.get_by_label("Your name, as your teacher will see it").fill(name)
            page.get_by_role("button", name="Join").click()
            expect(page.get_by_text("(from the teacher)")).to_be_visible(timeout=30_000)
            settle(page)
            page.get_by_test_id("stBaseButton-secondary").filter(has_text=re.compile("^Open$")).click()
            expect(metric_value(page, "Total params")).to_have_text(params(16), timeout=120_000)
            canvas_node(page, "dense").click()
            box = page.get_by_role("spinbutton", name="units *")
            box.fill(str(units))
            box.press("Enter")
            expect(metric_value(page, "Total params")).to_have_text(params(units), timeout=30_000)
            start_run(page, epochs)
        for page in (ana, ben):
            expect(metric_value(page, "Test accuracy")).to_be_visible(timeout=180_000)

        with Store(db) as store:
            (c,) = store_classes(store)
            rows = {r["name"]: r for r in cl.overview(store, c.id, c.teacher)}
            best = {name: max(x["class_score"] for x in runs_of(store, c.id, r["member"])) for name, r in rows.items()}
        assert set(rows) == {"Ana", "<b>Ben</b>"} and all(s is not None for s in best.values()), best

        # The teacher's grid followed on its own (it refreshes while open): both finished, with their accuracies.
        for name in rows:
            card = teacher.locator('[data-testid="stVerticalBlock"]').filter(
                has=teacher.get_by_text(name, exact=True)).filter(
                has=teacher.get_by_role("button", name="Open (read-only)")).last
            expect(card.get_by_text(f"finished · test accuracy {best[name]:.1%}")).to_be_visible(timeout=60_000)
            expect(card.get_by_role("img")).to_be_visible()
        expect(teacher.get_by_text("<b>Ben</b>", exact=True)).to_be_visible()  # text, not markup
        names = teacher.locator('[data-testid="stMarkdownContainer"] strong').filter(has_text=re.compile("Ana|Ben"))
        assert names.all_inner_texts() == ["Ana", "<b>Ben</b>"]  # by name as a reader sorts it
        teacher.mouse.move(5, 5)  # no tooltip in the screenshots
        settle(teacher)
        teacher.screenshot(path=str(ARTIFACTS / "class-view-1400.png"))
        teacher.set_viewport_size({"width": 1024, "height": 768})
        settle(teacher)
        teacher.screenshot(path=str(ARTIFACTS / "class-view-1024.png"))

        # The leaderboard: the server's scores, best first; its CSV says the same.
        teacher.get_by_role("tab", name="Leaderboard").click()
        expect(teacher.locator(".js-plotly-plot")).to_be_visible(timeout=30_000)
        settle(teacher)
        teacher.screenshot(path=str(ARTIFACTS / "class-board-1024.png"))
        teacher.set_viewport_size({"width": 1400, "height": 900})
        settle(teacher)
        teacher.screenshot(path=str(ARTIFACTS / "class-board-1400.png"))
        with teacher.expect_download() as got:
            teacher.get_by_test_id("stBaseButton-secondary").filter(has_text="Download as CSV").click()
        path = tmp_path / "board.csv"
        got.value.save_as(path)
        table = list(csv.DictReader(path.open()))
        expected = sorted(best, key=lambda n: (-best[n], n))
        assert [r["name"] for r in table] == expected
        assert [float(r["score"]) for r in table] == [best[n] for n in expected]
        assert [int(r["params"]) for r in table] == [int(params(ANA_UNITS if n == "Ana" else BEN_UNITS).replace(",", ""))
                                                     for n in expected]

        # A student does not see the board until the teacher shows it (here without names: they are "you").
        ben.goto(url + "/classes")
        expect(ben.get_by_text("Deep learning B")).to_be_visible(timeout=60_000)
        settle(ben)
        expect(ben.locator(".js-plotly-plot")).to_have_count(0)
        teacher.get_by_text("Students see the leaderboard").click()
        settle(teacher)
        teacher.get_by_text("with names").click()
        settle(teacher)
        with Store(db) as store:
            assert [r["name"] for r in cl.leaderboard(store, c.id, rows["<b>Ben</b>"]["member"])].count("you") == 1
        ben.reload()
        expect(ben.locator(".js-plotly-plot")).to_be_visible(timeout=60_000)
        expect(ben.get_by_text("Ana", exact=True)).to_have_count(0)  # no names: not even in the page
        settle(ben)
        ben.screenshot(path=str(ARTIFACTS / "class-student-board-1400.png"), full_page=True)

        # A student cannot open the other's project by its id: it is as if it were not there.
        ben.goto(f"{url}/?project={rows['Ana']['project_id']}")
        expect(ben.get_by_text("There is no project")).to_be_visible(timeout=60_000)

        # The teacher opens Ana's project read-only, and sees her curves on the Train page.
        teacher.get_by_role("tab", name="Students").click()
        card = teacher.locator('[data-testid="stVerticalBlock"]').filter(has=teacher.get_by_text("Ana", exact=True)).filter(
            has=teacher.get_by_role("button", name="Open (read-only)")).last
        card.get_by_role("button", name="Open (read-only)").click()
        expect(metric_value(teacher, "Total params")).to_have_text(params(ANA_UNITS), timeout=60_000)
        expect(teacher.get_by_text("Read-only: someone else's project").first).to_be_visible()
        settle(teacher)
        teacher.get_by_role("link", name="Train", exact=True).click()
        expect(metric_value(teacher, "Test accuracy")).to_be_visible(timeout=60_000)
        expect(teacher.locator(".js-plotly-plot").first).to_be_visible()
        expect(teacher.get_by_role("button", name="Start training")).to_be_disabled()
        settle(teacher)
        teacher.screenshot(path=str(ARTIFACTS / "class-teacher-reads-a-run-1400.png"))
        with Store(db) as store:
            info = store.project_info(rows["Ana"]["project_id"])
            assert info["owner"] == rows["Ana"]["member"]  # nothing changed hands
            assert store.load_project(rows["Ana"]["project_id"]).node("dense").params["units"] == ANA_UNITS

        # Another teacher (the key typed in a fourth browser) sees nothing of this class.
        other = browser.new_context(viewport={"width": 1400, "height": 900})
        contexts.append(other)
        grace = other.new_page()
        grace.goto(url + "/classes")
        grace.get_by_text("I teach: enter the teacher key").click()
        grace.get_by_role("textbox", name="Teacher key", exact=True).fill(KEY)
        grace.get_by_role("button", name="Enter").click()
        expect(grace.get_by_text("No class yet.")).to_be_visible(timeout=30_000)
        expect(grace.get_by_text("Deep learning B")).to_have_count(0)

        # Ben leaves the class and keeps his project.
        ben.goto(url + "/classes")
        ben.get_by_role("button", name="Leave this class").click()
        expect(ben.get_by_text("You are in no class")).to_be_visible(timeout=30_000)
        settle(ben)
        ben.get_by_role("link", name="Projects", exact=True).click()
        expect(ben.get_by_text("iris_mlp (from the teacher)").first).to_be_visible(timeout=30_000)
        with Store(db) as store:
            assert store.project_info(rows["<b>Ben</b>"]["project_id"])["owner"] == rows["<b>Ben</b>"]["member"]
    finally:
        for c in contexts:
            c.close()


def store_classes(store: Store) -> list[cl.ClassInfo]:
    """Every class in the store (the test's own server has one teacher)."""
    import sqlalchemy as sa

    with store.transaction(write=False) as conn:
        teachers = conn.execute(sa.text("SELECT DISTINCT teacher FROM classes")).scalars().all()
    return [c for t in teachers for c in cl.teacher_classes(store, t)]


def runs_of(store: Store, class_id: str, member: str) -> list[dict]:
    """A student's runs in the class, with their scores (read as the test's own check, past the app)."""
    import sqlalchemy as sa

    with store.transaction(write=False) as conn:
        return [dict(r._mapping) for r in conn.execute(sa.text(
            "SELECT id, class_score FROM runs WHERE class_id = :c AND owner_key = :m"), {"c": class_id, "m": member})]



def test_a_class_on_the_teachers_own_file_keeps_its_test_split_hidden(browser, class_server, tmp_path):
    """The New class form with the teacher's NPZ: a regression file is refused with a message and makes nothing; a
    classification file makes a class whose students get its training part, and whose leaderboard says it scores
    on the hidden split."""
    import io

    import numpy as np

    from tests.test_classes import _class_file

    url, db = class_server
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    try:
        page.goto(url + "/classes")
        page.get_by_text("I teach: enter the teacher key").click()
        page.get_by_role("textbox", name="Teacher key", exact=True).fill(KEY)
        page.get_by_role("button", name="Enter").click()
        expect(page.get_by_label("Class name")).to_be_visible(timeout=30_000)
        settle(page)
        with Store(db) as store:
            before = len(store_classes(store))
        out = io.BytesIO()
        np.savez(out, x_train=np.ones((20, 2), "float32"), y_train=np.linspace(0, 1, 20).astype("float32"))
        (tmp_path / "prices.npz").write_bytes(out.getvalue())
        (tmp_path / "exam.npz").write_bytes(_class_file()[0])
        uploader = page.get_by_test_id("stForm").get_by_test_id("stFileUploaderDropzoneInput")
        for file, name in (("prices.npz", "Bad data"), ("exam.npz", "Exam class")):
            page.get_by_label("Class name").fill(name)
            uploader.set_input_files(str(tmp_path / file))
            expect(page.get_by_text(file)).to_be_visible(timeout=30_000)
            page.get_by_role("button", name="Create class").click()
            if file == "prices.npz":
                expect(page.get_by_text("a class ranks classifiers")).to_be_visible(timeout=30_000)
                page.screenshot(path=str(ARTIFACTS / "class-new-own-file.png"))
                with Store(db) as store:
                    assert len(store_classes(store)) == before  # nothing made
        expect(page.get_by_text("Class Exam class made")).to_be_visible(timeout=30_000)
        page.get_by_role("tab", name="Leaderboard").click()
        expect(page.get_by_text("the class's hidden test split")).to_be_visible(timeout=30_000)
        with Store(db) as store:
            (made,) = [c for c in store_classes(store) if c.name == "Exam class"]
        assert made.data["hidden_test"] is True and made.data["file"] == "exam (training part).npz"
    finally:
        context.close()
