"""The store: round trips, transactions, threads, persistence, bad input, migrations.

Every test that takes `db` (or `location`) runs twice: on a SQLite file and on a real PostgreSQL server that the
test session starts (tests/pgserver.py). Tests of SQLite files as such (WAL, damaged files, files made by older
versions) take `tmp_path` only."""

import math
import pathlib
import re
import sqlite3
import subprocess
import sys
import threading
import time

import pytest
import sqlalchemy as sa

from builder import store as store_mod
from builder.model.layout import auto_layout
from builder.model.templates import template
from builder.store import (
    INTERRUPTED_MESSAGE,
    MIGRATIONS,
    RUN_STATUSES,
    SCHEMA_VERSION,
    Store,
    StoreError,
    default_path,
    new_project_id,
)
from tests.store_history import SQLITE_STEPS

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request, tmp_path):
    """Where a new, empty store goes: a SQLite file in folders not made yet, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "nested" / "dir" / "lc.db"
    return request.getfixturevalue("postgres").create_db()


@pytest.fixture
def db(location):
    s = Store(location)
    yield s
    s.close()


class FailOn:
    """Fails the first statement that starts with `prefix`, as a crash would, recording every statement sent."""

    def __init__(self, db, prefix):
        self.prefix, self.seen = prefix, []
        sa.event.listen(db.engine, "before_cursor_execute", self.check)

    def check(self, conn, cursor, statement, parameters, context, executemany):
        self.seen.append(statement.split()[0])
        if statement.lstrip().startswith(self.prefix):
            raise RuntimeError("simulated crash")


def _sql(sql: str, args: tuple):
    """`?` placeholders as SQLAlchemy's named ones."""
    names = iter(range(len(args)))
    return sa.text(re.sub(r"\?", lambda _: f":p{next(names)}", sql)), {f"p{i}": a for i, a in enumerate(args)}


def raw(db, sql, *args):
    """Reads behind the store's back, through a connection of its own."""
    engine = sa.create_engine(db.engine.url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(*_sql(sql, args))]
    finally:
        engine.dispose()


