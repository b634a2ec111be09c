"""Reading one side of a comparison: the three CSV shapes, stores, run dirs, and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evaluate.correlation import correlate, load_tables
from evaluate.errors import EvaluateError
from evaluate.store import EpisodeKey, EpisodeOutcome, EpisodeRecord, ResultsStore


def _csv(tmp_path: Path, text: str, name: str = "real.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_rate_rows(tmp_path: Path):
    tables = load_tables(
        _csv(tmp_path, "policy,env,success_rate,progress\na,e1,0.5,0.75\nb,e1,1,1\n")
    )
    assert set(tables) == {"success", "progress"}
    cell = tables["success"].cells["a", "e1"]
    assert cell.rate == 0.5 and cell.samples is None
    assert tables["progress"].cells["a", "e1"].rate == 0.75


def test_count_rows_become_bernoulli_trials(tmp_path: Path):
    tables = load_tables(
        _csv(tmp_path, "env, policy, successes, trials\ne1, a, 3, 4\ne1, b, 0, 2\n")
    )
    assert set(tables) == {"success"}
    cell = tables["success"].cells["a", "e1"]
    assert cell.rate == 0.75
    np.testing.assert_array_equal(np.sort(cell.samples), [0, 1, 1, 1])


def test_episode_rows(tmp_path: Path):
    text = "policy,env,success,progress\na,e1,1,1.0\na,e1,false,0.5\na,e1,TRUE,1\nb,e1,0,0\n"
    tables = load_tables(_csv(tmp_path, text))
    cell = tables["success"].cells["a", "e1"]
    assert cell.rate == pytest.approx(2 / 3) and len(cell.samples) == 3
    assert tables["progress"].cells["a", "e1"].rate == pytest.approx(2.5 / 3)


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("policy,success_rate\na,0.5\n", "header", "missing column.*env.*expected one of"),
        ("policy,env,score\na,e,0.5\n", "header", "missing column.*success_rate"),
        ("policy,env,successes\na,e,3\n", "header", "needs a trials column"),
        (
            "policy,env,success_rate\na,e,0.5\nb,e,1.3\n",
            "line 3, column success_rate",
            r"in \[0, 1\], got '1.3'",
        ),
        ("policy,env,success_rate\na,e,half\n", "line 2, column success_rate", "a number"),
        (
            "policy,env,successes,trials\na,e,5,4\n",
            "line 2, column successes",
            r"at most trials \(4\)",
        ),
        ("policy,env,successes,trials\na,e,1.5,4\n", "line 2, column successes", "whole number"),
        ("policy,env,successes,trials\na,e,0,0\n", "line 2, column trials", "at least 1 trial"),
        ("policy,env,success\na,e,maybe\n", "line 2, column success", "0/1 or true/false"),
        ("policy,env,success\n,e,1\n", "line 2, column policy", "non-empty name"),
        ("policy,env,success_rate\na,e,0.5\na,e,0.6\n", "line 3", "duplicate row.*first on line 2"),
        # issue 22: ragged rows (pandas took an extra first cell for an index: KeyError: 0)
        ("policy,env,success\na,e,1,7\nb,e,0,7\n", "line 2", "expected 3 cells.*got 4"),
        ("policy,env,success\na,e,1\n\nb,e,0,1\n", "line 4", "expected 3 cells.*got 4"),
        ("policy,env,success\na,e\n", "line 2", "expected 3 cells.*got 2"),
        ('policy,env,success\na,e,1\n"b,e,0\n', "line 3", "expected 3 cells.*got 1"),
        ("policy,env,policy\na,e,1\n", "header", "policy appear more than once"),
        # issue 22: a rate and counts that disagree
        (
            "policy,env,success_rate,successes,trials\na,e,0.5,2,4\nb,e,0.5,1,4\n",
            "line 3",
            r"success_rate 0.5 disagrees with successes/trials = 1/4 = 0.25",
        ),
    ],
)
def test_bad_csv_names_file_line_and_column(tmp_path: Path, text: str, field: str, message: str):
    path = _csv(tmp_path, text)
    with pytest.raises(EvaluateError, match=message) as info:
        load_tables(path)
    assert info.value.file == str(path)
    assert info.value.field == field


def test_a_rate_that_agrees_with_its_counts_reads_as_the_counts(tmp_path: Path):
    text = "policy,env,success_rate,successes,trials\na,e,0.33,1,3\nb,e,0.5,2,4\n"
    cells = load_tables(_csv(tmp_path, text))["success"].cells
    assert cells["a", "e"].rate == pytest.approx(1 / 3) and len(cells["a", "e"].samples) == 3


def test_blank_lines_are_skipped_and_lines_keep_their_numbers(tmp_path: Path):
    text = "policy,env,success\n\na,e,1\n\nb,e,yes please\n"
    with pytest.raises(EvaluateError) as info:
        load_tables(_csv(tmp_path, text))
    assert info.value.field == "line 5, column success"


def test_empty_and_unknown_files(tmp_path: Path):
    with pytest.raises(EvaluateError, match="no rows"):
        load_tables(_csv(tmp_path, "policy,env,success\n"))
    with pytest.raises(EvaluateError, match="not a readable CSV"):
        load_tables(_csv(tmp_path, ""))
    with pytest.raises(EvaluateError, match="no such file"):
        load_tables(tmp_path / "absent.csv")
    with pytest.raises(EvaluateError, match="expected a run directory"):
        load_tables(_csv(tmp_path, "x", name="rates.txt"))
    with pytest.raises(EvaluateError, match=r"must hold results\.sqlite"):
        load_tables(tmp_path)


def _episode(run_id: str, policy: str, seed: int, success: bool) -> EpisodeRecord:
    outcome = EpisodeOutcome(success, 1.0 if success else 0.25, {}, 100, 1.0, 0.1, 0.1)
    return EpisodeRecord(run_id, EpisodeKey(policy, "e1", "h", 0, seed), outcome)


def test_store_and_run_directory(tmp_path: Path):
    with ResultsStore.open(tmp_path / "results.sqlite") as store:
        for run_id, wins in (("r1", 3), ("r2", 1)):
            store.add_run({}, run_id=run_id)
            for seed in range(4):
                store.record_episode(_episode(run_id, "a", seed, seed < wins))
    for source in (tmp_path, tmp_path / "results.sqlite"):
        tables = load_tables(source)
        assert tables["success"].cells["a", "e1"].rate == 0.5  # both runs, 8 episodes
        assert tables["progress"].cells["a", "e1"].rate == pytest.approx((4 * 1.0 + 4 * 0.25) / 8)
    only_r2 = load_tables(tmp_path, run_ids=["r2"])["success"].cells["a", "e1"]
    assert only_r2.rate == 0.25 and len(only_r2.samples) == 4
    both = load_tables(tmp_path, run_ids=["r1", "r2"])["success"].cells["a", "e1"]
    assert both.rate == 0.5 and len(both.samples) == 8
    with pytest.raises(EvaluateError, match="no run 'r9'"):
        load_tables(tmp_path, run_ids=["r1", "r9"])


def test_empty_store_is_an_error(tmp_path: Path):
    ResultsStore.open(tmp_path / "empty.sqlite").close()
    with pytest.raises(EvaluateError, match="holds no episodes"):
        load_tables(tmp_path / "empty.sqlite")


def test_store_episodes_are_read_in_key_order_not_recording_order(tmp_path: Path):
    """Two workers record the same episodes in different orders; the tables (and so the
    bootstrap's resamples) must not depend on it."""
    episodes = [_episode("r1", policy, seed, seed % 3 == 0) for policy in "ab" for seed in range(6)]
    samples = []
    for name, order in (("first", episodes), ("second", episodes[::-1])):
        with ResultsStore.open(tmp_path / f"{name}.sqlite") as store:
            store.add_run({}, run_id="r1")
            for episode in order:
                store.record_episode(episode)
        table = load_tables(tmp_path / f"{name}.sqlite")["progress"]
        samples.append({key: list(cell.samples) for key, cell in table.cells.items()})
    assert samples[0] == samples[1]


def test_diverged_episodes_leave_the_rates_unchanged_and_are_counted(tmp_path: Path):
    """A diverged simulation or a dead worker is not the policy's failure."""
    clean = [_episode("r1", policy, seed, seed % 2 == 0) for policy in "ab" for seed in range(4)]
    diverged = EpisodeRecord(
        "r1",
        EpisodeKey("a", "e1", "h", 0, 9),
        EpisodeOutcome(False, 0.0, {}, 7, 1.0, 0.1, 0.1, "diverged", "simulation diverged at 7"),
    )
    errored = EpisodeRecord(
        "r1", EpisodeKey("b", "e1", "h", 0, 9), EpisodeOutcome.aborted("error", "x")
    )
    tables = {}
    for name, episodes in (("clean", clean), ("with", [*clean, diverged, errored])):
        with ResultsStore.open(tmp_path / f"{name}.sqlite") as store:
            store.add_run({}, run_id="r1")
            for episode in episodes:
                store.record_episode(episode)
        tables[name] = load_tables(tmp_path / f"{name}.sqlite")
    for quantity in ("success", "progress"):
        before, after = (tables[name][quantity] for name in ("clean", "with"))
        assert {k: c.rate for k, c in before.cells.items()} == {
            k: c.rate for k, c in after.cells.items()
        }
        assert after.excluded_counts() == {"diverged": 1, "error": 1}
        assert dict(after.excluded) == {("a", "e1"): {"diverged": 1}, ("b", "e1"): {"error": 1}}
    report = correlate(tables["with"]["success"], tables["clean"]["success"], "success")
    assert any("1 diverged and 1 errored episode(s)" in note for note in report.notes)


def test_episode_csv_with_failure_kinds(tmp_path: Path):
    text = "policy,env,success,failure_kind\na,e1,1,\na,e1,0,diverged\na,e1,0,policy\nb,e1,1,\n"
    table = load_tables(_csv(tmp_path, text))["success"]
    assert table.cells["a", "e1"].rate == 0.5 and table.excluded_counts() == {"diverged": 1}
    with pytest.raises(EvaluateError, match="one of policy, timeout") as info:
        load_tables(_csv(tmp_path, "policy,env,success,failure_kind\na,e1,1,melted\n"))
    assert info.value.field == "line 2, column failure_kind"


@pytest.mark.parametrize("name", ["empty.sqlite", "run/results.sqlite"])
def test_an_empty_store_input_is_refused_and_left_untouched(tmp_path: Path, name: str):
    path = tmp_path / name
    path.parent.mkdir(exist_ok=True)
    path.touch()
    with pytest.raises(EvaluateError, match="empty file"):
        load_tables(path if path.name == name else path.parent)
    assert path.stat().st_size == 0 and sorted(p.name for p in path.parent.iterdir()) == [path.name]
