"""Is a store file still what twinbench wrote? Checks on open and on every read.

On open: the tables and columns (cheap) and, for a store opened read-only (an input that is
read whole), ``PRAGMA quick_check`` (about 1 ms per MB). On read: every value, against the
rules of STORE.md (episodes: in SQL, one pass over the rows read; runs and jobs: as they are
decoded). Any SQLite error is translated by :func:`guarded`. Each problem becomes one
:class:`EvaluateError` naming the file, the table (row and column where there is one) and
what to do.
"""

from __future__ import annotations

import functools
import json
import math
import shlex
import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from evaluate.errors import EvaluateError
from evaluate.store.records import FAILURE_KINDS, JOB_STATES, JobRecord, RunRecord


def restore_hint(path: Path) -> str:
    """What to do with a damaged file."""
    return (
        "restore it from a copy, or salvage what SQLite can still read with "
        f"`sqlite3 {shlex.quote(str(path))} .recover > recovered.sql`"
    )


EDITED = "the file was changed outside twinbench; restore it from a copy"


def _damage(exc: sqlite3.DatabaseError, path: Path) -> str:
    """What an SQLite error means for the person holding the file, and what to do."""
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
        return f"cannot write to the store ({exc}); check the file's and its folder's permissions"
    if name.startswith("SQLITE_IOERR"):
        return f"the file cannot be read from disk ({exc})"
    if name.startswith("SQLITE_CONSTRAINT"):
        return f"the store refused the write ({exc}); {EDITED}"
    if name.startswith("SQLITE_ERROR"):  # no such table or column: the schema was edited
        return f"not the tables twinbench writes ({exc}); {EDITED}"
    return f"the file is damaged ({exc}); {restore_hint(path)}"


def database_error(exc: sqlite3.DatabaseError, path: Path, table: str | None) -> EvaluateError:
    """The user-facing error for an SQLite error met while using the store at ``path``."""
    field = None if table is None else f"table {table}"
    return EvaluateError(_damage(exc, path), file=path, field=field)


class _Store(Protocol):
    path: Path


_S = TypeVar("_S", bound=_Store)
_P = ParamSpec("_P")
_R = TypeVar("_R")


def guarded(
    table: str,
) -> Callable[[Callable[Concatenate[_S, _P], _R]], Callable[Concatenate[_S, _P], _R]]:
    """Decorate a store method that uses ``table``: an SQLite error becomes an
    :class:`EvaluateError` naming the file and the table. A ``ProgrammingError`` (a closed
    connection, a bad statement) is a bug and passes through."""

    def decorate(method: Callable[Concatenate[_S, _P], _R]) -> Callable[Concatenate[_S, _P], _R]:
        @functools.wraps(method)
        def wrapper(self: _S, *args: _P.args, **kwargs: _P.kwargs) -> _R:
            try:
                return method(self, *args, **kwargs)
            except sqlite3.ProgrammingError:
                raise
            except sqlite3.DatabaseError as exc:
                raise database_error(exc, self.path, table) from exc

        return wrapper

    return decorate


# On open


def check_tables(
    conn: sqlite3.Connection, path: Path, expected: Mapping[str, tuple[str, ...]]
) -> None:
    """Every table of ``expected`` is there with at least its columns (extra ones are allowed).

    Raises:
        EvaluateError: a table or a column is missing, naming it.
    """
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    tables = {row[0] for row in rows}
    for table, columns in expected.items():
        if table not in tables:
            listed = ", ".join(sorted(tables)) or "none"
            raise EvaluateError(
                f"no such table (tables here: {listed}); {EDITED}",
                file=path,
                field=f"table {table}",
            )
        present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        missing = [column for column in columns if column not in present]
        if missing:
            raise EvaluateError(
                f"no column(s) {', '.join(missing)}; {EDITED}",
                file=path,
                field=f"table {table}",
            )


def quick_check(conn: sqlite3.Connection, path: Path) -> None:
    """``PRAGMA quick_check``: every page of the file is well formed (O(file size)).

    Raises:
        EvaluateError: the first problem SQLite found, and what to do.
    """
    rows = conn.execute("PRAGMA quick_check(1)").fetchall()
    if rows != [("ok",)]:
        problem = " ".join(str(row[0]) for row in rows).replace("*** in database main ***", "")
        problem = " ".join(problem.split())
        raise EvaluateError(
            f"the file is damaged (quick_check: {problem}); {restore_hint(path)}", file=path
        )


