"""The Sim vs real page: a CSV next to the store or uploaded, the same metrics as
``twinbench correlate``, ranks that disagree flagged, and a saved report shown with its label."""

from __future__ import annotations

import json

import pytest

from evaluate.correlation import BootstrapConfig, correlate, load_tables
from evaluate.documents import CorrelationReportDocument, file_label


def _metrics(app):
    """The live comparison's scope table (the first dataframe on the page)."""
    return app.dataframe[0].value.set_index("scope")


def test_preselected_csv_gives_the_correlate_numbers(page, dashboard_env, facts):
    app = page("sim_real")
    assert app.selectbox(key="sim_real_csv").value == facts.REAL_CSV
    assert any("Sim vs source world" in h.value for h in app.subheader)
    sim = load_tables(dashboard_env.store)["success"]
    real = load_tables(dashboard_env.root / facts.REAL_CSV)["success"]
    expected = correlate(sim, real, "success", BootstrapConfig())
    table = _metrics(app)
    assert list(table.index) == ["pooled", facts.BUNDLED_ENV, facts.USER_ENV]
    for scope, agreement in [("pooled", expected.pooled), *expected.per_env.items()]:
        pearson = table.loc[scope, "Pearson r"]
        assert pearson.startswith(f"{agreement.values['pearson']:.3f} [")
        low, high = agreement.intervals["mmrv"]
        assert table.loc[scope, "MMRV"] == f"{agreement.values['mmrv']:.3f} [{low:.2f}, {high:.2f}]"
        assert "Spearman" in table.columns
    # octo and scripted swap places in the real world, in the bundled env only
    assert table.loc[facts.BUNDLED_ENV, "rank differs"] == "octo, scripted"
    assert table.loc[facts.USER_ENV, "rank differs"] == ""
    env_points = app.dataframe[2].value.set_index("policy")  # the bundled env's tab
    assert env_points["rank_differs"].to_dict() == {"octo": True, "pi0": False, "scripted": True}


def test_saved_report_is_labelled_by_its_source(page):
    app = page("sim_real")
    assert any("**Plays real:** source world" in m.value for m in app.markdown)
    saved = app.dataframe[-1].value.set_index("scope")
    assert saved.loc["pooled", "policies"] == 3
    assert len(app.image[0].value) == 3  # pooled + two envs


@pytest.mark.parametrize(
    ("source", "label"),
    [("source_world.csv", "source world"), ("/data/lab-bench.csv", "lab bench"), ("", "real")],
)
def test_a_file_is_labelled_by_its_name(source, label):
    assert file_label(source) == label


def test_a_saved_report_is_labelled_by_its_field_not_its_source(page, dashboard_env):
    """The label is what the writer recorded; parentheses in a source are just text."""
    path = dashboard_env.root / "correlation" / "report.json"
    document = CorrelationReportDocument.load(path)
    real = document.inputs.real.model_copy(
        update={"source": "runs/x.sqlite run 1 (not a label)", "label": "the lab's arm"}
    )
    inputs = document.inputs.model_copy(update={"real": real})
    document.model_copy(update={"inputs": inputs}).write(path)
    app = page("sim_real")
    assert any("**Plays real:** the lab's arm" in m.value for m in app.markdown)
    assert any("runs/x.sqlite run 1 (not a label)" in c.value for c in app.caption)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda doc: doc.pop("schema_version"), "schema_version"),
        (lambda doc: doc.update(schema_version=0), "schema_version"),
        (lambda doc: doc["inputs"]["real"].pop("label"), "inputs.real.label"),
    ],
    ids=["unversioned", "old-version", "no-label"],
)
def test_an_old_or_malformed_report_is_a_one_line_warning(page, dashboard_env, change, field):
    path = dashboard_env.root / "correlation" / "report.json"
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))
    app = page("sim_real")
    (warning,) = [w.value for w in app.warning]
    assert warning.startswith(f"Cannot show correlation/report.json: {path}: {field}: ")
    assert "\n" not in warning


def test_uploaded_csv_is_used_and_named(page, facts):
    app = page("sim_real")
    rows = ["policy,env,success_rate"]
    rows += [f"{p},{e},{k / n}" for (p, e), (k, n) in facts.REAL_COUNTS.items()]
    upload = ("lab_bench.csv", "\n".join(rows).encode(), "text/csv")
    app.file_uploader(key="sim_real_upload").set_value(upload).run()
    assert not app.exception
    assert any("Sim vs lab bench" in h.value for h in app.subheader)
    assert _metrics(app).loc[facts.BUNDLED_ENV, "rank differs"] == "octo, scripted"


