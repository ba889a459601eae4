"""A real PostgreSQL server for tests and benchmarks, started from Debian's packages in a temp folder.

`initdb` and `pg_ctl` refuse to run as root, so as root the server runs as the unprivileged user `nobody`, in a folder
it owns; it listens only on a unix socket in that folder (no TCP port at all). `scripts/setup.sh dev` installs the
`postgresql` package where it is missing.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time

SUPERUSER = "layercanvas"


def binaries() -> str:
    """The folder of the newest installed PostgreSQL's server programs.

    Raises:
        RuntimeError: PostgreSQL's server is not installed.
    """
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError("PostgreSQL's server is not installed: run scripts/setup.sh dev (apt-get install postgresql)")
    return os.path.dirname(found[-1])


class PostgresServer:
    """One server in its own folder; `url(db)` for a database in it, `create_db()` for a new, empty one."""

    def __init__(self) -> None:
        self.bin = binaries()
        self.dir = tempfile.mkdtemp(prefix="lc-pg-")
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "server.log")
        self._n = 0
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "nobody", "nogroup")
            os.chmod(self.dir, 0o755)
            self.as_user = ["runuser", "-u", "nobody", "--"]
        self._run("initdb", "-D", self.data, "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-sync")
        self.start()

    def _run(self, program: str, *args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([*self.as_user, os.path.join(self.bin, program), *args], capture_output=True, text=True,
                              timeout=120, cwd=self.dir)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stdout[-2000:]} {done.stderr[-2000:]}")
        return done

    def start(self) -> None:
        """Starts (or starts again) the server, waiting until it takes connections."""
        # listen_addresses='': no TCP socket, only the unix socket in our folder; fsync off: a test server.
        self._run("pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60", "-o",
                  f"-c listen_addresses='' -c unix_socket_directories='{self.dir}' -c fsync=off "
                  "-c full_page_writes=off -c max_connections=200", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stops the server (`mode`: smart, fast or immediate)."""
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@/{database}?host={self.dir}"

    def create_db(self) -> str:
        """A new, empty database; returns its URL."""
        import psycopg

        self._n += 1
        name = f"t{os.getpid()}_{self._n}_{int(time.time() * 1000) % 100000}"
        with psycopg.connect(host=self.dir, user=SUPERUSER, dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)
