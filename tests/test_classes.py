"""Classes in the store: roles, joining, hand-outs, the teacher's view, the leaderboard, and privacy kept by the
store's own queries (on SQLite and on a real PostgreSQL server)."""

import csv
import io
import time

import pytest
import sqlalchemy as sa

from builder import classes as cl
from builder.classes import ClassError
from builder.model.templates import template
from builder.store import Store

T1, T2 = "user:ada@school.org", "user:grace@school.org"
S1, S2, S3 = "key:" + "a" * 22, "key:" + "b" * 22, "key:" + "c" * 22


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    location = tmp_path / "lc.db" if request.param == "sqlite" else request.getfixturevalue("postgres").create_db()
    s = Store(location)
    yield s
    s.close()


def test_teachers_are_named_in_configuration(monkeypatch):
    monkeypatch.setenv(cl.TEACHERS, "Ada@School.org, grace@school.org")
    monkeypatch.delenv(cl.TEACHER_KEY, raising=False)
    assert cl.is_teacher(T1) and cl.is_teacher(T2) and not cl.is_teacher("user:eve@school.org")
    assert not cl.is_teacher(S1, key_entered=True)  # no key set on the server: no teacher without login
    monkeypatch.setenv(cl.TEACHER_KEY, "s3cret-key")
    assert cl.teacher_key_ok(" s3cret-key ") and not cl.teacher_key_ok("s3cret") and not cl.teacher_key_ok(None)
    assert cl.is_teacher(S1, key_entered=True) and not cl.is_teacher(S1) and not cl.is_teacher(None)


def test_join_gets_every_hand_out_and_a_late_joiner_too(db):
    c = cl.create_class(db, T1, "  Deep   learning 101 ")
    assert c.name == "Deep learning 101" and len(c.token) >= 22
    assert cl.join(db, c.token, S1, "Alice").id == c.id
    hid = cl.hand_out(db, c.id, T1, template("iris_mlp"))
    cl.join(db, c.token, S2, "Bob")  # joins after the hand-out: gets it too
    for who in (S1, S2):
        (mine,) = db.list_projects(owner=who)
        assert mine["name"] == "iris_mlp (from the teacher)" and mine["layers"] == 4
        assert db.load_project(mine["id"]).nodes == template("iris_mlp").nodes
    cl.join(db, c.token, S1, "Alice")  # joining again copies nothing twice
    assert len(db.list_projects(owner=S1)) == 1
    with db.transaction(write=False) as conn:
        rows = conn.execute(sa.text("SELECT handout_id, class_id FROM projects")).all()
    assert {tuple(r) for r in rows} == {(hid, c.id)}
    assert [k.id for k in cl.member_classes(db, S1)] == [c.id] and cl.member_classes(db, S3) == []


@pytest.mark.parametrize("token, says", [
    ("nope", "not valid"), ("x" * 30, "not valid"), ("<script>alert(1)</script>", "not valid"), (None, "not valid")])
def test_a_wrong_join_link_says_so_and_creates_nothing(db, token, says):
    cl.create_class(db, T1, "A class")
    with pytest.raises(ClassError, match=says):
        cl.join(db, token, S1, "Alice")
    assert cl.member_classes(db, S1) == [] and db.list_projects(owner=S1) == []


def test_an_expired_or_ended_class_says_so(db):
    old = cl.create_class(db, T1, "Last year", expires_at=time.time() - 1)
    with pytest.raises(ClassError, match="expired"):
        cl.join(db, old.token, S1, "Alice")
    ended = cl.create_class(db, T1, "Ended")
    cl.delete_class(db, ended.id, T1)
    with pytest.raises(ClassError, match="ended by its teacher"):
        cl.join(db, ended.token, S1, "Alice")
    assert cl.member_classes(db, S1) == [] and cl.teacher_classes(db, T1) == [old]


@pytest.mark.parametrize("name, says", [("", "type a display name"), ("   ", "type a display name"),
                                        ("x" * 41, "at most 40"), (7, "must be text")])
def test_a_display_name_is_one_short_line(db, name, says):
    c = cl.create_class(db, T1, "A class")
    with pytest.raises(ClassError, match=says):
        cl.join(db, c.token, S1, name)
    assert cl.member_classes(db, S1) == []


def test_markup_in_a_name_is_kept_as_typed(db):
    c = cl.create_class(db, T1, "A class")
    cl.join(db, c.token, S1, "<b>Alice</b> **bold**")
    assert [r["name"] for r in cl.overview(db, c.id, T1)] == ["<b>Alice</b> **bold**"]


