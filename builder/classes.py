"""Classes: a teacher's class, who joined it, what the teacher handed out, and what the teacher sees of it.

Everyone is an owner key, as for projects ("user:<email>" when signed in, "key:<browser key>" without login).
Teachers are named in configuration (`is_teacher`). Privacy is kept here, in the store's queries, not by the pages:
every call says who asks and gets only what they may see; a forged id is refused as if it did not exist.

- A teacher sees and changes only their own classes; another teacher's class is not there for them.
- A student sees only their own projects and, if the teacher shows it, the leaderboard (names as the teacher
  chooses); leaving a class keeps their projects (they stay theirs, and stay marked as made in the class).
- The class view is made in a constant number of queries, whatever the number of students and runs.
"""

from __future__ import annotations

import csv
import hmac
import io
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from builder.config import text
from builder.data.datachoice import DataChoice, clean_file_name, read, upload, write_whole
from builder.model.graph import Graph, GraphError
from builder.store import (
    Store,
    StoreError,
    check_id,
    check_owner,
    class_members,
    classes,
    handouts,
    new_project_id,
    projects,
    runs,
    teachers,
)

HIDDEN = "hidden_test"  # in a class's data: its test split is the class's own file, never shown to students
SERVER = object()  # who asks for a hidden test split when the server scores a run (no browser can send it)
TEACHERS = "LAYERCANVAS_TEACHERS"  # comma-separated e-mail addresses of the teachers, when login is on
TEACHER_KEY = "LAYERCANVAS_TEACHER_KEY"  # without login: the secret a teacher types once in their browser
NAME_MAX = 40  # characters of a class's or a student's display name
FROM_TEACHER = " (from the teacher)"


class ClassError(StoreError):
    """A class action that cannot be done; the message says why, in the user's terms."""


@dataclass(frozen=True)
class ClassInfo:
    id: str
    name: str
    teacher: str
    token: str
    data: dict | None
    board: bool  # students see the leaderboard
    names: bool  # the leaderboard shows names (else "Student 1", "Student 2"…, and "you")
    created_at: float


# -- who is a teacher -------------------------------------------------------------------------------------------
def teacher_emails() -> set[str]:
    """The teachers' e-mail addresses (lower case) from LAYERCANVAS_TEACHERS."""
    return {e.strip().lower() for e in text(TEACHERS).split(",") if e.strip()}


def teacher_key_set() -> bool:
    return bool(text(TEACHER_KEY))


def teacher_key_ok(typed: Any) -> bool:
    """Whether `typed` is the server's teacher key (compared in constant time; never true when none is set)."""
    key = text(TEACHER_KEY)
    return bool(key) and isinstance(typed, str) and hmac.compare_digest(typed.strip().encode(), key.encode())


def is_teacher(owner: str | None, key_entered: bool = False) -> bool:
    """Whether `owner` may make classes: a signed-in user whose e-mail is in LAYERCANVAS_TEACHERS, or (without
    login) a browser that entered the teacher key."""
    if not owner:
        return False
    if owner.startswith("user:"):
        return owner[5:].strip().lower() in teacher_emails()
    return key_entered and teacher_key_set()


def enter_teacher_key(store: Store, owner: str, typed: Any) -> bool:
    """A browser that types the server's teacher key is a teacher from then on (kept in the store: typed once).

    Returns:
        Whether the key was right.
    """
    if not teacher_key_ok(typed):
        return False
    with store.transaction() as conn:
        conn.execute(store.upsert(teachers, {"owner": _who(owner), "since": time.time()}, ["owner"], None))
    return True


def key_entered(store: Store, owner: str | None) -> bool:
    """Whether this browser has entered the teacher key (and the server still has one)."""
    if not owner or not teacher_key_set():
        return False
    with store.transaction(write=False) as conn:
        return conn.execute(sa.select(teachers.c.owner).where(teachers.c.owner == _who(owner))).first() is not None


