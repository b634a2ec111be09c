"""Concurrent evaluations writing one results store (separate ``twinbench eval`` processes,
two of them with the same config, so the same run) lose and duplicate nothing: an SQLite file,
and a PostgreSQL database as machines sharing a leaderboard would."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from evaluate.store import ResultsStore
from evaluate.store.sqlite_backend import open_sqlite

ENV_ID = "primitive_cube_bowl"
ROOT = Path(__file__).resolve().parents[2]
KEY = ["run_id", "policy_id", "env_id", "env_hash", "initial_condition", "seed"]


def eval_args(out: Path, *policies: str, episodes: int, store: str | None) -> list[str]:
    args = [sys.executable, "-m", "twinbench_cli", "eval", "--env", ENV_ID, "-o", str(out)]
    args += ["--store", store] if store else []
    for policy in policies:
        args += ["--policy", policy]
    return [*args, "-n", str(episodes), "--workers", "0", "--max-steps", "40"]


@pytest.mark.slow  # 11-50 s on 2 shared cores: three CLI processes start at once
def test_concurrent_evaluations_of_one_store_lose_nothing(tmp_path, store_location):
    out = tmp_path / "shared"
    url = store_location if isinstance(store_location, str) else None
    same = eval_args(out, "scripted", "scripted:bad", episodes=4, store=url)
    other = eval_args(out, "scripted:good", episodes=5, store=url)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    processes = [
        subprocess.Popen(
            args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for args in (same, same, other)
    ]
    for process in processes:
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 0, output
    with ResultsStore.open(url or out / "results.sqlite") as store:
        frame = store.episodes()
    assert not frame.duplicated(KEY).any()
    counts = frame.groupby(["run_id", "policy_id"]).size().to_dict()
    assert sorted(counts.values()) == [4, 4, 5] and frame["run_id"].nunique() == 2


def test_the_switch_to_wal_waits_for_another_processs_write(tmp_path):
    """SQLite answers a switch to WAL at once with "database is locked" while another
    connection holds the write lock (no busy timeout there): the store waits for the writer
    as any write would. Three processes creating one new store met this in CI."""
    path = tmp_path / "results.sqlite"
    with ResultsStore.open(path):
        pass
    with sqlite3.connect(path, isolation_level=None) as raw:
        assert raw.execute("PRAGMA journal_mode = DELETE").fetchone() == ("delete",)
    raw.close()
    backend = open_sqlite(path, create=False, read_only=False)
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.5, writer.execute, ("COMMIT",))
    started = time.monotonic()
    release.start()
    try:
        backend.settle()
        waited = time.monotonic() - started
        assert backend.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        release.join()
        writer.close()
        backend.close()
    assert waited >= 0.4
