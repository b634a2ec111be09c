"""The store's schema (version 2, documented in evaluate/STORE.md), one for SQLite and
PostgreSQL, how to open it, and the migration of a version 1 store (done on open, in one
transaction).

Every connection runs in autocommit mode; writers take the store's write lock up front
(:meth:`Backend.write`), so concurrent processes wait for each other instead of failing
half-way. The tables and the migrations are written once; each back end only names its
column types (``{integer}``, ``{real}``, ``{key}``).
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from pathlib import Path

from evaluate.errors import EvaluateError
from evaluate.store.backend import Backend
from evaluate.store.integrity import check_tables, database_error
from evaluate.store.location import PostgresURL, StoreLocation, store_location
from evaluate.store.sqlite_backend import SQLiteBackend, open_sqlite

SCHEMA_VERSION = 2

_DDL = """
CREATE TABLE schema_version (
    version {integer} NOT NULL
);
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    created {real} NOT NULL,
    config TEXT NOT NULL,
    twinbench_version TEXT NOT NULL
);
CREATE TABLE episodes (
    episode_id {key},
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    policy_id TEXT NOT NULL,
    env_id TEXT NOT NULL,
    env_hash TEXT NOT NULL,
    initial_condition {integer} NOT NULL CHECK (initial_condition >= 0),
    seed {integer} NOT NULL,
    success {integer} NOT NULL CHECK (success IN (0, 1)),
    progress {real} NOT NULL CHECK (progress BETWEEN 0 AND 1),
    criteria TEXT NOT NULL,
    length_steps {integer} NOT NULL CHECK (length_steps >= 0),
    wall_time_s {real} NOT NULL,
    latency_mean_s {real} NOT NULL,
    latency_max_s {real} NOT NULL,
    failure_reason TEXT,
    video_path TEXT,
    created {real} NOT NULL,
    failure_kind TEXT CHECK (failure_kind IN ('policy', 'timeout', 'sim', 'diverged', 'error')),
    UNIQUE (run_id, policy_id, env_id, env_hash, initial_condition, seed)
);
CREATE INDEX episodes_by_cell ON episodes (policy_id, env_id);
CREATE TABLE jobs (
    job_id TEXT PRIMARY KEY,
    created {real} NOT NULL,
    policy_spec TEXT NOT NULL,
    envs TEXT NOT NULL,
    episodes {integer} NOT NULL CHECK (episodes > 0),
    seed {integer} NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    reason TEXT,
    worker_id TEXT,
    heartbeat {real},
    started {real},
    finished {real},
    run_id TEXT REFERENCES runs(run_id),
    attempts {integer} NOT NULL DEFAULT 0
);
CREATE INDEX jobs_by_state ON jobs (state, created);
"""

# Version 1 had no failure_kind: it is read off the reasons the rollout and runner wrote.
_MIGRATE_1_TO_2 = """
ALTER TABLE episodes ADD COLUMN failure_kind TEXT
    CHECK (failure_kind IN ('policy', 'timeout', 'sim', 'diverged', 'error'));
UPDATE episodes SET failure_kind = CASE
    WHEN failure_reason LIKE 'simulation diverged%' THEN 'diverged'
    WHEN failure_reason LIKE 'simulation error:%' THEN 'sim'
    WHEN failure_reason LIKE 'policy % did not return within %' THEN 'timeout'
    WHEN failure_reason LIKE 'worker died%' THEN 'error'
    ELSE 'policy' END
