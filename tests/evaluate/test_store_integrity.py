"""Issue 22: the store's checks on open, on read and on write, on both back ends (the CLI and
dashboard side of each damage is in tests/dashboard/test_damaged_store.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from evaluate.errors import EvaluateError
from evaluate.store import EpisodeKey, EpisodeOutcome, EpisodeRecord, ResultsStore
from tests.store_backends import edit_store

KEY = EpisodeKey("pi0", "env", "hash", 0, 0)
GOOD = {"success": True, "progress": 1.0, "criteria": {"grasp": 3}, "length_steps": 10}
GOOD |= {"wall_time_s": 1.0, "latency_mean_s": 0.1, "latency_max_s": 0.2}


def _filled(path: Path | str) -> Path | str:
    with ResultsStore.open(path) as store:
        store.add_run({"label": "x"}, run_id="r")
        for seed in range(3):
            key = EpisodeKey("pi0", "env", "hash", 0, seed)
            store.record_episode(EpisodeRecord("r", key, EpisodeOutcome(**GOOD)))  # type: ignore[arg-type]
        store.submit_job("scripted", ["env"], 2)
    return path


@pytest.fixture
def store_path(store_location: Path | str) -> Path | str:
    """A store with a run, three episodes and a job: an SQLite file, then a PostgreSQL one."""
    return _filled(store_location)


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return _filled(tmp_path / "results.sqlite")  # type: ignore[return-value]


_edit = edit_store


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"progress": "0.5"}, "progress"),  # was a ValueError from float('abc')
        ({"progress": True}, "progress"),
        ({"criteria": [3]}, "criteria"),
        ({"video_path": 3}, "video_path"),
        ({"failure_kind": "policy", "failure_reason": b"x"}, "failure_reason"),
        ({"wall_time_s": "1"}, "wall_time_s"),
    ],
)
def test_records_refuse_values_of_the_wrong_type(changes: dict[str, object], field: str):
    with pytest.raises(EvaluateError) as info:
        EpisodeOutcome(**(GOOD | changes))  # type: ignore[arg-type]
    assert info.value.field == field


def test_only_records_are_written(store_path: Path | str):
    with ResultsStore.open(store_path) as store, pytest.raises(TypeError, match="EpisodeRecord"):
        store.record_episode({"run_id": "r"})  # type: ignore[arg-type]
    with pytest.raises(EvaluateError, match="created"):
        EpisodeRecord("r", KEY, EpisodeOutcome(**GOOD), created=float("nan"))  # type: ignore[arg-type]


def test_every_read_checks_the_rows_it_reads(store_path: Path | str):
    """success=7 used to count as a success in summary() and correlate."""
    _edit(store_path, "UPDATE episodes SET success = 7 WHERE episode_id = 2")
    field = "table episodes, episode_id 2, column success"
    with ResultsStore.open(store_path) as store:
        for read in (
            store.summary,
            store.episodes,
            store.records,
            lambda: store.completed_keys("r"),
            lambda: store.episodes(policy="pi0"),
        ):
            with pytest.raises(EvaluateError, match="expected 0 or 1, got 7") as info:
                read()
            assert info.value.field == field and info.value.file == str(store_path)
        assert store.episodes(run_id="other").empty  # a read that meets no bad row is fine


@pytest.mark.parametrize(
    ("statement", "field", "expected"),
    [
        (
            "UPDATE runs SET config = '[1, 2]'",
            "table runs, run_id 'r', column config",
            "JSON object",
        ),
        ("UPDATE runs SET created = 'soon'", "table runs, run_id 'r', column created", "unix time"),
        ("UPDATE jobs SET envs = 'env'", "column envs", "JSON list of env ids"),
        ("UPDATE jobs SET state = 'lost'", "column state", "one of queued"),
        ("UPDATE jobs SET episodes = 0", "column episodes", "integer > 0"),
    ],
)
def test_runs_and_jobs_are_checked_as_read(
    store_path: Path | str, statement: str, field: str, expected: str
):
    if not isinstance(store_path, Path) and "'soon'" in statement:
        pytest.skip("PostgreSQL's typed column cannot hold the text 'soon'")
    _edit(store_path, statement)
    with ResultsStore.open(store_path, read_only=True) as store:
        read = store.runs if "runs" in statement else store.jobs
        with pytest.raises(EvaluateError, match=expected) as info:
            read()
    assert info.value.field is not None and info.value.field.endswith(field)


def _damage_jobs_pages(path: Path) -> None:
    """Garbage over the jobs table's root page: no query of episodes or runs reaches it."""
    conn = sqlite3.connect(path)
    (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'jobs'").fetchone()
    (page_size,) = conn.execute("PRAGMA page_size").fetchone()
    conn.close()
    with path.open("r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(bytes((i * 7 + 13) % 251 for i in range(page_size)))


def test_quick_check_on_read_only_open_and_a_damaged_page_when_a_query_reaches_it(
    sqlite_path: Path,
):
    """A read-only open (an input, read whole) runs PRAGMA quick_check; a writable open (the
    worker reopens every few seconds) does not, and reports the damage when it meets it."""
    _damage_jobs_pages(sqlite_path)
    with pytest.raises(EvaluateError, match=r"the file is damaged \(quick_check: .*\.recover"):
        ResultsStore.open(sqlite_path, read_only=True)
    with ResultsStore.open(sqlite_path) as store:
        assert len(store.episodes()) == 3
        with pytest.raises(EvaluateError, match=r"damaged .*malformed.*recover") as info:
            store.jobs()
    assert info.value.field == "table jobs" and info.value.file == str(sqlite_path)


def test_a_store_missing_a_column_is_refused_on_open(store_path: Path | str):
    _edit(store_path, "ALTER TABLE jobs DROP COLUMN attempts")
    for read_only in (True, False):
        with pytest.raises(EvaluateError, match=r"no column.*attempts.*restore it") as info:
            ResultsStore.open(store_path, read_only=read_only)
        assert info.value.field == "table jobs"


@pytest.mark.parametrize(
    "criteria",
    ["'not json'", "'[1]'", """'{"grasp": -1}'""", """'{"grasp": 1.5}'""", """'{"grasp": "3"}'"""],
)
def test_criteria_that_are_not_an_object_of_steps_are_refused(store_path: Path | str, criteria):
    """STORE.md's criteria rule, in each back end's SQL (SQLite's json_each, PostgreSQL's
    twinbench_criteria_ok): what is not JSON is a refused value, not a database error."""
    _edit(store_path, f"UPDATE episodes SET criteria = {criteria} WHERE episode_id = 3")
    with ResultsStore.open(store_path) as store:
        with pytest.raises(EvaluateError, match="expected a JSON object of criterion") as info:
            store.records()
        assert info.value.field == "table episodes, episode_id 3, column criteria"
        assert len(store.summary()) == 1  # the summary reads no criteria
