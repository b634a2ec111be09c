"""The committed fidelity result (benchmarks/fidelity/run, the full run's directory) is what
benchmarks/fidelity.json says, the second world's (benchmarks/fidelity/kitchen-full) is its
whole ladder (three groups of five), and the dashboard's Sim vs real page shows both."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.comparison import find_files, load_report
from dashboard.settings import STORE_ENV_VAR
from studies.fidelity.document import FidelitySummary
from studies.fidelity.summary import GOAL

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "benchmarks" / "fidelity" / "run"
APP = ROOT / "dashboard" / "app.py"


def test_committed_summary_is_the_runs_and_meets_the_issues_bar() -> None:
    summary = FidelitySummary.load(ROOT / "benchmarks" / "fidelity.json")
    assert summary == FidelitySummary.load(RUN / "fidelity.json")
    assert summary.n_policies >= 5 and summary.episodes_per_policy >= 30
    assert summary.provenance.command.startswith("twinbench fidelity --source tabletop_source")
    assert {"twin", "twin-meshes", "source-geometry"} <= set(summary.comparisons)
    met = summary.pearson >= GOAL["pearson"] and summary.mmrv <= GOAL["mmrv"]
    assert summary.goal.met == met
    assert (ROOT / "benchmarks" / "fidelity.png").stat().st_size > 0


def test_committed_reports_load_with_their_labels() -> None:
    reports = [load_report(path) for path in find_files(RUN, "report.json")]
    assert len(reports) == 6  # the twin, two ablation worlds, three policy groups
    for saved in reports:
        assert saved.real.label == "source world tabletop_source, playing real"
        assert saved.sim.label and "(" not in saved.sim.source
        assert saved.scope_rows("success").loc[0, "policies"] >= 5


def test_committed_kitchen_run_is_the_whole_ladder() -> None:
    kitchen = RUN.with_name("kitchen-full")
    summary = FidelitySummary.load(kitchen / "fidelity.json")
    assert summary.n_policies == 15 and summary.episodes_per_policy == 30
    assert summary.provenance.command.startswith("twinbench fidelity --source kitchen_source")
    groups = {"subset:source-only", "subset:with-twin-data", "subset:source-only-augmented"}
    assert {"twin", *groups} <= set(summary.comparisons)
    met = summary.pearson >= GOAL["pearson"] and summary.mmrv <= GOAL["mmrv"]
    assert summary.goal.met == met
    reports = [load_report(path) for path in find_files(kitchen, "report.json")]
    assert reports and all(
        r.real.label == "source world kitchen_source, playing real" for r in reports
    )


@pytest.mark.parametrize("committed", [RUN, RUN.with_name("kitchen-full")], ids=lambda p: p.name)
def test_dashboard_shows_the_committed_result(committed: Path, tmp_path, monkeypatch) -> None:
    run = shutil.copytree(committed, tmp_path / "run")  # opening a store writes its WAL files
    summary = FidelitySummary.load(run / "fidelity.json")
    monkeypatch.setenv(STORE_ENV_VAR, str(run / "results.sqlite"))
    app = AppTest.from_file(str(APP), default_timeout=60)
    app.switch_page("views/sim_real.py").run()
    assert not app.exception, [e.message for e in app.exception]
    assert "Twin fidelity: the source world plays real" in [h.value for h in app.subheader]
    assert any(f"Pearson r {summary.pearson:.3f}" in m.value for m in app.markdown)
    comparisons = app.dataframe[0].value.set_index("comparison")
    assert list(comparisons.index) == list(summary.comparisons)
    with_twin = summary.comparisons["subset:with-twin-data"].success
    assert comparisons.loc["subset:with-twin-data", "Pearson r"].startswith(
        f"{with_twin.pearson:.3f} ["
    )
    rates = app.dataframe[1].value
    assert len(rates) == summary.n_policies and "source" in rates.columns
    assert app.image  # the figure
