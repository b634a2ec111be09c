"""The store's job queue: submit, claim atomically, heartbeat, finish, requeue the stale.

A job moves queued -> running (claimed by one worker) -> done | failed. A running job whose
worker stops heartbeating goes back to queued, keeping its ``run_id`` so the next worker
resumes that run, until it has been claimed ``max_attempts`` times; then it fails, so a job
that kills its worker cannot loop forever.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence

from evaluate.errors import EvaluateError
from evaluate.policies import has_secret, untrusted_spec
from evaluate.store.backend import Backend
from evaluate.store.integrity import JOB_COLUMNS, decode_job, guarded
from evaluate.store.location import StoreLocation
from evaluate.store.records import JOB_STATES, JobRecord, JobState

_JOB_COLUMNS = ", ".join(JOB_COLUMNS)


class JobQueue:
    """Job-queue methods of :class:`evaluate.store.ResultsStore` (mixed in; uses its connection)."""

    _conn: Backend
    path: StoreLocation

    @guarded("jobs")
    def submit_job(
        self, policy_spec: str, envs: Sequence[str], episodes: int, seed: int = 0
    ) -> JobRecord:
        """Queue ``episodes`` episodes per environment of ``policy_spec`` over ``envs``.

        A queued job may be anyone's: a ``bundle:`` spec is stored as ``sandboxed:`` (its
        code runs only in the sandbox, evaluate/BUNDLE.md).
        """
        if not policy_spec:
            raise EvaluateError("expected a policy spec, got an empty string", field="policy_spec")
        if has_secret(policy_spec):
            raise EvaluateError(
                "a queued job is stored in plain text, so its spec may not hold a secret: "
                "set the key in the worker's environment and name the variable with "
                "api_key_env=VAR instead of api_key=KEY",
                field="policy_spec",
            )
        if not envs or not all(isinstance(env, str) and env for env in envs):
            raise EvaluateError(
                f"expected a non-empty list of env ids, got {list(envs)!r}", field="envs"
            )
        if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes <= 0:
            raise EvaluateError(f"expected a positive integer, got {episodes!r}", field="episodes")
        policy_spec = untrusted_spec(policy_spec)
        job_id = f"job-{uuid.uuid4().hex[:12]}"
        with self._conn.write() as conn:
            conn.execute(
                "INSERT INTO jobs (job_id, created, policy_spec, envs, episodes, seed, state)"
                " VALUES (?, ?, ?, ?, ?, ?, 'queued')",
                (job_id, time.time(), policy_spec, json.dumps(list(envs)), episodes, seed),
            )
        return self.job(job_id)

    @guarded("jobs")
    def job(self, job_id: str) -> JobRecord:
        row = self._conn.execute(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE job_id = ?", (job_id,)
        ).fetchone()
        if row is None:
            raise EvaluateError(f"no job {job_id!r} in this store", file=self.path, field="job_id")
        return decode_job(row, self._conn)

    @guarded("jobs")
    def jobs(self, state: JobState | None = None) -> list[JobRecord]:
        """All jobs (or those in ``state``), oldest first."""
        if state is not None and state not in JOB_STATES:
            raise EvaluateError(
                f"unknown job state {state!r}; expected one of {', '.join(JOB_STATES)}"
            )
        where, args = ("WHERE state = ?", (state,)) if state else ("", ())
        rows = self._conn.execute(
            f"SELECT {_JOB_COLUMNS} FROM jobs {where} ORDER BY created, job_id", args
        )
        return [decode_job(row, self._conn) for row in rows]

    @guarded("jobs")
    def claim_job(self, worker_id: str) -> JobRecord | None:
        """Take the oldest queued job for ``worker_id``; None if the queue is empty.

        Atomic across processes: the select and the update share one write transaction
        (SQLite's ``BEGIN IMMEDIATE``, PostgreSQL's advisory lock), so two workers never get
        the same job.
        """
        started = time.time()
        with self._conn.write() as conn:
            row = conn.execute(
                "SELECT job_id FROM jobs WHERE state = 'queued' ORDER BY created, job_id LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE jobs SET state = 'running', worker_id = ?, heartbeat = ?, started = ?,"
                " reason = NULL, attempts = attempts + 1 WHERE job_id = ?",
                (worker_id, started, started, row[0]),
            )
        return self.job(row[0])

    @guarded("jobs")
    def set_job_run(self, job_id: str, run_id: str) -> None:
        """Remember the run a job writes into, so a requeued job resumes it."""
        try:
            with self._conn.write() as conn:
                cursor = conn.execute(
                    "UPDATE jobs SET run_id = ? WHERE job_id = ?", (run_id, job_id)
                )
        except self._conn.integrity_error as exc:
            raise EvaluateError(
                f"no run {run_id!r} in this store", file=self.path, field="run_id"
            ) from exc
        if cursor.rowcount != 1:
            raise EvaluateError(f"no job {job_id!r} in this store", file=self.path, field="job_id")

    @guarded("jobs")
    def heartbeat(self, job_id: str, worker_id: str) -> bool:
        """Mark ``worker_id`` alive on its job; False means the job is no longer its own (stop)."""
        cursor = self._conn.execute(
            "UPDATE jobs SET heartbeat = ? WHERE job_id = ? AND worker_id = ? AND state = 'running'",
            (time.time(), job_id, worker_id),
        )
        return cursor.rowcount == 1

    @guarded("jobs")
    def finish_job(
        self, job_id: str, worker_id: str, state: JobState, reason: str | None = None
    ) -> bool:
        """End a running job as ``done`` or ``failed``; False if ``worker_id`` no longer holds it."""
        if state not in ("done", "failed"):
            raise EvaluateError(
                f"a job finishes as 'done' or 'failed', not {state!r}", field="state"
            )
        cursor = self._conn.execute(
            "UPDATE jobs SET state = ?, reason = ?, finished = ? "
            "WHERE job_id = ? AND worker_id = ? AND state = 'running'",
            (state, reason, time.time(), job_id, worker_id),
        )
        return cursor.rowcount == 1

    @guarded("jobs")
    def requeue_stale(self, timeout_s: float, max_attempts: int = 3) -> list[str]:
        """Requeue running jobs without a heartbeat for ``timeout_s``; fail those out of attempts.

        Returns:
            The ids of the jobs it requeued or failed.
        """
        now = time.time()
        with self._conn.write() as conn:
            stale = conn.execute(
                "SELECT job_id, worker_id, attempts FROM jobs WHERE state = 'running' AND heartbeat < ?",
                (now - timeout_s,),
            ).fetchall()
            for job_id, worker_id, attempts in stale:
                lost = f"worker {worker_id} sent no heartbeat for {timeout_s:g} s (attempt {attempts} of {max_attempts})"
                if attempts >= max_attempts:
                    conn.execute(
                        "UPDATE jobs SET state = 'failed', reason = ?, finished = ? WHERE job_id = ?",
                        (lost, now, job_id),
                    )
                else:
                    conn.execute(
                        "UPDATE jobs SET state = 'queued', reason = ?, worker_id = NULL, heartbeat = NULL,"
                        " started = NULL WHERE job_id = ?",
                        (f"requeued: {lost}", job_id),
                    )
        return [row[0] for row in stale]
