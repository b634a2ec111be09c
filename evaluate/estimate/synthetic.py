"""Paired real/twin trials with a known real success rate, for coverage studies.

An initial condition carries a latent difficulty ``u ~ N(0, 1)``; the real world succeeds
there with ``Phi(a + b u)`` and the twin with ``Phi(a_twin + b (rho u + sqrt(1 - rho^2) v))``,
``v ~ N(0, 1)`` the twin's own idiosyncrasy. ``rho`` is how much the twin agrees with the
real world about which conditions are hard; ``a_twin != a`` is its bias. The true real rate
is ``E[Phi(a + b u)] = Phi(a / sqrt(1 + b^2))``, in closed form.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["AGREEMENT", "Scenario", "Trials"]

AGREEMENT: dict[str, float] = {"none": 0.0, "moderate": 0.7, "high": 0.98}
"""rho per sim–real agreement level."""


@dataclass(frozen=True)
class Trials:
    """One draw per repetition: real and paired twin outcomes ``[R, n]``, twin-only ``[R, N]``."""

    real: np.ndarray
    paired: np.ndarray
    twin: np.ndarray


@dataclass(frozen=True)
class Scenario:
    """A policy whose real rate is ``truth``, and a twin of agreement ``rho`` and bias."""

    rho: float
    real_offset: float = 0.5  # a: the real rate is Phi(a / sqrt(1 + b^2))
    twin_offset: float = 0.0  # a_twin: the twin is pessimistic when below a
    spread: float = 3.0  # b: how much success depends on the initial condition

    @property
    def truth(self) -> float:
        return float(stats.norm.cdf(self.real_offset / np.sqrt(1.0 + self.spread**2)))

    def _twin_rate(self, u: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        v = rng.standard_normal(u.shape)
        mix = self.rho * u + np.sqrt(1.0 - self.rho**2) * v
        return stats.norm.cdf(self.twin_offset + self.spread * mix)

    def draw(self, reps: int, n: int, big_n: int, rng: np.random.Generator) -> Trials:
        """``reps`` independent evaluations, each with ``n`` paired and ``big_n`` twin-only trials."""
        u = rng.standard_normal((reps, n))
        real = rng.random((reps, n)) < stats.norm.cdf(self.real_offset + self.spread * u)
        paired = rng.random((reps, n)) < self._twin_rate(u, rng)
        twin = rng.random((reps, big_n)) < self._twin_rate(rng.standard_normal((reps, big_n)), rng)
        return Trials(real.astype(float), paired.astype(float), twin.astype(float))