def test_the_teacher_sees_each_students_latest_project_and_run_in_a_constant_number_of_queries(db):
    c = cl.create_class(db, T1, "A class")
    cl.join(db, c.token, S1, "Alice")
    cl.join(db, c.token, S2, "Bob")
    cl.hand_out(db, c.id, T1, template("iris_mlp"))
    alice = db.list_projects(owner=S1)[0]["id"]
    first = db.create_run(alice, template("iris_mlp"), {}, "iris", owner=S1)
    db.finish_run(first, "finished", {"accuracy": 0.9})
    latest = db.create_run(alice, template("iris_mlp"), {}, "iris", owner=S1)
    db.set_run_status(latest, "running")
    queries = []
    sa.event.listen(db.engine, "before_cursor_execute", lambda *a: queries.append(a[2]))
    rows = cl.overview(db, c.id, T1)
    n = len([q for q in queries if q.lstrip().upper().startswith("SELECT")])
    assert [r["name"] for r in rows] == ["Alice", "Bob"]
    assert rows[0]["run_id"] == latest and rows[0]["status"] == "running" and rows[0]["project_id"] == alice
    assert rows[1]["run_id"] is None and rows[1]["layers"] == 4
    for i in range(20):  # more students, more runs: the same number of queries
        who = f"key:{'d' * 20}{i:02d}"
        cl.join(db, c.token, who, f"Student {i}")
        pid = db.list_projects(owner=who)[0]["id"]
        db.create_run(pid, template("iris_mlp"), {}, "iris", owner=who)
    queries.clear()
    assert len(cl.overview(db, c.id, T1)) == 22
    assert len([q for q in queries if q.lstrip().upper().startswith("SELECT")]) == n


def test_privacy_is_kept_by_the_store(db):
    c = cl.create_class(db, T1, "Ada's class")
    other = cl.create_class(db, T2, "Grace's class")
    cl.join(db, c.token, S1, "Alice")
    cl.join(db, c.token, S2, "Bob")
    cl.hand_out(db, c.id, T1, template("iris_mlp"))
    alice = db.list_projects(owner=S1)[0]["id"]
    # Another class's teacher sees nothing of this one, and cannot hand out to it or look at its projects.
    assert cl.teacher_classes(db, T2) == [other]
    for call in (lambda: cl.overview(db, c.id, T2), lambda: cl.hand_out(db, c.id, T2, template("mlp")),
                 lambda: cl.student_project(db, c.id, T2, alice), lambda: cl.set_board(db, c.id, T2, True, True),
                 lambda: cl.student_project(db, other.id, T2, alice)):
        with pytest.raises(ClassError, match="no such"):
            call()
    # A student is not a teacher of the class, and sees another student's project nowhere.
    for call in (lambda: cl.overview(db, c.id, S2), lambda: cl.student_project(db, c.id, S2, alice)):
        with pytest.raises(ClassError, match="no such"):
            call()
    assert [p["id"] for p in db.list_projects(owner=S2)] != [alice]
    # The class's teacher may look at it.
    graph, runs = cl.student_project(db, c.id, T1, alice)
    assert graph.nodes == template("iris_mlp").nodes and runs == []
    # A student who leaves keeps their projects.
    cl.leave(db, c.id, S1)
    assert [p["id"] for p in db.list_projects(owner=S1)] == [alice]
    assert cl.member_classes(db, S1) == [] and [r["left"] for r in cl.overview(db, c.id, T1)] == [True, False]


def scored(db, cls, who, name, scores):
    cl.join(db, cls.token, who, name)
    pid = db.list_projects(owner=who)[0]["id"]
    for score, macs in scores:
        run = db.create_run(pid, template("iris_mlp"), {}, "iris", owner=who)
        db.finish_run(run, "finished", {"accuracy": score})
        cl.set_score(db, run, score, 243, macs)


