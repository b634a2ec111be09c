"""Run an evaluation into a results store: plan, resume, execute on a pool, report.

The same function serves ``twinbench eval``, the job-queue worker and the demo; callers pass
callbacks for progress and for stopping early, and print what they like from the result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from evaluate.correlation.inputs import STORE_FILENAME
from evaluate.errors import EvaluateError
from evaluate.policies import public_spec
from evaluate.run.local_pool import InlinePool, LocalPool
from evaluate.run.plan import (
    EnvInfo,
    EpisodeTask,
    EvalConfig,
    adopt_recorded,
    describe_envs,
    open_run,
    pending_tasks,
    plan_tasks,
    run_config,
)
from evaluate.run.scheduler import ExecutionReport, Pool, execute
from evaluate.run.worker import TaskOutcome, WorkerConfig
from evaluate.store import (
    EpisodeOutcome,
    EpisodeRecord,
    ResultsStore,
    StoreLocation,
    store_location,
)


@dataclass(frozen=True)
class Execution:
    """How a run is executed; none of it changes the results.

    Attributes:
        workers: worker processes (Ray actors with ``ray_address``); 0 runs in this process.
        ray_address: run the workers on Ray: ``local`` starts one, else an address to join.
        video: write an mp4 per episode under ``RUN_DIR/videos/RUN_ID/``.
        resume: continue the latest run of the same config; False starts a new run.
    """

    workers: int = 1
    ray_address: str | None = None
    video: bool = False
    resume: bool = True

    def __post_init__(self) -> None:
        if self.workers < 0:
            raise EvaluateError(f"must be >= 0, got {self.workers}", field="workers")
        if self.workers == 0 and self.ray_address is not None:
            raise EvaluateError("Ray needs at least one worker", field="workers")


@dataclass(frozen=True)
class EvalResult:
    """Where the results went and what happened to the planned episodes."""

    run_id: str
    store: StoreLocation
    planned: int
    already_done: int  # recorded by an earlier (resumed) invocation
    report: ExecutionReport
    envs: Mapping[str, EnvInfo]  # the packages the env ids resolved to


def run_evaluation(
    config: EvalConfig,
    run_dir: Path,
    execution: Execution = Execution(),
    *,
    store: StoreLocation | str | None = None,
    run_id: str | None = None,
    on_start: Callable[[int, int], None] = lambda planned, done: None,
    on_outcome: Callable[[TaskOutcome], None] = lambda outcome: None,
    should_stop: Callable[[], bool] = lambda: False,
) -> EvalResult:
    """Evaluate every (policy, env, episode) of ``config`` not yet in the store.

    Args:
        run_dir: holds videos (and the store, unless ``store`` says otherwise).
        store: the results store (a file or a ``postgresql://`` URL); default
            ``run_dir/results.sqlite``.
        run_id: an existing run to write into; default: by config (see ``Execution.resume``).
        on_start: called with (planned episodes, already recorded) before any runs.
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise EvaluateError(
            "is a file, not a run directory: give -o a folder (new or an earlier run's)",
            file=run_dir,
        )
    store = store_location(store) if store is not None else run_dir / STORE_FILENAME
    envs = describe_envs(config.envs)
    tasks = plan_tasks(config, envs)
    with ResultsStore.open(store) as results:
        if run_id is None:
            document = run_config(config, envs)
            run_id = open_run(results, document, resume=execution.resume)
            if execution.resume:
                adopt_recorded(results, run_id, document, tasks)
        else:
            results.run(run_id)  # raises, naming it, if the run is not there
        todo = pending_tasks(results, run_id, tasks)
        on_start(len(tasks), len(tasks) - len(todo))
        report = ExecutionReport((), (), 0, False)
        if todo:
            worker = WorkerConfig(
                store=store,
                run_id=run_id,
                policy_specs={public_spec(spec): spec for spec in config.policies},
                video_dir=run_dir / "videos" / run_id if execution.video else None,
                image_size=config.image_size,
                rollout=config.rollout,
                physics=config.physics,
            )
            pool = make_pool(worker, execution, len(todo))
            try:
                report = execute(
                    todo,
                    pool,
                    record_lost=lambda task, reason: _record_lost(results, run_id, task, reason),
                    on_outcome=on_outcome,
                    should_stop=should_stop,
                )
            finally:
                pool.close()
    return EvalResult(run_id, store, len(tasks), len(tasks) - len(todo), report, envs)


def make_pool(worker: WorkerConfig, execution: Execution, tasks: int) -> Pool:
    """The backend ``execution`` asks for, with no more workers than tasks."""
    size = max(1, min(execution.workers, tasks))
    if execution.ray_address is not None:
        from evaluate.run.ray_pool import RayPool

        return RayPool(worker, size, execution.ray_address)
    if execution.workers == 0:
        return InlinePool(worker)
    return LocalPool(worker, size)


def _record_lost(results: ResultsStore, run_id: str, task: EpisodeTask, reason: str) -> TaskOutcome:
    """Record an episode whose worker died on every attempt: an infrastructure error, not
    the policy's failure (left out of its success rate)."""
    why = f"worker died on each of {task.attempt} attempts; last: {reason}"
    record = EpisodeRecord(run_id, task.key, EpisodeOutcome.aborted("error", why))
    results.record_episode(record)
    return TaskOutcome(task, record)
