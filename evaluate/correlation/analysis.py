"""Compare sim against real, per environment and pooled, with bootstrap intervals.

Pooled follows SIMPLER and PolaRiS: each policy's rate is its mean over the environments,
and the metrics are computed on those means. A policy enters the pool only if it has
outcomes on both sides in every environment compared, so every mean covers the same envs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from evaluate.correlation.bootstrap import (
    BootstrapConfig,
    metric_intervals,
    percentile_interval,
    resample_rates,
)
from evaluate.correlation.tables import CellKey, Quantity, RateTable
from evaluate.errors import EvaluateError
from evaluate.metrics import CORRELATION_METRICS, descending_ranks, max_rank_violations

POOLED = "pooled"
_WORDS = {"error": "errored"}  # failure kind -> adjective


@dataclass(frozen=True)
class PolicyPoint:
    """One policy in one comparison: its rates, their intervals and ranks (1 = best)."""

    policy: str
    sim: float
    real: float
    sim_interval: tuple[float, float] | None  # None: that side had no episodes to resample
    real_interval: tuple[float, float] | None
    sim_rank: float
    real_rank: float
    max_violation: float  # this policy's term of MMRV

    @property
    def rank_disagrees(self) -> bool:
        return self.sim_rank != self.real_rank


@dataclass(frozen=True)
class Agreement:
    """The metrics of one environment (or the pool), with intervals when episodes were known."""

    scope: str  # an env id, or POOLED
    values: Mapping[str, float]  # metric name -> value
    intervals: Mapping[str, tuple[float, float]] | None
    points: tuple[PolicyPoint, ...]
    bootstrap: BootstrapConfig

    @property
    def n_policies(self) -> int:
        return len(self.points)

    def summary(self) -> dict[str, object]:
        """The ``--json`` entry: metrics, n_policies and ci (null without episodes)."""
        ci = None
        if self.intervals is not None:
            ci = {"level": self.bootstrap.level, "n_resamples": self.bootstrap.n_resamples}
            ci |= {name: list(bounds) for name, bounds in self.intervals.items()}
        return {**self.values, "n_policies": self.n_policies, "ci": ci}


@dataclass(frozen=True)
class CorrelationReport:
    """Per-env and pooled agreement for one quantity, plus what was left out and why."""

    quantity: Quantity
    per_env: Mapping[str, Agreement]
    pooled: Agreement | None  # None when fewer than 2 policies cover every env
    notes: tuple[str, ...]

    def summary(self) -> dict[str, object]:
        """``{"per_env": {ENV: ...}, "pooled": ...}``, exactly what ``--json`` prints."""
        return {
            "per_env": {env: agreement.summary() for env, agreement in self.per_env.items()},
            "pooled": None if self.pooled is None else self.pooled.summary(),
        }


@dataclass(frozen=True)
class _Side:
    """One side's rates for the compared policies: point values, resamples, which were resampled."""

    rates: np.ndarray  # [P]
    draws: np.ndarray  # [B, P]
    resampled: np.ndarray  # [P] bool

    @staticmethod
    def mean(sides: Sequence[_Side]) -> _Side:
        return _Side(
            np.mean([s.rates for s in sides], axis=0),
            np.mean([s.draws for s in sides], axis=0),
            np.any([s.resampled for s in sides], axis=0),
        )