def may_view(store: Store, project_id: str, asker: str | None) -> bool:
    """Whether `asker` may open a project: their own; one outside any class (by its link, read-only, as before);
    a class project only for the teacher of its class. A class project's id alone opens nothing for anyone else."""
    p, c = projects.c, classes.c
    check_id(project_id)
    with store.transaction(write=False) as conn:
        row = conn.execute(sa.select(p.owner_key, p.class_id, c.teacher).select_from(
            projects.outerjoin(classes, c.id == p.class_id)).where(p.id == project_id)).first()
    if row is None:
        return False
    if row.class_id is None or (asker is not None and asker in (row.owner_key, row.teacher)):
        return True
    return row.owner_key is None


# -- names ------------------------------------------------------------------------------------------------------
def clean_name(text: Any, what: str = "name") -> str:
    """A display name: one line, 1 to NAME_MAX characters, kept as typed (markup is shown as text where shown)."""
    if not isinstance(text, str):
        raise ClassError(f"the {what} must be text")
    name = " ".join(text.split())
    if not name:
        raise ClassError(f"type a {what}")
    if len(name) > NAME_MAX:
        raise ClassError(f"the {what} is {len(name)} characters: use at most {NAME_MAX}")
    if any(ord(c) < 32 for c in name):
        raise ClassError(f"the {what} has control characters")
    return name


def _info(row) -> ClassInfo:
    return ClassInfo(row.id, row.name, row.teacher, row.token, _json(row.data), bool(row.board), bool(row.names),
                     row.created_at)


def _json(text: str | None) -> Any:
    try:
        return None if text is None else json.loads(text)
    except ValueError:
        return None


# -- the teacher's side ---------------------------------------------------------------------------------------------
def create_class(store: Store, teacher: str, name: str, data: dict | None = None,
                 expires_at: float | None = None, hidden: bytes | None = None) -> ClassInfo:
    """A new class of `teacher`'s, with a fresh join token.

    Args:
        data: The class's dataset and its fixed test split (a data choice, JSON-able), or None.
        expires_at: When its join link stops working (seconds since 1970), or None.
        hidden: The class's own test split (an NPZ of x_test and y_test, from `split_upload`); `data` is then the
            students' part, and the split is kept where only `hidden_test_split` reads it.
    """
    name = clean_name(name, "class name")
    if data is not None and not isinstance(data, dict):
        raise ClassError("the class's data must be a data choice")
    if hidden is not None:
        if data is None:
            raise ClassError("a hidden test split needs the class's data")
        data = {**data, HIDDEN: True}
    cid, token, now = new_project_id(), secrets.token_urlsafe(18), time.time()
    if hidden is not None:
        write_whole(_hidden_path(cid), hidden)
    with store.transaction() as conn:
        conn.execute(classes.insert().values(
            id=cid, name=name, teacher=_who(teacher), token=token, data=None if data is None else json.dumps(data),
            created_at=now, expires_at=expires_at))
    return ClassInfo(cid, name, teacher, token, data, False, True, now)


# -- a class's own data, its test split hidden ----------------------------------------------------------------------
def split_upload(data: bytes, file_name: str, options: dict | None = None) -> tuple[DataChoice, bytes, bytes]:
    """A teacher's data file for a class, read as the Data page reads uploads, in two parts: what the students
    get (the training samples, as an NPZ upload of their own) and the test split, whose labels they never see.

    Returns:
        (the students' data choice, its bytes to keep as an upload, the test split's bytes for `create_class`).

    Raises:
        DatasetError, DataChoiceError: the file cannot be read; ClassError: it is not classification data.
    """
    import numpy as np  # here: opening a project (may_view) is on the first page's path, numpy is not

    ds = read(upload(data, file_name, options), data)
    if ds.task != "classification":
        raise ClassError(f"{clean_file_name(file_name)} holds a regression target: a class ranks classifiers, "
                         "so upload data with class labels")
    train = _npz(x_train=ds.x_train, y_train=ds.y_train)
    test = _npz(x_test=ds.x_test, y_test=ds.y_test, classes=np.array(ds.classes))
    stem = clean_file_name(file_name).rsplit(".", 1)[0]
    return upload(train, f"{stem} (training part).npz"), train, test


