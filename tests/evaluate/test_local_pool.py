"""LocalPool's channels: a worker killed mid-report does not silence its replacement."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from evaluate.run.local_pool import LocalPool
from evaluate.run.scheduler import WorkerLost


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    monkeypatch.delitem(sys.modules, "pool_faults", raising=False)
    import pool_faults

    return pool_faults.serve_big_then_small


def poll_until(pool: LocalPool, seconds: float) -> list:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if events := pool.poll(0.2):
            return events
    return []


def test_a_worker_killed_mid_report_does_not_block_its_replacement(serve) -> None:
    pool = LocalPool(None, 1, serve=serve)  # type: ignore[arg-type]
    try:
        pool.submit(0, "big")
        time.sleep(2.0)  # the worker is now inside its send, the channel's lock held
        pool.replace(0)
        pool.submit(0, "small")
        events = poll_until(pool, 30.0)
        assert [(slot, e.task, len(e.payload)) for slot, e in events] == [(0, "small", 1)]
    finally:
        pool.close()


def test_a_worker_killed_while_busy_is_reported_lost(serve) -> None:
    pool = LocalPool(None, 1, serve=serve)  # type: ignore[arg-type]
    try:
        pool.submit(0, "big")
        time.sleep(2.0)
        os.kill(pool._slots[0].process.pid, signal.SIGKILL)
        events = poll_until(pool, 30.0)
        assert len(events) == 1 and isinstance(events[0][1], WorkerLost), events
        assert "-9" in str(events[0][1])
        pool.replace(0)
        pool.submit(0, "small")
        assert [e.task for _, e in poll_until(pool, 30.0)] == ["small"]
    finally:
        pool.close()
