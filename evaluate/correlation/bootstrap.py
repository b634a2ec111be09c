"""Bootstrap over episodes: how much the metrics move when the trials are re-drawn.

With 20–50 trials per policy a success rate is uncertain by ±0.1 or more, so a metric
computed from one set of rates is one draw of a noisy statistic. Resampling each cell's
episodes with replacement, recomputing its rate and then the metric, gives percentile
intervals. All resamples are drawn at once: ``[B, n_episodes]`` indices per cell, then each
metric runs batched over ``[B, P]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from evaluate.correlation.tables import Cell
from evaluate.metrics import CORRELATION_METRICS


@dataclass(frozen=True)
class BootstrapConfig:
    """How to resample: how many times, at what confidence level, from which seed."""

    n_resamples: int = 1000
    level: float = 0.95
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n_resamples < 1:
            raise ValueError(f"n_resamples must be >= 1, got {self.n_resamples}")
        if not 0.0 < self.level < 1.0:
            raise ValueError(f"level must be in (0, 1), got {self.level}")


def resample_rates(cell: Cell, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``[B]`` rates of the cell's episodes resampled with replacement (its rate if it has none)."""
    if cell.samples is None:
        return np.full(n_resamples, cell.rate)
    n = cell.samples.shape[0]
    return cell.samples[rng.integers(0, n, size=(n_resamples, n))].mean(axis=1)


def percentile_interval(draws: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided percentile interval over the first axis.

    Args:
        draws: ``[B, ...]`` bootstrap draws.
    Returns:
        (low, high), each ``[...]``.
    """
    tail = 50.0 * (1.0 - level)
    low, high = np.percentile(draws, [tail, 100.0 - tail], axis=0)
    return low, high


def metric_intervals(
    sim_draws: np.ndarray, real_draws: np.ndarray, level: float
) -> Mapping[str, tuple[float, float]]:
    """Percentile interval of every correlation metric.

    Args:
        sim_draws, real_draws: ``[B, P]`` resampled per-policy rates.
    Returns:
        metric name -> (low, high).
    """
    intervals = {}
    for name, metric in CORRELATION_METRICS.items():
        low, high = percentile_interval(np.asarray(metric(sim_draws, real_draws)), level)
        intervals[name] = (float(low), float(high))
    return intervals