def hidden_test_split(store: Store, class_id: str, asker: Any):
    """The class's hidden test split, `(x_test, y_test, number of classes)`: for the server scoring a run
    (`SERVER`, which found the class by the run: `run_class`) and for the class's teacher. Anyone else (a student's
    forged request included) is refused, as for a class that is not there."""
    check_id(class_id, "class id")
    if asker is not SERVER:
        with store.transaction(write=False) as conn:
            data = own_class(conn, class_id, asker).data
        if not isinstance(data, dict) or not data.get(HIDDEN):
            raise ClassError("this class has no hidden test split")
    import numpy as np

    try:
        with np.load(_hidden_path(class_id), allow_pickle=False) as f:
            return f["x_test"], f["y_test"], int(f["classes"])
    except (OSError, KeyError, ValueError):
        raise ClassError("the class's test split is no longer on the server: make the class again") from None


def run_class(store: Store, run_id: str) -> tuple[str, dict] | None:
    """(class id, its data choice) of the class a run belongs to, or None: not a class run, no data, or ended."""
    r, c = runs.c, classes.c
    with store.transaction(write=False) as conn:
        row = conn.execute(sa.select(c.id, c.data).select_from(runs.join(classes, c.id == r.class_id)).where(
            r.id == run_id, c.deleted_at.is_(None))).first()
    data = _json(row.data) if row is not None else None
    return (row.id, data) if isinstance(data, dict) else None


def _hidden_path(class_id: str):
    from builder.store import artifact_dir

    return artifact_dir("classes", f"{check_id(class_id, 'class id')}-test.npz")


def _npz(**arrays) -> bytes:
    import numpy as np

    out = io.BytesIO()
    np.savez_compressed(out, **arrays)
    return out.getvalue()


def teacher_classes(store: Store, teacher: str) -> list[ClassInfo]:
    """`teacher`'s classes, newest first (deleted ones left out)."""
    c = classes.c
    with store.transaction(write=False) as conn:
        rows = conn.execute(sa.select(classes).where(c.teacher == _who(teacher), c.deleted_at.is_(None))
                            .order_by(c.created_at.desc())).all()
    return [_info(r) for r in rows]


def own_class(conn: sa.Connection, class_id: Any, teacher: str) -> ClassInfo:
    """The class, if `teacher` has it; anyone else gets "no such class" (the same as for an id that is not there)."""
    check_id(class_id, "class id")
    row = conn.execute(sa.select(classes).where(
        classes.c.id == class_id, classes.c.teacher == _who(teacher), classes.c.deleted_at.is_(None))).first()
    if row is None:
        raise ClassError("there is no such class of yours")
    return _info(row)


def set_board(store: Store, class_id: str, teacher: str, shown: bool, names: bool) -> None:
    """Whether students see the leaderboard, and whether it shows names."""
    with store.transaction() as conn:
        own_class(conn, class_id, teacher)
        conn.execute(classes.update().where(classes.c.id == class_id).values(board=int(bool(shown)),
                                                                               names=int(bool(names))))


def delete_class(store: Store, class_id: str, teacher: str) -> None:
    """Ends a class: its join link stops working. Students keep their projects."""
    with store.transaction() as conn:
        own_class(conn, class_id, teacher)
        conn.execute(classes.update().where(classes.c.id == class_id).values(deleted_at=time.time()))


def hand_out(store: Store, class_id: str, teacher: str, graph: Graph, data: dict | None = None) -> str:
    """Sends a copy of `graph` (a template, or the teacher's project as it is now) to every student of the class;
    a student who joins later gets one when they join.

    Returns:
        The hand-out's id.
    """
    if not isinstance(graph, Graph):
        raise ClassError("a hand-out is a graph")
    hid, now = new_project_id(), time.time()
    text = graph.dumps()
    with store.transaction() as conn:
        own_class(conn, class_id, teacher)
        conn.execute(handouts.insert().values(id=hid, class_id=class_id, name=graph.name, graph=text,
                                              data=None if data is None else json.dumps(data), created_at=now))
        members = conn.execute(sa.select(class_members.c.member).where(
            class_members.c.class_id == class_id, class_members.c.left_at.is_(None))).scalars().all()
        for member in members:
            _copy(conn, class_id, hid, graph, data, member, now)
    return hid


