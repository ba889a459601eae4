"""The SQLite schema steps as LayerCanvas shipped them up to version 4, as SQL text (builder/store.py now makes
the schema with SQLAlchemy, for SQLite and PostgreSQL alike): tests make old database files with them, exactly as
those versions did, and check that today's store opens them with everything in them."""

SQLITE_STEPS: list[tuple[str, ...]] = [
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
