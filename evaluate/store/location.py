"""Where a results store lives: an SQLite file (a path) or a PostgreSQL database (a URL).

Every command that takes a store (``--store``, the dashboard's setting, Ray workers, ``submit``)
reads it through :func:`store_location`. A URL's password is used to connect and nowhere else:
``str()`` and ``repr()`` of a :class:`PostgresURL`, so every message, log and stored config,
show the URL without it (give it in the URL or, better, in ``PGPASSWORD``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from evaluate.errors import EvaluateError

POSTGRES_SCHEMES = ("postgresql", "postgres")
SHARED_FILES_DIR = Path("twinbench-results")
"""Where files that sit next to an SQLite store (videos, uploads) go for a PostgreSQL store."""

_SECRET_PARAMETERS = frozenset({"password"})  # libpq's one secret connection parameter
_URL_IN_TEXT = re.compile(r"\b(postgres(?:ql)?://)([^/@\s]*)@")


@dataclass(frozen=True)
class PostgresURL:
    """A PostgreSQL database, ``postgresql://USER@HOST:PORT/DB``; shown without its password."""

    shown: str  # the URL without its password: what messages and stored configs name
    _connect: str = field(repr=False, compare=False)  # the URL as given, password included

    def conninfo(self) -> str:
        """The URL to hand to libpq (with its password, if it had one)."""
        return self._connect

    def __str__(self) -> str:
        return self.shown


StoreLocation = Path | PostgresURL


def is_postgres_url(text: str | Path | PostgresURL) -> bool:
    return isinstance(text, PostgresURL) or (
        isinstance(text, str) and text.partition("://")[0].lower() in POSTGRES_SCHEMES
    )


def store_location(value: str | Path | PostgresURL) -> StoreLocation:
    """A store's location from a command line, a setting or code: a URL or a file path.

    Raises:
        EvaluateError: a ``postgresql://`` URL without a database name or with a bad port.
    """
    if isinstance(value, (Path, PostgresURL)):
        return value
    if not is_postgres_url(value):
        return Path(value)
    parts = urlsplit(value)
    shown = redact_url(value)
    try:
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError as exc:
        raise EvaluateError(f"bad port in {shown} ({exc})", field="store") from exc
    if not parts.path.strip("/"):
        raise EvaluateError(
            f"{shown} names no database; expected postgresql://USER@HOST:PORT/DATABASE",
            field="store",
        )
    return PostgresURL(shown, value)


def redact_url(url: str) -> str:
    """``url`` without a password in its user part or its query."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.partition(':')[0]}@{host}"
    query = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in query if k not in _SECRET_PARAMETERS]
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(kept, safe=":/,")))


def redact(text: str) -> str:
    """``text`` (a server's or a driver's message) with any URL's password left out."""
    return _URL_IN_TEXT.sub(lambda m: f"{m[1]}{m[2].partition(':')[0]}@", text)


def files_dir(location: StoreLocation) -> Path:
    """The directory that relative video paths, uploads and saved reports are relative to:
    the SQLite file's folder, or ``./twinbench-results`` for a PostgreSQL store."""
    if isinstance(location, PostgresURL):
        return SHARED_FILES_DIR.absolute()
    return location.parent


def store_exists(location: StoreLocation) -> bool:
    """Whether there may be a store to read: something is at the path (opening refuses what
    is not a store file, saying why), or a server is named (whether it answers is found out on
    open)."""
    return isinstance(location, PostgresURL) or location.exists()
