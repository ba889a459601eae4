"""AppTest: the Class page for a teacher (login with `at.user`, or the teacher key without login) and students:
make a class, join by its link, hand out, the teacher's grid, the leaderboard only when shown, and refusals."""

from streamlit.testing.v1 import AppTest

from builder import classes as cl
from builder.store import Store, default_path
from components import owner, state
from tests.test_app_build import fresh_browser, messages, plain, run_app
from tests.test_app_projects import AUTH


def store() -> Store:
    return Store(default_path())


def classes_page(at: AppTest) -> AppTest:
    at.switch_page("pages/classes.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def signed_in(email: str) -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=120)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": True, "email": email, "sub": email}
    at.session_state[owner.KEY] = fresh_browser()
    at.session_state[owner.FROM_BROWSER] = True
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def make_class(at: AppTest, name: str, teacher: str) -> cl.ClassInfo:
    """Fills the New class form (name, the iris data) and returns the class made."""
    next(t for t in at.text_input if t.label == "Class name").input(name)
    next(s for s in at.selectbox if s.label.startswith("Its data")).set_value("iris")
    next(b for b in at.button if b.label == "Create class").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return next(c for c in cl.teacher_classes(store(), teacher) if c.name == name)


def test_a_signed_in_teacher_makes_a_class_hands_out_and_sees_students(monkeypatch):
    monkeypatch.setenv(cl.TEACHERS, "ada@school.org")
    teacher = classes_page(signed_in("ada@school.org"))
    c = make_class(teacher, "Deep learning B", "user:ada@school.org")
    assert c.data == {"kind": "builtin", "name": "iris"}
    link = next(t for t in teacher.text_input if t.label.startswith("Join link"))
    assert link.value.endswith(f"/classes?join={c.token}")
    next(b for b in teacher.button if b.label == "Hand out the open project").click().run()
    handed = teacher.session_state[state.GRAPH]

    # A student opens the join link, types a name with markup, and joins: they get the hand-out.
    key = fresh_browser()
    student = run_app({"join": c.token}, browser=key)
    student = classes_page(student)
    name = next(t for t in student.text_input if t.label.startswith("Your name"))
    name.input("<b>Bob</b>")
    next(b for b in student.button if b.label == "Join").click().run()
    assert not student.exception
    (mine,) = [p for p in store().list_projects(owner=f"key:{key}") if p["id"] in cl.class_projects(
        store(), c.id, f"key:{key}")]
    assert mine["name"].endswith("(from the teacher)")
    assert store().load_project(mine["id"]).nodes == handed.nodes
    classes_page(student)
    assert any("Deep learning B" in plain(m.value) for m in student.markdown)
    next(b for b in student.button if b.label == "New project in this class").click().run()
    made = student.session_state[state.PROJECT]
    assert made in cl.class_projects(store(), c.id, f"key:{key}") and made != mine["id"]

    # The teacher's grid: the student's card, their name as text.
    classes_page(teacher)
    assert any("&lt;b&gt;Bob&lt;/b&gt;" in m.value or "\\<b\\>Bob\\</b\\>" in m.value or "<b>Bob</b>" in plain(m.value)
               for m in teacher.markdown)
    assert any("no run yet" in m.value for m in teacher.markdown)
    # Another teacher sees nothing of this class.
    monkeypatch.setenv(cl.TEACHERS, "ada@school.org, grace@school.org")
    other = classes_page(signed_in("grace@school.org"))
    assert not any("Deep learning B" in (s.value or "") for s in other.selectbox)
    assert not any(t.label.startswith("Join link") for t in other.text_input)


def test_without_login_the_teacher_key_is_typed_once(monkeypatch):
    monkeypatch.setenv(cl.TEACHER_KEY, "class-key-2026")
    key = fresh_browser()
    at = classes_page(run_app(browser=key))
    assert not [t for t in at.text_input if t.label == "Class name"]  # a student until the key is typed
    box = next(t for t in at.text_input if t.label == "Teacher key")
    box.input("wrong")
    next(b for b in at.button if b.label == "Enter").click().run()
    assert any("not the teacher key" in m for m in messages(at.error))
    next(t for t in at.text_input if t.label == "Teacher key").input("class-key-2026")
    next(b for b in at.button if b.label == "Enter").click().run()
    again = classes_page(run_app(browser=key))  # a new session of the same browser: still a teacher
    assert [t for t in again.text_input if t.label == "Class name"]


def test_a_wrong_or_ended_join_link_says_so_and_creates_nothing():
    key = fresh_browser()
    at = classes_page(run_app({"join": "not-a-real-token-123"}, browser=key))
    assert any("not valid" in m for m in messages(at.error))
    assert not [t for t in at.text_input if t.label.startswith("Your name")]
    teacher = "user:someone@school.org"
    c = cl.create_class(store(), teacher, "Ended class")
    cl.delete_class(store(), c.id, teacher)
    at = classes_page(run_app({"join": c.token}, browser=key))
    assert any("ended by its teacher" in m for m in messages(at.error))
    assert cl.member_classes(store(), f"key:{key}") == []