def test_the_leaderboard_ranks_each_students_best_score_and_students_see_it_only_when_shown(db):
    c = cl.create_class(db, T1, "A class")
    cl.hand_out(db, c.id, T1, template("iris_mlp"))
    scored(db, c, S1, "Alice", [(0.80, 900), (0.93, 1200)])
    scored(db, c, S2, "=HYPERLINK(\"x\")", [(0.97, 1500)])
    scored(db, c, S3, "Carol", [])
    board = cl.leaderboard(db, c.id, T1)
    assert [(r["rank"], r["name"], r["score"], r["macs"]) for r in board] == [
        (1, '=HYPERLINK("x")', 0.97, 1500), (2, "Alice", 0.93, 1200)]
    with pytest.raises(ClassError, match="not shown"):
        cl.leaderboard(db, c.id, S1)  # hidden from students until the teacher shows it
    with pytest.raises(ClassError):
        cl.leaderboard(db, c.id, "key:" + "z" * 22)  # not in the class
    cl.set_board(db, c.id, T1, shown=True, names=False)
    seen = cl.leaderboard(db, c.id, S1)
    assert [(r["name"], r["you"]) for r in seen] == [("Student 1", False), ("you", True)]
    cl.set_board(db, c.id, T1, shown=True, names=True)
    assert [r["name"] for r in cl.leaderboard(db, c.id, S1)] == ['=HYPERLINK("x")', "Alice"]
    table = list(csv.reader(io.StringIO(cl.board_csv(board))))
    assert table[0] == ["rank", "name", "score", "params", "macs"]
    assert table[1][1] == "'=HYPERLINK(\"x\")"  # not a formula in a spreadsheet
    assert table[2] == ["2", "Alice", "0.93", "243", "1200"]


def test_a_score_is_kept_only_for_a_run_of_a_class_project(db):
    pid = "p" * 22
    db.save_project(pid, template("mlp"), owner=S1)
    run = db.create_run(pid, template("mlp"), {}, "iris", owner=S1)
    cl.set_score(db, run, 0.5, 10, 10)
    with db.transaction(write=False) as conn:
        assert conn.execute(sa.text("SELECT class_score, class_id FROM runs")).all() == [(None, None)]


def test_a_browser_that_types_the_teacher_key_stays_a_teacher(db, monkeypatch):
    monkeypatch.delenv(cl.TEACHER_KEY, raising=False)
    assert not cl.enter_teacher_key(db, S1, "anything") and not cl.key_entered(db, S1)
    monkeypatch.setenv(cl.TEACHER_KEY, "s3cret-key")
    assert not cl.enter_teacher_key(db, S1, "wrong") and not cl.key_entered(db, S1)
    assert cl.enter_teacher_key(db, S1, "s3cret-key") and cl.key_entered(db, S1) and not cl.key_entered(db, S2)
    assert cl.enter_teacher_key(db, S1, "s3cret-key")  # again: no error
    monkeypatch.delenv(cl.TEACHER_KEY)
    assert not cl.key_entered(db, S1)  # the server no longer has a key: no teachers without login


def test_a_class_project_opens_only_for_its_owner_and_its_teacher(db):
    c = cl.create_class(db, T1, "A class")
    cl.join(db, c.token, S1, "Alice")
    cl.hand_out(db, c.id, T1, template("iris_mlp"))
    alice = db.list_projects(owner=S1)[0]["id"]
    assert cl.may_view(db, alice, S1) and cl.may_view(db, alice, T1)
    assert not cl.may_view(db, alice, S2) and not cl.may_view(db, alice, T2) and not cl.may_view(db, alice, None)
    db.save_project("plain_project_1", template("mlp"), owner=S1)  # outside a class: by its link, as before
    assert cl.may_view(db, "plain_project_1", S2)
    assert not cl.may_view(db, "no_such_project", S1)


def test_a_project_made_in_a_class_belongs_to_it_and_only_a_member_can_make_one(db):
    c = cl.create_class(db, T1, "A class")
    cl.join(db, c.token, S1, "Alice")
    pid = cl.new_class_project(db, c.id, S1, template("mlp"))
    assert cl.class_projects(db, c.id, S1) == {pid}
    assert [r["project_id"] for r in cl.overview(db, c.id, T1)] == [pid]
    with pytest.raises(ClassError, match="not in this class"):
        cl.new_class_project(db, c.id, S2, template("mlp"))
    cl.leave(db, c.id, S1)
    with pytest.raises(ClassError, match="not in this class"):
        cl.new_class_project(db, c.id, S1, template("mlp"))


def test_the_grid_sorts_names_as_a_reader_does(db):
    c = cl.create_class(db, T1, "Sorted")
    for who, name in ((S1, "<b>Ben</b>"), (S2, "carl"), (S3, "Ana")):
        cl.join(db, c.token, who, name)
    assert [r["name"] for r in cl.overview(db, c.id, T1)] == ["Ana", "<b>Ben</b>", "carl"]


