"""Hand tasks to a pool of workers and collect what comes back, whatever the backend.

A pool has numbered slots, each running one task at a time. The scheduler gives an idle
slot the next task, replaces a worker that died and gives its task once more (a second death
records the episode as failed, so one poisonous episode cannot stall a run), and stops
handing out a (policy, env) cell's tasks once its policy or environment failed to load.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from evaluate.run.plan import EpisodeTask
from evaluate.run.worker import TaskOutcome

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 2  # runs of one task that may end with its worker dying


@dataclass(frozen=True)
class WorkerLost:
    """A slot's worker died while running its task (killed, crashed, out of memory)."""

    reason: str


class Pool(Protocol):
    """Workers in numbered slots ``0 .. size - 1``."""

    size: int

    def submit(self, slot: int, task: EpisodeTask) -> None:
        """Start ``task`` on the idle worker in ``slot``."""

    def poll(self, timeout_s: float) -> list[tuple[int, TaskOutcome | WorkerLost]]:
        """Finished tasks and dead workers, waiting up to ``timeout_s`` for the first."""

    def replace(self, slot: int) -> None:
        """Start a fresh worker in ``slot`` after its worker was lost."""

    def close(self) -> None:
        """Stop every worker."""


@dataclass(frozen=True)
class ExecutionReport:
    """How the tasks went: outcomes in completion order and what could not run."""

    outcomes: tuple[TaskOutcome, ...]
    setup_errors: tuple[str, ...]  # one line per (policy, env) cell that could not be built
    not_run: int  # tasks skipped after a setup error, or left when stopped
    stopped: bool


def execute(
    tasks: Sequence[EpisodeTask],
    pool: Pool,
    *,
    record_lost: Callable[[EpisodeTask, str], TaskOutcome],
    on_outcome: Callable[[TaskOutcome], None] = lambda outcome: None,
    should_stop: Callable[[], bool] = lambda: False,
    poll_s: float = 0.5,
) -> ExecutionReport:
    """Run ``tasks`` on ``pool`` until all are done (or ``should_stop()``; running tasks are
    then finished, queued ones left for a resumed run)."""
    pending = deque(tasks)
    busy: dict[int, EpisodeTask] = {}
    outcomes: list[TaskOutcome] = []
    broken: dict[tuple[str, str], str] = {}
    not_run = 0
    stopped = False

    def finish(outcome: TaskOutcome) -> None:
        outcomes.append(outcome)
        on_outcome(outcome)

    while pending or busy:
        if not stopped and should_stop():
            stopped = True
            not_run += len(pending)
            pending.clear()
        for slot in range(pool.size):
            while slot not in busy and pending:
                task = pending.popleft()
                if (task.key.policy_id, task.key.env_id) in broken:
                    not_run += 1
                    continue
                pool.submit(slot, task)
                busy[slot] = task
        for slot, event in pool.poll(poll_s):
            task = busy.get(slot)
            if task is None or (isinstance(event, TaskOutcome) and event.task != task):
                continue  # a late report from a worker already written off
            del busy[slot]
            if isinstance(event, WorkerLost):
                logger.warning("worker %d lost running %s: %s", slot, task.key, event.reason)
                pool.replace(slot)
                if stopped:
                    not_run += 1
                elif task.attempt < MAX_ATTEMPTS:
                    pending.appendleft(replace(task, attempt=task.attempt + 1))
                else:
                    finish(record_lost(task, event.reason))
            elif event.setup_error is not None:
                cell = (task.key.policy_id, task.key.env_id)
                if cell not in broken:
                    broken[cell] = event.setup_error
                not_run += 1
            else:
                finish(event)
    errors = tuple(f"{policy} on {env}: {error}" for (policy, env), error in broken.items())
    return ExecutionReport(tuple(outcomes), errors, not_run, stopped)
