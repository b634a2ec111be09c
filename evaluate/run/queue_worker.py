"""``twinbench worker``: take jobs from a results store's queue and evaluate them.

A job's episodes go into the same store (run id = the job id, so a requeued job resumes its
run); its videos into ``runs/JOB_ID/`` next to the store (an SQLite file's folder;
``./twinbench-results`` for a PostgreSQL store). While a job runs, a thread sends
heartbeats; if the job is taken away (requeued as stale), the worker stops handing out its
episodes and leaves it to its new holder.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from evaluate.errors import EvaluateError
from evaluate.policies import untrusted_spec
from evaluate.run.evaluation import EvalResult, Execution, run_evaluation
from evaluate.run.plan import EvalConfig, describe_envs, run_config
from evaluate.run.worker import TaskOutcome
from evaluate.store import JobRecord, JobState, ResultsStore, StoreLocation, files_dir
from twinbench.errors import TwinbenchError

logger = logging.getLogger(__name__)


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class QueueWorkerConfig:
    """How a queue worker polls, heartbeats and runs jobs.

    Attributes:
        store: the results store holding the queue (a file, or a PostgreSQL URL).
        worker_id: this worker's name in the jobs table.
        poll_s: pause between looks at an empty queue [s].
        heartbeat_s: interval between heartbeats while running a job [s].
        stale_after_s: a running job without a heartbeat this long is requeued [s].
        once: run at most one job, then return (without waiting for one).
        execution: workers, Ray, video for each job.
    """

    store: StoreLocation
    worker_id: str = field(default_factory=default_worker_id)
    poll_s: float = 5.0
    heartbeat_s: float = 10.0
    stale_after_s: float = 120.0
    once: bool = False
    execution: Execution = field(default_factory=Execution)

    def __post_init__(self) -> None:
        if not 0 < self.heartbeat_s < self.stale_after_s:
            raise EvaluateError(
                f"need 0 < heartbeat_s < stale_after_s, got {self.heartbeat_s} and {self.stale_after_s}",
                field="heartbeat_s",
            )
        if not self.poll_s > 0:
            raise EvaluateError(f"must be > 0, got {self.poll_s}", field="poll_s")


@dataclass(frozen=True)
class JobOutcome:
    """How a job ended for this worker; ``state`` None: it was taken away mid-run."""

    job: JobRecord
    state: JobState | None
    reason: str | None
    result: EvalResult | None


def job_config(job: JobRecord) -> EvalConfig:
    """The job's evaluation; a bundle runs sandboxed however it was queued (an older store,
    another back end), since a queued job may be anyone's."""
    return EvalConfig(
        envs=job.envs,
        policies=(untrusted_spec(job.policy_spec),),
        episodes=job.episodes,
        seed=job.seed,
    )


class _Heartbeat:
    """Beats for one job on its own connection; ``lost`` once the job is no longer ours."""

    def __init__(self, store: StoreLocation, job_id: str, worker_id: str, interval_s: float):
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(store, job_id, worker_id, interval_s), daemon=True
        )

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self, store: StoreLocation, job_id: str, worker_id: str, interval_s: float) -> None:
        with ResultsStore.open(store) as results:
            while not self._stop.wait(interval_s):
                if not results.heartbeat(job_id, worker_id):
                    logger.warning("job %s is no longer held by %s: stopping it", job_id, worker_id)
                    self.lost.set()
                    return


def run_job(
    job: JobRecord,
    config: QueueWorkerConfig,
    on_start: Callable[[int, int], None] = lambda planned, done: None,
    on_outcome: Callable[[TaskOutcome], None] = lambda outcome: None,
) -> JobOutcome:
    """Evaluate one claimed job and finish it as done or failed (unless it was taken away)."""
    store = config.store
    with _Heartbeat(store, job.job_id, config.worker_id, config.heartbeat_s) as beat:
        try:
            eval_config = job_config(job)
            run_id = _job_run(store, job, eval_config)
            result = run_evaluation(
                eval_config,
                files_dir(store) / "runs" / job.job_id,
                config.execution,
                store=store,
                run_id=run_id,
                on_start=on_start,
                on_outcome=on_outcome,
                should_stop=beat.lost.is_set,
            )
        except TwinbenchError as exc:
            state, reason, result = "failed", str(exc), None
        except Exception as exc:  # a bug must not take the worker (and its queue) down
            logger.exception("job %s crashed", job.job_id)
            state, reason, result = "failed", f"{type(exc).__name__}: {exc}", None
        else:
            errors = result.report.setup_errors
            state, reason = ("failed", "; ".join(errors)) if errors else ("done", None)
    if beat.lost.is_set():
        return JobOutcome(job, None, "taken away: no heartbeat in time", result)
    with ResultsStore.open(store) as results:
        if not results.finish_job(job.job_id, config.worker_id, state, reason):
            return JobOutcome(job, None, "taken away before it finished", result)
    return JobOutcome(job, state, reason, result)


def _job_run(store: StoreLocation, job: JobRecord, config: EvalConfig) -> str:
    """The job's run: the one it already has (a requeued job), else a new one named after it."""
    with ResultsStore.open(store) as results:
        run_id = job.run_id or job.job_id
        if run_id not in {run.run_id for run in results.runs()}:
            document = {**run_config(config, describe_envs(config.envs)), "job_id": job.job_id}
            results.add_run(document, run_id=run_id)
        results.set_job_run(job.job_id, run_id)
    return run_id


NO_QUEUE = "no results store here yet: `twinbench submit --store` creates it with the first job"


def serve_queue(
    config: QueueWorkerConfig,
    on_job: Callable[[JobRecord], tuple[Callable[[int, int], None], Callable[[TaskOutcome], None]]],
    on_done: Callable[[JobOutcome], None] = lambda outcome: None,
    stop: threading.Event | None = None,
) -> int:
    """Claim and run jobs until ``stop`` is set (or, with ``once``, after one job or none).
    A store file that does not exist yet is waited for (with ``once``: an error), never made.

        Args:
            on_job: called with each claimed job; returns its (on_start, on_outcome) callbacks.
        Returns:
            How many jobs this worker ran.
    """
    stop = stop or threading.Event()
    ran, waiting = 0, False
    while not stop.is_set():
        if isinstance(config.store, Path) and not config.store.exists():
            if config.once:  # a worker serves a queue: it never makes one (a mistyped path)
                raise EvaluateError(NO_QUEUE, file=config.store)
            if not waiting:
                logger.warning("%s: %s; waiting for it", config.store, NO_QUEUE)
                waiting = True
            stop.wait(config.poll_s)
            continue
        with ResultsStore.open(config.store) as results:
            for job_id in results.requeue_stale(config.stale_after_s):
                logger.warning("requeued or failed stale job %s", job_id)
            job = results.claim_job(config.worker_id)
        if job is None:
            if config.once:
                return ran
            stop.wait(config.poll_s)
            continue
        on_start, on_outcome = on_job(job)
        on_done(run_job(job, config, on_start, on_outcome))
        ran += 1
        if config.once:
            return ran
    return ran
