"""The dashboard over a PostgreSQL store (``twinbench dashboard --store postgresql://...``):
the data layer reads what it reads from the SQLite fixture, and a page shows it with the
URL's password nowhere on it."""

from __future__ import annotations

from types import ModuleType

import pandas as pd
import pytest

from dashboard import data
from dashboard.settings import STORE_ENV_VAR, DashboardSettings
from evaluate.store import ResultsStore

SECRET = "pw-never-shown"


@pytest.fixture
def postgres_results(postgres_url: str, facts: ModuleType) -> str:
    """The dashboard fixture's runs, episodes and job, recorded into a PostgreSQL store."""
    with ResultsStore.open(postgres_url) as store:
        facts._record_run(store)
        store.submit_job("openpi://127.0.0.1:8000", [facts.BUNDLED_ENV], 4)
    return postgres_url


def test_the_data_layer_reads_the_same_as_from_sqlite(postgres_results, results_dir, facts):
    with (
        ResultsStore.open(postgres_results, read_only=True) as postgres,
        ResultsStore.open(results_dir.store, read_only=True) as sqlite,
    ):
        for run_id in (facts.RUN_ID, None):
            pd.testing.assert_frame_equal(
                data.leaderboard(postgres, run_id), data.leaderboard(sqlite, run_id)
            )
        assert data.env_ids_in_store(postgres) == data.env_ids_in_store(sqlite)
        jobs = [
            data.jobs_table(store).drop(columns=["job", "submitted"])
            for store in (postgres, sqlite)
        ]
        pd.testing.assert_frame_equal(*jobs)
        episodes = [store.episodes().drop(columns=["created"]) for store in (postgres, sqlite)]
        pd.testing.assert_frame_equal(*episodes)


def test_the_leaderboard_page_over_postgres(
    postgres_results, results_dir, facts, monkeypatch, open_page
):
    monkeypatch.setenv(
        STORE_ENV_VAR, postgres_results.replace("twinbench@", f"twinbench:{SECRET}@")
    )
    monkeypatch.setenv("TWINBENCH_ENV_PATH", str(results_dir.envs))
    settings = DashboardSettings.from_env()
    assert str(settings.store_path) == postgres_results and settings.has_store
    app = open_page("leaderboard")
    app.selectbox(key="leaderboard_run").set_value(facts.RUN_ID).run()
    table = app.dataframe[0].value
    assert len(table) == len(facts.OUTCOMES)
    assert sorted(table["successes"]) == sorted(sum(o) for o in facts.OUTCOMES.values())
    shown = [element.value for element in (*app.caption, *app.sidebar.caption, *app.markdown)]
    assert any(postgres_results in text for text in shown)
    assert not any(SECRET in str(text) for text in shown)
