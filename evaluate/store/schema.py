"""The store's SQLite schema (version 2, documented in evaluate/STORE.md), how to open it, and
the migration of a version 1 store (done on open, in one transaction).

Every connection runs in autocommit mode with WAL journaling, a busy timeout and foreign
keys on; writers take the lock up front with ``BEGIN IMMEDIATE`` (see :func:`write`), so
concurrent processes wait for each other instead of failing half-way.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from evaluate.errors import EvaluateError
from evaluate.store.integrity import (
    check_tables,
    database_error,
    quick_check,
)

SCHEMA_VERSION = 2
BUSY_TIMEOUT_S = 30.0

_DDL = """
CREATE TABLE schema_version (
    version INTEGER NOT NULL
);
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    config TEXT NOT NULL,
    twinbench_version TEXT NOT NULL
);
CREATE TABLE episodes (
    episode_id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    policy_id TEXT NOT NULL,
    env_id TEXT NOT NULL,
    env_hash TEXT NOT NULL,
    initial_condition INTEGER NOT NULL CHECK (initial_condition >= 0),
    seed INTEGER NOT NULL,
    success INTEGER NOT NULL CHECK (success IN (0, 1)),
    progress REAL NOT NULL CHECK (progress BETWEEN 0 AND 1),
    criteria TEXT NOT NULL,
    length_steps INTEGER NOT NULL CHECK (length_steps >= 0),
    wall_time_s REAL NOT NULL,
    latency_mean_s REAL NOT NULL,
    latency_max_s REAL NOT NULL,
    failure_reason TEXT,
    video_path TEXT,
    created REAL NOT NULL,
    failure_kind TEXT CHECK (failure_kind IN ('policy', 'timeout', 'sim', 'diverged', 'error')),
    UNIQUE (run_id, policy_id, env_id, env_hash, initial_condition, seed)
);
CREATE INDEX episodes_by_cell ON episodes (policy_id, env_id);
CREATE TABLE jobs (
    job_id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    policy_spec TEXT NOT NULL,
    envs TEXT NOT NULL,
    episodes INTEGER NOT NULL CHECK (episodes > 0),
    seed INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    reason TEXT,
    worker_id TEXT,
    heartbeat REAL,
    started REAL,
    finished REAL,
    run_id TEXT REFERENCES runs(run_id),
    attempts INTEGER NOT NULL DEFAULT 0
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


@contextmanager
def write(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction: take the write lock now, commit on success, roll back on error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def connect(path: Path, *, create: bool, read_only: bool = False) -> sqlite3.Connection:
    """Open (and, if ``create`` and the file is new, initialise) a store; check its version
    and its tables (and, ``read_only``, every page: see :mod:`evaluate.store.integrity`).

    ``read_only`` never writes to the file: an input of ``correlate`` or a dashboard page is
    only read (an older schema is migrated in a private in-memory copy).

    Raises:
        EvaluateError: the file is missing (and ``create`` is false), is not SQLite, is not a
            twinbench store, was written by a newer schema version, lacks a table or a
            column, or is damaged.
    """
    if path.is_dir():
        raise EvaluateError("is a directory, expected a results store (.sqlite file)", file=path)
    if (read_only or not create) and not path.is_file():
        raise EvaluateError("no results store here (expected a .sqlite file)", file=path)
    if read_only:
        return _connect_read_only(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)

    def prepare(conn: sqlite3.Connection) -> sqlite3.Connection:
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        _initialise_or_check(conn, path)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    return _prepared(conn, path, prepare)


def _connect_read_only(path: Path) -> sqlite3.Connection:
    if path.stat().st_size == 0:
        raise EvaluateError("an empty file, not a twinbench results store", file=path)
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)

    def migrated(copy: sqlite3.Connection) -> sqlite3.Connection:
        _initialise_or_check(copy, path)
        return copy

    def prepare(conn: sqlite3.Connection) -> sqlite3.Connection:
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        version = _stored_version(conn, path)
        if version in MIGRATIONS:  # an older store: migrate a private copy, never the file
            check_tables(conn, path, expected_columns(version))  # type: ignore[arg-type]
            quick_check(conn, path)
            copy = sqlite3.connect(":memory:", isolation_level=None)
            conn.backup(copy)
            conn.close()
            return _prepared(copy, path, migrated)
        _check_version(version, path)
        check_tables(conn, path, expected_columns(SCHEMA_VERSION))
        quick_check(conn, path)
        return conn

    return _prepared(conn, path, prepare)


def _prepared(
    conn: sqlite3.Connection,
    path: Path,
    prepare: Callable[[sqlite3.Connection], sqlite3.Connection],
) -> sqlite3.Connection:
    """``prepare(conn)``; if it fails, ``conn`` is closed and a database error becomes one
    EvaluateError naming ``path``."""
    try:
        return prepare(conn)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise database_error(exc, path, None) from exc
    except BaseException:
        conn.close()
        raise


@functools.cache
def expected_columns(version: int) -> dict[str, tuple[str, ...]]:
    """Table -> its columns, in a store of ``version`` (2, or one :data:`MIGRATIONS` knows)."""
    conn = sqlite3.connect(":memory:")
    _run(conn, _DDL)
    tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    columns = {
        table: tuple(row[1] for row in conn.execute(f"PRAGMA table_info({table})"))
        for table in tables
    }
    conn.close()
    if version == 1:
        columns["episodes"] = tuple(c for c in columns["episodes"] if c != "failure_kind")
    return columns


def _stored_version(conn: sqlite3.Connection, path: Path) -> object:
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "schema_version" not in tables:
        listed = ", ".join(sorted(tables)) or "none"
        raise EvaluateError(
            f"not a twinbench results store (no schema_version table; tables: {listed})",
            file=path,
        )
    rows = conn.execute("SELECT version FROM schema_version").fetchall()
    if len(rows) != 1:
        raise EvaluateError(
            f"expected one schema_version row, found {len(rows)}", file=path, field="schema_version"
        )
    return rows[0][0]


def _check_version(version: object, path: Path) -> None:
    if version != SCHEMA_VERSION:
        newer = isinstance(version, int) and version > SCHEMA_VERSION
        hint = "upgrade twinbench to read it" if newer else "it was not written by twinbench"
        raise EvaluateError(
            f"unsupported store schema version {version!r}; this twinbench reads version "
            f"{SCHEMA_VERSION} ({hint})",
            file=path,
            field="schema_version",
        )


def _initialise_or_check(conn: sqlite3.Connection, path: Path) -> None:
    with write(conn):
        tables = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        if not tables:
            _run(conn, _DDL)
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            return
        version = _stored_version(conn, path)
        while version in MIGRATIONS:
            check_tables(conn, path, expected_columns(version))  # type: ignore[arg-type]
            _run(conn, MIGRATIONS[version])  # type: ignore[index]
            version = conn.execute("SELECT version FROM schema_version").fetchone()[0]
        _check_version(version, path)
        check_tables(conn, path, expected_columns(SCHEMA_VERSION))


def _run(conn: sqlite3.Connection, script: str) -> None:
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)
