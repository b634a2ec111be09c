"""Sim vs real page: does the simulator rank policies the way the real world does?

A ``twinbench fidelity`` summary next to the store leads (its source world plays real). The
real side of the live comparison is an outcomes CSV (any ``twinbench correlate`` shape) found
next to the store or uploaded; a saved ``twinbench correlate`` report.json next to the store
is shown as well, and so is a saved ``twinbench estimate`` report (estimate.json): each
policy's real success rate with its real-only and PPI intervals, drawn as in the report.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import charts, comparison, ui
from dashboard.settings import DashboardSettings
from evaluate.correlation import QUANTITIES, Quantity, RateTable, load_tables
from evaluate.correlation.inputs import CSV_SHAPES
from evaluate.documents import file_label
from evaluate.estimate.document import EstimateDocument
from evaluate.estimate.report import REPORT_FILE as ESTIMATE_FILE
from evaluate.estimate.report import envs, interval_figure
from twinbench.errors import TwinbenchError

MAX_CSV_MB = 20
_FLAGGED = "background-color: #fde2e1"
_POINT_FORMATS = {
    **dict.fromkeys(["sim", "sim_low", "sim_high", "real", "real_low", "real_high"], "{:.3f}"),
    **dict.fromkeys(["sim_rank", "real_rank"], "{:g}"),
}


def render(settings: DashboardSettings) -> None:
    st.title("Sim vs real")
    with ui.open_store(settings) as store:
        ui.stop_if_no_episodes(store)
        run_id = ui.pick_run(store.runs(), key="sim_real_run")
    _fidelity(settings.store_dir)
    _live_comparison(settings, run_id)
    _saved_reports(settings.store_dir)
    _saved_estimates(settings.store_dir)


def _real_side(store_dir: Path) -> tuple[str, dict[Quantity, RateTable]] | None:
    """The chosen or uploaded real-world outcomes and what to call them, or None (explained)."""
    found = [str(path.relative_to(store_dir)) for path in comparison.find_files(store_dir, "*.csv")]
    left, right = st.columns(2)
    choice = left.selectbox(
        "Real-world results next to the store",
        found,
        index=0 if found else None,
        placeholder="no CSV found next to the store",
        key="sim_real_csv",
    )
    upload = right.file_uploader(
        "…or upload a CSV", type=["csv"], max_upload_size=MAX_CSV_MB, key="sim_real_upload"
    )
    st.caption(f"Accepted CSV columns: `{CSV_SHAPES}`")
    try:
        if upload is not None:
            tables = comparison.real_tables_from_upload(upload.name, upload.getvalue())
            return file_label(upload.name), tables
        if choice:
            return file_label(choice), load_tables(store_dir / choice)
    except TwinbenchError as exc:
        st.error(f"Cannot use these real-world results: {exc}")
        return None
    st.info("Choose or upload real-world outcomes to compare the simulator against.")
    return None


def _live_comparison(settings: DashboardSettings, run_id: str | None) -> None:
    real = _real_side(settings.store_dir)
    if real is None:
        return
    label, real_tables = real
    try:
        sim_tables = comparison.sim_tables(settings.store_path, run_id)
        shared = [q for q in QUANTITIES if q in sim_tables and q in real_tables]
        quantity = st.radio("Rate", shared, horizontal=True, key="sim_real_quantity")
        report = comparison.compare(sim_tables, real_tables, quantity)
    except TwinbenchError as exc:
        st.error(f"Cannot compare: {exc}")
        return
    st.subheader(f"Sim vs {label}: {quantity} rates")
    agreements = comparison.scopes(report)
    st.dataframe(comparison.metrics_table(agreements), hide_index=True)
    st.caption(
        "95% bootstrap intervals over episodes. MMRV: lower is better. Policies whose sim and "
        f"{label} ranks differ are red."
    )
    for note in report.notes:
        st.caption(f"Note: {note}")
    for tab, agreement in zip(st.tabs([a.scope for a in agreements]), agreements, strict=True):
        points = comparison.points_table(agreement)
        tab.altair_chart(charts.sim_real_scatter(points, quantity, label), width="stretch")
        tab.dataframe(
            points.style.apply(_highlight_flagged, axis=1).format(_POINT_FORMATS),
            hide_index=True,
            column_config={
                "real": label,
                "real_low": f"{label} low",
                "real_high": f"{label} high",
                "real_rank": f"{label} rank",
            },
        )


def _highlight_flagged(row: pd.Series) -> list[str]:
    return [_FLAGGED if row["rank_differs"] else ""] * len(row)


def _pick_saved(store_dir: Path, filename: str, title: str, label: str) -> str | None:
    """Under a titled divider, the saved ``filename`` chosen among those next to the store
    (relative to it); None, and nothing shown, when there is none."""
    paths = comparison.find_files(store_dir, filename)
    if not paths:
        return None
    st.divider()
    st.subheader(title)
    names = [str(path.relative_to(store_dir)) for path in paths]
    key = f"sim_real_{label.lower()}"
    return st.selectbox(label, names, key=key) if len(names) > 1 else names[0]


def _saved_reports(store_dir: Path) -> None:
    """A ``twinbench correlate`` report next to the store, with its real side named as saved."""
    name = _pick_saved(store_dir, comparison.REPORT_FILE, "Saved correlate report", "Report")
    if name is None:
        return
    try:
        saved = comparison.load_report(store_dir / name)
        quantities = saved.quantities()
        quantity = st.radio("Saved rate", quantities, horizontal=True, key="sim_real_saved_q")
        rows = saved.scope_rows(quantity)
    except TwinbenchError as exc:
        st.warning(f"Cannot show {name}: {exc}")
        return
    st.markdown(f"**Plays real:** {saved.real.label}  \n**Sim:** {saved.sim.label}")
    st.caption(f"inputs: real `{saved.real.source}` · sim `{saved.sim.source}`")
    for role, side in (("real", saved.real), ("sim", saved.sim)):
        if side.excluded:
            st.caption(f"{role}: {comparison.excluded_text(side)}")
    st.dataframe(rows, hide_index=True)
    for note in saved.notes(quantity):
        st.caption(f"Note: {note}")
    plots = saved.plots(quantity)
    if plots:
        st.image(
            [str(path) for path in plots],
            caption=[f"{path.name} (x axis: the side that plays real)" for path in plots],
            width=360,
        )


def _saved_estimates(store_dir: Path) -> None:
    """A ``twinbench estimate`` report next to the store: real rates from few real trials."""
    title = "Real success rates: a few real trials plus the twin"
    name = _pick_saved(store_dir, ESTIMATE_FILE, title, "Estimate")
    if name is None:
        return
    try:
        document = EstimateDocument.load(store_dir / name)
    except TwinbenchError as exc:
        st.warning(f"Cannot show {name}: {exc}")
        return
    family = document.family
    st.caption(
        f"{document.confidence:.0%} intervals; table and differences: the {family} family. "
        f"Real `{document.inputs.real.source}` · twin `{document.inputs.sim.source}`"
    )
    rows = []
    for cell in document.policies:
        real, ppi = cell.real_only(family), cell.ppi(family)
        rows.append(
            {
                "policy": cell.policy,
                "env": cell.env,
                "real trials": cell.n_real,
                "twin trials": cell.n_sim,
                "real only": f"{real.estimate:.2f} [{real.low:.2f}, {real.high:.2f}]",
                "PPI": f"{ppi.estimate:.2f} [{ppi.low:.2f}, {ppi.high:.2f}]",
                "real trials saved": cell.real_trials_saved[family],
            }
        )
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    for env, cells in envs(document).items():
        st.pyplot(interval_figure(cells, env, document.confidence))
    if document.pairs:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "env": p.env,
                        "better": p.better,
                        "worse": p.worse,
                        "difference": f"{p.difference:+.2f} [{p.low:+.2f}, {p.high:+.2f}]",
                        "settled": p.settled,
                    }
                    for p in document.pairs
                ]
            ),
            hide_index=True,
        )
    for note in document.notes:
        st.caption(f"Note: {note}")


def _fidelity(store_dir: Path) -> None:
    """The fidelity summary next to the store: the twin, ablations and subsets vs the source."""
    paths = comparison.find_files(store_dir, comparison.FIDELITY_FILE)
    if not paths:
        return
    try:
        summary = comparison.load_fidelity(paths[0])
    except TwinbenchError as exc:
        st.warning(f"Cannot show {paths[0].name}: {exc}")
        return
    st.subheader("Twin fidelity: the source world plays real")
    st.markdown(
        "Every policy was evaluated in the scanned **source world** (it plays real: not a real "
        "robot) and in its reconstructed **twin**, on the same initial conditions.  \n"
        f"**Twin vs source world, success:** {summary.headline}"
    )
    quantity = st.radio("Fidelity rate", QUANTITIES, horizontal=True, key="fidelity_quantity")
    st.dataframe(summary.comparisons_table(quantity), hide_index=True)
    st.dataframe(summary.rates_table(quantity), hide_index=True)
    for line in summary.excluded_lines():
        st.caption(line)
    if summary.figure is not None:
        st.image(str(summary.figure), caption="x axis: the source world (plays real)")
    if summary.summary.provenance.command:
        st.caption(f"Produced by `{summary.summary.provenance.command}`")
    st.divider()


if __name__ == "__main__":
    render(DashboardSettings.from_env())
