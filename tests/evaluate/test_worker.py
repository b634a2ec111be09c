"""The job queue end to end: ``twinbench submit`` queues, ``twinbench worker`` runs and
finishes jobs (done, or failed with the reason), and a job taken from a silent worker is
requeued and resumed by the next one without duplicating episodes; on an SQLite file and on
a PostgreSQL database (``--store postgresql://...``)."""

from __future__ import annotations

import threading
import time

from typer.testing import CliRunner

from evaluate.run import Execution, QueueWorkerConfig, run_job, serve_queue
from evaluate.store import ResultsStore
from evaluate.store import store_location as parse_store
from twinbench_cli import app

ENV_ID = "primitive_cube_bowl"
KEY = ["policy_id", "env_id", "env_hash", "initial_condition", "seed"]


def invoke(*args: str):
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def test_submit_then_worker_once_runs_the_job(tmp_path, store_location, monkeypatch):
    monkeypatch.chdir(
        tmp_path
    )  # a PostgreSQL store's files (runs/JOB_ID) go in ./twinbench-results
    if isinstance(store_location, str):  # given with a password, shown without it
        store = store_location.replace("twinbench@", "twinbench:pw-never-shown@")
    else:
        store = tmp_path / "queue" / "results.sqlite"
    queued = invoke("submit", "-p", "scripted", "-e", ENV_ID, "-n", "2", "--store", str(store))
    assert "queued job-" in queued.output and "pw-never-shown" not in queued.output
    assert f"twinbench worker --store {parse_store(str(store))}" in queued.output
    invoke("worker", "--store", str(store), "--once", "--workers", "0")
    with ResultsStore.open(store) as results:
        (job,) = results.jobs()
        frame = results.episodes(run_id=job.job_id)
    assert job.state == "done" and job.run_id == job.job_id and job.reason is None
    assert len(frame) == 2 and frame["success"].all()
    assert "no queued job" in invoke("worker", "--store", str(store), "--once").output


def test_a_worker_never_makes_a_store(tmp_path, caplog):
    typo = tmp_path / "nowhere" / "results.sqlite"
    once = CliRunner().invoke(app, ["worker", "--store", str(typo), "--once"])
    assert once.exit_code != 0 and "no results store here yet" in str(once.exception)
    assert not typo.parent.exists()  # was: created, then "no queued job", exit 0
    # a worker started before the first submit waits for the store, and says so once
    stop = threading.Event()
    config = QueueWorkerConfig(store=typo, poll_s=0.05, execution=Execution(workers=0))
    waiting = threading.Thread(target=serve_queue, args=(config, None), kwargs={"stop": stop})
    with caplog.at_level("WARNING", logger="evaluate.run.queue_worker"):
        waiting.start()
        time.sleep(0.3)
        stop.set()
        waiting.join(5)
    assert not waiting.is_alive() and not typo.parent.exists()
    assert [r.getMessage().count("waiting for it") for r in caplog.records] == [1]


def test_unreachable_policy_fails_the_job_with_the_reason(tmp_path):
    store = tmp_path / "results.sqlite"
    spec = "openpi://127.0.0.1:9?retries=0&timeout=1"
    invoke("submit", "-p", spec, "-e", ENV_ID, "-n", "2", "--store", str(store))
    invoke("worker", "--store", str(store), "--once", "--workers", "0")
    with ResultsStore.open(store) as results:
        (job,) = results.jobs()
        assert results.episodes().empty
    assert job.state == "failed" and "cannot reach the policy server" in job.reason


def test_submit_refuses_unknown_scheme_and_env(tmp_path):
    store = str(tmp_path / "results.sqlite")
    bad = CliRunner().invoke(app, ["submit", "-p", "scriptd:good", "-e", ENV_ID, "--store", store])
    assert bad.exit_code != 0 and "did you mean 'scripted'" in str(bad.exception)
    bad = CliRunner().invoke(app, ["submit", "-p", "scripted", "-e", "nowhere", "--store", store])
    assert bad.exit_code != 0


def test_job_taken_from_a_silent_worker_is_resumed_by_the_next(tmp_path, store_location):
    store = parse_store(str(store_location))
    with ResultsStore.open(store) as results:
        submitted = results.submit_job("scripted:fair", [ENV_ID], episodes=4)
        first = results.claim_job("slow-worker")
    config = QueueWorkerConfig(
        store=store,
        worker_id="slow-worker",
        heartbeat_s=0.05,
        stale_after_s=60,
        execution=Execution(workers=0),
    )

    def lose_the_job_after_one(outcome) -> None:
        with ResultsStore.open(store) as results:
            if results.job(first.job_id).state == "running":
                results.requeue_stale(timeout_s=0)  # as another worker would after a silence
        time.sleep(0.5)  # let the heartbeat thread notice

    outcome = run_job(first, config, on_outcome=lose_the_job_after_one)
    assert outcome.state is None and outcome.result.report.stopped
    with ResultsStore.open(store) as results:
        assert results.job(first.job_id).state == "queued"
        assert len(results.episodes(run_id=first.job_id)) == 1

    starts = []
    next_worker = QueueWorkerConfig(
        store=store, worker_id="next-worker", once=True, execution=Execution(workers=0)
    )
    ran = serve_queue(
        next_worker, lambda job: (lambda *counts: starts.append(counts), lambda outcome: None)
    )
    with ResultsStore.open(store) as results:
        job = results.job(submitted.job_id)
        frame = results.episodes(run_id=job.job_id)
    assert ran == 1 and starts == [(4, 1)]  # resumed: one of four already recorded
    assert job.state == "done" and job.attempts == 2 and job.worker_id == "next-worker"
    assert len(frame) == 4 and not frame.duplicated(KEY).any()