def _copy(conn: sa.Connection, class_id: str, hid: str, graph: Graph, data: dict | None, member: str,
          now: float) -> None:
    """The member's own copy of a hand-out, unless they have it already."""
    have = conn.execute(sa.select(projects.c.id).where(
        projects.c.handout_id == hid, projects.c.owner_key == member)).first()
    if have is not None:
        return
    try:
        named = graph.set_name(graph.name[: 200 - len(FROM_TEACHER)] + FROM_TEACHER)
    except GraphError:
        named = graph
    conn.execute(projects.insert().values(
        id=new_project_id(), name=named.name, graph=named.dumps(), created_at=now, updated_at=now, owner_key=member,
        layers=len(named.nodes), class_id=class_id, handout_id=hid, data=None if data is None else json.dumps(data)))


# -- the student's side ---------------------------------------------------------------------------------------------
def class_of_token(store: Store, token: Any) -> ClassInfo:
    """The class a join link names. Raises ClassError, saying whether the link is wrong, expired or for a class
    that was deleted; nothing is created."""
    if not isinstance(token, str) or not 8 <= len(token) <= 64 or not token.replace("-", "").replace("_", "").isalnum():
        raise ClassError("this join link is not valid: ask your teacher for the link again")
    with store.transaction(write=False) as conn:
        row = conn.execute(sa.select(classes).where(classes.c.token == token)).first()
    if row is None:
        raise ClassError("this join link is not valid: ask your teacher for the link again")
    if row.deleted_at is not None:
        raise ClassError(f"the class {row.name!r} was ended by its teacher")
    if row.expires_at is not None and row.expires_at < time.time():
        raise ClassError(f"the join link of {row.name!r} has expired: ask your teacher for a new one")
    return _info(row)


def join(store: Store, token: str, member: str, name: str) -> ClassInfo:
    """Joins the class of a join link under a display name (again, after leaving: the same membership), and gets a
    copy of everything handed out so far."""
    info = class_of_token(store, token)
    name, member, now = clean_name(name, "display name"), _who(member), time.time()
    if member == info.teacher:
        raise ClassError("you teach this class: open it from your classes")
    with store.transaction() as conn:
        conn.execute(store.upsert(class_members, {"class_id": info.id, "member": member, "name": name,
                                                  "joined_at": now, "left_at": None},
                                  ["class_id", "member"], ["name", "left_at"]))
        for h in conn.execute(sa.select(handouts).where(handouts.c.class_id == info.id)
                              .order_by(handouts.c.created_at)).all():
            graph = Graph.loads(h.graph)
            _copy(conn, info.id, h.id, graph, _json(h.data), member, now)
    return info


def leave(store: Store, class_id: str, member: str) -> None:
    """Leaves a class; the member's projects stay theirs."""
    check_id(class_id, "class id")
    with store.transaction() as conn:
        conn.execute(class_members.update().where(
            class_members.c.class_id == class_id, class_members.c.member == _who(member),
            class_members.c.left_at.is_(None)).values(left_at=time.time()))


def new_class_project(store: Store, class_id: str, member: str, graph: Graph) -> str:
    """A new project of `member`'s that belongs to the class (its runs are scored and shown to the teacher).

    Returns:
        Its id.

    Raises:
        ClassError: `member` is not in the class.
    """
    check_id(class_id, "class id")
    member, now, pid = _who(member), time.time(), new_project_id()
    m = class_members.c
    with store.transaction() as conn:
        if conn.execute(sa.select(m.member).where(m.class_id == class_id, m.member == member,
                                                  m.left_at.is_(None))).first() is None:
            raise ClassError("you are not in this class")
        conn.execute(projects.insert().values(id=pid, name=graph.name, graph=graph.dumps(), created_at=now,
                                              updated_at=now, owner_key=member, layers=len(graph.nodes),
                                              class_id=class_id))
    return pid


