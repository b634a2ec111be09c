"""Prediction-powered estimates of a real success rate from paired and twin-only trials.

For one policy in one environment: ``real[..., n]`` real outcomes, ``paired[..., n]`` the
twin's outcome at each real trial's initial condition (the mean of its twin trials there),
and ``twin[..., N]`` twin trials at other initial conditions drawn the same way. The
estimate ``lam * mean(twin) + mean(real - lam * paired)`` is unbiased for the real rate for
any fixed ``lam``; the twin only shrinks its variance, by as much as the two agree.

- :func:`ppi_clt` is PPI++ (Angelopoulos, Duchi & Zrnic 2023) with the power-tuned ``lam``,
  numerically ``ppi_py.ppi_mean_ci`` / ``ppi_mean_pointestimate`` (``lam=None``).
- :func:`ppi_betting` is valid at every sample size (SureSim's construction): a betting
  interval on the rectifier ``real - lam * paired`` plus an exact one on the twin's mean,
  for ``lam`` = 1, intersected with the real trials' own exact interval (a union bound
  spends alpha over the two). Three other constructions were measured and dropped: WSR
  hedged betting with a predictable ``lam`` (no union bound) and a three-weight grid
  (0, 0.5, 1) were both wider (``benchmarks/FIDELITY.md``); so was one betting interval on
  per-real-trial samples ``real_i - lam * paired_i + lam * mean(twin block i)`` (the
  twin-only trials split into n blocks: one i.i.d. sample, no alpha spent on the twin),
  alone or as a capital mixture over ``lam`` in (0, 0.5, 1): its range is ``1 + 2 lam``
  instead of ``1 + lam``, and at 5-30 pairs the bets pay for range. With 300 twin-only
  trials, 79% of pairs agreeing and 30 pairs (1000 draws) it was 0.39-0.50 wide against
  0.36 for this one (Clopper-Pearson 0.32; betting on the real trials alone 0.42).

Every interval built from a test martingale (Markov's inequality on the capital) is wider
than Clopper-Pearson on 0/1 outcomes: betting on the real trials alone is 1.2-1.4x as wide
at 5-60 trials, since the exact interval uses the binomial tail and betting only its
Chernoff-like bound. The twin must remove more variance than that to save real trials
against the exact interval: ``benchmarks/estimate_trials.py`` measures both comparisons.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evaluate.estimate.intervals import (
    betting_interval,
    clopper_pearson_interval,
    normal_quantile,
)

__all__ = ["LAMBDA_GRID", "TWIN_SHARE", "PPIInterval", "ppi_betting", "ppi_clt", "tuned_lambda"]

LAMBDA_GRID: tuple[float, ...] = (0.0, 1.0)
"""Fixed weights the finite-sample interval tries (0: real trials only; 1: classical PPI).
A middle weight 0.5 made it wider everywhere in the coverage sweep: its share of alpha cost
more than it ever narrowed."""
TWIN_SHARE = 0.2
"""Share of a weight's alpha spent on the twin-only mean (thousands of trials: cheap)."""


@dataclass(frozen=True)
class PPIInterval:
    """An estimate with its interval and the twin weight used, each ``[...]``."""

    estimate: np.ndarray
    low: np.ndarray
    high: np.ndarray
    lam: np.ndarray


def _check(real: np.ndarray, paired: np.ndarray, twin: np.ndarray) -> None:
    if real.shape != paired.shape:
        raise ValueError(f"real {real.shape} and paired {paired.shape} must match")
    if real.shape[-1] < 2 or twin.shape[-1] < 1:
        raise ValueError("need at least 2 pairs and 1 twin-only trial")
    for name, values in (("real", real), ("paired", paired), ("twin", twin)):
        if np.any(~np.isfinite(values)) or np.any(values < 0) or np.any(values > 1):
            raise ValueError(f"{name} outcomes must be in [0, 1]")


