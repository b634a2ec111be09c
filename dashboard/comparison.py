"""The Sim vs real page's data: real-world outcome files, saved correlate reports, and the
comparison itself, all through ``evaluate.correlation`` (the same loaders and metrics as
``twinbench correlate``). Saved reports and fidelity summaries are read as their documents'
models (:mod:`evaluate.documents`, :mod:`studies.fidelity.document`); a side's label is a
field of the report, never parsed out of a string."""

from __future__ import annotations

import dataclasses
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from dashboard.errors import DashboardError
from evaluate.correlation import (
    Agreement,
    BootstrapConfig,
    CorrelationReport,
    Quantity,
    RateTable,
    correlate,
    load_tables,
    read_outcomes_csv,
)
from evaluate.documents import (
    CorrelationReportDocument,
    Interval,
    Metrics,
    ReportSide,
)
from evaluate.errors import EvaluateError
from evaluate.report import METRIC_LABELS, short_name
from evaluate.store import StoreLocation
from studies.fidelity.document import FidelitySummary, TrialAgreement, World

REPORT_FILE = "report.json"


def find_files(store_dir: Path, pattern: str) -> list[Path]:
    """Files matching ``pattern`` in the store's directory and its direct subdirectories."""
    found = [*store_dir.glob(pattern), *store_dir.glob(f"*/{pattern}")]
    return sorted(path for path in found if path.is_file())


def sim_tables(store_path: StoreLocation, run_id: str | None) -> dict[Quantity, RateTable]:
    """The store's per-episode outcomes as rate tables (all runs, or one)."""
    return load_tables(store_path, run_ids=() if run_id is None else (run_id,))


def real_tables_from_upload(name: str, data: bytes) -> dict[Quantity, RateTable]:
    """Parse an uploaded outcomes CSV; errors and the tables name the upload, not a temp file.

    Raises:
        DashboardError: the file is not one of the correlate CSV shapes (file, line, column).
    """
    safe_name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name) or "upload.csv"
    with tempfile.TemporaryDirectory(prefix="twinbench-upload-") as tmp:
        path = Path(tmp) / safe_name
        path.write_bytes(data)
        try:
            tables = read_outcomes_csv(path)
        except EvaluateError as exc:
            raise DashboardError(exc.message, file=name, field=exc.field) from exc
    return {q: dataclasses.replace(table, source=name) for q, table in tables.items()}


def compare(
    sim: Mapping[Quantity, RateTable], real: Mapping[Quantity, RateTable], quantity: Quantity
) -> CorrelationReport:
    """Per-env and pooled agreement with bootstrap intervals (the CLI's defaults)."""
    if quantity not in sim or quantity not in real:
        raise DashboardError(f"{quantity} rates are missing on one side", field="quantity")
    return correlate(sim[quantity], real[quantity], quantity, BootstrapConfig())


def scopes(report: CorrelationReport) -> list[Agreement]:
    """Pooled first (the headline), then each environment."""
    return [*([report.pooled] if report.pooled else []), *report.per_env.values()]


def _with_interval(value: float, interval: Interval | None) -> str:
    return f"{value:.3f}" + (f" [{interval[0]:.2f}, {interval[1]:.2f}]" if interval else "")


def metrics_table(agreements: list[Agreement]) -> pd.DataFrame:
    """One row per scope: policy count, each metric with its interval, policies ranked differently."""
    rows = []
    for agreement in agreements:
        row: dict[str, object] = {"scope": agreement.scope, "policies": agreement.n_policies}
        for name, label in METRIC_LABELS.items():
            interval = None if agreement.intervals is None else agreement.intervals[name]
            row[label] = _with_interval(agreement.values[name], interval)
        row["rank differs"] = ", ".join(p.policy for p in agreement.points if p.rank_disagrees)
        rows.append(row)
    return pd.DataFrame(rows)


def points_table(agreement: Agreement) -> pd.DataFrame:
    """One row per policy: both rates with intervals, both ranks, and whether they disagree."""
    return pd.DataFrame(
        {
            "policy": [p.policy for p in agreement.points],
            "sim": [p.sim for p in agreement.points],
            "sim_low": [p.sim_interval[0] if p.sim_interval else p.sim for p in agreement.points],
            "sim_high": [p.sim_interval[1] if p.sim_interval else p.sim for p in agreement.points],
            "real": [p.real for p in agreement.points],
            "real_low": [
                p.real_interval[0] if p.real_interval else p.real for p in agreement.points
            ],
            "real_high": [
                p.real_interval[1] if p.real_interval else p.real for p in agreement.points
            ],
            "sim_rank": [p.sim_rank for p in agreement.points],
            "real_rank": [p.real_rank for p in agreement.points],
            "rank_differs": [p.rank_disagrees for p in agreement.points],
        }
    )