@pytest.mark.parametrize(
    "content",
    [b"policy,env,success_rate\npi0,primitive_cube_bowl,1.7\n", b"\xff\xfe\x00garbage\x00\x01"],
    ids=["rate-out-of-range", "binary"],
)
def test_corrupt_upload_is_a_message(page, dashboard_env, facts, content):
    (dashboard_env.root / facts.REAL_CSV).unlink()  # nothing to compare before the upload
    app = page("sim_real")
    app.file_uploader(key="sim_real_upload").set_value(("bad.csv", content, "text/csv")).run()
    assert not app.exception
    assert any("Cannot use these real-world results: bad.csv" in e.value for e in app.error)


def test_no_csv_anywhere_asks_for_one(page, dashboard_env, facts):
    (dashboard_env.root / facts.REAL_CSV).unlink()
    app = page("sim_real")
    assert any("Choose or upload" in i.value for i in app.info)


def _write_estimate(root):
    """A ``twinbench estimate`` report of two synthetic policies in ROOT/estimate."""
    import numpy as np

    from evaluate.documents import ReportSide, ReportSides
    from evaluate.estimate import PairedCell, compare, estimate
    from evaluate.estimate.document import EstimateDocument
    from evaluate.estimate.report import write_estimate_report
    from evaluate.estimate.synthetic import Scenario

    rng = np.random.default_rng(0)
    estimates = []
    for policy, offset in (("good", 2.0), ("bad", -2.0)):
        t = Scenario(0.9, offset, offset).draw(1, 12, 100, rng)
        cell = PairedCell(policy, "table", t.real[0], t.paired[0], t.twin[0], 112)
        estimates.append(estimate(cell, 0.9))
    document = EstimateDocument.build(
        version="test",
        inputs=ReportSides(sim=ReportSide.of("twin.csv"), real=ReportSide.of("real.csv")),
        confidence=0.9,
        family="finite-sample",
        estimates=estimates,
        pairs=compare(estimates, 0.9, "finite-sample"),
        plans=None,
        notes=[],
    )
    write_estimate_report(root / "estimate", document)
    return document


def test_a_saved_estimate_is_shown_with_its_intervals_drawn(page, dashboard_env):
    """A ``twinbench estimate`` report next to the store: the same numbers, and a picture."""
    document = _write_estimate(dashboard_env.root)
    app = page("sim_real")
    assert any("a few real trials plus the twin" in h.value for h in app.subheader)
    shown = app.dataframe[-2].value.set_index("policy")
    for cell in document.policies:
        ppi = cell.ppi_betting
        assert (
            shown.loc[cell.policy, "PPI"] == f"{ppi.estimate:.2f} [{ppi.low:.2f}, {ppi.high:.2f}]"
        )
        assert shown.loc[cell.policy, "real trials"] == 12
    assert len(app.image) == 2  # the saved correlate report's plots, then the interval picture
    pairs = app.dataframe[-1].value
    assert list(pairs["better"]) == ["good"]


@pytest.mark.slow
def test_the_estimate_intervals_draw_in_chromium(results_dir, tmp_path):
    """The page in headless Chromium: the estimate section and its picture load."""
    from tests.dashboard.test_browser import (
        CHROMIUM,
        CHROMIUM_ARGS,
        WAIT_MS,
        _open,
        _settle,
        serve,
    )

    if not CHROMIUM.is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    _write_estimate(results_dir.root)
    with (
        serve(results_dir.store, results_dir.envs, tmp_path / "dashboard.log") as dashboard,
        sync_playwright() as playwright,
    ):
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1400, "height": 2400},
        )  # fmt: skip
        context.set_default_timeout(WAIT_MS)
        try:
            page = context.new_page()
            dashboard.wait_ready()
            page.goto(dashboard.url)
            page.get_by_role("heading", name="Leaderboard").wait_for()
            _open(page, "Sim vs real")
            heading = page.get_by_text("Real success rates: a few real trials plus the twin")
            heading.wait_for()
            _settle(page)
            picture = page.locator('[data-testid="stImage"] img').last
            picture.scroll_into_view_if_needed()
            page.wait_for_function(
                "() => [...document.querySelectorAll('[data-testid=\"stImage\"] img')]"
                ".every(i => i.complete && i.naturalWidth > 0)",
                timeout=WAIT_MS,
            )
            assert picture.bounding_box()["height"] > 100
        finally:
            context.close()
