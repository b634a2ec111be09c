"""Per policy and environment: the real-only and PPI intervals, the real trials saved, and
the policies' pairwise differences.

Two families are computed side by side. *Asymptotic*: Wilson (real only) and PPI++ with the
tuned weight; narrower, but they cover less than their level with few pairs (see
``python -m benchmarks.estimate``). *Finite-sample*: Clopper–Pearson and WSR betting (real
only) and the betting PPI interval; valid at every sample size. "Real trials saved" asks,
within a family, how many real-only trials would give an interval as narrow as PPI's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Literal

import numpy as np

from evaluate.estimate.intervals import (
    betting_interval,
    clopper_pearson_interval,
    normal_quantile,
)
from evaluate.estimate.pairing import PairedCell
from evaluate.estimate.ppi import ppi_betting, ppi_clt
from evaluate.metrics import wilson_interval

__all__ = [
    "Bounds",
    "CellEstimate",
    "Family",
    "PairDifference",
    "compare",
    "estimate",
    "trial_correlation",
]

Family = Literal["finite-sample", "asymptotic"]
FAMILIES: tuple[Family, ...] = ("finite-sample", "asymptotic")
MAX_EQUIVALENT = 100_000
"""Real-only trials searched for an equal width (a zero-width PPI interval saves nothing)."""


@dataclass(frozen=True)
class Bounds:
    """A point estimate and its interval, clipped to [0, 1]; ``lam`` the twin's weight."""

    estimate: float
    low: float
    high: float
    lam: float | None = None

    @property
    def width(self) -> float:
        return self.high - self.low

    @classmethod
    def of(cls, estimate: float, low: float, high: float, lam: float | None = None) -> Bounds:
        clip = lambda v: float(np.clip(v, 0.0, 1.0))  # noqa: E731
        return cls(clip(estimate), clip(low), clip(high), None if lam is None else float(lam))


@dataclass(frozen=True)
class CellEstimate:
    """Every interval of one policy in one environment."""

    cell: PairedCell
    wilson: Bounds
    exact: Bounds
    real_betting: Bounds
    ppi_clt: Bounds
    ppi_betting: Bounds
    saved: dict[Family, int]  # real trials saved at equal width, per family
    agreement: float  # fraction of pairs where the twin's mean outcome rounds to the real one
    trial_correlation: float  # of real and twin outcomes over the pairs; 0 if one is constant
    clt_se: float  # PPI++'s standard error (before clipping), for differences

    @property
    def n_real(self) -> int:
        return int(self.cell.real.size)

    def real_only(self, family: Family) -> Bounds:
        return self.exact if family == "finite-sample" else self.wilson

    def ppi(self, family: Family) -> Bounds:
        return self.ppi_betting if family == "finite-sample" else self.ppi_clt


@dataclass(frozen=True)
class PairDifference:
    """Real rate of ``better`` minus ``worse`` (by PPI estimate) in one env, with its interval."""

    env: str
    better: str
    worse: str
    difference: float
    low: float
    high: float

    @property
    def settled(self) -> bool:
        """The interval excludes 0: the ranking holds at the chosen confidence."""
        return self.low > 0.0 or self.high < 0.0


def estimate(cell: PairedCell, confidence: float) -> CellEstimate:
    """All five intervals of ``cell`` and the real trials PPI saved in each family."""
    n = cell.real.size
    k = float(cell.real.sum())
    mean = k / n
    wilson = Bounds.of(mean, *(float(v) for v in wilson_interval(k, n, confidence)))
    exact = Bounds.of(mean, *(float(v) for v in clopper_pearson_interval(k, n, confidence)))
    real_betting = Bounds.of(mean, *(float(v) for v in betting_interval(cell.real, confidence)))
    clt = ppi_clt(cell.real, cell.paired, cell.twin, confidence)
    bet = ppi_betting(cell.real, cell.paired, cell.twin, confidence)
    ppi = {
        name: Bounds.of(float(r.estimate), float(r.low), float(r.high), float(r.lam))
        for name, r in (("clt", clt), ("betting", bet))
    }
    saved: dict[Family, int] = {
        "asymptotic": _saved(ppi["clt"], n, confidence, "asymptotic"),
        "finite-sample": _saved(ppi["betting"], n, confidence, "finite-sample"),
    }
    agreement = float(np.mean(np.round(cell.paired) == cell.real))
    clt_se = float((clt.high - clt.low) / (2.0 * normal_quantile(confidence)))
    return CellEstimate(
        cell,
        wilson,
        exact,
        real_betting,
        ppi["clt"],
        ppi["betting"],
        saved,
        agreement,
        trial_correlation(cell.real, cell.paired),
        clt_se,
    )