def raw_write(db, sql, *args):
    """Writes behind the store's back, through a connection of its own."""
    engine = sa.create_engine(db.engine.url, poolclass=sa.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(*_sql(sql, args))
    finally:
        engine.dispose()


def tables(db) -> dict[str, set[str]]:
    """Each table of the database, with its columns' names."""
    inspector = sa.inspect(db.engine)
    return {t: {c["name"] for c in inspector.get_columns(t)} for t in inspector.get_table_names()}


# -- opening ----------------------------------------------------------------------
def test_open_creates_folders_wal_and_schema(tmp_path):
    with Store(tmp_path / "nested" / "dir" / "lc.db") as db:
        assert db.path.exists() and db.dialect == "sqlite"
        assert raw(db, "PRAGMA journal_mode") == [("wal",)]
        with db.engine.connect() as conn:  # a connection of the store's own pool
            assert conn.exec_driver_sql("PRAGMA foreign_keys").all() == [(1,)]
        assert db.schema_version() == SCHEMA_VERSION


def test_the_migrations_make_the_schema_the_code_uses_on_both_databases(db):
    assert db.schema_version() == SCHEMA_VERSION == len(MIGRATIONS)
    assert tables(db) == {t.name: {c.name for c in t.columns} for t in store_mod.metadata.sorted_tables}
    pk = sa.inspect(db.engine).get_pk_constraint("epochs")["constrained_columns"]
    assert pk == ["run_id", "epoch"]


def schema(db) -> dict:
    """Everything of the database's schema that matters: each table's columns (name, type, nullable, default),
    primary key, indexes, unique constraints and foreign keys."""
    i = sa.inspect(db.engine)
    out = {}
    for t in sorted(i.get_table_names()):
        out[t] = {
            "columns": sorted((c["name"], str(c["type"]).split("(")[0], c["nullable"], str(c.get("default")))
                              for c in i.get_columns(t)),
            "pk": sorted(i.get_pk_constraint(t)["constrained_columns"]),
            "indexes": sorted((x["name"], tuple(x["column_names"]), bool(x["unique"])) for x in i.get_indexes(t)
                              if not x["name"].startswith("sqlite_autoindex")),
            "unique": sorted(tuple(u["column_names"]) for u in i.get_unique_constraints(t)),
            "fks": sorted((tuple(f["constrained_columns"]), f["referred_table"], str(f.get("options")))
                          for f in i.get_foreign_keys(t)),
        }
    return out


def test_a_new_database_made_in_one_step_is_the_one_the_migrations_make(location, monkeypatch, request):
    with Store(location) as made:
        one_step = schema(made)
    fresh = location.parent / "steps.db" if isinstance(location, pathlib.Path) else \
        request.getfixturevalue("postgres").create_db()
    monkeypatch.setattr(store_mod, "FAST_NEW", False)
    with Store(fresh) as stepped:
        assert schema(stepped) == one_step
        assert stepped.schema_version() == SCHEMA_VERSION
    assert "projects_class" in {x[0] for x in one_step["projects"]["indexes"]}


def test_the_migrations_make_the_same_tables_as_the_sqlite_text_that_shipped(tmp_path):
    old = tmp_path / "shipped.db"
    with sqlite3.connect(old) as conn:
        for step in SQLITE_STEPS:
            for sql in step:
                conn.execute(sql)
    shipped = sa.inspect(sa.create_engine(f"sqlite:///{old}"))
    with Store(tmp_path / "new.db") as db:
        now = sa.inspect(db.engine)
        for table in shipped.get_table_names():  # version 4's tables, as the first part of today's
            then = [c["name"] for c in shipped.get_columns(table)]
            assert [c["name"] for c in now.get_columns(table)][:len(then)] == then
            then_indexes = {i["name"]: i["column_names"] for i in shipped.get_indexes(table)}
            assert then_indexes.items() <= {i["name"]: i["column_names"] for i in now.get_indexes(table)}.items()


def test_default_path(monkeypatch, tmp_path):
    monkeypatch.delenv("LAYERCANVAS_DB", raising=False)
    monkeypatch.delenv("LAYERCANVAS_ARTIFACTS", raising=False)
    assert default_path().parts[-2:] == ("data", "layercanvas.db")
    assert (default_path().parent.parent / "builder" / "store.py").exists()
    assert store_mod.artifact_dir("runs") == default_path().parent / "runs"
    monkeypatch.setenv("LAYERCANVAS_DB", str(tmp_path / "x.db"))
    assert default_path() == tmp_path / "x.db" == store_mod.default_location()
    assert store_mod.artifact_dir("uploads") == tmp_path / "uploads"  # beside the file
    with Store() as s:
        assert s.path == tmp_path / "x.db"
    monkeypatch.setenv("LAYERCANVAS_DB", "postgresql://lc:secret@db.example/lc")
    assert store_mod.default_location() == "postgresql://lc:secret@db.example/lc"
    with pytest.raises(StoreError, match="names a database server"):
        default_path()
    assert store_mod.artifact_dir("runs").parts[-2:] == ("data", "runs")
    monkeypatch.setenv("LAYERCANVAS_ARTIFACTS", str(tmp_path / "shared"))
    assert store_mod.artifact_dir("runs") == tmp_path / "shared" / "runs"


@pytest.mark.parametrize(("setting", "message"), [
    ("postgresql://lc@host:notaport/db", "LAYERCANVAS_DB is not a valid database URL"),
    ("mysql://lc@localhost/db", "LAYERCANVAS_DB names a 'mysql' database: use a file path"),
    ("postgresql+nosuchdriver://lc@localhost/db", "LAYERCANVAS_DB cannot be used"),
])
def test_a_malformed_database_setting_is_one_line_naming_it(monkeypatch, setting, message):
    monkeypatch.setenv("LAYERCANVAS_DB", setting)
    with pytest.raises(StoreError) as e:
        store_mod.open_or_set_aside()
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


def test_a_server_that_does_not_answer_is_named_with_its_setting_and_no_password(tmp_path):
    url = f"postgresql://lc:hunter2@/layercanvas?host={tmp_path}"  # no server listens there
    with pytest.raises(store_mod.StoreUnavailable) as e:
        Store(url)
    text = str(e.value)
    assert "does not answer (LAYERCANVAS_DB)" in text and "hunter2" not in text and "***" in text


def test_reopen_after_close_keeps_everything_and_does_not_migrate_twice(location):
    g = auto_layout(template("small_resnet"))
    with Store(location) as s:
        s.save_project("project_1", g)
        run = s.create_run("project_1", g, {"epochs": 2}, "cifar10")
        s.add_epoch(run, 0, {"loss": 1.5})
    with pytest.raises(StoreError, match="closed"):
        s.list_projects()
    with Store(location) as s:
        assert s.load_project("project_1") == g  # layout included
        assert s.get_run(run)["epochs"] == [{"epoch": 0, "metrics": {"loss": 1.5}}]
        assert [v for (v,) in raw(s, "SELECT version FROM schema_version ORDER BY version")] == list(
            range(1, SCHEMA_VERSION + 1))


def test_a_newer_schema_is_refused(db, location):
    raw_write(db, "INSERT INTO schema_version VALUES (99)")
    with pytest.raises(StoreError, match="newer LayerCanvas"):
        Store(location)


def test_a_file_that_is_no_database_is_refused(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(store_mod.DamagedStoreError, match="not a readable database"):
        Store(junk)


def test_a_failing_migration_leaves_the_schema_as_it_was(db, location, monkeypatch):
    def half_done(op):
        op.create_table("half", sa.Column("a", sa.Integer))
        op.add_column("runs", sa.Column("extra", sa.Text))
        op.execute("NOT SQL AT ALL")

    db.close()
    monkeypatch.setattr(store_mod, "MIGRATIONS", [*MIGRATIONS, half_done])
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(StoreError):
        Store(location)
    monkeypatch.undo()
    with Store(location) as again:
        assert "half" not in tables(again) and "extra" not in tables(again)["runs"]
        assert again.schema_version() == SCHEMA_VERSION


# -- projects ---------------------------------------------------------------------
def test_project_round_trip_upsert_list_and_delete(db):
    a, b = new_project_id(), new_project_id()
    assert a != b and len(a) >= 16 and store_mod.ID_RE.fullmatch(a)
    assert db.load_project(a) is None
    g = auto_layout(template("inception_block"))
    db.save_project(a, g)
    db.save_project(b, template("mlp"))
    assert db.load_project(a) == g
    g2 = g.set_name("renamed").set_position("head", (1.5, 2.5))
    db.save_project(a, g2)  # upsert: newest first now
    assert db.load_project(a) == g2
    listed = db.list_projects()
    assert [p["id"] for p in listed] == [a, b]
    assert listed[0]["name"] == "renamed" and set(listed[0]) == {"id", "name", "updated_at", "layers", "params", "runs", "best"}
    assert listed[0]["updated_at"] >= listed[1]["updated_at"]
    assert len(db.list_projects(limit=1)) == 1
    assert raw(db, "SELECT COUNT(*) FROM projects") == [(2,)]
    assert db.delete_project(a) is True
    assert db.delete_project(a) is False
    assert db.load_project(a) is None
    assert [p["id"] for p in db.list_projects()] == [b]


@pytest.mark.parametrize("bad", [
    "short", "x" * 65, "../../etc/passwd", "abc def ghi", "robert'); DROP TABLE projects;--", "ünïcode_id_1",
    "", None, 12345678, b"abcdefgh", "abcdefgh\n",
])
def test_bad_ids_are_refused_before_touching_the_database(db, bad):
    calls = [
        lambda: db.save_project(bad, template("mlp")),
        lambda: db.load_project(bad),
        lambda: db.delete_project(bad),
        *([] if bad is None else [  # None: a run without a project
            lambda: db.list_runs(project_id=bad),
            lambda: db.create_run(bad, template("mlp"), {}, "iris"),
        ]),
        lambda: db.get_run(bad),
        lambda: db.set_run_status(bad, "running"),
        lambda: db.add_epoch(bad, 0, {}),
        lambda: db.finish_run(bad, "finished", {}, None),
    ]
    for call in calls:
        with pytest.raises(StoreError, match="invalid (project|run) id"):
            call()
    assert "projects" in tables(db)


def test_a_corrupted_stored_graph_loads_as_none(db):
    pid = new_project_id()
    db.save_project(pid, template("mlp"))
    for junk in ("{not json", '{"format": "something-else"}', '{"format": "layercanvas-graph", "version": 7}', "[" * 5000):
        raw_write(db, "UPDATE projects SET graph = ? WHERE id = ?", junk, pid)
        assert db.load_project(pid) is None
    assert [p["id"] for p in db.list_projects()] == [pid]  # still listed, so it can be deleted


def test_save_refuses_what_is_not_a_graph(db):
    with pytest.raises(StoreError, match="expected a Graph"):
        db.save_project(new_project_id(), {"nodes": []})


# -- runs -------------------------------------------------------------------------
def test_run_life_cycle(db):
    pid = new_project_id()
    g = template("cifar_cnn")
    run = db.create_run(pid, g, {"epochs": 3, "batch_size": 32}, "cifar10")
    assert store_mod.ID_RE.fullmatch(run)
    r = db.get_run(run)
    assert r["status"] == "queued" and r["graph"] == g and r["settings"] == {"epochs": 3, "batch_size": 32}
    assert r["dataset"] == "cifar10" and r["project_id"] == pid and r["epochs"] == [] and r["name"] == "cifar_cnn"
    assert r["final_metrics"] is None and r["artifact_path"] is None and r["message"] is None
    db.set_run_status(run, "compiling", "tracing the model")
    db.set_run_status(run, "running")
    for epoch in (1, 0, 2):
        db.add_epoch(run, epoch, {"loss": 1.0 / (epoch + 1), "accuracy": 0.3 * epoch})
    db.add_epoch(run, 2, {"loss": 0.25, "accuracy": 0.7})  # a repeat replaces
    db.finish_run(run, "finished", {"test_accuracy": 0.69}, "/tmp/model.keras")
    r = db.get_run(run)
    assert r["status"] == "finished" and r["message"] is None
    assert [e["epoch"] for e in r["epochs"]] == [0, 1, 2]
    assert r["epochs"][2]["metrics"] == {"loss": 0.25, "accuracy": 0.7}
    assert r["final_metrics"] == {"test_accuracy": 0.69} and r["artifact_path"] == "/tmp/model.keras"
    assert r["updated_at"] >= r["created_at"]
    assert db.get_run("no_such_run_1") is None


def test_metrics_accept_numpy_and_keep_nan(db):
    np = pytest.importorskip("numpy")
    run = db.create_run(None, template("mlp"), {}, "iris")
    db.add_epoch(run, 0, {"loss": np.float32(0.5), "val_loss": float("nan"), "per_class": np.array([1.0, 2.0])})
    m = db.get_run(run)["epochs"][0]["metrics"]
    assert m["loss"] == 0.5 and math.isnan(m["val_loss"]) and m["per_class"] == [1.0, 2.0]
    with pytest.raises(StoreError, match="cannot be saved as JSON"):
        db.add_epoch(run, 1, {"loss": object()})


def test_run_input_is_checked(db):
    run = db.create_run(None, template("mlp"), {}, "iris")
    with pytest.raises(StoreError, match="invalid run status"):
        db.set_run_status(run, "exploded")
    with pytest.raises(StoreError, match="invalid run status"):
        db.finish_run(run, "running", {}, None)  # not a final status
    for bad in (-1, 1.5, True, "3"):
        with pytest.raises(StoreError, match="epoch"):
            db.add_epoch(run, bad, {})
    with pytest.raises(StoreError, match="no run"):
        db.set_run_status("unknown_run_id", "running")
    with pytest.raises(StoreError, match="no run"):
        db.add_epoch("unknown_run_id", 0, {"loss": 1})
    with pytest.raises(StoreError, match="no run"):
        db.finish_run("unknown_run_id", "failed", None)
    with pytest.raises(StoreError, match="settings"):
        db.create_run(None, template("mlp"), "epochs=3", "iris")
    with pytest.raises(StoreError, match="limit"):
        db.list_runs(limit=0)
    assert raw(db, "SELECT COUNT(*) FROM epochs") == [(0,)]
    assert set(RUN_STATUSES) == {"queued", "compiling", "running", "stopped", "finished", "failed", "interrupted"}


def test_list_runs_newest_first_and_by_project(db):
    p1, p2 = new_project_id(), new_project_id()
    ids = [db.create_run(p, template("mlp"), {"i": i}, "iris") for i, p in enumerate([p1, p2, p1, None])]
    assert [r["id"] for r in db.list_runs()] == ids[::-1]
    assert [r["id"] for r in db.list_runs(p1)] == [ids[2], ids[0]]
    assert [r["id"] for r in db.list_runs(limit=2)] == [ids[3], ids[2]]
    row = db.list_runs(p2)[0]
    assert "graph" not in row and "epochs" not in row and row["settings"] == {"i": 1}
    db.delete_project(p1)  # runs keep their own copy of the graph
    assert db.get_run(ids[0])["graph"] == template("mlp")


def test_mark_interrupted_at_server_start(db, location):
    db.owner = store_mod.process_owner(_dead_pid())  # the runs' server is gone
    runs = {s: db.create_run(None, template("mlp"), {}, "iris") for s in RUN_STATUSES}
    for status, run in runs.items():
        if status in ("stopped", "finished", "failed", "interrupted"):
            db.finish_run(run, status, {}, None, message="kept")
        else:
            db.set_run_status(run, status)
    restarted = Store(location)
    assert restarted.mark_interrupted() == 3
    for status, run in runs.items():
        r = restarted.get_run(run)
        if status in ("queued", "compiling", "running"):
            assert r["status"] == "interrupted" and r["message"] == INTERRUPTED_MESSAGE
        else:
            assert r["status"] == status and r["message"] == "kept"
    assert restarted.mark_interrupted() == 0
    restarted.close()


def _dead_pid() -> int:
    """The pid of a process that has ended."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_only_runs_of_processes_that_are_gone_are_interrupted(db):
    import os
    import socket

    child = subprocess.Popen(["sleep", "30"])
    try:
        live_other = store_mod.process_owner(child.pid)
        owners = {
            "mine": db.owner,
            "other live server": live_other,
            "dead server": store_mod.process_owner(_dead_pid()),
            "reused pid": f"{socket.gethostname()}/{os.getpid()}/1",  # our pid, another start time
            "other host": "elsewhere.example/123/456",
            "before owners were kept": None,
        }
        runs = {}
        for what, owner in owners.items():
            runs[what] = db.create_run(None, template("mlp"), {}, "iris")
            raw_write(db, "UPDATE runs SET owner = ?, status = 'running' WHERE id = ?", owner, runs[what])
        assert db.mark_interrupted() == 3
        status = {what: db.get_run(run)["status"] for what, run in runs.items()}
        assert status == {"mine": "running", "other live server": "running", "dead server": "interrupted",
                          "reused pid": "interrupted", "other host": "running",
                          "before owners were kept": "interrupted"}
        child.kill()
        child.wait()
        assert db.mark_interrupted() == 1  # that server has stopped now
        assert db.get_run(runs["other live server"])["status"] == "interrupted"
    finally:
        child.kill()


def test_a_version_1_database_gains_owners_and_its_active_runs_are_interrupted(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for sql in SQLITE_STEPS[0]:
            conn.execute(sql)
        conn.execute("INSERT INTO schema_version VALUES (1)")
        conn.execute("INSERT INTO runs (id, name, graph, settings, dataset, status, created_at, updated_at) "
                     "VALUES ('oldrun_1', 'm', '{}', '{}', 'iris', 'running', 0, 0)")
    with Store(path) as s:
        assert s.schema_version() == SCHEMA_VERSION == 6
        assert s.mark_interrupted() == 1
        assert s.get_run("oldrun_1")["status"] == "interrupted"
        assert s.get_run(s.create_run(None, template("mlp"), {}, "iris"))["status"] == "queued"


def test_a_version_3_database_keeps_its_projects_and_gains_data_choices_and_uploads(tmp_path):
    path = tmp_path / "v3.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for version in range(3):
            for sql in SQLITE_STEPS[version]:
                conn.execute(sql)
            conn.execute("INSERT INTO schema_version VALUES (?)", (version + 1,))
        conn.execute("INSERT INTO projects (id, name, graph, created_at, updated_at, owner_key) VALUES "
                     "('oldproj1', 'digits_cnn', ?, 0, 0, 'key:aaaaaaaaaaaaaaaaaaaaaa')", (template("digits_cnn").dumps(),))
    with Store(path) as s:
        assert s.schema_version() == SCHEMA_VERSION
        assert s.load_project("oldproj1") == template("digits_cnn")
        assert s.project_data("oldproj1") is None  # nothing chosen yet: the graph's training.dataset holds
        assert s.project_info("oldproj1")["data"] is None
        assert s.set_project_data("oldproj1", {"kind": "builtin", "name": "iris"}, owner="key:aaaaaaaaaaaaaaaaaaaaaa")
        assert s.project_data("oldproj1") == {"kind": "builtin", "name": "iris"}


def test_the_data_choice_is_the_owners_to_set_and_comes_along_with_a_duplicate(db):
    me, other = "key:" + "m" * 22, "key:" + "o" * 22
    db.save_project("project1", template("digits_cnn"), me)
    choice = {"kind": "upload", "id": "a" * 40, "file": "x.csv", "format": "csv", "label": "y"}
    assert not db.set_project_data("project1", choice, owner=other)  # not theirs: nothing changes
    assert db.project_data("project1") is None
    assert db.set_project_data("project1", choice, owner=me)
    assert db.project_data("project1") == choice
    db.save_project("project1", template("mlp"), me)  # saving the graph leaves the data choice alone
    assert db.project_data("project1") == choice
    copy = db.duplicate_project("project1", me)
    assert db.project_data(copy) == choice
    assert not db.set_project_data("nosuchproject", choice)
    with pytest.raises(StoreError):
        db.set_project_data("project1", "iris")


def test_uploads_belong_to_who_uploaded_them_and_follow_a_sign_in(db):
    me, other, user = "key:" + "m" * 22, "key:" + "o" * 22, "user:me@example.org"
    digest = "b" * 40
    assert not db.owns_upload(digest, me)
    db.add_upload(digest, me, "flowers.zip", "zip", 1234)
    db.add_upload(digest, me, "flowers.zip", "zip", 1234)  # twice: still one record
    assert db.owns_upload(digest, me)
    assert not db.owns_upload(digest, other)
    assert not db.owns_upload(digest, None)
    assert not db.owns_upload("../../etc/passwd", me)
    with pytest.raises(StoreError):
        db.add_upload("not-a-digest", me, "x.csv", "csv", 1)
    db.transfer_owner(me, user)
    assert db.owns_upload(digest, user) and not db.owns_upload(digest, me)


def test_a_finished_run_keeps_its_samples_per_second(db):
    run = db.create_run(None, template("mlp"), {}, "iris")
    assert db.get_run(run)["stats"] == {}
    db.finish_run(run, "finished", {"loss": 0.5}, stats={"samples_per_s": 4464.0})
    assert db.get_run(run)["stats"] == {"samples_per_s": 4464.0}
    assert db.list_runs(limit=1)[0]["stats"] == {"samples_per_s": 4464.0}
    with pytest.raises(StoreError):
        db.finish_run(run, "finished", None, stats=[1])


# -- transactions and threads -------------------------------------------------------
def test_a_crash_between_statements_leaves_nothing_half_written(db, monkeypatch):
    run = db.create_run(None, template("mlp"), {}, "iris")
    before = db.get_run(run)
    failing = FailOn(db, "INSERT INTO epochs")
    with pytest.raises(RuntimeError, match="simulated crash"):
        db.add_epoch(run, 0, {"loss": 1.0})
    assert failing.seen[-2:] == ["UPDATE", "INSERT"]  # the first write did happen...
    sa.event.remove(db.engine, "before_cursor_execute", failing.check)
    after = db.get_run(run)
    assert after["epochs"] == [] and after["updated_at"] == before["updated_at"]  # ...and was undone
    db.add_epoch(run, 0, {"loss": 1.0})  # the store still works
    assert len(db.get_run(run)["epochs"]) == 1


def test_a_crash_in_a_single_write_also_rolls_back(db, monkeypatch):
    pid = new_project_id()
    db.save_project(pid, template("mlp"))
    def crash_on_commit(conn):
        raise RuntimeError("simulated crash")

    sa.event.listen(db.engine, "commit", crash_on_commit)
    with pytest.raises(RuntimeError):
        db.save_project(pid, template("cifar_cnn"))
    sa.event.remove(db.engine, "commit", crash_on_commit)
    assert db.load_project(pid) == template("mlp")


def test_eight_threads_write_at_once_through_one_store_and_through_two(location):
    shared, other = Store(location), Store(location)  # two pools compete for the database
    errors, per_thread = [], 15

    def work(t):
        s = shared if t % 2 else other
        try:
            for i in range(per_thread):
                pid = f"thread{t}_project{i}"
                s.save_project(pid, template("mlp").set_name(f"t{t}_{i}"))
                run = s.create_run(pid, template("mlp"), {"t": t}, "iris")
                s.set_run_status(run, "running")
                for epoch in range(3):
                    s.add_epoch(run, epoch, {"loss": epoch})
                s.finish_run(run, "finished", {"i": i}, None)
                assert s.load_project(pid).name == f"t{t}_{i}"
        except Exception as e:  # noqa: BLE001 -- collected: an assert in a thread would be lost
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    start = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert time.perf_counter() - start < 15
    assert len(shared.list_projects(limit=1000)) == 8 * per_thread
    runs = other.list_runs(limit=1000)
    assert len(runs) == 8 * per_thread and {r["status"] for r in runs} == {"finished"}
    assert raw(shared, "SELECT COUNT(*) FROM epochs") == [(8 * per_thread * 3,)]
    shared.close()
    other.close()


# -- owners, the projects list, deletion with undo (schema 3) -----------------------
ME, YOU = "key:" + "m" * 22, "user:you@example.org"


def test_a_version_2_database_opens_with_everything_kept_and_old_projects_are_claimable(tmp_path):
    path = tmp_path / "v2.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for step in SQLITE_STEPS[:2]:
            for sql in step:
                conn.execute(sql)
        conn.execute("INSERT INTO schema_version VALUES (1)")
        conn.execute("INSERT INTO schema_version VALUES (2)")
        graph = template("mlp").dumps(indent=None)
        conn.execute("INSERT INTO projects VALUES ('oldproject1', 'mlp', ?, 1, 2)", (graph,))
        conn.execute("INSERT INTO runs (id, project_id, name, graph, settings, dataset, status, final_metrics, "
                     "created_at, updated_at, owner) VALUES ('oldrun_22', 'oldproject1', 'mlp', ?, '{}', 'iris', "
                     "'finished', '{\"accuracy\": 0.75}', 3, 4, 'h/1/1')", (graph,))
    with Store(path) as s:
        assert s.schema_version() == SCHEMA_VERSION
        assert s.load_project("oldproject1") == template("mlp")
        assert s.get_run("oldrun_22")["final_metrics"] == {"accuracy": 0.75}
        (listed,) = s.list_projects()
        assert listed["best"] == {"accuracy": 0.75} and listed["runs"] == 1
        assert s.project_info("oldproject1")["owner"] is None
        assert s.list_projects(owner=ME) == []  # nobody's until opened
        assert [p["id"] for p in s.list_projects(unowned=True)] == ["oldproject1"]
        assert s.list_runs(owner=ME) == []
        assert s.claim_project("oldproject1", ME) is True
        assert s.list_projects(unowned=True) == []
        assert [r["id"] for r in s.list_runs(owner=ME)] == ["oldrun_22"]  # its runs came along
        assert s.claim_project("oldproject1", YOU) is False  # the first opener keeps it
        assert [p["id"] for p in s.list_projects(owner=ME)] == ["oldproject1"]


def test_projects_and_runs_are_listed_by_owner_and_searched(db):
    mine, yours = new_project_id(), new_project_id()
    db.save_project(mine, template("mlp").set_name("Digits <b>net<b>"), ME, params=1234)
    db.save_project(yours, template("mlp").set_name("your digits"), YOU)
    db.save_project(mine, template("mlp").set_name("Digits <b>net<b>"), YOU)  # a save never changes the owner
    assert db.project_info(mine)["owner"] == ME
    assert [p["id"] for p in db.list_projects(owner=ME)] == [mine]
    assert [p["id"] for p in db.list_projects(owner=YOU)] == [yours]
    assert {p["id"] for p in db.list_projects(search="DIGITS")} == {mine, yours}
    assert [p["id"] for p in db.list_projects(owner=YOU, search="<b>")] == []
    assert [p["id"] for p in db.list_projects(search="'; DROP TABLE projects; --")] == []
    (p,) = db.list_projects(owner=ME)
    assert p["layers"] == len(template("mlp").nodes) and p["params"] is None  # a new graph: not counted yet
    db.set_project_params(mine, 4321)
    assert db.list_projects(owner=ME)[0]["params"] == 4321
    r1 = db.create_run(mine, template("mlp"), {}, "iris", owner=ME)
    r2 = db.create_run(yours, template("mlp"), {}, "iris", owner=YOU)
    db.finish_run(r1, "finished", {"loss": 0.5, "accuracy": 0.9})
    db.finish_run(r2, "finished", {"loss": 0.25})
    assert [r["id"] for r in db.list_runs(owner=ME)] == [r1]
    assert db.list_runs(mine, owner=YOU) == []
    assert db.list_projects(owner=ME)[0]["best"] == {"accuracy": 0.9}
    assert db.list_projects(owner=YOU)[0]["best"] == {"loss": 0.25}
    assert db.get_run(r1)["owner_key"] == ME
    for bad in ("me", "key:", "user:a\nb", 5):
        with pytest.raises(StoreError, match="invalid owner"):
            db.list_projects(owner=bad)
    assert db.transfer_owner(ME, YOU) == 1
    assert {p["id"] for p in db.list_projects(owner=YOU)} == {mine, yours}
    assert db.get_run(r1)["owner_key"] == YOU


def test_rename_duplicate_delete_restore_and_purge(db, tmp_path):
    a = new_project_id()
    db.save_project(a, template("mlp"), ME, params=99)
    with pytest.raises(StoreError, match="no project"):
        db.rename_project(a, "taken over", owner=YOU)  # not theirs
    assert db.delete_project(a, owner=YOU) is False
    assert db.rename_project(a, "renamed", owner=ME).name == "renamed"
    assert db.load_project(a).name == "renamed" and db.list_projects()[0]["name"] == "renamed"
    with pytest.raises(StoreError):
        db.rename_project(a, "")
    with pytest.raises(StoreError, match="no project"):
        db.rename_project(new_project_id(), "x")
    run = db.create_run(a, template("mlp"), {}, "iris", owner=ME)
    db.set_weights_run(a, run)
    b = db.duplicate_project(a, YOU)
    assert b != a and db.load_project(b).name == "renamed copy" and db.load_project(b).nodes == db.load_project(a).nodes
    info = db.project_info(b)
    assert info["owner"] == YOU and info["weights_run"] == run
    assert db.list_runs(b) == []  # runs are not copied
    files = []
    for pid in (a, b):
        r = db.create_run(pid, template("mlp"), {}, "iris", owner=ME)
        f = tmp_path / f"{r}.keras"
        f.write_bytes(b"model")
        db.finish_run(r, "finished", {}, str(f))
        files.append((r, f))
    assert db.delete_project(a, delete_runs=True) and db.delete_project(b, delete_runs=False)
    assert db.load_project(a) is None and db.list_projects() == []
    assert db.restore_project(a, owner=YOU) is False
    assert db.restore_project(a, owner=ME) is True and db.restore_project(a) is False
    assert db.load_project(a).name == "renamed"
    assert db.delete_project(a, delete_runs=True)
    assert db.purge_deleted(older_than_s=3600) == 0  # still undoable
    assert db.purge_deleted() == 2
    assert db.project_info(a) is None and db.project_info(b) is None
    assert db.get_run(files[0][0]) is None and not files[0][1].exists()  # a's runs went, with their files
    assert raw(db, "SELECT COUNT(*) FROM runs WHERE project_id = ?", a) == [(0,)]
    assert db.get_run(files[1][0]) is not None and files[1][1].exists()  # b's were kept


def test_a_damaged_database_is_set_aside_not_overwritten(tmp_path):
    path = tmp_path / "lc.db"
    with Store(path) as s:
        pid = new_project_id()
        s.save_project(pid, template("mlp"), ME)
    data = bytearray(path.read_bytes())
    data[4096: 4096 + 8] = b"\xff" * 8  # scribble over the header of the second page (a table's)
    path.write_bytes(bytes(data))
    store, note = store_mod.open_or_set_aside(path)
    with store:
        assert note and "set aside as lc.db.damaged-" in note
        assert store.list_projects() == [] and store.schema_version() == SCHEMA_VERSION
    (aside,) = [p for p in tmp_path.iterdir() if p.name.startswith("lc.db.damaged-") and not p.name.endswith(("-wal", "-shm"))]
    assert aside.read_bytes() == bytes(data)  # kept as it was, for rescue
    path.write_bytes(b"garbage" * 1000)
    store, note = store_mod.open_or_set_aside(path)
    store.close()
    assert "not a readable database" in note
    store, note = store_mod.open_or_set_aside(path)  # a healthy file opens without a note
    store.close()
    assert note is None


WRITER = """
import sys
from builder.store import Store, new_project_id
from builder.model.templates import template
s = Store(sys.argv[1])
tag = sys.argv[2]
for i in range(40):
    pid = new_project_id()
    s.save_project(pid, template("mlp").set_name(f"{tag} {i}"), "key:" + tag * 8)
    run = s.create_run(pid, template("mlp"), {"i": i}, "iris", owner="key:" + tag * 8)
    s.add_epoch(run, 1, {"loss": i})
    s.finish_run(run, "finished", {"accuracy": i / 40})
s.close()
"""


def test_two_processes_write_one_database_at_once(location):
    Store(location).close()
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(location), tag], cwd=ROOT) for tag in "ab"]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    with Store(location) as s:
        if s.dialect == "sqlite":
            assert raw(s, "PRAGMA integrity_check") == [("ok",)]
            assert raw(s, "PRAGMA journal_mode") == [("wal",)]
        for tag in "ab":
            assert len(s.list_projects(owner="key:" + tag * 8, limit=1000)) == 40
            runs = s.list_runs(owner="key:" + tag * 8)
            assert len(runs) == 40 and all(r["status"] == "finished" for r in runs)


def test_an_imported_model_file_goes_with_the_last_project_that_uses_it(db, tmp_path):
    a = new_project_id()
    db.save_project(a, template("mlp"), ME)
    f = tmp_path / "imported.keras"
    f.write_bytes(b"model")
    db.set_weights_file(a, f)
    assert db.project_info(a)["weights_file"] == str(f)
    b = db.duplicate_project(a, ME)
    assert db.project_info(b)["weights_file"] == str(f)
    db.delete_project(a)
    assert db.purge_deleted() == 1 and f.exists()  # b still starts from it
    db.delete_project(b)
    assert db.purge_deleted() == 1 and not f.exists()
    with pytest.raises(StoreError, match="must be a path"):
        db.set_weights_file(a, 5)


# -- a database server that goes away and comes back ------------------------------------
def test_a_restarted_postgresql_costs_no_error_and_loses_nothing(postgres):
    with Store(postgres.create_db()) as s:
        pid = new_project_id()
        s.save_project(pid, template("mlp"), ME)
        assert s.load_project(pid) == template("mlp")  # the pool now holds a connection
        postgres.restart()  # that connection is dead now: pre-ping replaces it
        s.save_project(pid, template("mlp").set_name("after restart"), ME)
        assert s.load_project(pid).name == "after restart"


def test_while_postgresql_is_down_calls_say_so_and_work_again_when_it_is_back(postgres):
    with Store(postgres.create_db()) as s:
        pid = new_project_id()
        s.save_project(pid, template("mlp"), ME)
        postgres.stop()
        try:
            with pytest.raises(store_mod.StoreUnavailable, match=r"does not answer \(LAYERCANVAS_DB\)"):
                s.save_project(pid, template("mlp").set_name("while down"), ME)
        finally:
            postgres.start()
        assert s.load_project(pid) == template("mlp")  # the failed save changed nothing
        s.save_project(pid, template("mlp").set_name("while down"), ME)  # the same save, now it answers
        assert s.load_project(pid).name == "while down"


# -- runs any process can follow and stop; the queue of Ray runs (schema 5) ----------------------------------------
A, B, C = "key:" + "a" * 22, "key:" + "b" * 22, "key:" + "c" * 22


def _queue(db, owner, n=1, **kw):
    return [db.create_run(None, template("mlp"), {}, "iris", owner=owner, backend="ray", **kw) for _ in range(n)]


def test_the_queue_is_fair_between_owners_and_claims_are_atomic(db, location):
    a = _queue(db, A, 3)
    b = _queue(db, B, 1)
    c = _queue(db, C, 1)
    local = db.create_run(None, template("mlp"), {}, "iris", owner=A)  # an in-process run is not in this queue
    assert db.fair_order() == [a[0], b[0], c[0], a[1], a[2]]  # one each, then A's others
    other = Store(location)  # a second dispatcher's store, on the same database
    try:
        first = db.claim_next("dispatcher-1")
        second = other.claim_next("dispatcher-2")
        assert (first["id"], second["id"]) == (a[0], b[0]) and first["claimed_by"] == "dispatcher-1"
        assert db.fair_order() == [c[0], a[1], a[2]]
        assert db.ray_runs_under_way() == 2
        skipped = other.claim_next("dispatcher-2", skip=lambda run: run["id"] == c[0])  # too big for now
        assert skipped["id"] == a[1] and db.fair_order() == [c[0], a[2]]
        results = []
        threads = [threading.Thread(target=lambda s=s: results.append(s.claim_next("racer"))) for s in (db, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(r["id"] for r in results) == sorted([c[0], a[2]])  # each run taken once
        assert db.claim_next("dispatcher-1") is None and db.fair_order() == []
        assert db.get_run(local)["claimed_by"] is None
    finally:
        other.close()


def test_the_per_owner_limit_counts_queued_and_running_runs(db):
    _queue(db, A, 2, limit=2)
    with pytest.raises(store_mod.LimitError, match="2 runs queued or running"):
        _queue(db, A, 1, limit=2)
    _queue(db, B, 1, limit=2)  # another owner is not held up
    run = db.list_runs(owner=A)[0]["id"]
    db.finish_run(run, "finished", {})
    _queue(db, A, 1, limit=2)  # one ended: room for one more


def test_stop_reaches_the_worker_through_the_store_and_a_run_not_taken_ends_at_once(db):
    waiting, taken = _queue(db, A, 2)
    assert db.request_stop(waiting, owner=B) is False  # not theirs
    assert db.request_stop(waiting) is True
    assert db.get_run(waiting)["status"] == "stopped"  # no dispatcher took it: nothing to wait for
    assert db.claim_next("d")["id"] == taken
    assert db.publish_progress(taken, {"batch": 3, "batches": [{"step": 1, "loss": 0.5}]}) is False
    assert db.get_run(taken)["progress"]["batch"] == 3 and db.get_run(taken)["heartbeat_at"] > 0
    assert db.request_stop(taken) is True and db.request_stop(taken) is False  # asked once
    assert db.stop_requested(taken) > 0
    assert db.publish_progress(taken, {"batch": 4}) is True  # the worker learns of it
    assert db.get_run(taken)["status"] == "queued"  # ...and ends the run itself, keeping the model
    db.set_run_result(taken, {"metrics": {"accuracy": 0.5}, "confusion": [[1, 0], [0, 1]]})
    assert db.get_run(taken)["result"]["confusion"] == [[1, 0], [0, 1]]


def test_runs_whose_worker_went_silent_fail_and_an_ended_run_keeps_its_end(db):
    live, silent, done = _queue(db, A, 3)
    assert [db.claim_next("d")["id"] for _ in range(3)] == [live, silent, done]
    db.set_run_status(silent, "running")
    assert db.get_run(silent)["started_at"] is not None
    raw_write(db, "UPDATE runs SET heartbeat_at = ? WHERE id IN (?, ?)", time.time() - 120, silent, done)
    db.finish_run(done, "finished", {"accuracy": 1.0})
    assert db.fail_lost(60, "lost contact with its worker") == [silent]
    assert db.get_run(silent)["status"] == "failed" and db.get_run(silent)["message"] == "lost contact with its worker"
    assert db.get_run(live)["status"] == "queued" and db.get_run(done)["status"] == "finished"
    assert db.end_run_if_active(done, "failed", "the worker died") is False  # it had ended: its end stays
    assert db.end_run_if_active(live, "failed", "the worker died") is True
    assert db.get_run(live)["message"] == "the worker died"
    assert db.mark_interrupted() == 0  # Ray runs are watched through their heartbeat, not a process


def test_services_report_on_themselves(db):
    assert db.service("ray") is None
    db.set_service("ray", {"address": "auto", "cpus": 2.0})
    db.set_service("ray", {"address": "auto", "cpus": 4.0})
    info, when = db.service("ray")
    assert info == {"address": "auto", "cpus": 4.0} and when > time.time() - 60
