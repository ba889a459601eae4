"""The store: projects (autosave), training runs and their metrics, in SQLite or PostgreSQL.

One schema for both, in SQLAlchemy Core: the tables below, and the migration steps (`MIGRATIONS`) that bring any
database to them, run through Alembic's operations so the same step works on either. `LAYERCANVAS_DB` picks the
database: a file path (SQLite, the default `data/layercanvas.db`) or a `postgresql://` URL, which several app servers
can share.

One `Store` per database, shared by every thread of the app (Streamlit runs each session in its own threads); it
keeps a pool of connections. Every public method is one transaction: it happens entirely or not at all. On SQLite,
writes take the database lock up front (`BEGIN IMMEDIATE`), and WAL mode with a busy timeout lets another process
(the CLI, a second server on the same host) use the same file. On PostgreSQL, the pool checks a connection before
each use (pre-ping), so a restarted server costs no error.

Ids are checked against `ID_RE` before any use, so text from a URL never reaches SQL or a path unchecked. Times are
seconds since the epoch (UTC).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import pathlib
import re
import secrets
import socket
import sqlite3
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy import event

from builder.config import text
from builder.model.graph import Graph, GraphError

ID_RE = re.compile(r"[A-Za-z0-9_-]{8,64}")  # used with fullmatch: "$" would let "id\n" through
RUN_STATUSES = ("queued", "compiling", "running", "stopped", "finished", "failed", "interrupted")
ACTIVE_STATUSES = ("queued", "compiling", "running")
FINAL_STATUSES = ("stopped", "finished", "failed", "interrupted")
INTERRUPTED_MESSAGE = "the server stopped while this run was active"
BUSY_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 5  # PostgreSQL: how long one connection attempt waits for the server

# -- the schema, as it is now ------------------------------------------------------------------------------------
# Times are doubles (PostgreSQL's REAL is 4 bytes: seconds since 1970 would lose their minutes).
metadata = sa.MetaData()
projects = sa.Table(
    "projects", metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("graph", sa.Text, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.Column("owner_key", sa.Text),
    sa.Column("deleted_at", sa.Double),
    sa.Column("purge_runs", sa.Integer, nullable=False, server_default="0"),
    sa.Column("layers", sa.Integer),
    sa.Column("params", sa.BigInteger),
    sa.Column("weights_run", sa.Text),
    sa.Column("weights_file", sa.Text),
    sa.Column("data", sa.Text),
    sa.Column("class_id", sa.Text),
    sa.Column("handout_id", sa.Text),
)
runs = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("project_id", sa.Text),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("graph", sa.Text, nullable=False),
    sa.Column("settings", sa.Text, nullable=False),
    sa.Column("dataset", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("message", sa.Text),
    sa.Column("final_metrics", sa.Text),
    sa.Column("artifact_path", sa.Text),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.Column("owner", sa.Text),
    sa.Column("owner_key", sa.Text),
    sa.Column("stats", sa.Text),
    sa.Column("backend", sa.Text),
    sa.Column("claimed_by", sa.Text),
    sa.Column("started_at", sa.Double),
    sa.Column("stop_at", sa.Double),
    sa.Column("heartbeat_at", sa.Double),
    sa.Column("progress", sa.Text),
    sa.Column("result", sa.Text),
    sa.Column("class_id", sa.Text),
    sa.Column("class_score", sa.Double),
    sa.Column("macs", sa.BigInteger),
    sa.Column("params", sa.BigInteger),
)
epochs = sa.Table(
    "epochs", metadata,
    sa.Column("run_id", sa.Text, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("epoch", sa.Integer, nullable=False),
    sa.Column("metrics", sa.Text, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.PrimaryKeyConstraint("run_id", "epoch"),
)
uploads = sa.Table(
    "uploads", metadata,
    sa.Column("id", sa.Text, nullable=False),
    sa.Column("owner_key", sa.Text, nullable=False),
    sa.Column("file_name", sa.Text, nullable=False),
    sa.Column("format", sa.Text, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.PrimaryKeyConstraint("id", "owner_key"),
)
services = sa.Table(
    "services", metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("info", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
)
classes = sa.Table(
    "classes", metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("teacher", sa.Text, nullable=False),
    sa.Column("token", sa.Text, nullable=False, unique=True),
    sa.Column("data", sa.Text),
    sa.Column("board", sa.Integer, nullable=False, server_default="0"),
    sa.Column("names", sa.Integer, nullable=False, server_default="1"),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("expires_at", sa.Double),
    sa.Column("deleted_at", sa.Double),
)
class_members = sa.Table(
    "class_members", metadata,
    sa.Column("class_id", sa.Text, nullable=False),
    sa.Column("member", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("joined_at", sa.Double, nullable=False),
    sa.Column("left_at", sa.Double),
    sa.PrimaryKeyConstraint("class_id", "member"),
)
handouts = sa.Table(
    "handouts", metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("class_id", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("graph", sa.Text, nullable=False),
    sa.Column("data", sa.Text),
    sa.Column("created_at", sa.Double, nullable=False),
)
teachers = sa.Table(
    "teachers", metadata,
    sa.Column("owner", sa.Text, primary_key=True),
    sa.Column("since", sa.Double, nullable=False),
)
schema_version_table = sa.Table("schema_version", metadata, sa.Column("version", sa.Integer, nullable=False))
# The indexes the migrations make, so that a new database is made in one step (`metadata.create_all`) as the
# migrations would make it; tests/test_store.py compares the two on both databases.
for _name, _table, _cols in (
    ("projects_updated", projects, ["updated_at"]), ("runs_project", runs, ["project_id", "created_at"]),
    ("runs_status", runs, ["status"]), ("projects_owner", projects, ["owner_key", "updated_at"]),
    ("runs_owner_key", runs, ["owner_key", "created_at"]), ("runs_queue", runs, ["backend", "status", "created_at"]),
    ("classes_teacher", classes, ["teacher", "created_at"]), ("class_members_member", class_members, ["member"]),
    ("handouts_class", handouts, ["class_id", "created_at"]),
    ("projects_class", projects, ["class_id", "owner_key", "updated_at"]),
    ("runs_class", runs, ["class_id", "owner_key", "created_at"]),
):
    sa.Index(_name, *(_table.c[c] for c in _cols))


# -- migrations: step i brings the schema from version i to i + 1. Append only; never edit a step that has shipped.
# (Versions 1 to 4 shipped as SQLite SQL text; tests/store_history.py keeps that text, and the tests check that
# these steps make the same tables.)
def _v1(op) -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("graph", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
    )
    op.create_index("projects_updated", "projects", ["updated_at"])
    op.create_table(
        "runs",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("project_id", sa.Text),
        *(sa.Column(c, sa.Text, nullable=False) for c in ("name", "graph", "settings", "dataset", "status")),
        sa.Column("message", sa.Text),
        sa.Column("final_metrics", sa.Text),
        sa.Column("artifact_path", sa.Text),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
    )
    op.create_index("runs_project", "runs", ["project_id", "created_at"])
    op.create_index("runs_status", "runs", ["status"])
    op.create_table(
        "epochs",
        sa.Column("run_id", sa.Text, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("metrics", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "epoch"),
    )


def _v2(op) -> None:
    """Which process runs each run ("host/pid/start time"), so a server marks only the runs of processes that are
    gone, not those of another live server on the same database."""
    op.add_column("runs", sa.Column("owner", sa.Text))


def _v3(op) -> None:
    """Whose projects and runs (`owner_key`: "user:<login>" or "key:<browser key>"; NULL for those made before,
    claimed by the first who opens them), soft deletion (undo), and what the projects list previews."""
    op.add_column("projects", sa.Column("owner_key", sa.Text))
    op.add_column("projects", sa.Column("deleted_at", sa.Double))
    op.add_column("projects", sa.Column("purge_runs", sa.Integer, nullable=False, server_default="0"))
    op.add_column("projects", sa.Column("layers", sa.Integer))
    op.add_column("projects", sa.Column("params", sa.BigInteger))
    op.add_column("projects", sa.Column("weights_run", sa.Text))
    op.add_column("projects", sa.Column("weights_file", sa.Text))
    op.add_column("runs", sa.Column("owner_key", sa.Text))
    op.create_index("projects_owner", "projects", ["owner_key", "updated_at"])
    op.create_index("runs_owner_key", "runs", ["owner_key", "created_at"])


def _v4(op) -> None:
    """The project's data choice (builder.data.datachoice as JSON; NULL: the one its graph carries), who uploaded
    which data file (kept under its sha1), and a run's figures that are not metrics (samples per second)."""
    op.add_column("projects", sa.Column("data", sa.Text))
    op.add_column("runs", sa.Column("stats", sa.Text))
    op.create_table(
        "uploads",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("owner_key", sa.Text, nullable=False),
        sa.Column("file_name", sa.Text, nullable=False),
        sa.Column("format", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("id", "owner_key"),
    )


def _v5(op) -> None:
    """Runs that any process may run, watch and stop: where a run trains (`backend`: NULL in this process, "ray" a
    Ray task), which dispatcher took it from the queue, when it started, when Stop was pressed, the worker's last
    sign of life, its live progress (JSON: batch, speed, sampled batch metrics) and its result (test metrics,
    confusion matrix, predictions); and the services that report on themselves (the Ray cluster's size)."""
    op.add_column("runs", sa.Column("backend", sa.Text))
    op.add_column("runs", sa.Column("claimed_by", sa.Text))
    op.add_column("runs", sa.Column("started_at", sa.Double))
    op.add_column("runs", sa.Column("stop_at", sa.Double))
    op.add_column("runs", sa.Column("heartbeat_at", sa.Double))
    op.add_column("runs", sa.Column("progress", sa.Text))
    op.add_column("runs", sa.Column("result", sa.Text))
    op.create_table(
        "services",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("info", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
    )
    op.create_index("runs_queue", "runs", ["backend", "status", "created_at"])


def _v6(op) -> None:
    """Classes (builder.classes): the browsers that entered the teacher key (without login); a teacher's class with
    its join token, data and leaderboard choices; who joined it
    under which display name (and when they left); the projects a teacher handed out (a copy of the graph at that
    time). A project made in a class, or handed out, says so; a run of a class project keeps its class, its score
    on the class's test split (computed by the server) and its model's parameters and MACs, for the class view and
    the leaderboard in a constant number of queries."""
    op.add_column("projects", sa.Column("class_id", sa.Text))
    op.add_column("projects", sa.Column("handout_id", sa.Text))
    op.add_column("runs", sa.Column("class_id", sa.Text))
    op.add_column("runs", sa.Column("class_score", sa.Double))
    op.add_column("runs", sa.Column("macs", sa.BigInteger))
    op.add_column("runs", sa.Column("params", sa.BigInteger))
    op.create_table(
        "classes",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("teacher", sa.Text, nullable=False),
        sa.Column("token", sa.Text, nullable=False, unique=True),
        sa.Column("data", sa.Text),
        sa.Column("board", sa.Integer, nullable=False, server_default="0"),
        sa.Column("names", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("expires_at", sa.Double),
        sa.Column("deleted_at", sa.Double),
    )
    op.create_index("classes_teacher", "classes", ["teacher", "created_at"])
    op.create_table(
        "class_members",
        sa.Column("class_id", sa.Text, nullable=False),
        sa.Column("member", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("joined_at", sa.Double, nullable=False),
        sa.Column("left_at", sa.Double),
        sa.PrimaryKeyConstraint("class_id", "member"),
    )
    op.create_index("class_members_member", "class_members", ["member"])
    op.create_table(
        "handouts",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("class_id", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("graph", sa.Text, nullable=False),
        sa.Column("data", sa.Text),
        sa.Column("created_at", sa.Double, nullable=False),
    )
    op.create_index("handouts_class", "handouts", ["class_id", "created_at"])
    op.create_table(
        "teachers",
        sa.Column("owner", sa.Text, primary_key=True),
        sa.Column("since", sa.Double, nullable=False),
    )
    op.create_index("projects_class", "projects", ["class_id", "owner_key", "updated_at"])
    op.create_index("runs_class", "runs", ["class_id", "owner_key", "created_at"])


MIGRATIONS: list[Callable[[Any], None]] = [_v1, _v2, _v3, _v4, _v5, _v6]
SCHEMA_VERSION = len(MIGRATIONS)
FAST_NEW = True  # a new database is made from `metadata` in one step (tests turn it off to compare with the steps)


class StoreError(Exception):
    """A store operation that cannot be done (bad id, bad value, database problem)."""


class StoreUnavailable(StoreError):
    """The database does not answer (a server that is down or restarting, a file that stays locked): the same
    call may work a moment later."""


class LimitError(StoreError):
    """Someone has as many runs queued or running as one person may."""


class DamagedStoreError(StoreError):
    """The database file is damaged (not a database, or it fails SQLite's integrity check)."""


def open_or_set_aside(location: str | os.PathLike | None = None) -> tuple[Store, str | None]:
    """Opens the store at `location`; a damaged SQLite file is renamed (kept for rescue, never overwritten) and a
    new one started.

    Returns:
        (the store, None) or (a new store, a message saying what was set aside where).

    Raises:
        StoreError: The database cannot be opened for another reason (a newer schema, no permission, a server
            that does not answer, a malformed LAYERCANVAS_DB).
    """
    location = default_location() if location is None else location
    try:
        return Store(location), None
    except DamagedStoreError as e:
        path = pathlib.Path(location)
        aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}")
        try:
            path.rename(aside)
            for extra in ("-wal", "-shm"):
                side = path.with_name(path.name + extra)
                if side.exists():
                    side.rename(aside.with_name(aside.name + extra))
        except OSError as move:
            raise StoreError(f"{e}; it could not be set aside either: {_one_line(move)}") from None
        return Store(path), (f"The project database was damaged ({e}). It was set aside as {aside.name} and a "
                             "new one started: projects and runs saved before are in that file.")


def default_location() -> str | pathlib.Path:
    """`$LAYERCANVAS_DB` (a file path, or a database URL as text), or `data/layercanvas.db` in the repository."""
    env = text("LAYERCANVAS_DB")
    if env and is_url(env):
        return env
    return pathlib.Path(env) if env else pathlib.Path(__file__).resolve().parents[1] / "data" / "layercanvas.db"


def default_path() -> pathlib.Path:
    """The SQLite file the store uses by default (`$LAYERCANVAS_DB`, or `data/layercanvas.db` in the repository).

    Raises:
        StoreError: LAYERCANVAS_DB names a database server, not a file.
    """
    location = default_location()
    if not isinstance(location, pathlib.Path):
        raise StoreError("LAYERCANVAS_DB names a database server, not a file")
    return location


def is_url(location: Any) -> bool:
    """Whether `location` is a database URL (`scheme://...`) rather than a file path."""
    return isinstance(location, str) and re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", location) is not None


def artifact_dir(*parts: str) -> pathlib.Path:
    """Where files go that every app server must see: `$LAYERCANVAS_ARTIFACTS`, or else the SQLite file's folder
    (`data/` by default); `parts` name a folder inside it ("runs", "uploads", "imports")."""
    env = text("LAYERCANVAS_ARTIFACTS")
    if env:
        base = pathlib.Path(env)
    else:
        location = default_location()
        base = location.parent if isinstance(location, pathlib.Path) else \
            pathlib.Path(__file__).resolve().parents[1] / "data"
    return base.joinpath(*parts)


def process_owner(pid: int | None = None) -> str:
    """This process as "host/pid/start time": unique even when the pid is reused later."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}/{pid}/{_start_time(pid)}"


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), '' elsewhere or if there is none."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("ascii", "replace")
    except OSError:
        return ""
    return stat.rpartition(")")[2].split()[19]  # field 22; the name before ")" may hold spaces


def owner_alive(owner: str | None) -> bool | None:
    """Whether the process named by `owner` still runs: True, False, or None when it
    cannot be told (another host, or no such record)."""
    host, _, rest = (owner or "").partition("/")
    pid_text, _, start = rest.partition("/")
    if host != socket.gethostname() or not pid_text.isdigit():
        return None if owner else False
    pid = int(pid_text)
    if start:
        return _start_time(pid) == start
    return pid_alive(pid)


def pid_alive(pid: int) -> bool:
    """Whether a process of this id runs on this machine (one that is not ours counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def new_project_id() -> str:
    """A random, URL-safe project id (22 characters)."""
    return secrets.token_urlsafe(16)


def run_file(directory: str | os.PathLike, run_id: Any, suffix: str) -> str:
    """`<directory>/<run id><suffix>`: where a run keeps a file (its model, logs, inspection rows). The one check
    that a run id names no path outside `directory`.

    Raises:
        ValueError: `run_id` is not a store id (8 to 64 letters, digits, '_' or '-').
    """
    if not isinstance(run_id, str) or not ID_RE.fullmatch(run_id):
        raise ValueError(f"a run id is 8 to 64 letters, digits, '_' or '-', got {str(run_id)[:40]!r}")
    return os.path.join(directory, run_id + suffix)


def check_id(value: Any, what: str = "project id") -> str:
    """Returns `value` if it is a valid id.

    Raises:
        StoreError: It is not text of 8 to 64 letters, digits, '_' or '-'.
    """
    if not isinstance(value, str) or not ID_RE.fullmatch(value):
        raise StoreError(f"invalid {what} {str(value)[:40]!r}: use 8 to 64 letters, digits, '_' or '-'")
    return value


def _sqlite_engine(path: pathlib.Path) -> sa.Engine:
    """A pool of connections to one SQLite file: WAL, a busy timeout, foreign keys, and transactions that LayerCanvas
    begins itself (`BEGIN IMMEDIATE` for writes: they take the lock up front instead of failing to upgrade later)."""
    engine = sa.create_engine(
        sa.URL.create("sqlite+pysqlite", database=str(path)),
        connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False},
        pool_size=8, max_overflow=32, pool_timeout=BUSY_TIMEOUT_S,
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None  # pysqlite begins no transaction of its own (see _begin)
        for pragma in (f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}", "PRAGMA journal_mode = WAL",
                       "PRAGMA synchronous = NORMAL",  # durable enough with WAL, much faster
                       "PRAGMA foreign_keys = ON"):
            dbapi_conn.execute(pragma)

    @event.listens_for(engine, "begin")
    def _begin(conn) -> None:  # straight to the driver: SQLAlchemy's own execute costs more than the BEGIN itself
        conn.connection.driver_connection.execute(
            "BEGIN IMMEDIATE" if conn.get_execution_options().get("lc_write") else "BEGIN")

    return engine


def _server_engine(url: str) -> sa.Engine:
    """A pool of connections to a PostgreSQL server, each checked before use (pre-ping: a server that restarted
    costs no error).

    Raises:
        StoreError: The URL is malformed or names another kind of database.
    """
    try:
        parsed = sa.make_url(url)
    except (sa.exc.ArgumentError, ValueError) as e:
        raise StoreError(f"LAYERCANVAS_DB is not a valid database URL ({_one_line(e)}): use a file path or "
                         "postgresql://user:password@host/database") from None
    if parsed.get_backend_name() != "postgresql":
        raise StoreError(f"LAYERCANVAS_DB names a {parsed.get_backend_name()!r} database: use a file path (SQLite) "
                         "or a postgresql:// URL")
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3 (SQLAlchemy's default would be psycopg2)
    try:
        return sa.create_engine(parsed, pool_pre_ping=True, pool_size=8, max_overflow=32, pool_timeout=BUSY_TIMEOUT_S,
                                connect_args={"connect_timeout": CONNECT_TIMEOUT_S})
    except (sa.exc.ArgumentError, ImportError, ValueError) as e:
        raise StoreError(f"LAYERCANVAS_DB cannot be used: {_one_line(e)}") from None


class Store:
    """Projects and training runs in one database; safe to share between threads.

    Args:
        location: A SQLite file (created with its parent folders if missing), or a `postgresql://` URL.
            Defaults to `default_location()` (LAYERCANVAS_DB).

    Raises:
        StoreError: The database cannot be opened, is not a database, does not answer, or was written by a newer
            LayerCanvas.
    """

    def __init__(self, location: str | os.PathLike | None = None):
        location = default_location() if location is None else location
        self.owner = process_owner()  # recorded with each run this store creates
        self._engine: sa.Engine | None = None
        if is_url(location):
            self.path: pathlib.Path | None = None
            self._engine = _server_engine(str(location))
            self.where = self._engine.url.render_as_string(hide_password=True)
        else:
            self.path = pathlib.Path(location)
            self.where = str(self.path)
        self.dialect = "sqlite" if self.path is not None else "postgresql"
        # Each server loads its own dialect only (PostgreSQL's takes 45 ms to import: a laptop's cold start).
        if self.dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert
        self._insert = insert
        try:
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._engine = _sqlite_engine(self.path)
                with self._tx(write=False) as conn:
                    check = conn.exec_driver_sql("PRAGMA quick_check").fetchone()
                if check is None or check[0] != "ok":
                    raise DamagedStoreError(f"{self.path.name} fails the integrity check: {check and check[0]}")
            self._migrate()
        except StoreError:
            self.close()
            raise
        except OSError as e:
            self.close()
            raise StoreError(f"cannot open the database {self.where}: {_one_line(e)}") from None

    # -- plumbing ---------------------------------------------------------
    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            raise StoreError("the store is closed")
        return self._engine

    def close(self) -> None:
        """Closes every connection; later calls raise StoreError."""
        engine, self._engine = getattr(self, "_engine", None), None
        if engine is not None:
            engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def transaction(self, write: bool = True) -> contextlib.AbstractContextManager[sa.Connection]:
        """One transaction, for the modules that keep their own tables in this database (builder.classes)."""
        return self._tx(write)

    def upsert(self, table: sa.Table, values: dict, keys: list[str], update: list[str] | None) -> Any:
        """INSERT ... ON CONFLICT (keys) DO UPDATE SET the `update` columns (None: DO NOTHING), in this dialect."""
        return self._upsert(table, values, keys, update)

    @contextlib.contextmanager
    def _tx(self, write: bool = True) -> Iterator[sa.Connection]:
        """One transaction: committed at the end, rolled back on any exception."""
        try:
            with self.engine.connect() as conn:
                conn.execution_options(lc_write=write)
                with conn.begin():
                    yield conn
        except sa.exc.SQLAlchemyError as e:
            raise self._error(e) from None

    def _error(self, e: sa.exc.SQLAlchemyError) -> StoreError:
        """What went wrong, as a StoreError that says where: StoreUnavailable when the database does not answer."""
        orig = getattr(e, "orig", None)
        text_ = _one_line(orig if orig is not None else e)
        if isinstance(orig, sqlite3.DatabaseError) and not isinstance(orig, sqlite3.OperationalError) and (
                "not a database" in text_ or "malformed" in text_ or "corrupt" in text_):
            return DamagedStoreError(f"{self.path.name if self.path else self.where} is not a readable database: "
                                     f"{text_}")
        if isinstance(e, (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)) and (
                self.dialect == "postgresql" or "locked" in text_ or "unable to open" in text_):
            return StoreUnavailable(f"the database {self.where} does not answer (LAYERCANVAS_DB): {text_}")
        return StoreError(f"database error in {self.where}: {text_}")

    def _migrate(self) -> None:
        with self._tx() as conn:
            schema_version_table.create(conn, checkfirst=True)
            current = conn.execute(sa.select(sa.func.max(schema_version_table.c.version))).scalar() or 0
            if current > SCHEMA_VERSION:
                raise StoreError(
                    f"the database {self.where} has schema version {current}, made by a newer LayerCanvas; "
                    f"this one reads up to {SCHEMA_VERSION}"
                )
            if current == 0 and FAST_NEW and not sa.inspect(conn).has_table("projects"):
                # A new database: made as it is now in one step (Alembic, a tenth of a second to import, is
                # needed only to bring an older one up to date).
                metadata.create_all(conn)
                conn.execute(schema_version_table.insert(), [{"version": v + 1} for v in range(SCHEMA_VERSION)])
            elif current < SCHEMA_VERSION:
                from alembic.migration import MigrationContext
                from alembic.operations import Operations

                op = Operations(MigrationContext.configure(conn))
                for version in range(current, SCHEMA_VERSION):
                    MIGRATIONS[version](op)
                    conn.execute(schema_version_table.insert().values(version=version + 1))

    def schema_version(self) -> int:
        with self._tx(write=False) as conn:
            return conn.execute(sa.select(sa.func.max(schema_version_table.c.version))).scalar()

    def _upsert(self, table: sa.Table, values: dict, keys: list[str], update: list[str] | None) -> Any:
        """INSERT ... ON CONFLICT (keys) DO UPDATE SET the `update` columns (None: DO NOTHING), in this dialect."""
        stmt = self._insert(table).values(**values)
        if update is None:
            return stmt.on_conflict_do_nothing(index_elements=keys)
        return stmt.on_conflict_do_update(index_elements=keys, set_={c: stmt.excluded[c] for c in update})

    # -- projects ---------------------------------------------------------
    def save_project(self, project_id: str, graph: Graph, owner: str | None = None, params: int | None = None) -> None:
        """Creates or replaces a project's graph (with its layout).

        Args:
            project_id: The project.
            graph: Its graph.
            owner: Whose it is, for a new project (an existing project keeps its owner).
            params: Its parameter total, for the projects list (None: not known for this graph).
        """
        check_id(project_id)
        text_ = _graph_json(graph)
        owner = check_owner(owner)
        if params is not None and (not isinstance(params, int) or isinstance(params, bool) or params < 0):
            raise StoreError(f"params must be a whole number >= 0, got {params!r}")
        now = time.time()
        with self._tx() as conn:
            conn.execute(self._upsert(
                projects, {"id": project_id, "name": str(graph.name), "graph": text_, "created_at": now,
                           "updated_at": now, "owner_key": owner, "layers": len(graph.nodes), "params": params},
                ["id"], ["name", "graph", "updated_at", "layers", "params"]))

    def set_project_params(self, project_id: str, params: int) -> None:
        """Records the parameter total of the project's current graph (the app counts it when it builds)."""
        check_id(project_id)
        if not isinstance(params, int) or isinstance(params, bool) or params < 0:
            raise StoreError(f"params must be a whole number >= 0, got {params!r}")
        with self._tx() as conn:
            conn.execute(projects.update().where(projects.c.id == project_id).values(params=params))

    def load_project(self, project_id: str) -> Graph | None:
        """A project's graph; None if there is none, it was deleted, or it no longer parses."""
        check_id(project_id)
        with self._tx(write=False) as conn:
            text_ = conn.execute(sa.select(projects.c.graph).where(
                projects.c.id == project_id, projects.c.deleted_at.is_(None))).scalar()
        return None if text_ is None else _parse_graph(text_)

    def project_info(self, project_id: str) -> dict | None:
        """`{"id", "name", "owner", "created_at", "updated_at", "deleted_at", "weights_run", "weights_file",
        "data"}` (`data`: the data choice as a dict, or None), or None."""
        check_id(project_id)
        p = projects.c
        with self._tx(write=False) as conn:
            row = conn.execute(sa.select(
                p.id, p.name, p.owner_key.label("owner"), p.created_at, p.updated_at, p.deleted_at, p.weights_run,
                p.weights_file, p.data).where(p.id == project_id)).mappings().first()
        if row is None:
            return None
        info = dict(row)
        info["data"] = _json_dict(info["data"])
        return info

    def project_data(self, project_id: str) -> dict | None:
        """The project's data choice (a dict, see builder.data.datachoice), or None when none was chosen for it."""
        check_id(project_id)
        with self._tx(write=False) as conn:
            text_ = conn.execute(sa.select(projects.c.data).where(projects.c.id == project_id)).scalar()
        return _json_dict(text_)

    def set_project_data(self, project_id: str, data: dict | None, owner: str | None = None) -> bool:
        """Records the project's data choice (only `owner`'s project, when given).

        Returns:
            Whether a project was changed (False: none of that id and owner).
        """
        check_id(project_id)
        if data is not None and not isinstance(data, dict):
            raise StoreError(f"the data choice must be a dict, got {type(data).__name__}")
        text_ = None if data is None else _to_json(data, "the data choice")
        with self._tx() as conn:
            return conn.execute(projects.update().where(
                projects.c.id == project_id, projects.c.deleted_at.is_(None), *_owned(owner)
            ).values(data=text_)).rowcount > 0

    def add_upload(self, digest: str, owner: str, file_name: str, fmt: str, size: int) -> None:
        """Records that `owner` uploaded the data file `digest` (its sha1): they may use it in their projects."""
        if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{40}", digest):
            raise StoreError(f"invalid upload id {str(digest)[:50]!r}")
        owner = check_owner(owner)
        if owner is None:
            raise StoreError("an upload needs an owner")
        with self._tx() as conn:
            conn.execute(self._upsert(
                uploads, {"id": digest, "owner_key": owner, "file_name": str(file_name)[:200], "format": str(fmt)[:10],
                          "size": int(size), "created_at": time.time()},
                ["id", "owner_key"], ["file_name"]))

    def owns_upload(self, digest: str, owner: str | None) -> bool:
        """Whether `owner` uploaded the data file `digest` (so their projects may read it)."""
        if owner is None or not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{40}", digest):
            return False
        with self._tx(write=False) as conn:
            return conn.execute(sa.select(uploads.c.id).where(
                uploads.c.id == digest, uploads.c.owner_key == check_owner(owner))).first() is not None

    def claim_project(self, project_id: str, owner: str) -> bool:
        """Gives a project without an owner (made before owners existed) to `owner`.

        Returns:
            Whether `owner` owns it now.
        """
        check_id(project_id)
        owner = check_owner(owner)
        with self._tx() as conn:
            if conn.execute(projects.update().where(
                    projects.c.id == project_id, projects.c.owner_key.is_(None)).values(owner_key=owner)).rowcount:
                conn.execute(runs.update().where(  # its runs from before owners come along
                    runs.c.project_id == project_id, runs.c.owner_key.is_(None)).values(owner_key=owner))
            now = conn.execute(sa.select(projects.c.owner_key).where(projects.c.id == project_id)).first()
        return now is not None and now[0] == owner

    def transfer_owner(self, old: str, new: str) -> int:
        """Moves every project and run of `old` to `new` (a browser that turned out to have a key already)."""
        old, new = check_owner(old), check_owner(new)
        u = uploads.c
        with self._tx() as conn:
            n = conn.execute(projects.update().where(projects.c.owner_key == old).values(owner_key=new)).rowcount
            conn.execute(runs.update().where(runs.c.owner_key == old).values(owner_key=new))
            copy = self._insert(uploads).from_select(
                ["id", "owner_key", "file_name", "format", "size", "created_at"],
                sa.select(u.id, sa.literal(new, sa.Text), u.file_name, u.format, u.size, u.created_at)
                .where(u.owner_key == old))
            conn.execute(copy.on_conflict_do_nothing(index_elements=["id", "owner_key"]))
            conn.execute(uploads.delete().where(u.owner_key == old))
        return n

    def list_projects(self, limit: int = 50, owner: str | None = None, search: str | None = None,
                      unowned: bool = False) -> list[dict]:
        """Projects, most recently saved first, deleted ones left out.

        Args:
            limit: At most this many.
            owner: Only this owner's (None: everyone's, for the command line and tests).
            search: Only those whose name holds this text (any case).
            unowned: Only those without an owner (made before owners existed; see `claim_project`).

        Returns:
            `[{"id", "name", "updated_at", "layers", "params", "runs", "best"}]`; `best` is the best test
            accuracy of the project's runs, else their lowest test loss, as `{"accuracy": x}` / `{"loss": x}`,
            or None.
        """
        p = projects.c
        where = [p.deleted_at.is_(None)]
        if owner is not None:
            where.append(p.owner_key == check_owner(owner))
        if unowned:
            where.append(p.owner_key.is_(None))
        if search:
            where.append(p.name.icontains(str(search)[:200], autoescape=True))
        count = sa.select(sa.func.count()).where(runs.c.project_id == p.id).scalar_subquery()
        with self._tx(write=False) as conn:
            rows = conn.execute(
                sa.select(p.id, p.name, p.updated_at, p.layers, p.params, count.label("runs"))
                .where(*where).order_by(p.updated_at.desc(), p.created_at.desc(), p.id).limit(_limit(limit))
            ).mappings().all()
            scores: dict[str, list] = {}
            if rows:
                for pid, metrics in conn.execute(sa.select(runs.c.project_id, runs.c.final_metrics).where(
                        runs.c.project_id.in_([r["id"] for r in rows]), runs.c.final_metrics.is_not(None))):
                    scores.setdefault(pid, []).append(_json_dict(metrics))
        out = []
        for row in rows:
            found = scores.get(row["id"], [])
            acc = [m["accuracy"] for m in found if m and _finite(m.get("accuracy"))]
            loss = [m["loss"] for m in found if m and _finite(m.get("loss"))]
            best = {"accuracy": max(acc)} if acc else {"loss": min(loss)} if loss else None
            out.append({**row, "best": best})
        return out

    def rename_project(self, project_id: str, name: str, owner: str | None = None) -> Graph:
        """Renames a project (its graph's name: also the Keras model name); only `owner`'s, when given.

        Returns:
            The renamed graph.

        Raises:
            StoreError: No such project (of that owner), or the name is not valid.
        """
        check_id(project_id)
        with self._tx() as conn:
            text_ = conn.execute(sa.select(projects.c.graph).where(
                projects.c.id == project_id, projects.c.deleted_at.is_(None), *_owned(owner))).scalar()
            graph = None if text_ is None else _parse_graph(text_)
            if graph is None:
                raise StoreError(f"there is no project {project_id!r}")
            try:
                graph = graph.set_name(name)
            except GraphError as e:
                raise StoreError(str(e)) from None
            conn.execute(projects.update().where(projects.c.id == project_id).values(
                name=graph.name, graph=_graph_json(graph), updated_at=time.time()))
        return graph

    def duplicate_project(self, project_id: str, owner: str | None, name: str | None = None) -> str:
        """A copy of a project (its graph, not its runs) for `owner`, under `name` (default "<name> copy").

        Returns:
            The new project's id.
        """
        check_id(project_id)
        p = projects.c
        with self._tx(write=False) as conn:
            row = conn.execute(sa.select(p.graph, p.params, p.weights_run, p.weights_file, p.data).where(
                p.id == project_id, p.deleted_at.is_(None))).first()
        graph = None if row is None else _parse_graph(row[0])
        if graph is None:
            raise StoreError(f"there is no project {project_id!r}")
        try:
            graph = graph.set_name(name if name is not None else f"{graph.name} copy")
        except GraphError as e:
            raise StoreError(str(e)) from None
        new = new_project_id()
        self.save_project(new, graph, owner, params=row[1])
        if row[2]:
            self.set_weights_run(new, row[2])
        if row[3]:
            self.set_weights_file(new, row[3])  # shared: removed only with the last project that uses it
        if _json_dict(row[4]) is not None:
            self.set_project_data(new, _json_dict(row[4]))  # the data choice comes along
        return new

    def set_weights_file(self, project_id: str, path: str | os.PathLike | None) -> None:
        """The model file (an imported `.keras` / `.h5`, kept by the app) the project takes its starting weights
        from; it is removed with the project, when no other project uses it."""
        check_id(project_id)
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise StoreError(f"the weights file must be a path, got {type(path).__name__}")
        with self._tx() as conn:
            conn.execute(projects.update().where(projects.c.id == project_id).values(
                weights_file=None if path is None else os.fspath(path)))

    def set_weights_run(self, project_id: str, run_id: str | None) -> None:
        """The run whose trained model gives the project its starting weights (a run opened in the editor)."""
        check_id(project_id)
        if run_id is not None:
            check_id(run_id, "run id")
        with self._tx() as conn:
            conn.execute(projects.update().where(projects.c.id == project_id).values(weights_run=run_id))

    def delete_project(self, project_id: str, delete_runs: bool = False, owner: str | None = None) -> bool:
        """Deletes a project, undoably until `purge_deleted` runs: `restore_project` brings it back.

        Args:
            project_id: The project.
            delete_runs: Whether its runs (records and trained model files) go with it when it is purged;
                otherwise they stay, with their own copy of the graph.
            owner: Only if it is this owner's (None: anyone's, for the command line and tests).

        Returns:
            Whether there was such a project (not deleted already).
        """
        check_id(project_id)
        with self._tx() as conn:
            return conn.execute(projects.update().where(
                projects.c.id == project_id, projects.c.deleted_at.is_(None), *_owned(owner)
            ).values(deleted_at=time.time(), purge_runs=int(bool(delete_runs)))).rowcount > 0

    def restore_project(self, project_id: str, owner: str | None = None) -> bool:
        """Undoes `delete_project` (before the purge); only `owner`'s, when given. Returns whether there was a
        deleted project to restore."""
        check_id(project_id)
        with self._tx() as conn:
            return conn.execute(projects.update().where(
                projects.c.id == project_id, projects.c.deleted_at.is_not(None), *_owned(owner)
            ).values(deleted_at=None, purge_runs=0)).rowcount > 0

    def purge_deleted(self, older_than_s: float = 0.0) -> int:
        """Removes projects deleted more than `older_than_s` seconds ago for good, with their runs and the
        runs' files where the user chose so.

        Returns:
            How many projects were removed.
        """
        cutoff = time.time() - float(older_than_s)
        p = projects.c
        with self._tx() as conn:
            rows = conn.execute(sa.select(p.id, p.purge_runs, p.weights_file).where(
                p.deleted_at.is_not(None), p.deleted_at <= cutoff)).all()
            files = []
            for pid, purge, weights_file in rows:
                if weights_file and conn.execute(sa.select(p.id).where(
                        p.weights_file == weights_file, p.id != pid,
                        sa.or_(p.deleted_at.is_(None), p.deleted_at > cutoff))).first() is None:
                    files.append(weights_file)
                if purge:
                    files += conn.execute(sa.select(runs.c.artifact_path).where(
                        runs.c.project_id == pid, runs.c.artifact_path.is_not(None))).scalars().all()
                    conn.execute(runs.delete().where(runs.c.project_id == pid))
                conn.execute(projects.delete().where(p.id == pid))
        for f in files:  # after the commit: a failed transaction keeps its files
            with contextlib.suppress(OSError):
                pathlib.Path(f).unlink()
        return len(rows)

    # -- runs -------------------------------------------------------------
    def create_run(self, project_id: str | None, graph: Graph, settings: dict, dataset: str,
                   owner: str | None = None, backend: str | None = None, limit: int | None = None) -> str:
        """Records a new run, status `queued`.

        Args:
            project_id: The project it belongs to, or None (e.g. from the CLI).
            graph: The graph as trained (a copy is kept: the project may change).
            settings: Training settings (epochs, batch size, ...), JSON-able.
            dataset: The dataset name or description.
            owner: Whose run it is (see `list_projects`); None from the command line.
            backend: Where it trains: None in this process (its job object), "ray" as a Ray task that a dispatcher
                takes from the queue in the store (`claim_next`).
            limit: At most this many runs of `owner` queued or running at once, counted in the same transaction.

        Returns:
            The new run id.

        Raises:
            LimitError: `owner` has `limit` runs queued or running already.
        """
        if project_id is not None:
            check_id(project_id)
        if not isinstance(settings, dict):
            raise StoreError(f"run settings must be a dict, got {type(settings).__name__}")
        if not isinstance(dataset, str):
            raise StoreError(f"the dataset must be text, got {type(dataset).__name__}")
        owner = check_owner(owner)
        run_id = secrets.token_urlsafe(12)
        text_, settings_text, now = _graph_json(graph), _to_json(settings, "run settings"), time.time()
        if backend not in (None, "ray"):
            raise StoreError(f"invalid backend {str(backend)[:20]!r}: use 'ray' or None")
        with self._tx() as conn:
            if limit is not None and owner is not None:
                self._lock_owner(conn, owner)
                active = conn.execute(sa.select(sa.func.count()).where(
                    runs.c.owner_key == owner, runs.c.status.in_(ACTIVE_STATUSES))).scalar()
                if active >= limit:
                    raise LimitError(f"you have {active} runs queued or running, the most one person may have at once "
                                     f"on this server: wait for one to end, or stop one")
            class_id = None if project_id is None else conn.execute(
                sa.select(projects.c.class_id).where(projects.c.id == project_id)).scalar()
            conn.execute(runs.insert().values(
                id=run_id, project_id=project_id, name=str(graph.name), graph=text_, settings=settings_text,
                dataset=dataset, status="queued", created_at=now, updated_at=now, owner=self.owner, owner_key=owner,
                backend=backend, class_id=class_id))
        return run_id

    def _lock_owner(self, conn: sa.Connection, owner: str) -> None:
        """Serializes this transaction with every other one that counts `owner`'s runs (SQLite's BEGIN IMMEDIATE
        does already; PostgreSQL takes a transaction lock keyed by the owner)."""
        if self.dialect == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(zlib.crc32(owner.encode()))))

    def set_run_status(self, run_id: str, status: str, message: str | None = None) -> None:
        """Moves a run to `status` (one of RUN_STATUSES), with an optional message.

        Raises:
            StoreError: Unknown status or run.
        """
        check_id(run_id, "run id")
        _check_status(status, RUN_STATUSES)
        values = {"status": status, "message": _message(message)}
        if status == "running":  # the first batch: the wait in line and the compiling are over
            values["started_at"] = sa.func.coalesce(runs.c.started_at, time.time())
        with self._tx() as conn:
            self._update_run(conn, run_id, **values)

    def add_epoch(self, run_id: str, epoch: int, metrics: dict) -> None:
        """Records one epoch's metrics (again for the same epoch: replaces it)."""
        check_id(run_id, "run id")
        if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
            raise StoreError(f"the epoch must be a whole number >= 0, got {epoch!r}")
        if not isinstance(metrics, dict):
            raise StoreError(f"epoch metrics must be a dict, got {type(metrics).__name__}")
        text_, now = _to_json(metrics, "epoch metrics"), time.time()
        with self._tx() as conn:
            self._update_run(conn, run_id)  # raises for an unknown run
            conn.execute(self._upsert(epochs, {"run_id": run_id, "epoch": epoch, "metrics": text_, "created_at": now},
                                      ["run_id", "epoch"], ["metrics", "created_at"]))

    def finish_run(
        self, run_id: str, status: str, final_metrics: dict | None, artifact_path: str | None = None,
        message: str | None = None, stats: dict | None = None,
    ) -> None:
        """Ends a run: a final status (stopped, finished, failed, interrupted), its
        final metrics (e.g. test scores), where the trained model was saved, and
        figures of the run that are not metrics (`stats`: samples per second...)."""
        check_id(run_id, "run id")
        _check_status(status, FINAL_STATUSES)
        if final_metrics is not None and not isinstance(final_metrics, dict):
            raise StoreError(f"final metrics must be a dict, got {type(final_metrics).__name__}")
        if artifact_path is not None and not isinstance(artifact_path, (str, os.PathLike)):
            raise StoreError(f"the artifact path must be text, got {type(artifact_path).__name__}")
        if stats is not None and not isinstance(stats, dict):
            raise StoreError(f"run stats must be a dict, got {type(stats).__name__}")
        with self._tx() as conn:
            self._update_run(
                conn, run_id, status=status, message=_message(message),
                final_metrics=None if final_metrics is None else _to_json(final_metrics, "final metrics"),
                artifact_path=None if artifact_path is None else os.fspath(artifact_path),
                stats=None if stats is None else _to_json(stats, "run stats"))

    def get_run(self, run_id: str) -> dict | None:
        """Everything about a run, or None if there is no such run.

        Returns:
            `{"id", "project_id", "name", "graph" (Graph, or None if it no
            longer parses), "settings", "dataset", "status", "message",
            "epochs" ([{"epoch", "metrics"}] by epoch), "final_metrics",
            "artifact_path", "created_at", "updated_at", "owner_key", "stats"}`.
        """
        check_id(run_id, "run id")
        with self._tx(write=False) as conn:
            row = conn.execute(sa.select(*_RUN_COLUMNS, runs.c.graph, runs.c.progress, runs.c.result)
                               .where(runs.c.id == run_id)).mappings().first()
            if row is None:
                return None
            found = conn.execute(sa.select(epochs.c.epoch, epochs.c.metrics).where(epochs.c.run_id == run_id)
                                 .order_by(epochs.c.epoch)).all()
        run = _run_row(row)
        run["graph"] = _parse_graph(row["graph"])
        run["progress"], run["result"] = _json_dict(row["progress"]), _json_dict(row["result"])
        run["epochs"] = [{"epoch": e, "metrics": _from_json(m) or {}} for e, m in found]
        return run

    def list_runs(self, project_id: str | None = None, limit: int = 100, owner: str | None = None) -> list[dict]:
        """Runs, newest first, without graphs and epochs (see `get_run`): of one project and/or one owner
        (None: any)."""
        where = []
        if project_id is not None:
            where.append(runs.c.project_id == check_id(project_id))
        if owner is not None:
            where.append(runs.c.owner_key == check_owner(owner))
        with self._tx(write=False) as conn:
            rows = conn.execute(sa.select(*_RUN_COLUMNS).where(*where)
                                .order_by(runs.c.created_at.desc(), runs.c.id.desc())
                                .limit(_limit(limit, 10_000))).mappings().all()
        return [_run_row(r) for r in rows]

    def mark_interrupted(self) -> int:
        """Every run left queued, compiling or running by a process that is gone is
        marked interrupted (called at server start and before runs are listed).

        Runs of live processes (this one, another server on the same database) are left
        alone, and so are those of other hosts, which cannot be checked.

        Returns:
            How many runs were marked.
        """
        active = sa.and_(runs.c.status.in_(ACTIVE_STATUSES), runs.c.backend.is_(None))  # Ray runs: `fail_lost`
        with self._tx(write=False) as conn:  # most calls find nothing: no write lock for them
            found = conn.execute(sa.select(runs.c.id, runs.c.owner).where(active)).all()
        gone = [run_id for run_id, owner in found if owner != self.owner and owner_alive(owner) is False]
        if not gone:
            return 0
        with self._tx() as conn:
            conn.execute(runs.update().where(runs.c.id.in_(gone), active).values(
                status="interrupted", message=INTERRUPTED_MESSAGE, updated_at=time.time()))
        return len(gone)

    # -- runs that any process can follow and stop, and the queue of Ray runs -------------------------------------
    def publish_progress(self, run_id: str, progress: dict) -> bool:
        """A running job's live progress (JSON-able: batch, speed, sampled batch metrics...) and sign of life, for
        every server's Train page.

        Returns:
            Whether Stop was pressed for the run (on any server: `request_stop`).
        """
        check_id(run_id, "run id")
        text_ = _to_json(progress, "the progress")
        with self._tx() as conn:
            conn.execute(runs.update().where(runs.c.id == run_id).values(progress=text_, heartbeat_at=time.time()))
            return conn.execute(sa.select(runs.c.stop_at).where(runs.c.id == run_id)).scalar() is not None

    def request_stop(self, run_id: str, owner: str | None = None) -> bool:
        """Stop pressed: the process that trains the run ends it at the next batch, keeping the model. A Ray run that
        no dispatcher has taken yet ends at once. Only `owner`'s run, when given.

        Returns:
            Whether an active run was asked to stop.
        """
        check_id(run_id, "run id")
        mine = () if owner is None else (runs.c.owner_key == check_owner(owner),)
        now = time.time()
        with self._tx() as conn:
            asked = conn.execute(runs.update().where(
                runs.c.id == run_id, runs.c.status.in_(ACTIVE_STATUSES), runs.c.stop_at.is_(None), *mine
            ).values(stop_at=now)).rowcount > 0
            if asked:
                conn.execute(runs.update().where(
                    runs.c.id == run_id, runs.c.status == "queued", runs.c.backend == "ray",
                    runs.c.claimed_by.is_(None)
                ).values(status="stopped", message="Stopped while waiting in line.", updated_at=now))
        return asked

    def stop_requested(self, run_id: str) -> float | None:
        """When Stop was pressed for the run (seconds since the epoch), or None."""
        check_id(run_id, "run id")
        with self._tx(write=False) as conn:
            return conn.execute(sa.select(runs.c.stop_at).where(runs.c.id == run_id)).scalar()

    def set_run_result(self, run_id: str, result: dict | None) -> None:
        """The run's result as its page shows it (test metrics, confusion matrix, predictions): JSON-able."""
        check_id(run_id, "run id")
        text_ = None if result is None else _to_json(result, "the result")
        with self._tx() as conn:
            self._update_run(conn, run_id, result=text_)

    def claim_next(self, claimer: str, skip: Callable[[dict], bool] | None = None) -> dict | None:
        """Takes the next Ray run from the queue for `claimer` (a dispatcher), in fair order: the oldest run of the
        owner with the fewest runs under way, so one person's ten runs do not hold up everybody else. Atomic: two
        dispatchers never take the same run.

        Args:
            skip: Runs to leave in the queue this time (those that need more than the cluster has free).

        Returns:
            The run (as `get_run`), or None when no run waits.
        """
        for run_id in self.fair_order():
            run = self.get_run(run_id)
            if run is None or (skip is not None and skip(run)):
                continue
            with self._tx() as conn:
                if conn.execute(runs.update().where(
                        runs.c.id == run_id, runs.c.status == "queued", runs.c.claimed_by.is_(None)
                ).values(claimed_by=claimer, heartbeat_at=time.time())).rowcount:
                    run["claimed_by"] = claimer
                    return run
        return None

    def fair_order(self) -> list[str]:
        """The Ray runs waiting in line (no dispatcher took them yet), in the order they will be taken."""
        q = runs.c
        taken = sa.or_(q.status.in_(("compiling", "running")), sa.and_(q.status == "queued", q.claimed_by.is_not(None)))
        with self._tx(write=False) as conn:
            waiting = conn.execute(sa.select(q.id, q.owner_key).where(
                q.backend == "ray", q.status == "queued", q.claimed_by.is_(None)).order_by(q.created_at, q.id)).all()
            busy = dict(conn.execute(sa.select(q.owner_key, sa.func.count()).where(q.backend == "ray", taken)
                                     .group_by(q.owner_key)).all())
        order, left = [], list(waiting)
        while left:  # each turn: the first waiting run of the owner with the fewest runs under way
            best = min(range(len(left)), key=lambda i: (busy.get(left[i][1], 0), i))
            run_id, who = left.pop(best)
            order.append(run_id)
            busy[who] = busy.get(who, 0) + 1
        return order

    def ray_runs_under_way(self) -> int:
        """Ray runs that a dispatcher took and that have not ended."""
        with self._tx(write=False) as conn:
            return conn.execute(sa.select(sa.func.count()).where(
                runs.c.backend == "ray", runs.c.status.in_(ACTIVE_STATUSES), runs.c.claimed_by.is_not(None))).scalar()

    def run_seconds(self, backend: str | None = "ray", last: int = 20) -> list[float]:
        """How long the latest finished runs took from their first batch to their end (for a wait estimate)."""
        q = runs.c
        with self._tx(write=False) as conn:
            rows = conn.execute(sa.select(q.started_at, q.updated_at).where(
                q.backend == backend if backend else q.backend.is_(None), q.status.in_(("finished", "stopped")),
                q.started_at.is_not(None)).order_by(q.updated_at.desc()).limit(last)).all()
        return [max(0.0, end - start) for start, end in rows]

    def fail_lost(self, older_than_s: float, message: str) -> list[str]:
        """Ray runs under way whose worker gave no sign of life for `older_than_s` seconds (a lost node, a killed
        dispatcher) are marked failed with `message`. Returns their ids."""
        q = runs.c
        cutoff = time.time() - older_than_s
        lost = sa.and_(q.backend == "ray", q.status.in_(ACTIVE_STATUSES), q.claimed_by.is_not(None),
                       q.heartbeat_at < cutoff)
        with self._tx(write=False) as conn:
            found = conn.execute(sa.select(q.id).where(lost)).scalars().all()
        if found:
            with self._tx() as conn:
                conn.execute(runs.update().where(q.id.in_(found), lost).values(
                    status="failed", message=_message(message), updated_at=time.time()))
        return list(found)

    def end_run_if_active(self, run_id: str, status: str, message: str) -> bool:
        """Ends a run that is still queued or under way (its worker died, or was ended by force); a run that ended
        meanwhile keeps its own end. Returns whether it was ended here."""
        check_id(run_id, "run id")
        _check_status(status, FINAL_STATUSES)
        with self._tx() as conn:
            return conn.execute(runs.update().where(runs.c.id == run_id, runs.c.status.in_(ACTIVE_STATUSES)).values(
                status=status, message=_message(message), updated_at=time.time())).rowcount > 0

    def set_service(self, name: str, info: dict) -> None:
        """What a service (the Ray dispatcher) says of itself, with the time: every server reads it."""
        text_ = _to_json(info, "the service's report")
        with self._tx() as conn:
            conn.execute(self._upsert(services, {"name": str(name)[:100], "info": text_, "updated_at": time.time()},
                                      ["name"], ["info", "updated_at"]))

    def service(self, name: str) -> tuple[dict, float] | None:
        """(what the service said, when) or None."""
        with self._tx(write=False) as conn:
            row = conn.execute(sa.select(services.c.info, services.c.updated_at).where(
                services.c.name == str(name)[:100])).first()
        return None if row is None else (_json_dict(row[0]) or {}, row[1])

    def _update_run(self, conn: sa.Connection, run_id: str, **values: Any) -> None:
        if conn.execute(runs.update().where(runs.c.id == run_id).values(**values, updated_at=time.time())
                        ).rowcount == 0:
            raise StoreError(f"there is no run {run_id!r}")


_RUN_COLUMNS = tuple(runs.c[name] for name in (
    "id", "project_id", "name", "settings", "dataset", "status", "message", "final_metrics", "artifact_path",
    "created_at", "updated_at", "owner_key", "stats", "backend", "claimed_by", "started_at", "stop_at",
    "heartbeat_at"))
OWNER_RE = re.compile(r"(user|key):[^\x00-\x1f]{1,300}")


def _owned(owner: Any) -> tuple:
    """The condition that limits a change to `owner`'s projects (none for None)."""
    owner = check_owner(owner)
    return () if owner is None else (projects.c.owner_key == owner,)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_owner(owner: Any) -> str | None:
    """An owner key ("user:<login>" or "key:<browser key>"), or None; anything else is refused."""
    if owner is None:
        return None
    if not isinstance(owner, str) or not OWNER_RE.fullmatch(owner):
        raise StoreError(f"invalid owner {str(owner)[:40]!r}: use 'user:<login>' or 'key:<key>'")
    return owner


def _run_row(row) -> dict:
    run = {c.name: row[c.name] for c in _RUN_COLUMNS}
    run["settings"] = _from_json(run["settings"]) or {}
    run["final_metrics"] = _from_json(run["final_metrics"])
    run["stats"] = _json_dict(run["stats"]) or {}
    return run


def _check_status(status: Any, allowed: tuple[str, ...]) -> None:
    if status not in allowed:
        raise StoreError(f"invalid run status {str(status)[:40]!r}: use one of {', '.join(allowed)}")


def _message(message: Any) -> str | None:
    return None if message is None else str(message)[:10_000]


def _limit(limit: Any, most: int = 1_000) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise StoreError(f"limit must be a whole number >= 1, got {limit!r}")
    return min(limit, most)


def _graph_json(graph: Any) -> str:
    if not isinstance(graph, Graph):
        raise StoreError(f"expected a Graph, got {type(graph).__name__}")
    try:
        return graph.dumps(indent=None)
    except (TypeError, ValueError) as e:
        raise StoreError(f"the graph cannot be saved as JSON: {_one_line(e)}") from None


def _parse_graph(text: Any) -> Graph | None:
    """A stored graph, or None when it no longer parses (corrupt, or from a newer version)."""
    try:
        return Graph.loads(text)
    except (GraphError, TypeError, ValueError, RecursionError):
        return None


def _json_default(o: Any) -> Any:
    """NumPy scalars and arrays (Keras logs hold them) as plain numbers and lists."""
    if hasattr(o, "tolist"):
        return o.tolist()
    if hasattr(o, "item"):
        return o.item()
    raise TypeError(f"{type(o).__name__} is not JSON-serializable")


def _to_json(value: Any, what: str) -> str:
    # NaN stays NaN (a diverging loss is worth seeing); Python's json reads it back.
    try:
        return json.dumps(value, default=_json_default, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError) as e:
        raise StoreError(f"{what} cannot be saved as JSON: {_one_line(e)}") from None


def _from_json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _json_dict(text: str | None) -> dict | None:
    value = _from_json(text)
    return value if isinstance(value, dict) else None


def _one_line(e: BaseException, limit: int = 300) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