def trial_correlation(real: np.ndarray, paired: np.ndarray) -> float:
    """Pearson r of real and twin outcomes over the pairs (0 where either never varies).

    Why it matters: with the best weight and unlimited twin trials PPI's variance is
    ``(1 - r^2)`` times the real trials', so no PPI interval saves more than r^2 of them.
    """
    if real.std() == 0.0 or paired.std() == 0.0:
        return 0.0
    return float(np.corrcoef(real, paired)[0, 1])


def equal_width_trials(width: float, rate: float, confidence: float, family: Family) -> int:
    """The fewest real-only trials whose interval (Wilson, or Clopper–Pearson for the
    finite-sample family) at ``rate`` is no wider than ``width``; capped at
    :data:`MAX_EQUIVALENT`. Widths shrink as trials grow, so a bisection finds it."""
    method = clopper_pearson_interval if family == "finite-sample" else wilson_interval

    def narrow_enough(trials: int) -> bool:
        low, high = method(rate * trials, trials, confidence)
        return float(high - low) <= width

    low, high = 1, MAX_EQUIVALENT
    if not narrow_enough(high):
        return MAX_EQUIVALENT
    while low < high:
        mid = (low + high) // 2
        low, high = (low, mid) if narrow_enough(mid) else (mid + 1, high)
    return low


def _saved(ppi: Bounds, n: int, confidence: float, family: Family) -> int:
    if ppi.width <= 0.0:  # degenerate (no variation at all): no width to match
        return 0
    return max(0, equal_width_trials(ppi.width, ppi.estimate, confidence, family) - n)


def compare(
    estimates: Sequence[CellEstimate], confidence: float, family: Family
) -> list[PairDifference]:
    """Every pair of policies in each env: the interval on their difference of real rates.

    Asymptotic: PPI++'s normal errors added in quadrature. Finite-sample: each policy's
    betting PPI interval at confidence ``1 - alpha/2`` (a union bound), subtracted end to end.
    """
    z = normal_quantile(confidence)
    half_confidence = 1.0 - (1.0 - confidence) / 2.0
    differences = []
    by_env: dict[str, list[CellEstimate]] = {}
    for item in estimates:
        by_env.setdefault(item.cell.env, []).append(item)
    for env, items in sorted(by_env.items()):
        ranked = sorted(items, key=lambda e: (-e.ppi(family).estimate, e.cell.policy))
        for a, b in combinations(ranked, 2):
            if family == "asymptotic":
                diff = a.ppi_clt.estimate - b.ppi_clt.estimate
                half = z * float(np.hypot(a.clt_se, b.clt_se))
                low, high = diff - half, diff + half
            else:
                wide_a, wide_b = (
                    ppi_betting(e.cell.real, e.cell.paired, e.cell.twin, half_confidence)
                    for e in (a, b)
                )
                diff = a.ppi_betting.estimate - b.ppi_betting.estimate
                low = float(np.clip(wide_a.low, 0, 1) - np.clip(wide_b.high, 0, 1))
                high = float(np.clip(wide_a.high, 0, 1) - np.clip(wide_b.low, 0, 1))
            differences.append(
                PairDifference(
                    env, a.cell.policy, b.cell.policy, float(diff), float(low), float(high)
                )
            )
    return differences