def class_projects(store: Store, class_id: str, member: str) -> set[str]:
    """The ids of `member`'s own projects in a class (those handed out to them, and those they made in it)."""
    check_id(class_id, "class id")
    p = projects.c
    with store.transaction(write=False) as conn:
        return set(conn.execute(sa.select(p.id).where(p.class_id == class_id, p.owner_key == _who(member),
                                                      p.deleted_at.is_(None))).scalars())


def member_classes(store: Store, member: str) -> list[ClassInfo]:
    """The classes `member` is in (not left, not ended), newest first."""
    m, c = class_members.c, classes.c
    with store.transaction(write=False) as conn:
        rows = conn.execute(sa.select(classes).join(class_members, m.class_id == c.id).where(
            m.member == _who(member), m.left_at.is_(None), c.deleted_at.is_(None)).order_by(m.joined_at.desc())).all()
    return [_info(r) for r in rows]


# -- what the teacher sees ------------------------------------------------------------------------------------------
def overview(store: Store, class_id: str, teacher: str) -> list[dict]:
    """One row per student of the class (those who left too, marked), with their latest project in the class and
    their latest run in it. Three queries, whatever the size of the class.

    Returns:
        `[{"member", "name", "joined_at", "left", "project_id", "project", "graph", "layers", "params",
        "run_id", "status", "progress", "final_metrics", "class_score", "macs", "run_params", "updated_at"}]`,
        sorted by name.
    """
    p, r, m = projects.c, runs.c, class_members.c
    latest_project = sa.select(
        p.owner_key, p.id, p.name, p.graph, p.layers, p.params, p.updated_at,
        sa.func.row_number().over(partition_by=p.owner_key, order_by=(p.updated_at.desc(), p.id)).label("k"),
    ).where(p.class_id == class_id, p.deleted_at.is_(None)).subquery()
    latest_run = sa.select(
        r.owner_key, r.id, r.status, r.progress, r.final_metrics, r.class_score, r.macs, r.params, r.updated_at,
        sa.func.row_number().over(partition_by=r.owner_key, order_by=(r.created_at.desc(), r.id)).label("k"),
    ).where(r.class_id == class_id).subquery()
    with store.transaction(write=False) as conn:
        own_class(conn, class_id, teacher)
        members = conn.execute(sa.select(m.member, m.name, m.joined_at, m.left_at).where(m.class_id == class_id)).all()
        prows = {row.owner_key: row for row in conn.execute(
            sa.select(latest_project).where(latest_project.c.k == 1)).all()}
        rrows = {row.owner_key: row for row in conn.execute(sa.select(latest_run).where(latest_run.c.k == 1)).all()}
    out = []
    for mem in members:
        pr, ru = prows.get(mem.member), rrows.get(mem.member)
        out.append({
            "member": mem.member, "name": mem.name, "joined_at": mem.joined_at, "left": mem.left_at is not None,
            "project_id": pr.id if pr else None, "project": pr.name if pr else None, "graph": pr.graph if pr else None,
            "layers": pr.layers if pr else None, "params": pr.params if pr else None,
            "run_id": ru.id if ru else None, "status": ru.status if ru else None,
            "progress": _epochs(ru.progress) if ru else None,
            "final_metrics": _json(ru.final_metrics) if ru else None,
            "class_score": ru.class_score if ru else None, "macs": ru.macs if ru else None,
            "run_params": ru.params if ru else None,
            "updated_at": max(x for x in (pr.updated_at if pr else 0, ru.updated_at if ru else 0, mem.joined_at)),
        })
    return sorted(out, key=lambda row: (_sort_name(row["name"]), row["member"]))


