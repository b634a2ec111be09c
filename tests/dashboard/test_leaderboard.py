"""The Leaderboard page shows each (policy, env) cell's rates, intervals and counts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dashboard import data
from evaluate.store import EpisodeOutcome, EpisodeRecord, ResultsStore


def _select_run(app, run_id: str):
    app.selectbox(key="leaderboard_run").set_value(run_id).run()
    return app.dataframe[0].value


def _cell(table, policy: str, env: str):
    return table[(table["policy"] == policy) & (table["env"] == env)].iloc[0]


def test_cells_match_the_episodes(page, facts):
    app = page("leaderboard")
    table = _select_run(app, facts.RUN_ID)
    assert len(table) == len(facts.OUTCOMES)
    for (policy, env), outcomes in facts.OUTCOMES.items():
        row = _cell(table, policy, env)
        assert row["episodes"] == len(outcomes)
        assert row["successes"] == sum(outcomes)
        assert row["success"] == pytest.approx(sum(outcomes) / len(outcomes))
        assert row["ended early"] == int((policy, env) == facts.EARLY_END[:2])
    # Wilson 95% for 3 of 4, by hand: centre 0.6275, half-width 0.3269
    assert _cell(table, "pi0", facts.BUNDLED_ENV)["success 95% CI"] == "0.30 – 0.95"
    assert _cell(table, "octo", facts.USER_ENV)["success 95% CI"] == "0.00 – 0.49"
    # seeds 0, 1 succeed, seed 2 reaches 1 of 3 criteria, seed 3 none
    scripted = _cell(table, "scripted", facts.BUNDLED_ENV)
    assert scripted["progress"] == pytest.approx((2 + 1 / 3) / 4)
    assert [m.value for m in app.metric] == ["3", "2", "24"]


def test_sorted_by_success_then_filtered_by_env(page, facts):
    app = page("leaderboard")
    table = _select_run(app, facts.RUN_ID)
    assert list(table["success"]) == sorted(table["success"], reverse=True)
    app.multiselect(key="leaderboard_envs").set_value([facts.USER_ENV]).run()
    app.selectbox(key="leaderboard_sort").set_value("policy").run()
    table = app.dataframe[0].value
    assert list(table["env"]) == [facts.USER_ENV] * 3
    assert list(table["policy"]) == ["octo", "pi0", "scripted"]
    assert [m.value for m in app.metric] == ["3", "1", "12"]


def test_all_runs_by_default(page, facts):
    app = page("leaderboard")
    picker = app.selectbox(key="leaderboard_run")
    assert [picker.format_func(o) for o in picker.options] == [
        "All runs", "run-b · sim: a run elsewhere", facts.RUN_ID
    ]  # fmt: skip
    table = app.dataframe[0].value
    assert facts.LOST_ENV in set(table["env"])  # run-b's only episode
    assert len(table) == len(facts.OUTCOMES) + 1


def test_intervals_hold_their_rates_and_repeat(results_dir, facts):
    with ResultsStore.open(results_dir.store, create=False) as store:
        table, again = data.leaderboard(store, facts.RUN_ID), data.leaderboard(store, facts.RUN_ID)
    assert table.equals(again)  # the progress bootstrap is seeded
    assert (table["success_low"] <= table["success_rate"]).all()
    assert (table["success_rate"] <= table["success_high"]).all()
    assert (table["progress_low"] <= table["progress"]).all()
    assert (table["progress"] <= table["progress_high"]).all()
    pi0 = _cell(table, "pi0", facts.BUNDLED_ENV)
    assert (pi0["success_low"], pi0["success_high"]) == pytest.approx((0.3006, 0.9544), abs=1e-4)
    for key in data.SORT_KEYS:
        assert sorted(data.sort_leaderboard(table, key).index) == list(range(len(table)))


def test_a_diverged_episode_leaves_the_rates_and_is_counted(results_dir, facts):
    with ResultsStore.open(results_dir.store, create=False) as store:
        before = data.leaderboard(store, facts.RUN_ID)
        key = store.records(facts.RUN_ID, "pi0", facts.BUNDLED_ENV)[0].key
        diverged = EpisodeOutcome(False, 0.0, {}, 7, 1.0, 0.1, 0.1, "diverged", "diverged at 7")
        store.record_episode(EpisodeRecord(facts.RUN_ID, replace(key, seed=99), diverged))
        after = data.leaderboard(store, facts.RUN_ID)
    rates = ["episodes", "successes", "success_rate", "success_low", "progress", "progress_low"]
    assert after[rates].equals(before[rates])
    assert _cell(after, "pi0", facts.BUNDLED_ENV)["diverged"] == 1
    assert after["diverged"].sum() == 1 and after["errored"].sum() == 0
    assert _cell(data.leaderboard_display(after), "pi0", facts.BUNDLED_ENV)["diverged"] == 1
