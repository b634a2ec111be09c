"""The results store: one SQLite file shared by the CLI, worker processes and the dashboard.

Each process opens its own :class:`ResultsStore`; every write commits at once, so what a
worker has recorded survives it being killed, and a resumed run skips what is already there.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Mapping
from dataclasses import astuple, fields
from pathlib import Path
from types import TracebackType

import pandas as pd

from evaluate.errors import EvaluateError
from evaluate.store.jobs import JobQueue
from evaluate.store.records import EpisodeKey, EpisodeRecord, RunRecord
from evaluate.store.schema import connect, write
from twinbench.version import __version__

_EPISODE_COLUMNS = tuple(f.name for f in fields(EpisodeRecord))
_KEY_COLUMNS = tuple(f.name for f in fields(EpisodeKey))


class ResultsStore(JobQueue):
    """Runs, episodes and the job queue in one SQLite file (schema: evaluate/STORE.md)."""

    def __init__(self, conn: sqlite3.Connection, path: Path):
        self._conn = conn
        self.path = path

    @classmethod
    def open(cls, path: str | Path, *, create: bool = True) -> ResultsStore:
        """Open the store at ``path``, creating it if missing and ``create`` is true.

        Raises:
            EvaluateError: not a twinbench store, or one of an unknown or newer schema version.
        """
        path = Path(path)
        return cls(connect(path, create=create), path)

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
            with write(self._conn) as conn:
                conn.execute(
                    "INSERT INTO runs (run_id, created, config, twinbench_version) VALUES (?, ?, ?, ?)",
                    (record.run_id, record.created, config_json, record.twinbench_version),
                )
        except sqlite3.IntegrityError as exc:
            raise EvaluateError(
                f"run {run_id!r} already exists", file=self.path, field="run_id"
            ) from exc
        return record

    def run(self, run_id: str) -> RunRecord:
        row = self._conn.execute(
            "SELECT run_id, created, config, twinbench_version FROM runs WHERE run_id = ?",
            (run_id,),
        ).fetchone()
        if row is None:
            raise EvaluateError(f"no run {run_id!r} in this store", file=self.path, field="run_id")
        return RunRecord(row[0], row[1], json.loads(row[2]), row[3])

    def runs(self) -> list[RunRecord]:
        """All runs, oldest first."""
        ids = self._conn.execute("SELECT run_id FROM runs ORDER BY created, rowid").fetchall()
        return [self.run(run_id) for (run_id,) in ids]

    # episodes

    def record_episode(self, episode: EpisodeRecord) -> bool:
        """Store one episode and commit; False (not an error) if its key is already stored."""
        values = list(astuple(episode))
        values[_EPISODE_COLUMNS.index("criteria")] = json.dumps(
            dict(episode.criteria), sort_keys=True
        )
        values[_EPISODE_COLUMNS.index("success")] = int(episode.success)
        try:
            cursor = self._conn.execute(
                f"INSERT INTO episodes ({', '.join(_EPISODE_COLUMNS)})"
                f" VALUES ({', '.join('?' * len(_EPISODE_COLUMNS))})"
                f" ON CONFLICT (run_id, {', '.join(_KEY_COLUMNS)}) DO NOTHING",
                values,
            )
        except sqlite3.IntegrityError as exc:
            raise EvaluateError(
                f"cannot record the episode: no run {episode.run_id!r} in this store ({exc})",
                file=self.path,
                field="run_id",
            ) from exc
        return cursor.rowcount == 1

    def episodes(
        self, run_id: str | None = None, policy: str | None = None, env: str | None = None
    ) -> pd.DataFrame:
        """Episodes matching the filters, one row each, in recording order.

        Returns:
            Columns as in :class:`EpisodeRecord` (``success`` bool, ``criteria`` a dict; a
            missing ``failure_reason`` or ``video_path`` is NA).
        """
        where, args = self._filters(run_id=run_id, policy_id=policy, env_id=env)
        frame = pd.read_sql_query(
            f"SELECT {', '.join(_EPISODE_COLUMNS)} FROM episodes {where} ORDER BY episode_id",
            self._conn,
            params=args,
        )
        frame["success"] = frame["success"].astype(bool)
        frame["criteria"] = frame["criteria"].map(json.loads)
        return frame

    def completed_keys(self, run_id: str) -> set[EpisodeKey]:
        """The keys already recorded in ``run_id``: what a resumed run skips."""
        rows = self._conn.execute(
            f"SELECT {', '.join(_KEY_COLUMNS)} FROM episodes WHERE run_id = ?", (run_id,)
        )
        return {EpisodeKey(*row) for row in rows}

    def summary(self, run_id: str | None = None) -> pd.DataFrame:
        """Per (policy, env): episodes, successes, failures (episodes with a failure reason),
        success rate and mean progress over all episodes."""
        where, args = self._filters(run_id=run_id)
        return pd.read_sql_query(
            "SELECT policy_id, env_id, COUNT(*) AS episodes, SUM(success) AS successes,"
            " COUNT(failure_reason) AS failures, AVG(success) AS success_rate,"
            f" AVG(progress) AS progress_mean FROM episodes {where}"
            " GROUP BY policy_id, env_id ORDER BY policy_id, env_id",
            self._conn,
            params=args,
        )

    @staticmethod
    def _filters(**equal: str | None) -> tuple[str, tuple[str, ...]]:
        used = {column: value for column, value in equal.items() if value is not None}
        where = " AND ".join(f"{column} = ?" for column in used)
        return (f"WHERE {where}" if where else ""), tuple(used.values())