# On read: episodes, checked in SQL over the rows a query reads

_NAME = "typeof({0}) = 'text' AND {0} != ''"
_COUNT = "typeof({0}) = 'integer' AND {0} >= 0"
_SECONDS = "typeof({0}) IN ('integer', 'real') AND {0} >= 0 AND {0} < 1e308"
_KINDS = ", ".join(f"'{kind}'" for kind in FAILURE_KINDS)
_CRITERIA = (
    "CASE WHEN typeof(criteria) = 'text' AND json_valid(criteria)"
    " AND json_type(criteria) = 'object' THEN NOT EXISTS (SELECT 1 FROM json_each(criteria)"
    " WHERE NOT (type = 'null' OR (type = 'integer' AND atom >= 0))) ELSE 0 END"
)
EPISODE_RULES: tuple[tuple[str, str, str], ...] = (
    ("run_id", _NAME.format("run_id"), "a non-empty text"),
    ("policy_id", _NAME.format("policy_id"), "a non-empty text"),
    ("env_id", _NAME.format("env_id"), "a non-empty text"),
    ("env_hash", _NAME.format("env_hash"), "a non-empty text"),
    ("initial_condition", _COUNT.format("initial_condition"), "an integer >= 0"),
    ("seed", _COUNT.format("seed"), "an integer >= 0"),
    ("success", "typeof(success) = 'integer' AND success IN (0, 1)", "0 or 1"),
    (
        "progress",
        "typeof(progress) IN ('integer', 'real') AND progress BETWEEN 0 AND 1",
        "a number in [0, 1]",
    ),
    (
        "criteria",
        _CRITERIA,
        "a JSON object of criterion name -> first step reached (an integer >= 0) or null",
    ),
    ("length_steps", _COUNT.format("length_steps"), "an integer >= 0"),
    ("wall_time_s", _SECONDS.format("wall_time_s"), "seconds >= 0"),
    ("latency_mean_s", _SECONDS.format("latency_mean_s"), "seconds >= 0"),
    ("latency_max_s", _SECONDS.format("latency_max_s"), "seconds >= 0"),
    ("failure_kind", f"failure_kind IS NULL OR failure_kind IN ({_KINDS})", f"NULL or {_KINDS}"),
    (
        "failure_reason",
        "(failure_reason IS NULL) = (failure_kind IS NULL)"
        " AND (failure_reason IS NULL OR typeof(failure_reason) = 'text')",
        "a text exactly when failure_kind is set",
    ),
    ("video_path", "video_path IS NULL OR typeof(video_path) = 'text'", "NULL or a text"),
    ("created", "typeof(created) IN ('integer', 'real')", "a unix time in seconds"),
)
"""(column, SQL condition a valid value meets, what is expected): STORE.md's episodes."""
_EXPECTED = {column: expected for column, _, expected in EPISODE_RULES}


@functools.cache
def _first_bad(columns: tuple[str, ...]) -> str:
    """An SQL expression: the first of ``columns`` whose value breaks its rule, or NULL."""
    rules = [(column, rule) for column, rule, _ in EPISODE_RULES if column in columns]
    whens = " ".join(f"WHEN NOT coalesce(({rule}), 0) THEN '{column}'" for column, rule in rules)
    return f"CASE {whens} END"


def check_episodes(
    conn: sqlite3.Connection,
    path: Path,
    where: str,
    args: tuple[object, ...],
    columns: tuple[str, ...] = tuple(_EXPECTED),
) -> None:
    """The ``columns`` a read uses hold valid values in every ``episodes`` row matching
    ``where`` (a ``WHERE …`` clause or ""): one pass in SQL (about 3 µs a row for all
    columns), before the read it guards.

    Raises:
        EvaluateError: the first bad row: its episode_id, the column, the value and what to do.
    """
    condition = f"{where} AND" if where else "WHERE"
    row = conn.execute(
        f"SELECT episode_id, bad FROM (SELECT episode_id, {_first_bad(columns)} AS bad"
        f" FROM episodes {condition} 1) WHERE bad IS NOT NULL LIMIT 1",
        args,
    ).fetchone()
    if row is None:
        return
    episode_id, column = row
    (value,) = conn.execute(
        f"SELECT quote({column}) FROM episodes WHERE episode_id = ?", (episode_id,)
    ).fetchone()
    delete = shlex.quote(f"DELETE FROM episodes WHERE episode_id = {episode_id}")
    fix = f"or delete that row: `sqlite3 {shlex.quote(str(path))} {delete}`"
    where = f"episode_id {episode_id}"
    raise _bad_value(path, "episodes", where, column, _EXPECTED[column], value, fix)