def correlate(
    sim: RateTable, real: RateTable, quantity: Quantity, config: BootstrapConfig | None = None
) -> CorrelationReport:
    """Metrics of sim rates against real rates in every shared env and pooled.

    Raises:
        EvaluateError: no environment has two policies with outcomes on both sides.
    """
    config = config or BootstrapConfig()
    shared = sorted(set(sim.cells) & set(real.cells), key=lambda key: (key[1], key[0]))
    notes = _coverage_notes(sim, real)
    rng = np.random.default_rng(config.seed)
    draws = {
        (name, key): resample_rates(table.cells[key], config.n_resamples, rng)
        for name, table in (("sim", sim), ("real", real))
        for key in shared
    }

    def side(name: str, table: RateTable, keys: list[CellKey]) -> _Side:
        return _Side(
            np.array([table.cells[key].rate for key in keys]),
            np.stack([draws[name, key] for key in keys], axis=1),
            np.array([table.cells[key].samples is not None for key in keys]),
        )

    per_env: dict[str, Agreement] = {}
    env_policies: dict[str, list[str]] = {}
    for env in sorted({env for _, env in shared}):
        policies = [policy for policy, e in shared if e == env]
        if len(policies) < 2:
            notes.append(
                f"env {env!r} skipped: only {len(policies)} policy has outcomes on both sides"
            )
            continue
        keys = [(policy, env) for policy in policies]
        env_policies[env] = policies
        per_env[env] = _agreement(
            env, policies, side("sim", sim, keys), side("real", real, keys), config
        )
    if not per_env:
        raise EvaluateError(
            f"no environment has 2 or more policies with outcomes in both {sim.source} and {real.source} "
            f"(sim policies: {', '.join(sorted(sim.policies))}; real policies: {', '.join(sorted(real.policies))}; "
            f"sim envs: {', '.join(sorted(sim.envs))}; real envs: {', '.join(sorted(real.envs))})",
            file=real.source,
        )

    everywhere = sorted(set.intersection(*(set(p) for p in env_policies.values())))
    left_out = sorted(set().union(*env_policies.values()) - set(everywhere))
    if left_out:
        notes.append(
            f"pooled leaves out {', '.join(left_out)}: not in every compared env on both sides"
        )
    pooled = None
    if len(everywhere) >= 2:
        sides = {
            name: _Side.mean([side(name, table, [(p, env) for p in everywhere]) for env in per_env])
            for name, table in (("sim", sim), ("real", real))
        }
        pooled = _agreement(POOLED, everywhere, sides["sim"], sides["real"], config)
    else:
        notes.append("no pooled result: fewer than 2 policies appear in every compared env")
    return CorrelationReport(quantity, per_env, pooled, tuple(notes))


def _coverage_notes(sim: RateTable, real: RateTable) -> list[str]:
    """What one side has and the other lacks, and the episodes that are not the policies'
    failures: left out of every comparison."""
    notes = []
    for side in (sim, real):
        counts = side.excluded_counts()
        if counts:
            what = " and ".join(f"{n} {_WORDS.get(kind, kind)}" for kind, n in counts.items())
            notes.append(f"{what} episode(s) in {side.source} left out: not the policy's failure")
    for side, other in ((sim, real), (real, sim)):
        notes += [f"env {env!r} only in {side.source}" for env in sorted(side.envs - other.envs)]
        notes += [
            f"policy {policy!r} only in {side.source}"
            for policy in sorted(side.policies - other.policies)
        ]
    return notes


def _agreement(
    scope: str, policies: list[str], sim: _Side, real: _Side, config: BootstrapConfig
) -> Agreement:
    values = {
        name: float(metric(sim.rates, real.rates)) for name, metric in CORRELATION_METRICS.items()
    }
    resampled = bool(sim.resampled.any() or real.resampled.any())
    intervals = metric_intervals(sim.draws, real.draws, config.level) if resampled else None
    sim_rank, real_rank = descending_ranks(sim.rates), descending_ranks(real.rates)
    violations = max_rank_violations(sim.rates, real.rates)
    sim_ci, real_ci = (percentile_interval(s.draws, config.level) for s in (sim, real))
    points = tuple(
        PolicyPoint(
            policy,
            float(sim.rates[i]),
            float(real.rates[i]),
            (float(sim_ci[0][i]), float(sim_ci[1][i])) if sim.resampled[i] else None,
            (float(real_ci[0][i]), float(real_ci[1][i])) if real.resampled[i] else None,
            float(sim_rank[i]),
            float(real_rank[i]),
            float(violations[i]),
        )
        for i, policy in enumerate(policies)
    )
    return Agreement(scope, values, intervals, points, config)
