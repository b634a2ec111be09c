"""Evaluation runs: plan episodes, execute them on local processes or Ray, resume, queue jobs."""

from evaluate.correlation.inputs import STORE_FILENAME
from evaluate.run.evaluation import EvalResult, Execution, make_pool, run_evaluation
from evaluate.run.plan import (
    EnvInfo,
    EpisodeTask,
    EvalConfig,
    describe_envs,
    plan_tasks,
    run_config,
)
from evaluate.run.queue_worker import (
    JobOutcome,
    QueueWorkerConfig,
    run_job,
    serve_queue,
)
from evaluate.run.scheduler import ExecutionReport, WorkerLost, execute
from evaluate.run.summary import summarize, summary_table
from evaluate.run.worker import EpisodeWorker, TaskOutcome, WorkerConfig

__all__ = [
    "STORE_FILENAME",
    "EnvInfo",
    "EpisodeTask",
    "EpisodeWorker",
    "EvalConfig",
    "EvalResult",
    "Execution",
    "ExecutionReport",
    "JobOutcome",
    "QueueWorkerConfig",
    "TaskOutcome",
    "WorkerConfig",
    "WorkerLost",
    "describe_envs",
    "execute",
    "make_pool",
    "plan_tasks",
    "run_config",
    "run_evaluation",
    "run_job",
    "serve_queue",
    "summarize",
    "summary_table",
]
