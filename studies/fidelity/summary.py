"""The fidelity result as data and as one figure: every world's per-policy rates with
bootstrap intervals, and every comparison's agreement with the source world, gathered into
the ``fidelity.json`` document (:class:`studies.fidelity.document.FidelitySummary`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from evaluate.correlation import (
    QUANTITIES,
    Agreement,
    BootstrapConfig,
    CorrelationReport,
    Quantity,
    RateTable,
)
from evaluate.correlation.bootstrap import percentile_interval, resample_rates
from evaluate.documents import Metrics
from evaluate.report import draw_scatter
from studies.fidelity.document import (
    ComparisonEntry,
    FidelitySummary,
    Goal,
    PolicyRates,
    Provenance,
    Rates,
    TrialAgreement,
    World,
)
from studies.fidelity.sides import SideRun

GOAL = {"pearson": 0.95, "mmrv": 0.02}  # Pearson at least, MMRV at most
HEADLINE = "twin"


@dataclass(frozen=True)
class Comparison:
    """One world (or a subset of policies) against the source world.

    Attributes:
        name: ``twin``, an ablation's name, or ``subset:NAME``.
        description: what is compared, in words.
        sim: the world compared against the source (which plays real).
        reports: per quantity, the agreement (one scope: the comparison's task).
        report: the report directory's report.json.
        trials: the world against the source episode by episode (``studies.fidelity.trials``).
    """

    name: str
    description: str
    sim: SideRun
    reports: Mapping[Quantity, CorrelationReport]
    report: Path
    trials: TrialAgreement

    def agreement(self, quantity: Quantity) -> Agreement:
        (agreement,) = self.reports[quantity].per_env.values()
        return agreement


def world_rates(
    tables: Mapping[Quantity, RateTable], bootstrap: BootstrapConfig
) -> dict[str, Rates]:
    """Policy -> episodes that count, each quantity's rate with its percentile interval, and
    the episodes left out (diverged, errored)."""
    rng = np.random.default_rng(bootstrap.seed)
    fields: dict[str, dict[str, object]] = {}
    for quantity in QUANTITIES:
        for (policy, _), cell in sorted(tables[quantity].cells.items()):
            draws = resample_rates(cell, bootstrap.n_resamples, rng)
            low, high = percentile_interval(draws, bootstrap.level)
            entry = fields.setdefault(policy, {"excluded": {}})
            entry["episodes"] = 0 if cell.samples is None else int(cell.samples.shape[0])
            entry[quantity] = cell.rate
            entry[f"{quantity}_ci"] = (float(low), float(high))
    for (policy, _), counts in tables["success"].excluded.items():
        if policy in fields:
            excluded = fields[policy]["excluded"]
            for kind, n in counts.items():
                excluded[kind] = excluded.get(kind, 0) + n  # type: ignore[index, union-attr]
    return {policy: Rates.model_validate(entry) for policy, entry in fields.items()}


def summarize(
    comparisons: Sequence[Comparison],
    worlds: Mapping[str, SideRun],
    rates: Mapping[str, Mapping[str, Rates]],
    episodes: int,
    skipped: Mapping[str, str],
    provenance: Provenance,
) -> FidelitySummary:
    """The fidelity.json document.

    Args:
        rates: world name -> :func:`world_rates` of that world.
        skipped: ablation name -> why it could not be built.
    """
    by_name = {c.name: c for c in comparisons}
    headline = by_name[HEADLINE].agreement("success")
    head = Metrics.of(headline)
    policies = sorted({policy for world in rates.values() for policy in world})
    return FidelitySummary(
        **dict(head),
        episodes_per_policy=episodes,
        quantity="success",
        goal=Goal(**GOAL, **goal_verdict(headline)),
        comparisons={
            c.name: ComparisonEntry(
                description=c.description,
                world=c.sim.side.env,
                episodes_per_policy=len(c.sim.seeds),
                report=str(c.report),
                success=Metrics.of(c.agreement("success")),
                progress=Metrics.of(c.agreement("progress")),
                rank_differs=[p.policy for p in c.agreement("success").points if p.rank_disagrees],
                trials=c.trials,
            )
            for c in comparisons
        },
        skipped_ablations=dict(skipped),
        worlds={
            name: World(
                env=run.side.env,
                description=run.side.description,
                run_id=run.run_id,
                store=str(run.store),
                excluded=run.tables(name)["success"].excluded_counts(),
            )
            for name, run in worlds.items()
        },
        policies=[
            PolicyRates(
                policy=policy,
                worlds={world: rates[world][policy] for world in rates if policy in rates[world]},
            )
            for policy in policies
        ],
        provenance=provenance,
    )


def goal_verdict(agreement: Agreement) -> dict[str, bool | str]:
    """``met`` and, when not, ``why``. A ranking exists only where the source world's rates
    differ: with all of them equal, SIMPLER's Pearson of 1 and MMRV of 0 say nothing."""
    real = {point.real for point in agreement.points}
    if len(real) < 2:
        return {
            "met": False,
            "why": f"every policy has the same source-world rate ({real.pop():.2f}): nothing to rank",
        }
    pearson, mmrv = agreement.values["pearson"], agreement.values["mmrv"]
    met = bool(pearson >= GOAL["pearson"] and mmrv <= GOAL["mmrv"])
    return {"met": met} if met else {"met": False, "why": f"Pearson {pearson:.3f}, MMRV {mmrv:.3f}"}


def fidelity_figure(
    comparisons: Sequence[Comparison], quantity: Quantity, path: Path, real: str = "source world"
) -> None:
    """One scatter per comparison (the twin first), the source world on every x axis."""
    columns = min(3, len(comparisons))
    rows = -(-len(comparisons) // columns)
    fig = Figure(figsize=(5.2 * columns, 5.4 * rows), layout="constrained")
    for index, comparison in enumerate(comparisons):
        ax = fig.add_subplot(rows, columns, index + 1)
        draw_scatter(
            ax,
            comparison.agreement(quantity),
            quantity,
            real,
            comparison.sim.side.role,
        )
    fig.suptitle(f"Policy {quantity} rates: each world against the {real} (plays real)")
    fig.savefig(path, dpi=90)


def slug(text: str) -> str:
    """A name usable as a directory name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "x"