def test_a_class_project_does_not_open_for_another_student():
    teacher = "user:prof@school.org"
    c = cl.create_class(store(), teacher, "Private class")
    alice = fresh_browser()
    cl.join(store(), c.token, f"key:{alice}", "Alice")
    cl.hand_out(store(), c.id, teacher, run_app().session_state[state.GRAPH])
    (pid,) = cl.class_projects(store(), c.id, f"key:{alice}")
    project = {"id": pid}
    eve = run_app({"project": project["id"]}, browser=fresh_browser())
    assert eve.session_state[state.PROJECT] != project["id"]  # the link opens nothing of Alice's
    assert run_app({"project": project["id"]}, browser=alice).session_state[state.PROJECT] == project["id"]


def test_a_big_class_is_shown_a_page_of_cards_at_a_time(monkeypatch):
    monkeypatch.setenv(cl.TEACHERS, "big@school.org")
    teacher = "user:big@school.org"
    c = cl.create_class(store(), teacher, "Big class")
    for i in range(30):
        cl.join(store(), c.token, f"key:{fresh_browser()}", f"Student {i:02d}")
    cl.hand_out(store(), c.id, teacher, run_app().session_state[state.GRAPH])
    at = classes_page(signed_in("big@school.org"))

    def cards():
        return [b for b in at.button if b.label == "Open (read-only)"]

    assert len(cards()) == 24
    at.number_input(key=f"page:{c.id}").set_value(2).run()
    assert len(cards()) == 6


def test_a_signed_in_student_joins_and_sees_the_board_only_as_the_teacher_shows_it(monkeypatch):
    from builder.model.templates import template

    monkeypatch.setenv(cl.TEACHERS, "kay@school.org")
    teacher = "user:kay@school.org"
    c = cl.create_class(store(), teacher, "Signed-in class", data={"kind": "builtin", "name": "iris"})
    cl.hand_out(store(), c.id, teacher, template("iris_mlp"), c.data)
    rival = f"key:{fresh_browser()}"
    cl.join(store(), c.token, rival, "Rival")

    student = signed_in("sam@school.org")  # signed in, not a teacher
    student.query_params["join"] = c.token
    classes_page(student)
    assert not [t for t in student.text_input if t.label == "Class name"]  # no class of their own to make
    next(t for t in student.text_input if t.label.startswith("Your name")).input("Sam")
    next(b for b in student.button if b.label == "Join").click().run()
    assert not student.exception
    me = "user:sam@school.org"
    (mine,) = cl.class_projects(store(), c.id, me)  # the hand-out, theirs under their login
    assert store().project_info(mine)["owner"] == me
    for who, score in ((me, 0.9), (rival, 0.95)):
        (pid,) = cl.class_projects(store(), c.id, who)
        run = store().create_run(pid, template("iris_mlp"), {}, "iris", owner=who)
        store().finish_run(run, "finished", {"accuracy": score})
        cl.set_score(store(), run, score, 243, 240)

    classes_page(student)
    assert not student.dataframe  # not shown yet
    cl.set_board(store(), c.id, teacher, shown=True, names=False)
    classes_page(student)
    assert list(student.dataframe[0].value["name"]) == ["Student 1", "you"]  # no names: only their own row is known
    cl.set_board(store(), c.id, teacher, shown=True, names=True)
    classes_page(student)
    assert list(student.dataframe[0].value["name"]) == ["Rival", "Sam"]
    # Their own project opens; the rival's does not, even by its id.
    (theirs,) = cl.class_projects(store(), c.id, rival)
    assert not cl.may_view(store(), theirs, me) and cl.may_view(store(), mine, me)
    for pid, opens in ((theirs, False), (mine, True)):
        at = AppTest.from_file("../app.py", default_timeout=120)
        at.secrets["auth"] = AUTH
        at.user = {"is_logged_in": True, "email": "sam@school.org", "sub": "sam@school.org"}
        at.query_params["project"] = pid
        at.run()
        assert not at.exception and (at.session_state[state.PROJECT] == pid) is opens


def test_a_server_with_no_teacher_says_how_to_name_one(monkeypatch):
    monkeypatch.delenv(cl.TEACHER_KEY, raising=False)
    monkeypatch.delenv(cl.TEACHERS, raising=False)
    at = classes_page(run_app(browser=fresh_browser()))
    assert any("LAYERCANVAS_TEACHER_KEY" in c.value for c in at.caption)
    monkeypatch.setenv(cl.TEACHER_KEY, "set-2026")
    at = classes_page(run_app(browser=fresh_browser()))
    assert not any("LAYERCANVAS_TEACHER_KEY" in c.value for c in at.caption)
    assert [t for t in at.text_input if t.label == "Teacher key"]


def test_handing_out_a_model_that_does_not_fit_the_class_data_says_so(monkeypatch):
    monkeypatch.setenv(cl.TEACHERS, "fit@school.org")
    teacher = classes_page(signed_in("fit@school.org"))  # the open project: the iris MLP, input (4,)
    make_class(teacher, "Iris class", "user:fit@school.org")
    next(b for b in teacher.button if b.label == "Hand out the open project").click().run()
    assert not any("does not fit" in m for m in messages(teacher.toast))
    next(t for t in teacher.text_input if t.label == "Class name").input("Digits class")
    next(s for s in teacher.selectbox if s.label.startswith("Its data")).set_value("digits")
    next(b for b in teacher.button if b.label == "Create class").click().run()
    next(b for b in teacher.button if b.label == "Hand out the open project").click().run()
    warned = [m for m in messages(teacher.toast) if "does not fit the class's data (digits)" in m]
    assert warned and "Its runs get no score" in warned[0], messages(teacher.toast)
