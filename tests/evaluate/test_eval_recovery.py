"""Real processes dying: a SIGKILLed ``twinbench eval`` resumed on the same run directory,
and a worker process killed mid-run. Each planned episode ends up recorded exactly once, in
an SQLite store and in a PostgreSQL one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from evaluate.rollout import RolloutConfig
from evaluate.run import EvalConfig, Execution, run_evaluation
from evaluate.store import ResultsStore

ENV_ID = "primitive_cube_bowl"
ROOT = Path(__file__).resolve().parents[2]
KEY = ["policy_id", "env_id", "env_hash", "initial_condition", "seed"]


def eval_command(
    out: Path, *policies: str, episodes: int, workers: int = 1, store: Path | str | None = None
) -> list[str]:
    args = [sys.executable, "-m", "twinbench_cli", "eval", "--env", ENV_ID, "-o", str(out)]
    if isinstance(store, str):  # a PostgreSQL URL; a file store is OUT/results.sqlite
        args += ["--store", store]
    for policy in policies:
        args += ["--policy", policy]
    return [*args, "-n", str(episodes), "--workers", str(workers), "--max-steps", "40"]


def spawn(args: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    return subprocess.Popen(
        args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def recorded(store: Path | str):
    if isinstance(store, Path) and not store.exists():
        return None
    with ResultsStore.open(store) as results:
        return results.episodes()


def wait_for_episodes(
    store: Path | str, count: int, process: subprocess.Popen, limit_s: float = 120
):
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        frame = recorded(store)
        if frame is not None and len(frame) >= count:
            return frame
        assert process.poll() is None, process.stdout.read()
        time.sleep(0.1)
    raise AssertionError(f"fewer than {count} episodes after {limit_s} s")


@pytest.mark.slow  # about 25 s on 2 cores: two CLI runs, each spawning a worker
def test_sigkilled_eval_resumes_without_duplicates(tmp_path, store_location):
    out = tmp_path / "run"
    store = store_location if isinstance(store_location, str) else out / "results.sqlite"
    args = eval_command(out, "scripted", episodes=24, store=store)
    process = spawn(args, tmp_path)
    try:
        wait_for_episodes(store, 3, process)
        workers = psutil.Process(process.pid).children(recursive=True)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        process.kill()
    assert workers, "the eval should run its episodes in a worker process"
    _, alive = psutil.wait_procs(workers, timeout=30)  # orphans finish their episode and exit
    assert not alive
    before = recorded(store)
    assert 3 <= len(before) < 24

    resumed = spawn(args, tmp_path)
    output, _ = resumed.communicate(timeout=240)
    assert resumed.returncode == 0, output
    assert f"resuming, {len(before)}/24" in output
    after = recorded(store)
    assert len(after) == 24 and not after.duplicated(KEY).any()
    assert sorted(after["seed"]) == list(range(24))
    kept = before.merge(after, on=KEY, suffixes=("", "_after"))
    assert len(kept) == len(before) and (kept["created"] == kept["created_after"]).all()


def test_killed_worker_is_replaced_and_its_episode_rerun(tmp_path, store_location):
    cfg = EvalConfig(
        envs=(ENV_ID,), policies=("scripted",), episodes=8, rollout=RolloutConfig(max_steps=40)
    )
    killed = []

    def kill_a_worker(outcome) -> None:  # during (most likely) the next episode
        if not killed:
            child = psutil.Process().children()[-1]
            threading.Timer(0.2, child.send_signal, (signal.SIGKILL,)).start()
            killed.append(child.pid)

    store = store_location if isinstance(store_location, str) else None  # None: tmp_path's
    result = run_evaluation(
        cfg, tmp_path, Execution(workers=1), store=store, on_outcome=kill_a_worker
    )
    assert killed
    frame = recorded(result.store)
    assert len(frame) == 8 and not frame.duplicated(KEY).any()
    assert frame["failure_reason"].isna().all()  # the lost episode was rerun, not failed