def tuned_lambda(real: np.ndarray, paired: np.ndarray, twin: np.ndarray) -> np.ndarray:
    """PPI++'s variance-minimising weight, clipped to [0, 1] (ppi_py's ``_calc_lam_glm``).

    ``cov(real, paired) / ((1 + n/N) var(paired and twin))``; 0 where the twin never varies.
    """
    n, big_n = real.shape[-1], twin.shape[-1]
    centred_real = real - real.mean(-1, keepdims=True)
    centred_paired = paired - paired.mean(-1, keepdims=True)
    cov = (centred_real * centred_paired).mean(-1)
    var = np.concatenate([paired, twin], axis=-1).var(-1, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        lam = cov / ((1.0 + n / big_n) * var)
    return np.clip(np.where(var > 0, lam, 0.0), 0.0, 1.0)


def ppi_clt(
    real: np.ndarray, paired: np.ndarray, twin: np.ndarray, confidence: float
) -> PPIInterval:
    """PPI++ with the tuned weight and its normal interval (ppi_py's, unclipped)."""
    real, paired, twin = (np.asarray(a, dtype=np.float64) for a in (real, paired, twin))
    _check(real, paired, twin)
    lam = tuned_lambda(real, paired, twin)
    lam_ = lam[..., None]
    estimate = (lam_ * twin).mean(-1) + (real - lam_ * paired).mean(-1)
    variance = (lam_ * twin).var(-1) / twin.shape[-1] + (real - lam_ * paired).var(-1) / real.shape[
        -1
    ]
    half = normal_quantile(confidence) * np.sqrt(variance)
    return PPIInterval(estimate, estimate - half, estimate + half, lam)


def ppi_betting(
    real: np.ndarray,
    paired: np.ndarray,
    twin: np.ndarray,
    confidence: float,
    grid: tuple[float, ...] = LAMBDA_GRID,
) -> PPIInterval:
    """The finite-sample PPI interval: the narrowest over ``grid`` of valid intervals.

    For each ``lam`` (alpha / len(grid) each; ``lam = 0`` is the real trials alone,
    Clopper–Pearson when they are 0/1, else betting): a betting interval on the rectifier
    ``(real - lam * paired + lam) / (1 + lam)`` in [0, 1], mapped back, plus ``lam`` times an
    interval on the twin's mean (exact when its outcomes are 0/1) at :data:`TWIN_SHARE` of
    that alpha, fixed before seeing any outcome. All grid intervals hold at once with
    probability >= ``confidence``, so their intersection does; the reported estimate and
    ``lam`` are the narrowest member's.
    """
    real, paired, twin = (np.asarray(a, dtype=np.float64) for a in (real, paired, twin))
    _check(real, paired, twin)
    alpha = (1.0 - confidence) / len(grid)
    twin_alpha = alpha * TWIN_SHARE
    twin_low, twin_high = _one_sample(twin, 1.0 - twin_alpha)
    low = np.full(real.shape[:-1], -np.inf)
    high = np.full(real.shape[:-1], np.inf)
    best_width = np.full(real.shape[:-1], np.inf)
    estimate = np.zeros(real.shape[:-1])
    best_lam = np.zeros(real.shape[:-1])
    for lam in grid:
        if lam == 0.0:  # the real trials alone: exact when they are 0/1
            this_low, this_high = _one_sample(real, 1.0 - alpha)
        else:
            shifted = (real - lam * paired + lam) / (1.0 + lam)
            r_low, r_high = betting_interval(shifted, 1.0 - (alpha - twin_alpha))
            this_low = r_low * (1.0 + lam) - lam + lam * twin_low
            this_high = r_high * (1.0 + lam) - lam + lam * twin_high
        point = lam * twin.mean(-1) + (real - lam * paired).mean(-1)
        narrower = this_high - this_low < best_width
        best_width = np.where(narrower, this_high - this_low, best_width)
        estimate = np.where(narrower, point, estimate)
        best_lam = np.where(narrower, lam, best_lam)
        low, high = np.maximum(low, this_low), np.minimum(high, this_high)
    # Intervals that all hold can only miss each other by an event of probability <= alpha:
    # then report the narrowest member rather than an empty set.
    empty = low > high
    low = np.where(empty, np.minimum(low, high), low)
    high = np.where(empty, np.maximum(low, high), high)
    return PPIInterval(estimate, np.clip(low, 0.0, 1.0), np.clip(high, 0.0, 1.0), best_lam)


def _one_sample(outcomes: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """An interval on the mean of one sample: exact when its outcomes are 0/1, else betting."""
    if np.all((outcomes == 0.0) | (outcomes == 1.0)):
        return clopper_pearson_interval(outcomes.sum(-1), outcomes.shape[-1], confidence)
    return betting_interval(outcomes, confidence)