WHERE failure_reason IS NOT NULL;
UPDATE schema_version SET version = 2;
"""
MIGRATIONS = {1: _MIGRATE_1_TO_2}
"""Old version -> the statements that take a store from it to the next version."""


def connect(location: StoreLocation | str, *, create: bool, read_only: bool = False) -> Backend:
    """Open (and, if ``create`` and it is new, initialise) the store at ``location`` (a path:
    SQLite; a ``postgresql://`` URL); check its version and its tables (and, ``read_only``,
    its pages where the back end can: see :mod:`evaluate.store.integrity`).

    ``read_only`` never writes to the store: an input of ``correlate`` or a dashboard page is
    only read (an older SQLite schema is migrated in a private in-memory copy).

    Raises:
        EvaluateError: the store is missing (and ``create`` is false), is not SQLite, is not
            a twinbench store, was written by a newer schema version, lacks a table or a
            column, is damaged, or its server cannot be reached.
    """
    location = store_location(location)
    if isinstance(location, PostgresURL):
        from evaluate.store.postgres_backend import open_postgres

        db: Backend = open_postgres(location, read_only=read_only)
    else:
        db = open_sqlite(location, create=create, read_only=read_only)
    if read_only:
        return _prepared(db, _check_read_only)

    def prepare(db: Backend) -> Backend:
        _initialise_or_check(db, create=create)
        db.settle()
        return db

    return _prepared(db, prepare)


def _check_read_only(db: Backend) -> Backend:
    version = _stored_version(db)
    if version in MIGRATIONS:  # an older store: migrate a private copy, never the store
        check_tables(db, expected_columns(version))  # type: ignore[arg-type]
        db.check_pages()
        return _prepared(db.private_copy(), _migrated)
    _check_version(version, db.location)
    check_tables(db, expected_columns(SCHEMA_VERSION))
    db.check_pages()
    return db


def _migrated(copy: Backend) -> Backend:
    _initialise_or_check(copy, create=False)
    return copy


def _prepared(db: Backend, prepare: Callable[[Backend], Backend]) -> Backend:
    """``prepare(db)``; if it fails, ``db`` is closed and a database error becomes one
    EvaluateError naming the store."""
    try:
        return prepare(db)
    except db.errors as exc:
        db.close()
        raise database_error(exc, db, None) from exc
    except BaseException:
        db.close()
        raise


def schema_statements(db: Backend) -> list[str]:
    """The statements that create the tables in ``db``'s back end."""
    return [s for s in _DDL.format(**db.types).split(";") if s.strip()] + list(db.schema_extras)


@functools.cache
def expected_columns(version: int) -> dict[str, tuple[str, ...]]:
    """Table -> its columns, in a store of ``version`` (2, or one :data:`MIGRATIONS` knows)."""
    db = SQLiteBackend(sqlite3.connect(":memory:"), Path(":memory:"))
    for statement in schema_statements(db):
        db.execute(statement)
    tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    columns = {
        table: tuple(row[1] for row in db.execute(f"PRAGMA table_info({table})"))
        for table in tables
    }
    db.close()
    if version == 1:
        columns["episodes"] = tuple(c for c in columns["episodes"] if c != "failure_kind")
    return columns


def _stored_version(db: Backend) -> object:
    tables = db.tables()
    if "schema_version" not in tables:
        listed = ", ".join(sorted(tables)) or "none"
        raise EvaluateError(
            f"not a twinbench results store (no schema_version table; tables: {listed})",
            file=db.location,
        )
    rows = db.execute("SELECT version FROM schema_version").fetchall()
    if len(rows) != 1:
        raise EvaluateError(
            f"expected one schema_version row, found {len(rows)}",
            file=db.location,
            field="schema_version",
        )
    return rows[0][0]


def _check_version(version: object, location: StoreLocation) -> None:
    if version != SCHEMA_VERSION:
        newer = isinstance(version, int) and version > SCHEMA_VERSION
        hint = "upgrade twinbench to read it" if newer else "it was not written by twinbench"
        raise EvaluateError(
            f"unsupported store schema version {version!r}; this twinbench reads version "
            f"{SCHEMA_VERSION} ({hint})",
            file=location,
            field="schema_version",
        )


def _initialise_or_check(db: Backend, *, create: bool) -> None:
    with db.write():
        if not db.tables():
            if not create:
                raise EvaluateError("no results store here (no tables yet)", file=db.location)
            for statement in schema_statements(db):
                db.execute(statement)
            db.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            return
        version = _stored_version(db)
        while version in MIGRATIONS:
            check_tables(db, expected_columns(version))  # type: ignore[arg-type]
            for statement in MIGRATIONS[version].split(";"):  # type: ignore[index]
                if statement.strip():
                    db.execute(statement)
            version = db.execute("SELECT version FROM schema_version").fetchone()[0]
        _check_version(version, db.location)
        check_tables(db, expected_columns(SCHEMA_VERSION))
