"""SQLite store: projects (autosave), training runs and their metrics.

One `Store` per database file, shared by every thread of the app (Streamlit
runs each session in its own threads). It holds one connection behind a
lock; writes take the database lock up front (`BEGIN IMMEDIATE`), and WAL
mode with a busy timeout lets another process (the CLI, a second server)
use the same file. Every public method is one transaction: it happens
entirely or not at all.

Ids are checked against `ID_RE` before any use, so text from a URL never
reaches SQL or a path unchecked. Times are seconds since the epoch (UTC).
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import re
import secrets
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import Any, Self

from builder.graph import Graph, GraphError

ID_RE = re.compile(r"[A-Za-z0-9_-]{8,64}")  # used with fullmatch: "$" would let "id\n" through
RUN_STATUSES = ("queued", "compiling", "running", "stopped", "finished", "failed", "interrupted")
ACTIVE_STATUSES = ("queued", "compiling", "running")
FINAL_STATUSES = ("stopped", "finished", "failed", "interrupted")
INTERRUPTED_MESSAGE = "the server stopped while this run was active"
BUSY_TIMEOUT_S = 30.0

# Migrations, in order: index i brings the schema from version i to i + 1.
# Append only; never edit a step that has shipped.
MIGRATIONS: list[tuple[str, ...]] = [
    (
        """CREATE TABLE IF NOT EXISTS projects (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            graph TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS projects_updated ON projects (updated_at)",
        """CREATE TABLE IF NOT EXISTS runs (
            id TEXT PRIMARY KEY,
            project_id TEXT,
            name TEXT NOT NULL,
            graph TEXT NOT NULL,
            settings TEXT NOT NULL,
            dataset TEXT NOT NULL,
            status TEXT NOT NULL,
            message TEXT,
            final_metrics TEXT,
            artifact_path TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS runs_project ON runs (project_id, created_at)",
        "CREATE INDEX IF NOT EXISTS runs_status ON runs (status)",
        """CREATE TABLE IF NOT EXISTS epochs (
            run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            epoch INTEGER NOT NULL,
            metrics TEXT NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (run_id, epoch)
        )""",
    ),
    # 2: which process runs each run ("host/pid/start time"), so a server marks only
    # the runs of processes that are gone, not those of another live server on the file.
    ("ALTER TABLE runs ADD COLUMN owner TEXT",),
]
SCHEMA_VERSION = len(MIGRATIONS)


class StoreError(Exception):
    """A store operation that cannot be done (bad id, bad value, database problem)."""


def default_path() -> pathlib.Path:
    """`$LAYERCANVAS_DB`, or `data/layercanvas.db` in the repository."""
    env = os.environ.get("LAYERCANVAS_DB")
    if env:
        return pathlib.Path(env)
    return pathlib.Path(__file__).resolve().parents[1] / "data" / "layercanvas.db"


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


def check_id(value: Any, what: str = "project id") -> str:
    """Returns `value` if it is a valid id.

    Raises:
        StoreError: It is not text of 8 to 64 letters, digits, '_' or '-'.
    """
    if not isinstance(value, str) or not ID_RE.fullmatch(value):
        raise StoreError(f"invalid {what} {str(value)[:40]!r}: use 8 to 64 letters, digits, '_' or '-'")
    return value


class Store:
    """Projects and training runs in one SQLite file; safe to share between threads.

    Args:
        path: The database file; created with its parent folders if missing.
            Defaults to `default_path()`.

    Raises:
        StoreError: The file cannot be opened, is not a database, or was
            written by a newer LayerCanvas.
    """

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = pathlib.Path(path) if path is not None else default_path()
        self.owner = process_owner()  # recorded with each run this store creates
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: transactions are explicit (see _tx), so writes
            # can take the lock up front instead of failing to upgrade later.
            self._conn: sqlite3.Connection | None = sqlite3.connect(
                str(self.path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            self._conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")  # durable enough with WAL, much faster
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except StoreError:
            self.close()
            raise
        except (sqlite3.Error, OSError) as e:
            self.close()
            raise StoreError(f"cannot open the database {self.path}: {_one_line(e)}") from None

    # -- plumbing ---------------------------------------------------------
    def close(self) -> None:
        """Closes the connection; later calls raise StoreError."""
        with self._lock:
            conn, self._conn = getattr(self, "_conn", None), None
            if conn is not None:
                conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError("the store is closed")
        return self._conn

    @contextlib.contextmanager
    def _tx(self, write: bool = True) -> Iterator[sqlite3.Connection]:
        """One transaction: committed at the end, rolled back on any exception."""
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            except sqlite3.Error as e:
                raise StoreError(f"the database {self.path} is not available: {_one_line(e)}") from None
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as e:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                if isinstance(e, sqlite3.Error):
                    raise StoreError(f"database error in {self.path}: {_one_line(e)}") from None
                raise

    def _migrate(self) -> None:
        with self._tx() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
            current = row[0] or 0
            if current > SCHEMA_VERSION:
                raise StoreError(
                    f"the database {self.path} has schema version {current}, made by a newer LayerCanvas; "
                    f"this one reads up to {SCHEMA_VERSION}"
                )
            for version in range(current, SCHEMA_VERSION):
                for sql in MIGRATIONS[version]:
                    conn.execute(sql)
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version + 1,))

    def schema_version(self) -> int:
        with self._tx(write=False) as conn:
            return conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]

    # -- projects ---------------------------------------------------------
    def save_project(self, project_id: str, graph: Graph) -> None:
        """Creates or replaces a project's graph (with its layout)."""
        check_id(project_id)
        text = _graph_json(graph)
        now = time.time()
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO projects (id, name, graph, created_at, updated_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET name = excluded.name, graph = excluded.graph, "
                "updated_at = excluded.updated_at",
                (project_id, str(graph.name), text, now, now),
            )

    def load_project(self, project_id: str) -> Graph | None:
        """A project's graph; None if there is none or it no longer parses."""
        check_id(project_id)
        with self._tx(write=False) as conn:
            row = conn.execute("SELECT graph FROM projects WHERE id = ?", (project_id,)).fetchone()
        return None if row is None else _parse_graph(row[0])

    def list_projects(self, limit: int = 50) -> list[dict]:
        """Projects, most recently saved first: `{"id", "name", "updated_at"}`."""
        with self._tx(write=False) as conn:
            rows = conn.execute(
                "SELECT id, name, updated_at FROM projects ORDER BY updated_at DESC, rowid DESC LIMIT ?",
                (_limit(limit),),
            ).fetchall()
        return [{"id": i, "name": n, "updated_at": u} for i, n, u in rows]

    def delete_project(self, project_id: str) -> bool:
        """Deletes a project (its runs stay, with their own copy of the graph).

        Returns:
            Whether there was such a project.
        """
        check_id(project_id)
        with self._tx() as conn:
            return conn.execute("DELETE FROM projects WHERE id = ?", (project_id,)).rowcount > 0

    # -- runs -------------------------------------------------------------
    def create_run(self, project_id: str | None, graph: Graph, settings: dict, dataset: str) -> str:
        """Records a new run, status `queued`.

        Args:
            project_id: The project it belongs to, or None (e.g. from the CLI).
            graph: The graph as trained (a copy is kept: the project may change).
            settings: Training settings (epochs, batch size, ...), JSON-able.
            dataset: The dataset name or description.

        Returns:
            The new run id.
        """
        if project_id is not None:
            check_id(project_id)
        if not isinstance(settings, dict):
            raise StoreError(f"run settings must be a dict, got {type(settings).__name__}")
        if not isinstance(dataset, str):
            raise StoreError(f"the dataset must be text, got {type(dataset).__name__}")
        run_id = secrets.token_urlsafe(12)
        text, settings_text, now = _graph_json(graph), _to_json(settings, "run settings"), time.time()
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO runs (id, project_id, name, graph, settings, dataset, status, created_at, updated_at, "
                "owner) VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?)",
                (run_id, project_id, str(graph.name), text, settings_text, dataset, now, now, self.owner),
            )
        return run_id

    def set_run_status(self, run_id: str, status: str, message: str | None = None) -> None:
        """Moves a run to `status` (one of RUN_STATUSES), with an optional message.

        Raises:
            StoreError: Unknown status or run.
        """
        check_id(run_id, "run id")
        _check_status(status, RUN_STATUSES)
        with self._tx() as conn:
            self._update_run(conn, run_id, "status = ?, message = ?", (status, _message(message)))

    def add_epoch(self, run_id: str, epoch: int, metrics: dict) -> None:
        """Records one epoch's metrics (again for the same epoch: replaces it)."""
        check_id(run_id, "run id")
        if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
            raise StoreError(f"the epoch must be a whole number >= 0, got {epoch!r}")
        if not isinstance(metrics, dict):
            raise StoreError(f"epoch metrics must be a dict, got {type(metrics).__name__}")
        text, now = _to_json(metrics, "epoch metrics"), time.time()
        with self._tx() as conn:
            self._update_run(conn, run_id, "", ())  # raises for an unknown run
            conn.execute(
                "INSERT OR REPLACE INTO epochs (run_id, epoch, metrics, created_at) VALUES (?, ?, ?, ?)",
                (run_id, epoch, text, now),
            )

    def finish_run(
        self, run_id: str, status: str, final_metrics: dict | None, artifact_path: str | None = None,
        message: str | None = None,
    ) -> None:
        """Ends a run: a final status (stopped, finished, failed, interrupted), its
        final metrics (e.g. test scores) and where the trained model was saved."""
        check_id(run_id, "run id")
        _check_status(status, FINAL_STATUSES)
        if final_metrics is not None and not isinstance(final_metrics, dict):
            raise StoreError(f"final metrics must be a dict, got {type(final_metrics).__name__}")
        if artifact_path is not None and not isinstance(artifact_path, (str, os.PathLike)):
            raise StoreError(f"the artifact path must be text, got {type(artifact_path).__name__}")
        metrics_text = None if final_metrics is None else _to_json(final_metrics, "final metrics")
        path_text = None if artifact_path is None else os.fspath(artifact_path)
        with self._tx() as conn:
            self._update_run(
                conn, run_id, "status = ?, message = ?, final_metrics = ?, artifact_path = ?",
                (status, _message(message), metrics_text, path_text),
            )

    def get_run(self, run_id: str) -> dict | None:
        """Everything about a run, or None if there is no such run.

        Returns:
            `{"id", "project_id", "name", "graph" (Graph, or None if it no
            longer parses), "settings", "dataset", "status", "message",
            "epochs" ([{"epoch", "metrics"}] by epoch), "final_metrics",
            "artifact_path", "created_at", "updated_at"}`.
        """
        check_id(run_id, "run id")
        with self._tx(write=False) as conn:
            row = conn.execute(f"SELECT {_RUN_COLUMNS}, graph FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                return None
            epochs = conn.execute(
                "SELECT epoch, metrics FROM epochs WHERE run_id = ? ORDER BY epoch", (run_id,)
            ).fetchall()
        run = _run_row(row[:-1])
        run["graph"] = _parse_graph(row[-1])
        run["epochs"] = [{"epoch": e, "metrics": _from_json(m) or {}} for e, m in epochs]
        return run

    def list_runs(self, project_id: str | None = None, limit: int = 100) -> list[dict]:
        """Runs, newest first, without graphs and epochs (see `get_run`)."""
        if project_id is not None:
            check_id(project_id)
        where, args = ("WHERE project_id = ?", (project_id,)) if project_id is not None else ("", ())
        with self._tx(write=False) as conn:
            rows = conn.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs {where} ORDER BY created_at DESC, rowid DESC LIMIT ?",
                (*args, _limit(limit, 10_000)),
            ).fetchall()
        return [_run_row(r) for r in rows]

    def mark_interrupted(self) -> int:
        """Every run left queued, compiling or running by a process that is gone is
        marked interrupted (called at server start and before runs are listed).

        Runs of live processes (this one, another server on the same file) are left
        alone, and so are those of other hosts, which cannot be checked.

        Returns:
            How many runs were marked.
        """
        marks = ", ".join("?" * len(ACTIVE_STATUSES))
        with self._tx(write=False) as conn:  # most calls find nothing: no write lock for them
            rows = conn.execute(f"SELECT id, owner FROM runs WHERE status IN ({marks})", ACTIVE_STATUSES).fetchall()
        gone = [run_id for run_id, owner in rows if owner != self.owner and owner_alive(owner) is False]
        if not gone:
            return 0
        with self._tx() as conn:
            now = time.time()
            for run_id in gone:
                conn.execute(
                    f"UPDATE runs SET status = 'interrupted', message = ?, updated_at = ? "
                    f"WHERE id = ? AND status IN ({marks})",
                    (INTERRUPTED_MESSAGE, now, run_id, *ACTIVE_STATUSES),
                )
            return len(gone)

    def _update_run(self, conn: sqlite3.Connection, run_id: str, assignments: str, args: tuple) -> None:
        sets = f"{assignments}, updated_at = ?" if assignments else "updated_at = ?"
        cur = conn.execute(f"UPDATE runs SET {sets} WHERE id = ?", (*args, time.time(), run_id))
        if cur.rowcount == 0:
            raise StoreError(f"there is no run {run_id!r}")


_RUN_COLUMNS = (
    "id, project_id, name, settings, dataset, status, message, final_metrics, artifact_path, created_at, updated_at"
)


def _run_row(row: tuple) -> dict:
    keys = [k.strip() for k in _RUN_COLUMNS.split(",")]
    run = dict(zip(keys, row))
    run["settings"] = _from_json(run["settings"]) or {}
    run["final_metrics"] = _from_json(run["final_metrics"])
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


def _one_line(e: BaseException, limit: int = 300) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
