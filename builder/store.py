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

from builder.model.graph import Graph, GraphError

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
    # 3: whose projects and runs (`owner_key`: "user:<login>" or "key:<browser key>"; NULL for those made
    # before, claimed by the first who opens them), soft deletion (undo), and what the projects list previews.
    (
        "ALTER TABLE projects ADD COLUMN owner_key TEXT",
        "ALTER TABLE projects ADD COLUMN deleted_at REAL",
        "ALTER TABLE projects ADD COLUMN purge_runs INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE projects ADD COLUMN layers INTEGER",
        "ALTER TABLE projects ADD COLUMN params INTEGER",
        "ALTER TABLE projects ADD COLUMN weights_run TEXT",
        "ALTER TABLE projects ADD COLUMN weights_file TEXT",
        "ALTER TABLE runs ADD COLUMN owner_key TEXT",
        "CREATE INDEX IF NOT EXISTS projects_owner ON projects (owner_key, updated_at)",
        "CREATE INDEX IF NOT EXISTS runs_owner_key ON runs (owner_key, created_at)",
    ),
    # 4: the project's data choice (builder.data.datachoice as JSON; NULL: the one its graph carries), written only when
    # the user chooses; who uploaded which data file (kept beside the database under its sha1); and a run's
    # figures that are not metrics (samples per second), for showing it after a restart.
    (
        "ALTER TABLE projects ADD COLUMN data TEXT",
        "ALTER TABLE runs ADD COLUMN stats TEXT",
        """CREATE TABLE IF NOT EXISTS uploads (
            id TEXT NOT NULL,
            owner_key TEXT NOT NULL,
            file_name TEXT NOT NULL,
            format TEXT NOT NULL,
            size INTEGER NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (id, owner_key)
        )""",
    ),
]
SCHEMA_VERSION = len(MIGRATIONS)


class StoreError(Exception):
    """A store operation that cannot be done (bad id, bad value, database problem)."""


class DamagedStoreError(StoreError):
    """The database file is damaged (not a database, or it fails SQLite's integrity check)."""