@dataclasses.dataclass(frozen=True)
class SavedReport:
    """A ``twinbench correlate`` report.json, with the directory its plots are in."""

    path: Path
    document: CorrelationReportDocument

    @property
    def real(self) -> ReportSide:
        return self.document.inputs.real

    @property
    def sim(self) -> ReportSide:
        return self.document.inputs.sim

    def quantities(self) -> list[str]:
        return list(self.document.results)

    def scope_rows(self, quantity: Quantity) -> pd.DataFrame:
        """The saved metrics of every scope for ``quantity``, formatted like :func:`metrics_table`."""
        rows = []
        for scope, entry in self.document.results[quantity].scopes():
            rows.append(
                {
                    "scope": scope,
                    "policies": entry.n_policies,
                    **_metric_cells(entry),
                    "rank differs": ", ".join(entry.flagged),
                }
            )
        return pd.DataFrame(rows)

    def plots(self, quantity: Quantity) -> list[Path]:
        """The report's scatter PNGs for ``quantity`` that exist next to it, pooled first."""
        paths = [self.path.parent / e.plot for _, e in self.document.results[quantity].scopes()]
        return [path for path in paths if path.is_file()]

    def notes(self, quantity: Quantity) -> list[str]:
        return list(self.document.results[quantity].notes)


def load_report(path: Path) -> SavedReport:
    """Read a report.json.

    Raises:
        EvaluateError: unreadable, of another schema version, or not a correlation report
            (naming the file and the field).
    """
    return SavedReport(path, CorrelationReportDocument.load(path))


def _metric_cells(metrics: Metrics) -> dict[str, str]:
    """Metric label -> 'value [low, high]'."""
    values = metrics.model_dump()
    cells = {}
    for name, label in METRIC_LABELS.items():
        interval = None if metrics.ci is None else getattr(metrics.ci, name)
        cells[label] = _with_interval(float(values[name]), interval)
    return cells


def excluded_text(side: ReportSide | World) -> str:
    """'2 diverged, 1 error episodes left out' or ''."""
    if not side.excluded:
        return ""
    counts = ", ".join(f"{n} {kind}" for kind, n in side.excluded.items())
    return f"{counts} episodes left out (not the policy's failure)"


FIDELITY_FILE = "fidelity.json"


@dataclasses.dataclass(frozen=True)
class SavedFidelity:
    """A ``twinbench fidelity`` fidelity.json: the twin (and ablation worlds, policy subsets)
    against the source world, which plays real."""

    path: Path
    summary: FidelitySummary

    @property
    def headline(self) -> str:
        """Twin vs source on success, with intervals and the goal's verdict, in one line."""
        summary, goal = self.summary, self.summary.goal
        parts = [f"{label} {value}" for label, value in _metric_cells(summary).items()]
        verdict = "met" if goal.met else f"not met ({goal.why or 'see the numbers'})"
        target = f"Pearson >= {goal.pearson}, MMRV <= {goal.mmrv}"
        return f"{' · '.join(parts)}. Goal ({target}): {verdict}."

    def comparisons_table(self, quantity: Quantity) -> pd.DataFrame:
        """One row per comparison: what it is, episodes, each metric with its interval."""
        rows = []
        for name, entry in self.summary.comparisons.items():
            metrics = entry.metrics(quantity)
            rows.append(
                {
                    "comparison": name,
                    "what": entry.description,
                    "episodes per policy": entry.episodes_per_policy,
                    "policies": metrics.n_policies,
                    **_metric_cells(metrics),
                    "rank differs": ", ".join(map(short_name, entry.rank_differs)),
                    **_trial_cells(entry.trials),
                }
            )
        return pd.DataFrame(rows)

    def rates_table(self, quantity: Quantity) -> pd.DataFrame:
        """One row per policy, one column per world: the rate with its interval."""
        rows = []
        for entry in self.summary.policies:
            row: dict[str, object] = {"policy": short_name(entry.policy)}
            for world in self.summary.worlds:
                if world in entry.worlds:
                    row[world] = _with_interval(*entry.worlds[world].rate(quantity))
            rows.append(row)
        return pd.DataFrame(rows)

    def excluded_lines(self) -> list[str]:
        """'WORLD: N diverged ... left out' for every world that left episodes out."""
        return [
            f"{name}: {excluded_text(world)}"
            for name, world in self.summary.worlds.items()
            if world.excluded
        ]

    @property
    def figure(self) -> Path | None:
        path = self.path.with_suffix(".png")
        return path if path.is_file() else None


def load_fidelity(path: Path) -> SavedFidelity:
    """Read a fidelity.json.

    Raises:
        EvaluateError: unreadable, of another schema version, or not a fidelity summary
            (naming the file and the field).
    """
    return SavedFidelity(path, FidelitySummary.load(path))


def _trial_cells(trials: TrialAgreement | None) -> dict[str, str]:
    """The comparison's trial-by-trial figures ('' in summaries made before they were)."""
    if trials is None:
        return {"trials agree": "", "median per-trial r": ""}
    r = "" if trials.median_r is None else f"{trials.median_r:.2f}"
    return {"trials agree": f"{trials.agreement:.2f}", "median per-trial r": r}
