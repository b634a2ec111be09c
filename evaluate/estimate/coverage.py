"""How often each interval covers the true rate, over many synthetic evaluations.

Shared by the coverage test (a reduced sweep) and ``python -m benchmarks.estimate`` (the
full one): both call :func:`coverage` on a :class:`evaluate.estimate.synthetic.Scenario`;
the benchmark on recorded trials scores :func:`all_bounds` of its own draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evaluate.estimate.intervals import betting_interval, clopper_pearson_interval
from evaluate.estimate.ppi import ppi_betting, ppi_clt
from evaluate.estimate.synthetic import Scenario, Trials
from evaluate.metrics import wilson_interval

__all__ = [
    "FINITE_SAMPLE",
    "INTERVALS",
    "Coverage",
    "all_bounds",
    "coverage",
    "real_only_bounds",
    "score",
]

INTERVALS = ("wilson", "exact", "real_betting", "ppi_clt", "ppi_betting")
FINITE_SAMPLE = ("exact", "real_betting", "ppi_betting")
"""The intervals valid at every sample size (the others are asymptotic)."""


@dataclass(frozen=True)
class Coverage:
    """Per interval: the fraction of repetitions covering the truth, and the mean width."""

    reps: int
    covered: dict[str, float]
    width: dict[str, float]

    def monte_carlo_error(self, confidence: float) -> float:
        """One standard error of a coverage estimate at the nominal level."""
        return float(np.sqrt(confidence * (1 - confidence) / self.reps))


def coverage(
    scenario: Scenario,
    n: int,
    big_n: int,
    confidence: float,
    reps: int,
    rng: np.random.Generator,
) -> Coverage:
    """Draw ``reps`` evaluations of ``n`` pairs and ``big_n`` twin-only trials; score every interval."""
    return score(all_bounds(scenario.draw(reps, n, big_n, rng), confidence), scenario.truth)


def all_bounds(trials: Trials, confidence: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every interval of :data:`INTERVALS` for each repetition of ``trials``: ``[R]`` bounds."""
    bounds = real_only_bounds(trials.real, confidence)
    for name, method in (("ppi_clt", ppi_clt), ("ppi_betting", ppi_betting)):
        result = method(trials.real, trials.paired, trials.twin, confidence)
        bounds[name] = (np.clip(result.low, 0, 1), np.clip(result.high, 0, 1))
    return bounds


def real_only_bounds(
    real: np.ndarray, confidence: float
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Wilson, Clopper–Pearson and betting intervals of ``real[R, n]`` alone: ``[R]`` bounds."""
    n = real.shape[-1]
    successes = real.sum(-1)
    return {
        "wilson": wilson_interval(successes, n, confidence),
        "exact": clopper_pearson_interval(successes, n, confidence),
        "real_betting": betting_interval(real, confidence),
    }


def score(bounds: dict[str, tuple[np.ndarray, np.ndarray]], truth: float) -> Coverage:
    """How often each interval holds ``truth``, and its mean width."""
    reps = len(next(iter(bounds.values()))[0])
    return Coverage(
        reps,
        {k: float(np.mean((lo <= truth) & (truth <= hi))) for k, (lo, hi) in bounds.items()},
        {k: float(np.mean(hi - lo)) for k, (lo, hi) in bounds.items()},
    )
