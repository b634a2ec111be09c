"""The results store: one SQLite file or PostgreSQL database shared by the CLI, worker
processes (on this machine or, with PostgreSQL, others) and the dashboard.

Each process opens its own :class:`ResultsStore`; every write commits at once, so what a
worker has recorded survives it being killed, and a resumed run skips what is already there.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import pandas as pd

from evaluate.errors import EvaluateError
from evaluate.store.backend import Backend
from evaluate.store.integrity import check_episodes, decode_run, guarded
from evaluate.store.jobs import JobQueue
from evaluate.store.location import PostgresURL
from evaluate.store.records import (
    EPISODE_COLUMNS,
    EXCLUDED_KINDS,
    KEY_COLUMNS,
    EpisodeKey,
    EpisodeRecord,
    RunRecord,
)
from evaluate.store.schema import connect
from twinbench.version import __version__

_EXCLUDED = ", ".join(f"'{kind}'" for kind in EXCLUDED_KINDS)
_COUNTS = f"(failure_kind IS NULL OR failure_kind NOT IN ({_EXCLUDED}))"
_RUN_COLUMNS = "run_id, created, config, twinbench_version"
_SUMMARY_COLUMNS = ("policy_id", "env_id", "success", "progress", "failure_kind")


class ResultsStore(JobQueue):
    """Runs, episodes and the job queue in one store (schema: evaluate/STORE.md)."""

    def __init__(self, conn: Backend):
        self._conn = conn
        self.path = conn.location  # a file, or a URL whose str() has no password

    @classmethod
    def open(
        cls, path: str | Path | PostgresURL, *, create: bool = True, read_only: bool = False
    ) -> ResultsStore:
        """Open the store at ``path`` (an SQLite file, or a ``postgresql://`` URL: see
        :func:`evaluate.store.location.store_location`), creating it if missing and ``create``
        is true; ``read_only`` never writes to it (inputs that are only read).

        Raises:
            EvaluateError: not a twinbench store, one of an unknown or newer schema version,
                one missing a table or a column, (``read_only``) a damaged file, or a server
                that cannot be reached. Every method raises it too, naming the store, the
                table and what to do, when a value it reads breaks STORE.md's rules or the
                database reports damage.
        """
        return cls(connect(path, create=create, read_only=read_only))

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # runs

    @guarded("runs")
    def add_run(self, config: Mapping[str, object], *, run_id: str | None = None) -> RunRecord:
        """Start a run with its config (stored as JSON); ``run_id`` defaults to a fresh one."""
        if run_id is None:
            run_id = time.strftime("%Y%m%d-%H%M%S") + f"-{uuid.uuid4().hex[:6]}"
        record = RunRecord(run_id, time.time(), dict(config), __version__)
        try:
            config_json = json.dumps(record.config, sort_keys=True)
        except TypeError as exc:
            raise EvaluateError(
                f"run config must be JSON-serialisable ({exc})", field="config"
            ) from exc
        try:
            with self._conn.write() as conn:
                conn.execute(
                    "INSERT INTO runs (run_id, created, config, twinbench_version) VALUES (?, ?, ?, ?)",
                    (record.run_id, record.created, config_json, record.twinbench_version),
                )
        except self._conn.integrity_error as exc:
            raise EvaluateError(
                f"run {run_id!r} already exists", file=self.path, field="run_id"
            ) from exc
        return record

    @guarded("runs")
    def run(self, run_id: str) -> RunRecord:
        row = self._conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,))
        found = row.fetchone()
        if found is None:
            raise EvaluateError(f"no run {run_id!r} in this store", file=self.path, field="run_id")
        return decode_run(found, self._conn)

    @guarded("runs")
    def runs(self) -> list[RunRecord]:
        """All runs, oldest first."""
        rows = self._conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY created, run_id")
        return [decode_run(row, self._conn) for row in rows]

    # episodes

    @guarded("episodes")
    def record_episode(self, episode: EpisodeRecord) -> bool:
        """Store one episode and commit; False (not an error) if its key is already stored,
        unless the stored one errored (its retry replaces it).

        The record was checked when it was made (the rules of STORE.md); its values go in as
        the plain types both back ends store (0/1, float, int, JSON text).
        """
        if not isinstance(episode, EpisodeRecord):
            raise TypeError(f"expected an EpisodeRecord, got {type(episode).__name__}")
        row = episode.row()
        row["criteria"] = json.dumps(dict(episode.outcome.criteria), sort_keys=True)
        row["success"] = int(episode.outcome.success)
        for name in ("progress", "wall_time_s", "latency_mean_s", "latency_max_s", "created"):
            row[name] = float(row[name])  # type: ignore[arg-type]
        try:
            cursor = self._conn.execute(
                f"INSERT INTO episodes ({', '.join(EPISODE_COLUMNS)})"
                f" VALUES ({', '.join('?' * len(EPISODE_COLUMNS))})"
                f" ON CONFLICT (run_id, {', '.join(KEY_COLUMNS)}) DO UPDATE SET "
                + ", ".join(f"{name} = excluded.{name}" for name in EPISODE_COLUMNS)
                + " WHERE episodes.failure_kind = 'error'",  # a retry replaces an errored try
                [row[name] for name in EPISODE_COLUMNS],
            )
        except self._conn.integrity_error as exc:
            raise EvaluateError(
                f"cannot record the episode: no run {episode.run_id!r} in this store ({exc})",
                file=self.path,
                field="run_id",
            ) from exc
        return cursor.rowcount == 1

    @guarded("episodes")
    def episodes(
        self, run_id: str | None = None, policy: str | None = None, env: str | None = None
    ) -> pd.DataFrame:
        """Episodes matching the filters, one row each, in recording order.

        Returns:
            One column per :meth:`EpisodeRecord.row` field (``success`` bool, ``criteria`` a
            dict; a missing ``failure_kind``, ``failure_reason`` or ``video_path`` is NA).
        """
        where, args = self._filters(run_id=run_id, policy_id=policy, env_id=env)
        check_episodes(self._conn, where, args)
        frame = self._frame(
            f"SELECT {', '.join(EPISODE_COLUMNS)} FROM episodes {where} ORDER BY episode_id", args
        )
        frame["success"] = frame["success"].astype(bool)
        frame["criteria"] = frame["criteria"].map(json.loads)
        return frame

    @guarded("episodes")
    def records(
        self, run_id: str | None = None, policy: str | None = None, env: str | None = None
    ) -> list[EpisodeRecord]:
        """:meth:`episodes` as typed records."""
        where, args = self._filters(run_id=run_id, policy_id=policy, env_id=env)
        check_episodes(self._conn, where, args)
        rows = self._conn.execute(
            f"SELECT {', '.join(EPISODE_COLUMNS)} FROM episodes {where} ORDER BY episode_id", args
        )
        records = []
        for values in rows:
            row = dict(zip(EPISODE_COLUMNS, values, strict=True))
            row["success"], row["criteria"] = bool(row["success"]), json.loads(row["criteria"])
            records.append(EpisodeRecord.from_row(row))
        return records

    @guarded("episodes")
    def completed_keys(self, run_id: str) -> set[EpisodeKey]:
        """The keys already recorded in ``run_id``: what a resumed run skips (not errored
        episodes: the infrastructure failed them, so they are run again)."""
        # every column, not only the keys: resuming into a damaged store adds to it
        check_episodes(self._conn, "WHERE run_id = ?", (run_id,))
        rows = self._conn.execute(
            f"SELECT {', '.join(KEY_COLUMNS)} FROM episodes"
            " WHERE run_id = ? AND (failure_kind IS NULL OR failure_kind != 'error')",
            (run_id,),
        )
        return {EpisodeKey(*row) for row in rows}

    @guarded("episodes")
    def summary(self, run_id: str | None = None) -> pd.DataFrame:
        """Per (policy, env): the rates over the episodes that count, and those that do not.

        Returns:
            Columns policy_id, env_id; episodes (that count: not diverged, not an
            infrastructure error), successes, failures (of those, ended with a failure),
            success_rate and progress_mean over them (NaN when none counts); diverged and
            errored (left out of everything before).
        """
        where, args = self._filters(run_id=run_id)
        check_episodes(self._conn, where, args, _SUMMARY_COLUMNS)
        return self._frame(
            "SELECT policy_id, env_id,"
            f" COUNT(CASE WHEN {_COUNTS} THEN 1 END) AS episodes,"
            f" COUNT(CASE WHEN {_COUNTS} AND success = 1 THEN 1 END) AS successes,"
            f" COUNT(CASE WHEN {_COUNTS} AND failure_kind IS NOT NULL THEN 1 END) AS failures,"
            f" AVG(CASE WHEN {_COUNTS} THEN success END) AS success_rate,"
            f" AVG(CASE WHEN {_COUNTS} THEN progress END) AS progress_mean,"
            " COUNT(CASE WHEN failure_kind = 'diverged' THEN 1 END) AS diverged,"
            " COUNT(CASE WHEN failure_kind = 'error' THEN 1 END) AS errored"
            f" FROM episodes {where} GROUP BY policy_id, env_id ORDER BY policy_id, env_id",
            args,
        ).astype({"success_rate": float, "progress_mean": float})

    def _frame(self, query: str, args: tuple[object, ...]) -> pd.DataFrame:
        cursor = self._conn.execute(query, args)
        columns = [column[0] for column in cursor.description]
        return pd.DataFrame.from_records(cursor.fetchall(), columns=columns, coerce_float=True)

    @staticmethod
    def _filters(**equal: str | None) -> tuple[str, tuple[str, ...]]:
        used = {column: value for column, value in equal.items() if value is not None}
        where = " AND ".join(f"{column} = ?" for column in used)
        return (f"WHERE {where}" if where else ""), tuple(used.values())