def _epochs(progress: str | None) -> dict | None:
    """Of a run's published progress, what the grid shows (epoch n of m), not its curves' points."""
    data = _json(progress)
    return {k: data[k] for k in ("status", "epoch", "epochs") if k in data} if isinstance(data, dict) else None


def _sort_name(name: str) -> str:
    """A name as a reader sorts it: "<b>Ben</b>" among the Bs, not before "Ana"."""
    return "".join(ch for ch in name.lower() if ch.isalnum()) or name.lower()


def student_project(store: Store, class_id: str, teacher: str, project_id: str) -> tuple[Graph, list[dict]]:
    """A student's project in the teacher's class, to look at (read-only), with its runs. Refused for a project
    that is not in one of the asker's classes."""
    check_id(project_id)
    with store.transaction(write=False) as conn:
        own_class(conn, class_id, teacher)
        row = conn.execute(sa.select(projects.c.graph).where(
            projects.c.id == project_id, projects.c.class_id == class_id, projects.c.deleted_at.is_(None))).first()
    if row is None:
        raise ClassError("there is no such project in this class")
    return Graph.loads(row.graph), store.list_runs(project_id)


def leaderboard(store: Store, class_id: str, asker: str) -> list[dict]:
    """Each student's best score on the class's test split (computed by the server when a run ends), with the
    parameters and MACs of that run's model, best first. The teacher of the class always sees it; a student of
    the class only when the teacher shows it, with names only when the teacher chooses so (their own row says
    "you"). One query.

    Returns:
        `[{"rank", "name", "you", "score", "params", "macs", "run_id"}]`.
    """
    asker = _who(asker)
    r, m = runs.c, class_members.c
    best = sa.select(
        r.owner_key, r.id, r.class_score, r.params, r.macs,
        sa.func.row_number().over(partition_by=r.owner_key,
                                  order_by=(r.class_score.desc(), r.created_at, r.id)).label("k"),
    ).where(r.class_id == class_id, r.class_score.is_not(None)).subquery()
    with store.transaction(write=False) as conn:
        check_id(class_id, "class id")
        cls = conn.execute(sa.select(classes).where(classes.c.id == class_id, classes.c.deleted_at.is_(None))).first()
        if cls is None:
            raise ClassError("there is no such class")
        teacher = cls.teacher == asker
        if not teacher:
            member = conn.execute(sa.select(m.member).where(m.class_id == class_id, m.member == asker,
                                                            m.left_at.is_(None))).first()
            if member is None or not cls.board:
                raise ClassError("the leaderboard of this class is not shown")
        rows = conn.execute(sa.select(best, m.name).join(class_members, sa.and_(
            m.class_id == class_id, m.member == best.c.owner_key)).where(best.c.k == 1)
            .order_by(best.c.class_score.desc(), m.name)).all()
    out = []
    for i, row in enumerate(rows, 1):
        you = row.owner_key == asker
        shown = row.name if teacher or cls.names else ("you" if you else f"Student {i}")
        out.append({"rank": i, "name": shown, "you": you, "score": row.class_score, "params": row.params,
                    "macs": row.macs, "run_id": row.id})
    return out


def board_csv(rows: list[dict]) -> str:
    """The leaderboard as CSV (names as shown), for a spreadsheet; a name that a spreadsheet would read as a
    formula is quoted."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["rank", "name", "score", "params", "macs"])
    for row in rows:
        name = str(row["name"])
        w.writerow([row["rank"], "'" + name if name[:1] in "=+-@" else name, row["score"], row["params"], row["macs"]])
    return out.getvalue()


def set_score(store: Store, run_id: str, score: float | None, params: int | None, macs: int | None) -> None:
    """Records a class run's score on the class's test split and its model's size (by the server, after the run)."""
    with store.transaction() as conn:
        conn.execute(runs.update().where(runs.c.id == run_id, runs.c.class_id.is_not(None)).values(
            class_score=score, params=params, macs=macs))


def _who(owner: Any) -> str:
    who = check_owner(owner)
    if who is None:
        raise ClassError("sign in, or open the app in a browser that keeps its key")
    return who