def _bad_value(
    path: Path,
    table: str,
    row: str,
    column: str,
    expected: str,
    value: object,
    fix: str = "or fix that row with the sqlite3 shell",
) -> EvaluateError:
    shown = str(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return EvaluateError(
        f"expected {expected}, got {shown}; {EDITED}, {fix}",
        file=path,
        field=f"table {table}, {row}, column {column}",
    )


# On read: runs and jobs, checked as each row is decoded (there are few)


def _is_text(value: object) -> bool:
    return isinstance(value, str) and value != ""


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_time(value: object) -> bool:
    return _is_int(value) or (isinstance(value, float) and math.isfinite(value))


def _or_null(check: Callable[[object], bool]) -> Callable[[object], bool]:
    return lambda value: value is None or check(value)


def _json(text: object) -> object:
    """``text`` decoded from JSON, or None if it is not a JSON text."""
    try:
        return json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None


def _is_env_list(value: object) -> bool:
    envs = _json(value)
    return isinstance(envs, list) and bool(envs) and all(map(_is_text, envs))


_RUN_CHECKS: tuple[tuple[str, Callable[[object], bool], str], ...] = (
    ("run_id", _is_text, "a non-empty text"),
    ("created", _is_time, "a unix time in seconds"),
    ("config", lambda value: isinstance(_json(value), dict), "a JSON object"),
    ("twinbench_version", lambda value: isinstance(value, str), "a text"),
)
_JOB_CHECKS: tuple[tuple[str, Callable[[object], bool], str], ...] = (
    ("job_id", _is_text, "a non-empty text"),
    ("created", _is_time, "a unix time in seconds"),
    ("policy_spec", _is_text, "a non-empty text"),
    ("envs", _is_env_list, "a JSON list of env ids"),
    ("episodes", lambda value: _is_int(value) and value > 0, "an integer > 0"),  # type: ignore[operator]
    ("seed", _is_int, "an integer"),
    ("state", lambda value: value in JOB_STATES, f"one of {', '.join(JOB_STATES)}"),
    ("reason", _or_null(_is_text), "NULL or a text"),
    ("worker_id", _or_null(_is_text), "NULL or a text"),
    ("heartbeat", _or_null(_is_time), "NULL or a unix time"),
    ("started", _or_null(_is_time), "NULL or a unix time"),
    ("finished", _or_null(_is_time), "NULL or a unix time"),
    ("run_id", _or_null(_is_text), "NULL or a text"),
    ("attempts", lambda value: _is_int(value) and value >= 0, "an integer >= 0"),  # type: ignore[operator]
)
JOB_COLUMNS: tuple[str, ...] = tuple(column for column, _, _ in _JOB_CHECKS)


def _check_row(
    checks: tuple[tuple[str, Callable[[object], bool], str], ...],
    row: tuple[object, ...],
    path: Path,
    table: str,
) -> None:
    label = f"{checks[0][0]} {row[0]!r}"
    for (column, ok, expected), value in zip(checks, row, strict=True):
        if not ok(value):
            raise _bad_value(path, table, label, column, expected, repr(value))


def decode_run(row: tuple[object, ...], path: Path) -> RunRecord:
    """A ``runs`` row (run_id, created, config, twinbench_version) as a checked record."""
    _check_row(_RUN_CHECKS, row, path, "runs")
    run_id, created, config, version = row
    return RunRecord(run_id, created, _json(config), version)  # type: ignore[arg-type]


def decode_job(row: tuple[object, ...], path: Path) -> JobRecord:
    """A ``jobs`` row (:data:`JOB_COLUMNS`, JobRecord's fields in order) as a checked record."""
    _check_row(_JOB_CHECKS, row, path, "jobs")
    envs = tuple(_json(row[3]))  # type: ignore[arg-type]
    return JobRecord(*row[:3], envs, *row[4:])  # type: ignore[arg-type]