def open_or_set_aside(path: str | os.PathLike | None = None) -> tuple[Store, str | None]:
    """Opens the store at `path`; a damaged file is renamed (kept for rescue, never overwritten) and a new one
    started.

    Returns:
        (the store, None) or (a new store, a message saying what was set aside where).

    Raises:
        StoreError: The file cannot be opened for another reason (a newer schema, no permission).
    """
    path = pathlib.Path(path) if path is not None else default_path()
    try:
        return Store(path), None
    except DamagedStoreError as e:
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
            check = self._conn.execute("PRAGMA quick_check").fetchone()
            if check is None or check[0] != "ok":
                raise DamagedStoreError(f"{self.path.name} fails the integrity check: {check and check[0]}")
            self._migrate()
        except StoreError:
            self.close()
            raise
        except sqlite3.DatabaseError as e:
            self.close()
            text = _one_line(e)
            if "not a database" in text or "malformed" in text or "corrupt" in text:
                raise DamagedStoreError(f"{self.path.name} is not a readable database: {text}") from None
            raise StoreError(f"cannot open the database {self.path}: {text}") from None
        except OSError as e:
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
    def save_project(self, project_id: str, graph: Graph, owner: str | None = None, params: int | None = None) -> None:
        """Creates or replaces a project's graph (with its layout).

        Args:
            project_id: The project.
            graph: Its graph.
            owner: Whose it is, for a new project (an existing project keeps its owner).
            params: Its parameter total, for the projects list (None: not known for this graph).
        """
        check_id(project_id)
        text = _graph_json(graph)
        owner = _owner(owner)
        if params is not None and (not isinstance(params, int) or isinstance(params, bool) or params < 0):
            raise StoreError(f"params must be a whole number >= 0, got {params!r}")
        now = time.time()
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO projects (id, name, graph, created_at, updated_at, owner_key, layers, params) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET name = excluded.name, graph = excluded.graph, "
                "updated_at = excluded.updated_at, layers = excluded.layers, params = excluded.params",
                (project_id, str(graph.name), text, now, now, owner, len(graph.nodes), params),
            )

    def set_project_params(self, project_id: str, params: int) -> None:
        """Records the parameter total of the project's current graph (the app counts it when it builds)."""
        check_id(project_id)
        if not isinstance(params, int) or isinstance(params, bool) or params < 0:
            raise StoreError(f"params must be a whole number >= 0, got {params!r}")
        with self._tx() as conn:
            conn.execute("UPDATE projects SET params = ? WHERE id = ?", (params, project_id))

    def load_project(self, project_id: str) -> Graph | None:
        """A project's graph; None if there is none, it was deleted, or it no longer parses."""
        check_id(project_id)
        with self._tx(write=False) as conn:
            row = conn.execute(
                "SELECT graph FROM projects WHERE id = ? AND deleted_at IS NULL", (project_id,)
            ).fetchone()
        return None if row is None else _parse_graph(row[0])

    def project_info(self, project_id: str) -> dict | None:
        """`{"id", "name", "owner", "created_at", "updated_at", "deleted_at", "weights_run", "weights_file",
        "data"}` (`data`: the data choice as a dict, or None), or None."""
        check_id(project_id)
        keys = ("id", "name", "owner", "created_at", "updated_at", "deleted_at", "weights_run", "weights_file",
                "data")
        with self._tx(write=False) as conn:
            row = conn.execute(
                "SELECT id, name, owner_key, created_at, updated_at, deleted_at, weights_run, weights_file, data "
                "FROM projects WHERE id = ?", (project_id,)
            ).fetchone()
        if row is None:
            return None
        info = dict(zip(keys, row, strict=False))
        info["data"] = _json_dict(info["data"])
        return info

    def project_data(self, project_id: str) -> dict | None:
        """The project's data choice (a dict, see builder.data.datachoice), or None when none was chosen for it."""
        check_id(project_id)
        with self._tx(write=False) as conn:
            row = conn.execute("SELECT data FROM projects WHERE id = ?", (project_id,)).fetchone()
        return None if row is None else _json_dict(row[0])

    def set_project_data(self, project_id: str, data: dict | None, owner: str | None = None) -> bool:
        """Records the project's data choice (only `owner`'s project, when given).

        Returns:
            Whether a project was changed (False: none of that id and owner).
        """
        check_id(project_id)
        if data is not None and not isinstance(data, dict):
            raise StoreError(f"the data choice must be a dict, got {type(data).__name__}")
        text = None if data is None else _to_json(data, "the data choice")
        mine, args = _owned(owner)
        with self._tx() as conn:
            return conn.execute(f"UPDATE projects SET data = ? WHERE id = ? AND deleted_at IS NULL{mine}",
                                (text, project_id, *args)).rowcount > 0

    def add_upload(self, digest: str, owner: str, file_name: str, fmt: str, size: int) -> None:
        """Records that `owner` uploaded the data file `digest` (its sha1): they may use it in their projects."""
        if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{40}", digest):
            raise StoreError(f"invalid upload id {str(digest)[:50]!r}")
        owner = _owner(owner)
        if owner is None:
            raise StoreError("an upload needs an owner")
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO uploads (id, owner_key, file_name, format, size, created_at) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id, owner_key) DO UPDATE SET file_name = excluded.file_name",
                (digest, owner, str(file_name)[:200], str(fmt)[:10], int(size), time.time()),
            )

    def owns_upload(self, digest: str, owner: str | None) -> bool:
        """Whether `owner` uploaded the data file `digest` (so their projects may read it)."""
        if owner is None or not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{40}", digest):
            return False
        with self._tx(write=False) as conn:
            return conn.execute("SELECT 1 FROM uploads WHERE id = ? AND owner_key = ?",
                                (digest, _owner(owner))).fetchone() is not None

    def claim_project(self, project_id: str, owner: str) -> bool:
        """Gives a project without an owner (made before owners existed) to `owner`.

        Returns:
            Whether `owner` owns it now.
        """
        check_id(project_id)
        owner = _owner(owner)
        with self._tx() as conn:
            if conn.execute(
                "UPDATE projects SET owner_key = ? WHERE id = ? AND owner_key IS NULL", (owner, project_id)
            ).rowcount:
                conn.execute("UPDATE runs SET owner_key = ? WHERE project_id = ? AND owner_key IS NULL",
                             (owner, project_id))  # its runs from before owners come along
            row = conn.execute("SELECT owner_key FROM projects WHERE id = ?", (project_id,)).fetchone()
        return row is not None and row[0] == owner

    def transfer_owner(self, old: str, new: str) -> int:
        """Moves every project and run of `old` to `new` (a browser that turned out to have a key already)."""
        old, new = _owner(old), _owner(new)
        with self._tx() as conn:
            n = conn.execute("UPDATE projects SET owner_key = ? WHERE owner_key = ?", (new, old)).rowcount
            conn.execute("UPDATE runs SET owner_key = ? WHERE owner_key = ?", (new, old))
            conn.execute("INSERT INTO uploads (id, owner_key, file_name, format, size, created_at) "
                         "SELECT id, ?, file_name, format, size, created_at FROM uploads WHERE owner_key = ? "
                         "ON CONFLICT (id, owner_key) DO NOTHING", (new, old))
            conn.execute("DELETE FROM uploads WHERE owner_key = ?", (old,))
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
        where, args = ["p.deleted_at IS NULL"], []
        if owner is not None:
            where.append("p.owner_key = ?")
            args.append(_owner(owner))
        if unowned:
            where.append("p.owner_key IS NULL")
        if search:
            where.append("instr(lower(p.name), lower(?)) > 0")
            args.append(str(search)[:200])
        with self._tx(write=False) as conn:
            rows = conn.execute(
                "SELECT p.id, p.name, p.updated_at, p.layers, p.params, "
                "(SELECT COUNT(*) FROM runs r WHERE r.project_id = p.id), "
                "(SELECT MAX(json_extract(r.final_metrics, '$.accuracy')) FROM runs r "
                " WHERE r.project_id = p.id AND json_valid(r.final_metrics)), "
                "(SELECT MIN(json_extract(r.final_metrics, '$.loss')) FROM runs r "
                " WHERE r.project_id = p.id AND json_valid(r.final_metrics)) "
                f"FROM projects p WHERE {' AND '.join(where)} ORDER BY p.updated_at DESC, p.rowid DESC LIMIT ?",
                (*args, _limit(limit)),
            ).fetchall()
        out = []
        for pid, name, updated, layers, params, runs, acc, loss in rows:
            best = {"accuracy": acc} if isinstance(acc, (int, float)) else \
                {"loss": loss} if isinstance(loss, (int, float)) else None
            out.append({"id": pid, "name": name, "updated_at": updated, "layers": layers, "params": params,
                        "runs": runs, "best": best})
        return out

    def rename_project(self, project_id: str, name: str, owner: str | None = None) -> Graph:
        """Renames a project (its graph's name: also the Keras model name); only `owner`'s, when given.

        Returns:
            The renamed graph.

        Raises:
            StoreError: No such project (of that owner), or the name is not valid.
        """
        check_id(project_id)
        mine, args = _owned(owner)
        with self._tx() as conn:
            row = conn.execute(
                f"SELECT graph FROM projects WHERE id = ? AND deleted_at IS NULL{mine}", (project_id, *args)
            ).fetchone()
            graph = None if row is None else _parse_graph(row[0])
            if graph is None:
                raise StoreError(f"there is no project {project_id!r}")
            try:
                graph = graph.set_name(name)
            except GraphError as e:
                raise StoreError(str(e)) from None
            conn.execute(
                "UPDATE projects SET name = ?, graph = ?, updated_at = ? WHERE id = ?",
                (graph.name, _graph_json(graph), time.time(), project_id),
            )
        return graph

    def duplicate_project(self, project_id: str, owner: str | None, name: str | None = None) -> str:
        """A copy of a project (its graph, not its runs) for `owner`, under `name` (default "<name> copy").

        Returns:
            The new project's id.
        """
        check_id(project_id)
        with self._tx(write=False) as conn:
            row = conn.execute(
                "SELECT graph, params, weights_run, weights_file, data FROM projects WHERE id = ? "
                "AND deleted_at IS NULL", (project_id,),
            ).fetchone()
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
            conn.execute("UPDATE projects SET weights_file = ? WHERE id = ?",
                         (None if path is None else os.fspath(path), project_id))

    def set_weights_run(self, project_id: str, run_id: str | None) -> None:
        """The run whose trained model gives the project its starting weights (a run opened in the editor)."""
        check_id(project_id)
        if run_id is not None:
            check_id(run_id, "run id")
        with self._tx() as conn:
            conn.execute("UPDATE projects SET weights_run = ? WHERE id = ?", (run_id, project_id))

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
        mine, args = _owned(owner)
        with self._tx() as conn:
            return conn.execute(
                f"UPDATE projects SET deleted_at = ?, purge_runs = ? WHERE id = ? AND deleted_at IS NULL{mine}",
                (time.time(), int(bool(delete_runs)), project_id, *args),
            ).rowcount > 0

    def restore_project(self, project_id: str, owner: str | None = None) -> bool:
        """Undoes `delete_project` (before the purge); only `owner`'s, when given. Returns whether there was a
        deleted project to restore."""
        check_id(project_id)
        mine, args = _owned(owner)
        with self._tx() as conn:
            return conn.execute(
                f"UPDATE projects SET deleted_at = NULL, purge_runs = 0 WHERE id = ? AND deleted_at IS NOT NULL{mine}",
                (project_id, *args),
            ).rowcount > 0

    def purge_deleted(self, older_than_s: float = 0.0) -> int:
        """Removes projects deleted more than `older_than_s` seconds ago for good, with their runs and the
        runs' files where the user chose so.

        Returns:
            How many projects were removed.
        """
        cutoff = time.time() - float(older_than_s)
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT id, purge_runs, weights_file FROM projects WHERE deleted_at IS NOT NULL AND deleted_at <= ?",
                (cutoff,),
            ).fetchall()
            files = []
            for pid, purge, weights_file in rows:
                if weights_file and not conn.execute(
                    "SELECT 1 FROM projects WHERE weights_file = ? AND id != ? AND "
                    "(deleted_at IS NULL OR deleted_at > ?)", (weights_file, pid, cutoff)
                ).fetchone():
                    files.append(weights_file)
                if purge:
                    files += [f for (f,) in conn.execute(
                        "SELECT artifact_path FROM runs WHERE project_id = ? AND artifact_path IS NOT NULL", (pid,))]
                    conn.execute("DELETE FROM runs WHERE project_id = ?", (pid,))
                conn.execute("DELETE FROM projects WHERE id = ?", (pid,))
        for f in files:  # after the commit: a failed transaction keeps its files
            with contextlib.suppress(OSError):
                pathlib.Path(f).unlink()
        return len(rows)

    # -- runs -------------------------------------------------------------
    def create_run(self, project_id: str | None, graph: Graph, settings: dict, dataset: str,
                   owner: str | None = None) -> str:
        """Records a new run, status `queued`.

        Args:
            project_id: The project it belongs to, or None (e.g. from the CLI).
            graph: The graph as trained (a copy is kept: the project may change).
            settings: Training settings (epochs, batch size, ...), JSON-able.
            dataset: The dataset name or description.
            owner: Whose run it is (see `list_projects`); None from the command line.

        Returns:
            The new run id.
        """
        if project_id is not None:
            check_id(project_id)
        if not isinstance(settings, dict):
            raise StoreError(f"run settings must be a dict, got {type(settings).__name__}")
        if not isinstance(dataset, str):
            raise StoreError(f"the dataset must be text, got {type(dataset).__name__}")
        owner = _owner(owner)
        run_id = secrets.token_urlsafe(12)
        text, settings_text, now = _graph_json(graph), _to_json(settings, "run settings"), time.time()
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO runs (id, project_id, name, graph, settings, dataset, status, created_at, updated_at, "
                "owner, owner_key) VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)",
                (run_id, project_id, str(graph.name), text, settings_text, dataset, now, now, self.owner, owner),
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
        metrics_text = None if final_metrics is None else _to_json(final_metrics, "final metrics")
        stats_text = None if stats is None else _to_json(stats, "run stats")
        path_text = None if artifact_path is None else os.fspath(artifact_path)
        with self._tx() as conn:
            self._update_run(
                conn, run_id, "status = ?, message = ?, final_metrics = ?, artifact_path = ?, stats = ?",
                (status, _message(message), metrics_text, path_text, stats_text),
            )

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

    def list_runs(self, project_id: str | None = None, limit: int = 100, owner: str | None = None) -> list[dict]:
        """Runs, newest first, without graphs and epochs (see `get_run`): of one project and/or one owner
        (None: any)."""
        clauses, args = [], []
        if project_id is not None:
            clauses.append("project_id = ?")
            args.append(check_id(project_id))
        if owner is not None:
            clauses.append("owner_key = ?")
            args.append(_owner(owner))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
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
    "id, project_id, name, settings, dataset, status, message, final_metrics, artifact_path, created_at, updated_at, "
    "owner_key, stats"
)
OWNER_RE = re.compile(r"(user|key):[^\x00-\x1f]{1,300}")


def _owned(owner: Any) -> tuple[str, tuple]:
    """The SQL condition (and its argument) that limits a change to `owner`'s projects; none for None."""
    owner = _owner(owner)
    return ("", ()) if owner is None else (" AND owner_key = ?", (owner,))


def _owner(owner: Any) -> str | None:
    """An owner key ("user:<login>" or "key:<browser key>"), or None; anything else is refused."""
    if owner is None:
        return None
    if not isinstance(owner, str) or not OWNER_RE.fullmatch(owner):
        raise StoreError(f"invalid owner {str(owner)[:40]!r}: use 'user:<login>' or 'key:<key>'")
    return owner


def _run_row(row: tuple) -> dict:
    keys = [k.strip() for k in _RUN_COLUMNS.split(",")]
    run = dict(zip(keys, row, strict=False))
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
