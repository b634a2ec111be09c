"""Episode workers as local processes (multiprocessing, spawn), or in the calling process.

Each process owns an :class:`EpisodeWorker` and an inbox; results come back on one shared
queue. Spawned (not forked) so every worker starts with fresh MuJoCo and EGL state. A worker
whose parent disappears (the CLI was killed) exits after its current episode instead of
lingering, so a killed run leaves only whole episodes behind.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import traceback
from dataclasses import dataclass

from evaluate.errors import EvaluateError
from evaluate.run.plan import EpisodeTask
from evaluate.run.scheduler import WorkerLost
from evaluate.run.worker import EpisodeWorker, TaskOutcome, WorkerConfig
from twinbench.errors import TwinbenchError

_PARENT_CHECK_S = 1.0


@dataclass(frozen=True)
class _Fatal:
    """An error no episode can get past (the disk is full, the store is damaged): the run
    stops with its message; episodes already recorded stay, a resumed run does the rest."""

    message: str


@dataclass(frozen=True)
class _Crashed:
    """A worker's own bug (not a policy or env problem): reported, then the worker exits."""

    traceback: str


def _serve(
    config: WorkerConfig, slot: int, inbox: mp.Queue, results: mp.Queue, parent: int
) -> None:
    """A worker process: run tasks from ``inbox`` until told to stop or orphaned."""
    worker = EpisodeWorker(config)
    try:
        while True:
            try:
                task = inbox.get(timeout=_PARENT_CHECK_S)
            except queue.Empty:
                if os.getppid() != parent:
                    return
                continue
            if task is None:
                return
            try:
                results.put((slot, worker.run(task)))
            except TwinbenchError as exc:
                results.put((slot, _Fatal(str(exc))))
                return
            except Exception:
                results.put((slot, _Crashed(traceback.format_exc())))
                return
    finally:
        worker.close()


class LocalPool:
    """``size`` spawned worker processes."""

    def __init__(self, config: WorkerConfig, size: int):
        if size < 1:
            raise ValueError(f"a pool needs at least one worker, got {size}")
        self.size = size
        self._config = config
        self._context = mp.get_context("spawn")
        self._results: mp.Queue = self._context.Queue()
        self._inboxes: list[mp.Queue] = []
        self._processes: list[mp.process.BaseProcess] = []
        self._busy: dict[int, EpisodeTask] = {}
        for slot in range(size):
            self._inboxes.append(self._context.Queue())
            self._processes.append(self._start(slot))

    def _start(self, slot: int) -> mp.process.BaseProcess:
        process = self._context.Process(
            target=_serve,
            args=(self._config, slot, self._inboxes[slot], self._results, os.getpid()),
            name=f"twinbench-worker-{slot}",
            daemon=True,
        )
        process.start()
        return process

    def submit(self, slot: int, task: EpisodeTask) -> None:
        self._inboxes[slot].put(task)
        self._busy[slot] = task

    def poll(self, timeout_s: float) -> list[tuple[int, TaskOutcome | WorkerLost]]:
        events: list[tuple[int, TaskOutcome | WorkerLost]] = []
        try:
            events.append(self._results.get(timeout=timeout_s))
            while True:
                events.append(self._results.get_nowait())
        except queue.Empty:
            pass
        for _, event in events:
            if isinstance(event, _Fatal):  # pool.close() lets the others finish theirs
                raise EvaluateError(event.message)
        # a report from a worker already replaced names a task its slot no longer runs
        events = [
            (slot, self._lost(slot, e) if isinstance(e, _Crashed) else e)
            for slot, e in events
            if isinstance(e, _Crashed) or e.task == self._busy.get(slot)
        ]
        reported = {slot for slot, _ in events}
        for slot in sorted(set(self._busy) - reported):
            process = self._processes[slot]
            if not process.is_alive():
                lost = WorkerLost(f"worker process exited with code {process.exitcode}")
                events.append((slot, lost))
        for slot, _ in events:
            self._busy.pop(slot, None)
        return events

    def _lost(self, slot: int, crash: _Crashed) -> WorkerLost:
        self._processes[slot].join(timeout=5)
        return WorkerLost(f"worker crashed:\n{crash.traceback}")

    def replace(self, slot: int) -> None:
        old = self._processes[slot]
        if old.is_alive():
            old.kill()
        old.join(timeout=5)
        self._inboxes[slot] = self._context.Queue()  # the old one may hold an unread task
        self._processes[slot] = self._start(slot)

    def close(self) -> None:
        for inbox in self._inboxes:
            inbox.put(None)
        for process in self._processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()


class InlinePool:
    """One worker in the calling process (``--workers 0``): no spawn cost, easy to debug."""

    size = 1

    def __init__(self, config: WorkerConfig):
        self._worker = EpisodeWorker(config)
        self._done: list[tuple[int, TaskOutcome | WorkerLost]] = []

    def submit(self, slot: int, task: EpisodeTask) -> None:
        self._done.append((slot, self._worker.run(task)))

    def poll(self, timeout_s: float) -> list[tuple[int, TaskOutcome | WorkerLost]]:
        done, self._done = self._done, []
        return done

    def replace(self, slot: int) -> None:
        self._worker.close()

    def close(self) -> None:
        self._worker.close()
