"""The Sim vs real page's data: real-world outcome files, saved correlate reports, and the
comparison itself, all through ``evaluate.correlation`` (the same loaders and metrics as
``twinbench correlate``)."""

from __future__ import annotations

import dataclasses
import json
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from dashboard.errors import DashboardError
from evaluate.correlation import (
    POOLED,
    Agreement,
    BootstrapConfig,
    CorrelationReport,
    Quantity,
    RateTable,
    correlate,
    load_tables,
    read_outcomes_csv,
)
from evaluate.errors import EvaluateError
from evaluate.report import METRIC_LABELS
from studies.fidelity.summary import short_name

REPORT_FILE = "report.json"


def find_files(store_dir: Path, pattern: str) -> list[Path]:
    """Files matching ``pattern`` in the store's directory and its direct subdirectories."""
    found = [*store_dir.glob(pattern), *store_dir.glob(f"*/{pattern}")]
    return sorted(path for path in found if path.is_file())


def side_label(source: str) -> str:
    """What to call a side, from where its outcomes came from.

    A source that describes itself in trailing parentheses (``twinbench demo`` records
    ``STORE run ID (NOT A REAL ROBOT: ...)``) is called by that description; a file
    by its name (``source_world.csv`` -> ``source world``).
    """
    described = re.search(r"\((.+)\)\s*$", source)
    if described:
        return described.group(1).strip()
    stem = Path(source).stem if source else ""
    return re.sub(r"[_\-\s]+", " ", stem).strip() or "real"


def sim_tables(store_path: Path, run_id: str | None) -> dict[Quantity, RateTable]:
    """The store's per-episode outcomes as rate tables (all runs, or one)."""
    return load_tables(store_path, run_id=run_id)


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


def _with_interval(value: float, interval: tuple[float, float] | None) -> str:
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
    document: Mapping[str, Any]

    @property
    def real_label(self) -> str:
        return side_label(str(self.inputs.get("real", "")))

    @property
    def sim_label(self) -> str:
        return side_label(str(self.inputs.get("sim", "")))

    @property
    def inputs(self) -> Mapping[str, Any]:
        inputs = self.document.get("inputs")
        return inputs if isinstance(inputs, Mapping) else {}

    def quantities(self) -> list[str]:
        results = self.document.get("results")
        return list(results) if isinstance(results, Mapping) else []

    def scope_rows(self, quantity: str) -> pd.DataFrame:
        """The saved metrics of every scope for ``quantity``, formatted like :func:`metrics_table`."""
        result = self.document["results"][quantity]
        entries = [*result.get("per_env", {}).items()]
        if result.get("pooled"):
            entries.insert(0, (POOLED, result["pooled"]))
        rows = []
        for scope, entry in entries:
            ci = entry.get("ci") or {}
            row: dict[str, object] = {"scope": scope, "policies": entry.get("n_policies")}
            for name, label in METRIC_LABELS.items():
                if name in entry:
                    interval = ci.get(name)
                    row[label] = _with_interval(
                        float(entry[name]), tuple(interval) if interval else None
                    )
            row["rank differs"] = ", ".join(entry.get("flagged", []))
            rows.append(row)
        return pd.DataFrame(rows)

    def plots(self, quantity: str) -> list[Path]:
        """The report's scatter PNGs for ``quantity`` that exist next to it, pooled first."""
        result = self.document["results"][quantity]
        entries = [result.get("pooled") or {}, *result.get("per_env", {}).values()]
        names = [entry.get("plot") for entry in entries if isinstance(entry, Mapping)]
        paths = [self.path.parent / name for name in names if isinstance(name, str)]
        return [path for path in paths if path.is_file()]

    def notes(self, quantity: str) -> list[str]:
        return [str(note) for note in self.document["results"][quantity].get("notes", [])]


def load_report(path: Path) -> SavedReport:
    """Read a report.json, refusing anything that is not a correlate report.

    Raises:
        DashboardError: unreadable JSON, or no ``results`` mapping in it.
    """
    return SavedReport(path, _json_document(path, "results", "twinbench correlate report"))


def _json_document(path: Path, key: str, what: str) -> Mapping[str, Any]:
    """The JSON mapping in ``path``, which must hold a mapping under ``key``."""
    try:
        document = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DashboardError(f"not readable JSON ({exc})", file=path) from exc
    if not isinstance(document, Mapping) or not isinstance(document.get(key), Mapping):
        raise DashboardError(f"not a {what} (no {key!r})", file=path)
    return document


FIDELITY_FILE = "fidelity.json"


@dataclasses.dataclass(frozen=True)
class FidelitySummary:
    """A ``twinbench fidelity`` fidelity.json: the twin (and ablation worlds, policy subsets)
    against the source world, which plays real."""

    path: Path
    document: Mapping[str, Any]

    @property
    def headline(self) -> str:
        """Twin vs source on success, with intervals and the goal's verdict, in one line."""
        doc = self.document
        ci = doc.get("ci") or {}
        parts = [
            f"{label} {_with_interval(float(doc[name]), tuple(ci[name]) if ci.get(name) else None)}"
            for name, label in METRIC_LABELS.items()
            if name in doc
        ]
        goal = doc.get("goal") or {}
        verdict = "met" if goal.get("met") else f"not met ({goal.get('why', 'see the numbers')})"
        target = f"Pearson >= {goal.get('pearson', '?')}, MMRV <= {goal.get('mmrv', '?')}"
        return f"{' · '.join(parts)}. Goal ({target}): {verdict}."

    def comparisons_table(self, quantity: str) -> pd.DataFrame:
        """One row per comparison: what it is, episodes, each metric with its interval."""
        rows = []
        for name, entry in (self.document.get("comparisons") or {}).items():
            values = entry.get(quantity) or {}
            ci = values.get("ci") or {}
            row: dict[str, object] = {
                "comparison": name,
                "what": entry.get("description", ""),
                "episodes per policy": entry.get("episodes_per_policy"),
                "policies": values.get("n_policies"),
            }
            for metric, label in METRIC_LABELS.items():
                if metric in values:
                    interval = ci.get(metric)
                    row[label] = _with_interval(
                        float(values[metric]), tuple(interval) if interval else None
                    )
            row["rank differs"] = ", ".join(map(short_name, entry.get("rank_differs", [])))
            rows.append(row)
        return pd.DataFrame(rows)

    def rates_table(self, quantity: str) -> pd.DataFrame:
        """One row per policy, one column per world: the rate with its interval."""
        worlds = list(self.document.get("worlds") or {})
        rows = []
        for entry in self.document.get("policies") or []:
            policy = str(entry.get("policy", ""))
            row: dict[str, object] = {"policy": short_name(policy)}
            for world in worlds:
                cell = entry.get(world)
                if isinstance(cell, Mapping) and quantity in cell:
                    interval = cell.get(f"{quantity}_ci")
                    row[world] = _with_interval(
                        float(cell[quantity]), tuple(interval) if interval else None
                    )
            rows.append(row)
        return pd.DataFrame(rows)

    @property
    def figure(self) -> Path | None:
        path = self.path.with_suffix(".png")
        return path if path.is_file() else None


def load_fidelity(path: Path) -> FidelitySummary:
    """Read a fidelity.json.

    Raises:
        DashboardError: unreadable JSON, or no ``comparisons`` mapping in it.
    """
    return FidelitySummary(path, _json_document(path, "comparisons", "twinbench fidelity summary"))
