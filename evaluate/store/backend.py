"""The one seam between the store and its database: SQLite or PostgreSQL, one schema.

The store's SQL is written once, with ``?`` placeholders and what both databases accept;
a :class:`Backend` runs it on its connection (PostgreSQL's driver gets ``%s``), takes the
write lock, lists tables and columns, names its column types, states STORE.md's value rules
in its own SQL, and says what one of its errors means for the person holding the store.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar, Protocol

from evaluate.store.location import StoreLocation


class Cursor(Protocol):
    """What the store uses of a DB-API cursor (sqlite3's and psycopg's both fit)."""

    rowcount: int
    description: Any

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Backend(ABC):
    """One open connection to a store, in autocommit mode (each statement commits at once)."""

    errors: tuple[type[BaseException], ...]  # the driver's errors that mean a database problem
    integrity_error: type[BaseException]  # a constraint refused a write
    types: ClassVar[Mapping[str, str]]
    """The schema's column types in this database: ``integer``, ``real``, ``key`` (the
    episodes' auto-numbered primary key); STORE.md's types are SQLite's names."""
    value_types: ClassVar[Mapping[str, str]]
    """SQL conditions (with ``{0}`` for the column) that a stored value is ``text``,
    ``integer`` or ``number``: SQLite checks the value's own type, PostgreSQL's typed
    columns hold nothing else."""
    criteria_rule: str
    """SQL condition: ``criteria`` is a JSON object of name -> step >= 0 or null."""
    quote_function: str  # SQL function showing any value as text, e.g. quote({0})
    schema_extras: tuple[str, ...] = ()  # statements the schema needs here besides its tables
    edited: str  # what a value or table twinbench never writes means, and what to do
    location: StoreLocation  # the store, as messages name it (never with a password)

    def __init__(self, conn: Any):
        self.conn = conn

    def execute(self, sql: str, args: Sequence[object] = ()) -> Cursor:
        return self.conn.execute(self.translate(sql), tuple(args))

    def translate(self, sql: str) -> str:
        """The store's SQL (``?`` placeholders) as this driver takes it."""
        return sql

    @contextmanager
    def write(self) -> Iterator[Backend]:
        """One write transaction: take the store's write lock now (so concurrent writers
        wait instead of failing half-way), commit on success, roll back on error."""
        for statement in self.begin_write():
            self.conn.execute(statement)
        try:
            yield self
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()

    @abstractmethod
    def begin_write(self) -> tuple[str, ...]:
        """The statements that open a write transaction holding the store's write lock."""

    @abstractmethod
    def tables(self) -> set[str]:
        """The names of the tables in the store."""

    @abstractmethod
    def columns(self, table: str) -> set[str]:
        """The names of ``table``'s columns."""

    @abstractmethod
    def check_pages(self) -> None:
        """Check the stored data's physical integrity, if the database offers a cheap check.

        Raises:
            EvaluateError: the first problem found, and what to do.
        """

    @abstractmethod
    def private_copy(self) -> Backend:
        """A private, writable copy of the store to migrate an older schema in when the
        store is opened read-only (this connection is closed).

        Raises:
            EvaluateError: the database cannot make one.
        """

    @abstractmethod
    def settle(self) -> None:
        """Session settings made once the store is known to be twinbench's."""

    @abstractmethod
    def is_bug(self, exc: BaseException) -> bool:
        """Whether ``exc`` is twinbench's own mistake (a closed connection, bad SQL) rather
        than a problem with the store: those keep their traceback."""

    def reconnect(self, exc: BaseException) -> bool:
        """Whether ``exc`` lost the connection and a new one is open now, so the operation
        that met it can run again; the default (a file's store) never loses it."""
        return False

    @abstractmethod
    def describe(self, exc: BaseException) -> str:
        """What a database error means for the person holding the store, and what to do."""

    @abstractmethod
    def restore_hint(self) -> str:
        """What to do with a damaged store."""

    @abstractmethod
    def by_hand(self, statement: str) -> str:
        """The shell command that runs ``statement`` on this store."""