def _class_file() -> tuple:
    """A teacher's NPZ: 3 classes, 60 training and 30 test samples (the test rows are told apart by a marker)."""
    import numpy as np

    rng = np.random.default_rng(4)
    x_train, y_train = rng.normal(size=(60, 4)).astype("float32"), np.arange(60) % 3
    x_test, y_test = rng.normal(size=(30, 4)).astype("float32") + 100.0, (np.arange(30) + 1) % 3
    out = io.BytesIO()
    np.savez(out, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return out.getvalue(), x_test, y_test


def class_on_file(db, teacher: str, student: str):
    """A class made from the teacher's own file (`_class_file`), the iris MLP handed out, `student` in it.

    Returns:
        (the class, the student's project id, the student's data as loaded, the test split's bytes, x_test, y_test).
    """
    from builder.data.datachoice import DataChoice, keep_upload, load
    from builder.store import artifact_dir

    raw, x_test, y_test = _class_file()
    students, train, test = cl.split_upload(raw, "exam.npz")
    keep_upload(artifact_dir("uploads"), students, train)
    c = cl.create_class(db, teacher, "Exam", data=students.to_dict(), hidden=test)
    cl.hand_out(db, c.id, teacher, template("iris_mlp"), c.data)
    cl.join(db, c.token, student, "Alice")
    (pid,) = cl.class_projects(db, c.id, student)
    return c, pid, load(DataChoice.from_dict(db.project_data(pid)), artifact_dir("uploads")), test, x_test, y_test


def test_a_class_from_the_teachers_own_file_hides_its_test_split(db, tmp_path, monkeypatch):
    import numpy as np

    from builder.data.datachoice import DataChoice, load
    from builder.data.datasets import DatasetError
    from builder.store import artifact_dir

    monkeypatch.setenv("LAYERCANVAS_ARTIFACTS", str(tmp_path))
    c, pid, mine, test, x_test, y_test = class_on_file(db, T1, S1)
    # The student's data is the training part alone: not one test sample, not one test label.
    seen = np.concatenate([mine.x_train, mine.x_test])
    assert len(seen) == 60 and float(seen.max()) < 50.0
    # The test split: for the server scoring runs and for the teacher; a student's (forged) request is refused.
    x, y, classes = cl.hidden_test_split(db, c.id, cl.SERVER)
    np.testing.assert_array_equal(x, x_test)
    np.testing.assert_array_equal(y, y_test)
    assert classes == 3 and cl.hidden_test_split(db, c.id, T1)[0].shape == (30, 4)
    for asker in (S1, T2):
        with pytest.raises(ClassError, match="no such class"):
            cl.hidden_test_split(db, c.id, asker)
    with pytest.raises(ClassError, match="sign in"):
        cl.hidden_test_split(db, c.id, None)
    # Nor can its bytes be named as an upload: the test split is not among the uploads.
    import hashlib

    forged = DataChoice.from_dict({"kind": "upload", "id": hashlib.sha1(test).hexdigest(), "file": "t.npz",
                                   "format": "npz"})
    with pytest.raises(DatasetError, match="no longer on the server"):
        load(forged, artifact_dir("uploads"))
    with pytest.raises(ClassError, match="no hidden test split"):
        cl.hidden_test_split(db, cl.create_class(db, T1, "Plain", data={"kind": "builtin", "name": "iris"}).id, T1)


def test_a_class_file_must_be_classification_data(tmp_path):
    import numpy as np

    out = io.BytesIO()
    np.savez(out, x_train=np.ones((20, 2), "float32"), y_train=np.linspace(0, 1, 20).astype("float32"))
    with pytest.raises(ClassError, match="regression"):
        cl.split_upload(out.getvalue(), "prices.npz")


def test_the_grid_shows_a_running_runs_epoch_without_its_curves(db):
    import json

    from builder.store import runs

    c = cl.create_class(db, T1, "Live")
    cl.hand_out(db, c.id, T1, template("iris_mlp"))
    cl.join(db, c.token, S1, "Alice")
    (pid,) = cl.class_projects(db, c.id, S1)
    run = db.create_run(pid, template("iris_mlp"), {"epochs": 10}, "iris", owner=S1)
    progress = {"status": "running", "epoch": 3, "epochs": 10, "batches": [[i, 0.5] for i in range(500)]}
    with db.transaction() as conn:
        conn.execute(runs.update().where(runs.c.id == run).values(status="running", progress=json.dumps(progress)))
    (row,) = cl.overview(db, c.id, T1)
    assert row["status"] == "running" and row["progress"] == {"status": "running", "epoch": 3, "epochs": 10}
