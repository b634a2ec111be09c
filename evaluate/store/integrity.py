"""Is a store still what twinbench wrote? Checks on open and on every read, on both back ends.

On open: the tables and columns (cheap) and, for a store opened read-only (an input that is
read whole), the back end's page check (SQLite's ``PRAGMA quick_check``, about 1 ms per MB;
PostgreSQL checks pages as it reads them). On read: every value, against the rules of
STORE.md (episodes: in SQL, one pass over the rows read; runs and jobs: as they are decoded).
Any database error is translated by :func:`guarded`. Each problem becomes one
:class:`EvaluateError` naming the store, the table (row and column where there is one) and
what to do.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Mapping
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from evaluate.errors import EvaluateError
from evaluate.store.backend import Backend
from evaluate.store.records import FAILURE_KINDS, JOB_STATES, JobRecord, RunRecord


def database_error(exc: BaseException, db: Backend, table: str | None) -> EvaluateError:
    """The user-facing error for a database error met while using the store ``db``."""
    field = None if table is None else f"table {table}"
    return EvaluateError(db.describe(exc), file=db.location, field=field)


class _Store(Protocol):
    _conn: Backend


_S = TypeVar("_S", bound=_Store)
_P = ParamSpec("_P")
_R = TypeVar("_R")


def guarded(
    table: str,
) -> Callable[[Callable[Concatenate[_S, _P], _R]], Callable[Concatenate[_S, _P], _R]]:
    """Decorate a store method that uses ``table``: a database error becomes an
    :class:`EvaluateError` naming the store and the table. A bug's error (a closed
    connection, a bad statement) passes through. A lost connection (a PostgreSQL server
    restarted, a network blip) is opened again and the method run once more, so a finished
    episode is not lost to it; its writes are upserts or whole transactions."""

    def decorate(method: Callable[Concatenate[_S, _P], _R]) -> Callable[Concatenate[_S, _P], _R]:
        @functools.wraps(method)
        def wrapper(self: _S, *args: _P.args, **kwargs: _P.kwargs) -> _R:
            db = self._conn
            try:
                return method(self, *args, **kwargs)
            except db.errors as exc:
                if not db.reconnect(exc):
                    if db.is_bug(exc):
                        raise
                    raise database_error(exc, db, table) from exc
            try:  # once more on the new connection: each guarded method is one transaction
                return method(self, *args, **kwargs)
            except db.errors as exc:
                if db.is_bug(exc):
                    raise
                raise database_error(exc, db, table) from exc

        return wrapper

    return decorate


# On open


def check_tables(db: Backend, expected: Mapping[str, tuple[str, ...]]) -> None:
    """Every table of ``expected`` is there with at least its columns (extra ones are allowed).

    Raises:
        EvaluateError: a table or a column is missing, naming it.
    """
    tables = db.tables()
    for table, columns in expected.items():
        if table not in tables:
            listed = ", ".join(sorted(tables)) or "none"
            raise EvaluateError(
                f"no such table (tables here: {listed}); {db.edited}",
                file=db.location,
                field=f"table {table}",
            )
        present = db.columns(table)
        missing = [column for column in columns if column not in present]
        if missing:
            raise EvaluateError(
                f"no column(s) {', '.join(missing)}; {db.edited}",
                file=db.location,
                field=f"table {table}",
            )


# On read: episodes, checked in SQL over the rows a query reads

_KINDS = ", ".join(f"'{kind}'" for kind in FAILURE_KINDS)
_RULES: tuple[tuple[str, str, str], ...] = (
    ("run_id", "{text} AND run_id != ''", "a non-empty text"),
    ("policy_id", "{text} AND policy_id != ''", "a non-empty text"),
    ("env_id", "{text} AND env_id != ''", "a non-empty text"),
    ("env_hash", "{text} AND env_hash != ''", "a non-empty text"),
    ("initial_condition", "{integer} AND initial_condition >= 0", "an integer >= 0"),
    ("seed", "{integer} AND seed >= 0", "an integer >= 0"),
    ("success", "{integer} AND success IN (0, 1)", "0 or 1"),
    ("progress", "{number} AND progress BETWEEN 0 AND 1", "a number in [0, 1]"),
    (
        "criteria",
        "{criteria}",
        "a JSON object of criterion name -> first step reached (an integer >= 0) or null",
    ),
    ("length_steps", "{integer} AND length_steps >= 0", "an integer >= 0"),
    ("wall_time_s", "{number} AND wall_time_s >= 0 AND wall_time_s < 1e308", "seconds >= 0"),
    (
        "latency_mean_s",
        "{number} AND latency_mean_s >= 0 AND latency_mean_s < 1e308",
        "seconds >= 0",
    ),
    ("latency_max_s", "{number} AND latency_max_s >= 0 AND latency_max_s < 1e308", "seconds >= 0"),
    ("failure_kind", f"failure_kind IS NULL OR failure_kind IN ({_KINDS})", f"NULL or {_KINDS}"),
    (
        "failure_reason",
        "(failure_reason IS NULL) = (failure_kind IS NULL) AND (failure_reason IS NULL OR {text})",
        "a text exactly when failure_kind is set",
    ),
    ("video_path", "video_path IS NULL OR {text}", "NULL or a text"),
    ("created", "{number}", "a unix time in seconds"),
)
"""(column, SQL condition a valid value meets, what is expected): STORE.md's episodes; a
back end fills in ``{text}``, ``{integer}``, ``{number}`` (the value's own type, where
the column does not fix it) and ``{criteria}``."""
_EXPECTED = {column: expected for column, _, expected in _RULES}


def episode_rules(db: Backend) -> tuple[tuple[str, str, str], ...]:
    """:data:`_RULES` in ``db``'s SQL."""
    return tuple(
        (
            column,
            rule.format(
                criteria=db.criteria_rule,
                **{name: check.format(column) for name, check in db.value_types.items()},
            ),
            expected,
        )
        for column, rule, expected in _RULES
    )


