"""The results store: round trips, idempotence, schema versions, and real concurrent processes,
on both back ends (SQLite; PostgreSQL, in a throwaway cluster: tests/store_backends.py)."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import sqlite3
import time
from pathlib import Path

import pandas as pd
import pytest

from evaluate.errors import EvaluateError
from evaluate.store import (
    SCHEMA_VERSION,
    EpisodeKey,
    EpisodeOutcome,
    EpisodeRecord,
    ResultsStore,
)
from evaluate.store.records import KEY_COLUMNS
from tests.store_backends import edit_store, query_store

FORK = multiprocessing.get_context("fork")  # children run this module's functions in-process
COMMITTED_STORE = Path(__file__).parent / "store_fixtures" / "results_v1.sqlite"  # session 2's run


def _episode(run_id: str, policy: str = "pi0", seed: int = 0, **changes: object) -> EpisodeRecord:
    fields: dict[str, object] = {
        "policy_id": policy,
        "env_id": "food_bussing",
        "env_hash": "sha256:abc",
        "initial_condition": seed % 5,
        "seed": seed,
        "success": seed % 2 == 0,
        "progress": 1.0 if seed % 2 == 0 else 0.5,
        "criteria": {"reach": 12, "lift": 40 if seed % 2 == 0 else None},
        "length_steps": 450,
        "wall_time_s": 31.5,
        "latency_mean_s": 0.08,
        "latency_max_s": 0.2,
    } | changes
    if changes.get("failure_reason") is not None and "failure_kind" not in changes:
        fields["failure_kind"] = "policy"
    key = EpisodeKey(**{name: fields.pop(name) for name in KEY_COLUMNS})  # type: ignore[arg-type]
    return EpisodeRecord(run_id, key, EpisodeOutcome(**fields))  # type: ignore[arg-type]


@pytest.fixture
def store_path(store_location: Path | str) -> Path | str:
    """An SQLite file or a PostgreSQL database: each test using it runs on both."""
    return store_location


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "results.sqlite"


@pytest.fixture
def store(store_path: Path):
    with ResultsStore.open(store_path) as opened:
        yield opened


def test_round_trip(store: ResultsStore, store_path: Path):
    run = store.add_run({"envs": ["food_bussing"], "episodes": 2}, run_id="r1")
    recorded = [
        _episode("r1", seed=0),
        _episode("r1", seed=1, failure_reason="server gone", video_path="v/1.mp4"),
    ]
    assert all(store.record_episode(e) for e in recorded)
    with ResultsStore.open(store_path) as again:  # a second connection sees committed data
        assert again.run("r1") == run
        frame = again.episodes(run_id="r1")
        records = again.records(run_id="r1")
    assert records == recorded
    assert len(frame) == 2
    for row, episode in zip(frame.to_dict("records"), recorded, strict=True):
        assert {
            k: None if k != "criteria" and pd.isna(v) else v for k, v in row.items()
        } == episode.row()
    assert frame["success"].dtype == bool
    assert store.completed_keys("r1") == {e.key for e in recorded}


def test_recording_twice_neither_duplicates_nor_raises(store: ResultsStore):
    store.add_run({}, run_id="r1")
    assert store.record_episode(_episode("r1")) is True
    assert store.record_episode(_episode("r1", success=False, progress=0.0)) is False
    assert len(store.episodes()) == 1
    assert store.episodes()["success"].item()  # the first record stands
    store.add_run({}, run_id="r2")
    assert store.record_episode(_episode("r2")) is True  # same key, other run: a new episode


def test_filters_and_summary(store: ResultsStore):
    store.add_run({}, run_id="r1")
    for seed in range(4):
        store.record_episode(_episode("r1", policy="pi0", seed=seed))
        store.record_episode(_episode("r1", policy="pi1", seed=seed, success=False, progress=0.25))
    store.record_episode(
        _episode("r1", policy="pi1", seed=9, env_id="other", failure_reason="server gone")
    )
    assert len(store.episodes(policy="pi1")) == 5
    assert len(store.episodes(policy="pi1", env="other")) == 1
    assert store.episodes(run_id="nope").empty
    summary = store.summary("r1").set_index(["policy_id", "env_id"])
    assert summary.loc[("pi0", "food_bussing")].to_dict() == {
        "episodes": 4,
        "successes": 2,
        "failures": 0,
        "success_rate": 0.5,
        "progress_mean": 0.75,
        "diverged": 0,
        "errored": 0,
    }
    assert summary.loc[("pi1", "food_bussing"), "success_rate"] == 0.0
    assert summary.loc[("pi1", "other"), "failures"] == 1


def test_runs_and_their_errors(store: ResultsStore):
    first = store.add_run({"a": 1})
    second = store.add_run({"b": [1, 2]}, run_id="named")
    assert [r.run_id for r in store.runs()] == [first.run_id, "named"]
    assert second.config == {"b": [1, 2]} and second.twinbench_version
    with pytest.raises(EvaluateError, match="already exists"):
        store.add_run({}, run_id="named")
    with pytest.raises(EvaluateError, match="no run 'missing'"):
        store.run("missing")
    with pytest.raises(EvaluateError, match="no run 'missing'"):
        store.record_episode(_episode("missing"))
    with pytest.raises(EvaluateError, match="JSON"):
        store.add_run({"x": object()})


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"progress": 1.5}, "progress"),
        ({"seed": -1}, "seed"),
        ({"success": 1}, "success"),
        ({"criteria": {"reach": -3}}, "criteria"),
        ({"latency_max_s": float("nan")}, "latency_max_s"),
        ({"env_hash": ""}, "env_hash"),
        ({"failure_kind": "crashed", "failure_reason": "?"}, "failure_kind"),
        ({"failure_kind": "policy"}, "failure_kind"),  # a kind without its reason
    ],
)
def test_invalid_episode_is_refused_naming_the_field(changes, field):
    with pytest.raises(EvaluateError) as info:
        _episode("r1", **changes)
    assert info.value.field == field


def test_store_settings(sqlite_path: Path):
    store = ResultsStore.open(sqlite_path)
    conn = sqlite3.connect(sqlite_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    conn.close()
    assert store._conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store._conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    store.close()


@pytest.mark.parametrize(
    ("version", "message"),
    [(SCHEMA_VERSION + 1, "upgrade twinbench"), (0, "not written by twinbench")],
)
def test_unknown_schema_version_is_a_clear_error(store_path: Path, version: int, message: str):
    ResultsStore.open(store_path).close()
    edit_store(store_path, f"UPDATE schema_version SET version = {version}")
    with pytest.raises(EvaluateError, match=f"schema version {version}.*{message}") as info:
        ResultsStore.open(store_path)
    assert info.value.file == str(store_path) and info.value.field == "schema_version"


def test_foreign_files_are_refused(tmp_path: Path):
    other = tmp_path / "other.sqlite"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.close()
    with pytest.raises(EvaluateError, match="not a twinbench results store"):
        ResultsStore.open(other)
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(EvaluateError, match="not a readable SQLite database"):
        ResultsStore.open(garbage)
    with pytest.raises(EvaluateError, match="no results store here"):
        ResultsStore.open(tmp_path / "absent.sqlite", create=False)


def _write_episodes(path: Path, policy: str, seeds: range, inserted: multiprocessing.Queue) -> None:
    with ResultsStore.open(path) as store:
        inserted.put(
            sum(store.record_episode(_episode("r1", policy=policy, seed=s)) for s in seeds)
        )


def test_two_processes_writing_concurrently_lose_and_duplicate_nothing(
    store: ResultsStore, store_path: Path
):
    store.add_run({}, run_id="r1")
    inserted = FORK.Queue()
    # 200 episodes each: 150 their own, 50 (policy "both", seeds 0-49) written by both
    writers = [
        FORK.Process(target=_write_episodes, args=(store_path, name, range(150), inserted))
        for name in ("a", "b")
    ] + [
        FORK.Process(target=_write_episodes, args=(store_path, "both", range(50), inserted))
        for _ in range(2)
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=60)
        assert writer.exitcode == 0
    assert sum(inserted.get(timeout=5) for _ in writers) == 350
    frame = store.episodes(run_id="r1")
    assert len(frame) == 350
    assert frame.groupby("policy_id").size().to_dict() == {"a": 150, "b": 150, "both": 50}
    assert not frame.duplicated(
        ["policy_id", "env_id", "env_hash", "initial_condition", "seed"]
    ).any()


def _write_until_killed(path: Path | str, committed: multiprocessing.Queue) -> None:
    with ResultsStore.open(path) as store:
        for seed in range(30):
            store.record_episode(_episode("r1", seed=seed))
            committed.put(seed)
        # then hold the write lock with an uncommitted update, as if killed inside a write
        with store._conn.write() as conn:
            conn.execute("UPDATE episodes SET success = 1 - success")
            committed.put("in-transaction")
            time.sleep(60)


def test_sigkill_mid_write_leaves_every_committed_episode(
    store: ResultsStore, store_path: Path | str
):
    store.add_run({}, run_id="r1")
    committed = FORK.Queue()
    writer = FORK.Process(target=_write_until_killed, args=(store_path, committed))
    writer.start()
    seen = [committed.get(timeout=30) for _ in range(31)]
    assert seen[-1] == "in-transaction"
    os.kill(writer.pid, signal.SIGKILL)
    writer.join(timeout=10)
    assert writer.exitcode == -signal.SIGKILL
    with ResultsStore.open(store_path) as reopened:
        if isinstance(store_path, Path):
            assert reopened._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        frame = reopened.episodes(run_id="r1")
        assert sorted(frame["seed"]) == list(range(30))
        assert list(frame["success"]) == [
            seed % 2 == 0 for seed in range(30)
        ]  # the update never landed
        assert reopened.record_episode(_episode("r1", seed=30))  # and the lock is free again


def _claim_all(path: Path, worker: str, claimed: multiprocessing.Queue) -> None:
    with ResultsStore.open(path) as store:
        mine = []
        while (job := store.claim_job(worker)) is not None:
            assert job.worker_id == worker and job.state == "running"
            mine.append(job.job_id)
        claimed.put(mine)


def test_concurrent_workers_never_claim_the_same_job(store: ResultsStore, store_path: Path):
    submitted = {
        store.submit_job("ws://localhost:8000", ["food_bussing"], 10, seed=i).job_id
        for i in range(60)
    }
    claimed = FORK.Queue()
    workers = [
        FORK.Process(target=_claim_all, args=(store_path, f"w{i}", claimed)) for i in range(3)
    ]
    for worker in workers:
        worker.start()
    results = [claimed.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=10)
        assert worker.exitcode == 0
    every_claim = [job_id for mine in results for job_id in mine]
    assert len(every_claim) == len(set(every_claim)) == 60
    assert set(every_claim) == submitted
    assert {job.state for job in store.jobs()} == {"running"}


def test_job_lifecycle(store: ResultsStore):
    job = store.submit_job("ws://host:8000", ["a", "b"], 25, seed=7)
    assert (job.state, job.envs, job.episodes, job.attempts) == ("queued", ("a", "b"), 25, 0)
    claimed = store.claim_job("w1")
    assert claimed.job_id == job.job_id and claimed.attempts == 1 and claimed.started is not None
    assert store.claim_job("w2") is None
    run = store.add_run({"job": job.job_id})
    store.set_job_run(job.job_id, run.run_id)
    assert store.heartbeat(job.job_id, "w1") and not store.heartbeat(job.job_id, "w2")
    assert not store.finish_job(job.job_id, "w2", "done")
    assert store.finish_job(job.job_id, "w1", "failed", "policy server refused the connection")
    finished = store.job(job.job_id)
    assert (finished.state, finished.reason, finished.run_id) == (
        "failed",
        "policy server refused the connection",
        run.run_id,
    )
    assert store.jobs("failed") == [finished] and store.jobs("queued") == []
    with pytest.raises(EvaluateError, match="'done' or 'failed'"):
        store.finish_job(job.job_id, "w1", "queued")
    with pytest.raises(EvaluateError, match="positive integer"):
        store.submit_job("ws://x", ["a"], 0)


def test_stale_jobs_are_requeued_then_failed_after_max_attempts(store: ResultsStore):
    job = store.submit_job("ws://host:8000", ["a"], 5)
    run = store.add_run({})
    for attempt in (1, 2):
        assert store.claim_job(f"w{attempt}").attempts == attempt
        if attempt == 1:
            store.set_job_run(job.job_id, run.run_id)
        assert store.requeue_stale(timeout_s=60) == []  # fresh heartbeat: left alone
        time.sleep(0.05)
        assert store.requeue_stale(timeout_s=0.01, max_attempts=2) == [job.job_id]
    final = store.job(job.job_id)
    assert final.state == "failed" and "attempt 2 of 2" in final.reason
    assert final.run_id == run.run_id  # kept, so a requeue would have resumed the same run
    assert not store.heartbeat(job.job_id, "w2")  # the dead worker learns the job is gone


def test_requeued_job_keeps_its_run_for_resume(store: ResultsStore):
    job = store.submit_job("ws://host:8000", ["a"], 5)
    store.claim_job("w1")
    run = store.add_run({})
    store.set_job_run(job.job_id, run.run_id)
    time.sleep(0.05)
    store.requeue_stale(timeout_s=0.01)
    requeued = store.job(job.job_id)
    assert (requeued.state, requeued.worker_id, requeued.run_id) == ("queued", None, run.run_id)
    assert requeued.reason.startswith("requeued: worker w1")
    assert store.claim_job("w2").run_id == run.run_id


def test_completed_keys_drive_resume(store: ResultsStore):
    store.add_run({}, run_id="r1")
    for seed in range(3):
        store.record_episode(_episode("r1", seed=seed))
    todo = [_episode("r1", seed=seed).key for seed in range(5)]
    done = store.completed_keys("r1")
    assert [key for key in todo if key not in done] == [
        EpisodeKey("pi0", "food_bussing", "sha256:abc", 3, 3),
        EpisodeKey("pi0", "food_bussing", "sha256:abc", 4, 4),
    ]


def test_diverged_and_errored_episodes_are_left_out_of_rates_and_counted(store: ResultsStore):
    store.add_run({}, run_id="clean")
    store.add_run({}, run_id="with")
    for run in ("clean", "with"):
        for seed in range(4):
            store.record_episode(_episode(run, seed=seed))
    diverged = "simulation diverged at step 7: mjWARN_BADQACC"
    store.record_episode(
        _episode("with", seed=4, success=False, progress=0.0, failure_kind="diverged",
                 failure_reason=diverged)
    )  # fmt: skip
    store.record_episode(
        EpisodeRecord("with", _episode("with", seed=5).key, EpisodeOutcome.aborted("error", "x"))
    )
    clean, with_ = (store.summary(run).iloc[0] for run in ("clean", "with"))
    for column in ("episodes", "successes", "failures", "success_rate", "progress_mean"):
        assert clean[column] == with_[column], column
    assert (with_["diverged"], with_["errored"]) == (1, 1)
    assert (clean["diverged"], clean["errored"]) == (0, 0)
    assert [r.outcome.counts for r in store.records(run_id="with")] == [True] * 4 + [False] * 2


def _as_version_1(path: Path | str, reasons: list[str | None]) -> None:
    """A store as version 1 wrote it: no failure_kind column, one episode per reason."""
    with ResultsStore.open(path) as store:
        store.add_run({}, run_id="old")
        for seed, reason in enumerate(reasons):
            store.record_episode(_episode("old", seed=seed, failure_reason=reason))
    edit_store(
        path,
        "ALTER TABLE episodes DROP COLUMN failure_kind",
        "UPDATE schema_version SET version = 1",
        checked=True,
    )


def test_a_version_1_store_is_migrated_on_open(store_path: Path | str):
    reasons = [
        None,
        "policy error: policy infer raised RuntimeError: boom",
        "policy infer did not return within 2 s",
        "simulation error: initial_condition 99 out of range",
        "simulation diverged at step 3: mjWARN_BADQACC",
        "worker died on each of 2 attempts; last: killed",
        "policy server openpi://x went away",
    ]
    _as_version_1(store_path, reasons)
    with ResultsStore.open(store_path) as store:
        kinds = store.episodes()["failure_kind"].tolist()
        summary = store.summary().iloc[0]
    assert [None if pd.isna(k) else k for k in kinds] == [
        None, "policy", "timeout", "sim", "diverged", "error", "policy",
    ]  # fmt: skip
    assert (summary["episodes"], summary["diverged"], summary["errored"]) == (5, 1, 1)
    version = query_store(store_path, "SELECT version FROM schema_version")
    assert version == [(SCHEMA_VERSION,)]


def test_the_committed_version_1_store_reads_the_same(tmp_path: Path):
    old = tmp_path / "results.sqlite"
    shutil.copyfile(COMMITTED_STORE, old)
    conn = sqlite3.connect(old)
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(1,)]
    before = conn.execute(
        "SELECT run_id, policy_id, env_id, seed, success, progress, failure_reason FROM episodes"
        " ORDER BY episode_id"
    ).fetchall()
    conn.close()
    with ResultsStore.open(old, create=False) as store:
        frame = store.episodes()
        summary = store.summary()
        records = store.records()
    after = frame[["run_id", "policy_id", "env_id", "seed", "success", "progress"]]
    assert [tuple(row[:6]) for row in before] == [
        (r, p, e, s, int(ok), pr) for r, p, e, s, ok, pr in after.itertuples(index=False)
    ]
    assert len(records) == len(before) and frame["failure_kind"].isna().all()
    assert summary["episodes"].sum() == len(before) and summary["diverged"].sum() == 0


def test_read_only_open_never_writes(tmp_path):
    """Issue 22: correlate on a 0-byte .sqlite used to write a store's schema into its input."""
    import hashlib

    from evaluate.errors import EvaluateError

    empty = tmp_path / "empty.sqlite"
    empty.touch()
    with pytest.raises(EvaluateError, match="empty file"):
        ResultsStore.open(empty, read_only=True)
    assert empty.stat().st_size == 0
    with pytest.raises(EvaluateError, match="is a directory"):
        ResultsStore.open(tmp_path, read_only=True)
    path = tmp_path / "results.sqlite"
    with ResultsStore.open(path) as store:
        store.add_run({"label": "x"}, run_id="run")
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with ResultsStore.open(path, read_only=True) as store:
        assert [run.run_id for run in store.runs()] == ["run"]
        with pytest.raises(Exception, match="readonly"):
            store.add_run({"label": "y"}, run_id="other")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_a_version_1_store_read_only_is_migrated_in_memory(sqlite_path: Path):
    import hashlib

    _as_version_1(sqlite_path, [None, "simulation diverged at step 3: mjWARN_BADQACC"])
    before = hashlib.sha256(sqlite_path.read_bytes()).hexdigest()
    with ResultsStore.open(sqlite_path, read_only=True) as store:
        kinds = store.episodes()["failure_kind"].tolist()
    assert [None if pd.isna(k) else k for k in kinds] == [None, "diverged"]
    assert hashlib.sha256(sqlite_path.read_bytes()).hexdigest() == before


def test_an_errored_episode_is_run_again_and_replaced(store: ResultsStore):
    """Issue 18: infrastructure failures are not trials; a resumed run retries them."""
    run = store.add_run({}, run_id="r").run_id
    errored = _episode(run, seed=0, success=False, progress=0.0, criteria={},
                       failure_reason="infrastructure error: server went away",
                       failure_kind="error")  # fmt: skip
    kept = _episode(run, seed=1)
    assert store.record_episode(errored) and store.record_episode(kept)
    assert store.completed_keys(run) == {kept.key}  # the errored one is pending again
    retried = _episode(run, seed=0)
    assert store.record_episode(retried)  # replaces the errored try
    assert not store.record_episode(_episode(run, seed=0, success=False))  # a real one stays
    frame = store.episodes(run_id=run)
    assert len(frame) == 2 and frame["failure_kind"].isna().all()
    assert frame.set_index("seed")["success"].to_dict() == {0: True, 1: False}
    assert store.completed_keys(run) == {kept.key, retried.key}
