"""Sim–real agreement metrics over per-policy rates, and success-rate intervals.

Every metric takes ``sim`` and ``real`` of shape ``[..., P]`` (P policies on the last axis;
leading axes are a batch, e.g. bootstrap resamples) and returns a float for 1-D input, else an
array of the leading shape. Batching lets a bootstrap evaluate 1000 resamples in one call.
Pearson and MMRV follow SIMPLER's definitions exactly, so numbers are comparable with the
SIMPLER and PolaRiS papers; no metric ever returns NaN.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import stats

FloatOrArray = float | np.ndarray
Metric = Callable[[np.ndarray, np.ndarray], FloatOrArray]


def _pair(sim: np.ndarray, real: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sim = np.asarray(sim, dtype=np.float64)
    real = np.asarray(real, dtype=np.float64)
    if sim.shape != real.shape or sim.ndim == 0 or sim.shape[-1] == 0:
        raise ValueError(
            f"sim and real must share a shape [..., P] with P >= 1; got {sim.shape} and {real.shape}"
        )
    return sim, real


def _result(value: np.ndarray) -> FloatOrArray:
    return float(value) if value.ndim == 0 else value


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """sum(a*b) / sqrt(sum(a²)·sum(b²)) over the last axis; 0 where either side is all zeros."""
    num = np.sum(a * b, axis=-1)
    den = np.sqrt(np.sum(a * a, axis=-1) * np.sum(b * b, axis=-1))
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def pearson(sim: np.ndarray, real: np.ndarray) -> FloatOrArray:
    """SIMPLER's Pearson r over policies.

    r = sum(s*r) / (sqrt(sum(s²)·sum(r²)) + 1e-8) on centred vectors; exactly equal centred
    vectors give 1 (so two constant vectors agree perfectly), one constant vector gives 0.

    Args:
        sim, real: ``[..., P]`` per-policy rates.
    Returns:
        r, a float for 1-D input, else ``[...]``.
    """
    sim, real = _pair(sim, real)
    s = sim - sim.mean(axis=-1, keepdims=True)
    r = real - real.mean(axis=-1, keepdims=True)
    den = np.sqrt(np.sum(s * s, axis=-1) * np.sum(r * r, axis=-1)) + 1e-8
    value = np.where(np.all(s == r, axis=-1), 1.0, np.sum(s * r, axis=-1) / den)
    return _result(value)


def max_rank_violations(sim: np.ndarray, real: np.ndarray) -> np.ndarray:
    """Each policy's largest rank violation, the per-policy term of MMRV.

    Pair (i, j) violates when ``(sim[i] > sim[j]) != (real[i] > real[j])`` (strict); its size
    is ``|real[i] - real[j]|``. Sizes come from the real rates, so this is not symmetric.

    Args:
        sim, real: ``[..., P]`` per-policy rates.
    Returns:
        ``[..., P]`` largest violation per policy (0 where it has none).
    """
    sim, real = _pair(sim, real)
    sim_gt = sim[..., :, None] > sim[..., None, :]
    real_gt = real[..., :, None] > real[..., None, :]
    size = np.abs(real[..., :, None] - real[..., None, :])
    return np.max(np.where(sim_gt != real_gt, size, 0.0), axis=-1)


def mmrv(sim: np.ndarray, real: np.ndarray) -> FloatOrArray:
    """SIMPLER's mean maximum rank violation (lower is better; 0 = same ordering).

    Args:
        sim, real: ``[..., P]`` per-policy rates.
    Returns:
        MMRV, a float for 1-D input, else ``[...]``.
    """
    return _result(np.mean(max_rank_violations(sim, real), axis=-1))


def spearman(sim: np.ndarray, real: np.ndarray) -> FloatOrArray:
    """Spearman's rho: Pearson r of average ranks (ties share a rank); 0 if either is constant.

    Args:
        sim, real: ``[..., P]`` per-policy rates.
    """
    sim, real = _pair(sim, real)
    s = stats.rankdata(sim, axis=-1)
    r = stats.rankdata(real, axis=-1)
    s -= s.mean(axis=-1, keepdims=True)
    r -= r.mean(axis=-1, keepdims=True)
    return _result(_cosine(s, r))


def kendall(sim: np.ndarray, real: np.ndarray) -> FloatOrArray:
    """Kendall's tau-b (tie-corrected); 0 if either side is constant.

    tau-b = sum over pairs of sign(ds)·sign(dr) / sqrt(#pairs untied in sim · #untied in real),
    which is the cosine between the two pair-sign vectors.

    Args:
        sim, real: ``[..., P]`` per-policy rates.
    """
    sim, real = _pair(sim, real)
    i, j = np.triu_indices(sim.shape[-1], k=1)
    ds = np.sign(sim[..., i] - sim[..., j])
    dr = np.sign(real[..., i] - real[..., j])
    return _result(_cosine(ds, dr))


CORRELATION_METRICS: dict[str, Metric] = {
    "pearson": pearson,
    "mmrv": mmrv,
    "spearman": spearman,
    "kendall": kendall,
}
"""The metrics every correlation report carries, by name (MMRV: lower is better)."""


def descending_ranks(rates: np.ndarray) -> np.ndarray:
    """Rank 1 = highest rate; ties share their average rank.

    Args:
        rates: ``[..., P]``.
    Returns:
        ``[..., P]`` float ranks.
    """
    return stats.rankdata(-np.asarray(rates, dtype=np.float64), axis=-1)


def wilson_interval(
    successes: np.ndarray | int, trials: np.ndarray | int, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a success rate, the leaderboard's per-policy error bar.

    Unlike the normal approximation it stays inside [0, 1] and is sensible at 0 or n
    successes, which is common with 20–50 trials.

    Args:
        successes: ``[...]`` success counts.
        trials: ``[...]`` trial counts (> 0).
        level: two-sided confidence level in (0, 1).
    Returns:
        (low, high), each ``[...]``.
    """
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if np.any(n <= 0) or np.any(k < 0) or np.any(k > n):
        raise ValueError("need trials > 0 and 0 <= successes <= trials")
    z = stats.norm.ppf(0.5 + level / 2.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    # At 0 and n successes the ends are 0 and 1 exactly; rounding leaves ~1e-17 there, and a
    # never-succeeding policy would fall outside its own error bar.
    # (np.clip outside np.where: a scalar count gives a numpy scalar back, not a 0-d array)
    low = np.clip(np.where(k <= 0, 0.0, centre - half), 0.0, 1.0)
    high = np.clip(np.where(k >= n, 1.0, centre + half), 0.0, 1.0)
    return low, high
