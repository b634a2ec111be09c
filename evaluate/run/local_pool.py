"""Episode workers as local processes (multiprocessing, spawn), or in the calling process.

Each process owns an :class:`EpisodeWorker`, an inbox and its own one-way results pipe,
replaced with the process: a worker SIGKILLed mid-send leaves a torn message and a lock
behind on a channel nobody uses again (a shared results queue kept that lock held, and every
replacement worker hung on its first report). Spawned (not forked) so every worker starts with fresh MuJoCo and EGL state. A worker
whose parent disappears (the CLI was killed) exits after its current episode instead of
lingering, so a killed run leaves only whole episodes behind.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait

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


def _serve(config: WorkerConfig, inbox: mp.Queue, results: Connection, parent: int) -> None:
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
                results.send(worker.run(task))
            except TwinbenchError as exc:
                results.send(_Fatal(str(exc)))
                return
            except Exception:
                results.send(_Crashed(traceback.format_exc()))
                return
    finally:
        worker.close()


@dataclass
class _Slot:
    """One worker process and its two channels; all three are replaced together."""

    process: mp.process.BaseProcess
    inbox: mp.Queue
    results: Connection | None  # None once the worker's end closed (it exited)


Serve = Callable[[WorkerConfig, mp.Queue, Connection, int], None]


class LocalPool:
    """``size`` spawned worker processes (``serve`` is the process's loop; tests swap it)."""

    def __init__(self, config: WorkerConfig, size: int, serve: Serve = _serve):
        if size < 1:
            raise ValueError(f"a pool needs at least one worker, got {size}")
        self.size = size
        self._config = config
        self._serve = serve
        self._context = mp.get_context("spawn")
        self._busy: dict[int, EpisodeTask] = {}
        self._slots = [self._start(slot) for slot in range(size)]

    def _start(self, slot: int) -> _Slot:
        inbox = self._context.Queue()
        reader, writer = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=self._serve,
            args=(self._config, inbox, writer, os.getpid()),
            name=f"twinbench-worker-{slot}",
            daemon=True,
        )
        process.start()
        writer.close()  # the worker holds the only write end: its exit reads as end of file
        return _Slot(process, inbox, reader)

    def submit(self, slot: int, task: EpisodeTask) -> None:
        self._slots[slot].inbox.put(task)
        self._busy[slot] = task

    def _received(self, timeout_s: float) -> list[tuple[int, object]]:
        readers = {s.results: slot for slot, s in enumerate(self._slots) if s.results}
        received: list[tuple[int, object]] = []
        for reader in wait(list(readers), timeout=timeout_s):
            slot = readers[reader]
            try:
                while reader.poll():
                    received.append((slot, reader.recv()))
            except (EOFError, OSError):  # exited, perhaps mid-message: seen as not alive below
                reader.close()
                self._slots[slot].results = None
        return received

    def poll(self, timeout_s: float) -> list[tuple[int, TaskOutcome | WorkerLost]]:
        events = self._received(timeout_s)
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
            process = self._slots[slot].process
            if not process.is_alive():
                lost = WorkerLost(f"worker process exited with code {process.exitcode}")
                events.append((slot, lost))
        for slot, _ in events:
            self._busy.pop(slot, None)
        return events

    def _lost(self, slot: int, crash: _Crashed) -> WorkerLost:
        self._slots[slot].process.join(timeout=5)
        return WorkerLost(f"worker crashed:\n{crash.traceback}")

    def replace(self, slot: int) -> None:
        old = self._slots[slot]
        if old.process.is_alive():
            old.process.kill()
        old.process.join(timeout=5)
        if old.results:
            old.results.close()
        self._slots[slot] = self._start(slot)  # the old inbox may hold an unread task

    def close(self) -> None:
        for s in self._slots:
            s.inbox.put(None)
        for s in self._slots:
            process = s.process
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
