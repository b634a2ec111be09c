"""Intervals on a mean from one sample: exact (Clopper–Pearson) and betting (WSR).

Every function works on the last axis and broadcasts over the leading ones, so a coverage
study passes ``[repetitions, n]`` arrays and gets ``[repetitions]`` bounds in one call.

The betting interval is Waudby-Smith & Ramdas' hedged-capital interval (JRSS-B 2024,
Theorem 3 with their fixed-n "predictable plug-in" bets): valid at every sample size for
any distribution on [0, 1], not only Bernoulli, which is what the PPI rectifier
``Y - lambda * S`` needs. It depends on the order of the observations (the bets are
predictable), so callers pass them in recording order.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["betting_interval", "clopper_pearson_interval", "normal_quantile"]

TRUNCATION = 0.75
"""No bet risks more than this fraction of the capital (WSR's c: every factor stays >= 1/4)."""
HEDGE = 0.5
"""Weight of the bet on "above m" against the bet on "below m" (WSR's theta)."""
_BISECTIONS = 40  # 2^-40: far below any width we report


def normal_quantile(confidence: float) -> float:
    """z with P(|N(0,1)| <= z) = ``confidence`` (1.645 at 0.9)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return float(stats.norm.ppf(0.5 + confidence / 2.0))


def clopper_pearson_interval(
    successes: np.ndarray | int, trials: np.ndarray | int, confidence: float
) -> tuple[np.ndarray, np.ndarray]:
    """The exact binomial interval: covers at least ``confidence`` for every rate and n.

    Args:
        successes: ``[...]`` success counts.
        trials: ``[...]`` trial counts (> 0).
    Returns:
        (low, high), each ``[...]``.
    """
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    if np.any(n <= 0) or np.any(k < 0) or np.any(k > n):
        raise ValueError("need trials > 0 and 0 <= successes <= trials")
    alpha = 1.0 - confidence
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(k > 0, stats.beta.ppf(alpha / 2, k, n - k + 1), 0.0)
        high = np.where(k < n, stats.beta.ppf(1 - alpha / 2, k + 1, n - k), 1.0)
    return low, high


def _bets(x: np.ndarray, alpha: float) -> np.ndarray:
    """WSR's predictable plug-in bets ``[..., n]``: bet t sees only x_1..x_{t-1}."""
    n = x.shape[-1]
    t = np.arange(1, n + 1)
    mean = (0.5 + np.cumsum(x, axis=-1)) / (t + 1)  # mu_hat_t
    spread = (0.25 + np.cumsum((x - mean) ** 2, axis=-1)) / (t + 1)  # sigma_hat^2_t
    previous = np.concatenate([np.full(x.shape[:-1] + (1,), 0.25), spread[..., :-1]], axis=-1)
    return np.sqrt(2.0 * np.log(2.0 / alpha) / (n * previous))


def _log_capital(x: np.ndarray, bets: np.ndarray, m: np.ndarray, sign: float) -> np.ndarray:
    """log of the capital betting that the mean is above (sign +1) or below (-1) ``m[...]``."""
    m = m[..., None]
    room = m if sign > 0 else 1.0 - m
    with np.errstate(divide="ignore"):
        bet = np.minimum(bets, TRUNCATION / room)
    return np.sum(np.log1p(sign * bet * (x - m)), axis=-1)


def betting_interval(x: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """The hedged-capital interval on the mean of ``x`` in [0, 1].

    Capital betting "above m" falls as m rises and capital betting "below m" rises, so the
    set of m where the hedged capital stays under 1/alpha is an interval; each end is found
    by bisection, for every leading index at once.

    Args:
        x: ``[..., n]`` observations in [0, 1], n >= 1, in the order they were taken.
    Returns:
        (low, high), each ``[...]``.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.shape[-1] < 1:
        raise ValueError("need at least one observation")
    if np.any(x < 0.0) or np.any(x > 1.0):
        raise ValueError("betting needs observations in [0, 1]")
    alpha = 1.0 - confidence
    bets = _bets(x, alpha)
    # Hedged capital max(h K+, (1-h) K-) >= 1/alpha, one side at a time.
    limits = {+1.0: np.log(1.0 / (HEDGE * alpha)), -1.0: np.log(1.0 / ((1.0 - HEDGE) * alpha))}
    ends = []
    for sign, limit in limits.items():
        # +1: the low end, the smallest m where K+ < limit (true from there up);
        # -1: the high end, the largest m where K- < limit (true from there down).
        inside_lo, inside_hi = np.zeros(x.shape[:-1]), np.ones(x.shape[:-1])
        for _ in range(_BISECTIONS):
            mid = (inside_lo + inside_hi) / 2
            rejected = _log_capital(x, bets, mid, sign) >= limit
            if sign > 0:  # rejected below the low end
                inside_lo = np.where(rejected, mid, inside_lo)
                inside_hi = np.where(rejected, inside_hi, mid)
            else:  # rejected above the high end
                inside_hi = np.where(rejected, mid, inside_hi)
                inside_lo = np.where(rejected, inside_lo, mid)
        edge = np.full(x.shape[:-1], 0.0 if sign > 0 else 1.0)  # bisection never lands on it
        kept = _log_capital(x, bets, edge, sign) < limit
        ends.append(np.where(kept, edge, inside_hi if sign > 0 else inside_lo))
    low, high = ends
    return np.minimum(low, high), np.maximum(low, high)
