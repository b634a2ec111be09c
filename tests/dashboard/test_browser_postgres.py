"""End to end in real headless Chromium over a PostgreSQL store: ``twinbench dashboard
--store postgresql://...`` shows the leaderboard the fixture's episodes give, and a job
submitted in the browser lands in the database, where a worker on any machine would find it."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluate.store import ResultsStore
from tests.dashboard.test_browser import (  # the Chromium fixture and page helpers
    CHROMIUM,
    _choose,
    _open,
    browser_page,  # noqa: F401
    serve,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"no Chromium at {CHROMIUM}"),
]


def test_leaderboard_and_submit_over_postgres(
    browser_page,  # noqa: F811
    postgres_url: str,
    results_dir,
    facts,
    tmp_path: Path,
):
    with ResultsStore.open(postgres_url) as store:
        facts._record_run(store)
    page = browser_page
    with serve(postgres_url, results_dir.envs, tmp_path / "dashboard.log") as dashboard:
        dashboard.wait_ready()
        page.goto(dashboard.url)
        page.get_by_role("heading", name="Leaderboard").wait_for()
        page.get_by_text(postgres_url).first.wait_for(state="attached")  # the sidebar names it
        _choose(page, "Run", facts.RUN_ID)
        page.get_by_text("0.30 – 0.95", exact=True).wait_for(state="attached")  # pi0: 3 of 4

        _open(page, "Submit")
        page.get_by_label("Policy server").fill("openpi://127.0.0.1:8777")
        _choose(page, "Environments", facts.BUNDLED_ENV)
        page.get_by_role("button", name="Submit job").click()
        page.get_by_text("Queued job-").wait_for()
    with ResultsStore.open(postgres_url, read_only=True) as store:
        (job,) = store.jobs()
    assert (job.policy_spec, job.envs, job.state) == (
        "openpi://127.0.0.1:8777", (facts.BUNDLED_ENV,), "queued"
    )  # fmt: skip
