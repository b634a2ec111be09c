"""A results store in one SQLite file: WAL, a busy timeout, ``BEGIN IMMEDIATE`` writers.

Readers never block the writer and the writer never blocks readers; a writer takes the lock
up front, so concurrent processes wait for each other (up to :data:`BUSY_TIMEOUT_S`).
"""

from __future__ import annotations

import shlex
import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from evaluate.errors import EvaluateError
from evaluate.store.backend import Backend

BUSY_TIMEOUT_S = 30.0
WAL_SWITCH_RETRY_S = 0.02
EDITED = "the file was changed outside twinbench; restore it from a copy"

_CRITERIA = (
    "CASE WHEN typeof(criteria) = 'text' AND json_valid(criteria)"
    " AND json_type(criteria) = 'object' THEN NOT EXISTS (SELECT 1 FROM json_each(criteria)"
    " WHERE NOT (type = 'null' OR (type = 'integer' AND atom >= 0))) ELSE 0 END"
)


class SQLiteBackend(Backend):
    errors = (sqlite3.DatabaseError,)
    integrity_error = sqlite3.IntegrityError
    types: ClassVar[Mapping[str, str]] = {
        "integer": "INTEGER",
        "real": "REAL",
        "key": "INTEGER PRIMARY KEY",
    }
    value_types: ClassVar[Mapping[str, str]] = {
        "text": "typeof({0}) = 'text'",
        "integer": "typeof({0}) = 'integer'",
        "number": "typeof({0}) IN ('integer', 'real')",
    }
    criteria_rule = _CRITERIA
    quote_function = "quote({0})"
    edited = EDITED

    def __init__(self, conn: sqlite3.Connection, path: Path):
        super().__init__(conn)
        self.location = path

    def begin_write(self) -> tuple[str, ...]:
        return ("BEGIN IMMEDIATE",)

    def tables(self) -> set[str]:
        rows = self.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        return {row[0] for row in rows}

    def columns(self, table: str) -> set[str]:
        return {row[1] for row in self.execute(f"PRAGMA table_info({table})")}

    def check_pages(self) -> None:
        """``PRAGMA quick_check``: every page of the file is well formed (O(file size))."""
        rows = self.execute("PRAGMA quick_check(1)").fetchall()
        if rows != [("ok",)]:
            problem = " ".join(str(row[0]) for row in rows).replace("*** in database main ***", "")
            problem = " ".join(problem.split())
            raise EvaluateError(
                f"the file is damaged (quick_check: {problem}); {self.restore_hint()}",
                file=self.location,
            )

    def private_copy(self) -> SQLiteBackend:
        """The store copied into memory (an older store read-only: migrated there, never in
        the file); this connection is closed."""
        copy = sqlite3.connect(":memory:", isolation_level=None)
        self.conn.backup(copy)
        self.conn.close()
        return SQLiteBackend(copy, self.location)

    def settle(self) -> None:
        """Once the store is known to be twinbench's: WAL, durable across process crashes.

        Switching a new file to WAL needs the file to itself, and SQLite answers a busy file
        at once rather than through the busy timeout, so the switch is retried as long as a
        writer would wait (another process creating the same store holds it briefly)."""
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                self.execute("PRAGMA journal_mode = WAL")
                break
            except sqlite3.OperationalError as exc:
                busy = (getattr(exc, "sqlite_errorname", "") or "").startswith("SQLITE_BUSY")
                if not busy or time.monotonic() >= deadline:
                    raise
                time.sleep(WAL_SWITCH_RETRY_S)
        self.execute("PRAGMA synchronous = NORMAL")

    def is_bug(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.ProgrammingError)

    def describe(self, exc: BaseException) -> str:
        name = getattr(exc, "sqlite_errorname", "") or ""
        if name == "SQLITE_NOTADB":  # no SQLite header
            return (
                f"not a readable SQLite database ({exc}): point at a twinbench results.sqlite, "
                "or, if this was one, restore it from a copy"
            )
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            return f"another process has held the store's lock too long ({exc}); try again later"
        if name.startswith("SQLITE_FULL"):
            return f"the disk is full ({exc}); free some space and try again"
        if name.startswith("SQLITE_READONLY"):
            return (
                f"cannot write to the store ({exc}); check the file's and its folder's permissions"
            )
        if name.startswith("SQLITE_IOERR"):  # also how a full disk shows at open (WAL's -shm)
            return (
                f"the disk refused a read or write ({exc}): if it is full, free some space and "
                f"try again; otherwise check the disk, then {self.restore_hint()}"
            )
        if name.startswith("SQLITE_CONSTRAINT"):
            return f"the store refused the write ({exc}); {EDITED}"
        if name.startswith("SQLITE_ERROR"):  # no such table or column: the schema was edited
            return f"not the tables twinbench writes ({exc}); {EDITED}"
        return f"the file is damaged ({exc}); {self.restore_hint()}"

    def restore_hint(self) -> str:
        return (
            "restore it from a copy, or salvage what SQLite can still read with "
            f"`sqlite3 {shlex.quote(str(self.location))} .recover > recovered.sql`"
        )

    def by_hand(self, statement: str) -> str:
        return f"sqlite3 {shlex.quote(str(self.location))} {shlex.quote(statement)}"


def open_sqlite(path: Path, *, create: bool, read_only: bool) -> SQLiteBackend:
    """A connection to the file at ``path`` (made, with its folder, if ``create``), with the
    store's settings; ``read_only`` never writes to the file.

    Raises:
        EvaluateError: ``path`` is a folder, or missing (and not ``create``), or empty
            (``read_only``).
    """
    if path.is_dir():
        raise EvaluateError("is a directory, expected a results store (.sqlite file)", file=path)
    if (read_only or not create) and not path.is_file():
        raise EvaluateError("no results store here (expected a .sqlite file)", file=path)
    if read_only:
        if path.stat().st_size == 0:
            raise EvaluateError("an empty file, not a twinbench results store", file=path)
        uri = f"{path.resolve().as_uri()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    backend = SQLiteBackend(conn, path)
    try:
        backend.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        if not read_only:
            backend.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        conn.close()
        raise
    return backend