@functools.cache
def _first_bad(columns: tuple[str, ...], rules: tuple[tuple[str, str, str], ...]) -> str:
    """An SQL expression: the first of ``columns`` whose value breaks its rule, or NULL."""
    chosen = [(column, rule) for column, rule, _ in rules if column in columns]
    whens = " ".join(
        f"WHEN NOT coalesce(({rule}), FALSE) THEN '{column}'" for column, rule in chosen
    )
    return f"CASE {whens} END"


def check_episodes(
    db: Backend,
    where: str,
    args: tuple[object, ...],
    columns: tuple[str, ...] = tuple(_EXPECTED),
) -> None:
    """The ``columns`` a read uses hold valid values in every ``episodes`` row matching
    ``where`` (a ``WHERE …`` clause or ""): one pass in SQL (about 3 µs a row for all
    columns on SQLite), before the read it guards.

    Raises:
        EvaluateError: the first bad row: its episode_id, the column, the value and what to do.
    """
    condition = f"{where} AND" if where else "WHERE"
    bad = _first_bad(columns, episode_rules(db))
    row = db.execute(
        f"SELECT episode_id, bad FROM (SELECT episode_id, {bad} AS bad"
        f" FROM episodes {condition} 1 = 1) AS checked WHERE bad IS NOT NULL LIMIT 1",
        args,
    ).fetchone()
    if row is None:
        return
    episode_id, column = row
    (value,) = db.execute(
        f"SELECT {db.quote_function.format(column)} FROM episodes WHERE episode_id = ?",
        (episode_id,),
    ).fetchone()
    delete = f"DELETE FROM episodes WHERE episode_id = {episode_id}"
    fix = f"or delete that row: `{db.by_hand(delete)}`"
    where = f"episode_id {episode_id}"
    raise _bad_value(db, "episodes", where, column, _EXPECTED[column], value, fix)


def _bad_value(
    db: Backend,
    table: str,
    row: str,
    column: str,
    expected: str,
    value: object,
    fix: str = "or fix that row by hand",
) -> EvaluateError:
    shown = str(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return EvaluateError(
        f"expected {expected}, got {shown}; {db.edited}, {fix}",
        file=db.location,
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
    db: Backend,
    table: str,
) -> None:
    label = f"{checks[0][0]} {row[0]!r}"
    for (column, ok, expected), value in zip(checks, row, strict=True):
        if not ok(value):
            raise _bad_value(db, table, label, column, expected, repr(value))


def decode_run(row: tuple[object, ...], db: Backend) -> RunRecord:
    """A ``runs`` row (run_id, created, config, twinbench_version) as a checked record."""
    _check_row(_RUN_CHECKS, row, db, "runs")
    run_id, created, config, version = row
    return RunRecord(run_id, created, _json(config), version)  # type: ignore[arg-type]


def decode_job(row: tuple[object, ...], db: Backend) -> JobRecord:
    """A ``jobs`` row (:data:`JOB_COLUMNS`, JobRecord's fields in order) as a checked record."""
    _check_row(_JOB_CHECKS, row, db, "jobs")
    envs = tuple(_json(row[3]))  # type: ignore[arg-type]
    return JobRecord(*row[:3], envs, *row[4:])  # type: ignore[arg-type]
