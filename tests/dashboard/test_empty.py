"""No store, an empty store or a file that is not a store: every page says so, never a
traceback; submitting a job creates the store."""

from __future__ import annotations

import pytest

from dashboard.settings import STORE_ENV_VAR
from evaluate.store import ResultsStore
from sim_env.registry import list_envs

RESULT_PAGES = ("leaderboard", "sim_real", "episodes")
ALL_PAGES = (*RESULT_PAGES, "environments", "submit")


@pytest.fixture
def store_path(tmp_path, monkeypatch):
    path = tmp_path / "results" / "results.sqlite"
    monkeypatch.setenv(STORE_ENV_VAR, str(path))
    monkeypatch.setenv("TWINBENCH_ENV_PATH", str(tmp_path / "no-envs"))
    return path


def _messages(app) -> str:
    return " ".join(e.value for kind in ("info", "warning", "error") for e in getattr(app, kind))


@pytest.mark.parametrize("view", ALL_PAGES)
def test_missing_store(open_page, store_path, view):
    app = open_page(view)
    if view in RESULT_PAGES:
        assert f"No results store at `{store_path}` yet" in _messages(app)
    elif view == "submit":
        assert "No jobs yet: there is no results store" in _messages(app)
    else:
        assert [h.value for h in app.subheader] == [e.id for e in list_envs() if e.bundled]
    assert not store_path.exists()  # reading never creates it


@pytest.mark.parametrize("view", [*RESULT_PAGES, "submit"])
def test_empty_store(open_page, store_path, view):
    ResultsStore.open(store_path).close()
    expected = "No jobs yet." if view == "submit" else "holds no episodes yet"
    assert expected in _messages(open_page(view))


@pytest.mark.parametrize("view", ALL_PAGES)
def test_not_a_store(open_page, store_path, view):
    store_path.parent.mkdir(parents=True)
    store_path.write_bytes(b"this is not SQLite" * 100)
    app = open_page(view)
    assert "not a readable SQLite database" in _messages(app)


def test_first_submission_creates_the_store(open_page, store_path):
    app = open_page("submit")
    app.text_input(key="submit_address").input("openpi://127.0.0.1:8000")
    app.multiselect(key="submit_envs").set_value(["primitive_cube_bowl"])
    app.button[0].click().run()
    assert not app.error
    with ResultsStore.open(store_path, create=False) as store:
        assert [job.state for job in store.jobs()] == ["queued"]
