"""Worker loops for LocalPool fault tests, importable by a spawned child (the test puts this
folder on ``sys.path``, which spawn hands to its children)."""

from __future__ import annotations

import multiprocessing as mp
from dataclasses import dataclass
from multiprocessing.connection import Connection

BIG = 64 * 2**20  # bytes: far more than a pipe buffers, so the send blocks until read


@dataclass(frozen=True)
class Report:
    task: str
    payload: bytes


def serve_big_then_small(config: object, inbox: mp.Queue, results: Connection, parent: int):
    """A worker that answers ``"big"`` with a report the parent does not read yet."""
    while (task := inbox.get()) is not None:
        results.send(Report(task, b"x" * (BIG if task == "big" else 1)))
