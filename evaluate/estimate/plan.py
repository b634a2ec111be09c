"""How many more real (and twin) trials reach a target interval width, from the pairs so far.

The plan uses PPI++'s variance, ``lam^2 var(twin) / N + var(real - lam * paired) / n``, with
the weight tuned on the pairs so far, and spends at most :data:`TWIN_SHARE` of the variance
budget on the twin-only term (twin trials are cheap). Variances are estimated with one
disagreeing pseudo-pair each way, and the real-only one with two pseudo-trials (Agresti–
Coull), so a few identical outcomes do not promise a zero width. It is a plan, not a
guarantee: the finite-sample interval needs somewhat more (see ``benchmarks.estimate``).
Where the twin would not help, the plan is real trials only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from evaluate.estimate.intervals import normal_quantile
from evaluate.estimate.pairing import PairedCell
from evaluate.estimate.ppi import tuned_lambda

__all__ = ["TWIN_SHARE", "Plan", "plan"]

TWIN_SHARE = 0.1
"""Share of the target variance the twin-only term may use."""


@dataclass(frozen=True)
class Plan:
    """For one policy in one env: trials so far, more needed with PPI, and real-only needed."""

    policy: str
    env: str
    n_real: int
    n_twin_only: int
    more_real: int
    more_twin: int
    real_only_needed: int  # real trials (in total) for the same width without the twin


def plan(cell: PairedCell, width: float, confidence: float) -> Plan:
    """Trials to add so the interval on ``cell``'s real rate is ``width`` wide."""
    if not 0.0 < width < 1.0:
        raise ValueError(f"width must be in (0, 1), got {width}")
    budget = (width / (2.0 * normal_quantile(confidence))) ** 2  # target variance
    lam = float(tuned_lambda(cell.real, cell.paired, cell.twin))
    real = np.concatenate([cell.real, [1.0, 0.0]])
    paired = np.concatenate([cell.paired, [0.0, 1.0]])
    rectifier_var = float(np.var(real - lam * paired, ddof=1))
    twin_var = float(np.var(np.concatenate([cell.twin, [0.0, 1.0]]), ddof=1))
    n_needed = math.ceil(rectifier_var / ((1.0 - TWIN_SHARE) * budget))
    twin_needed = math.ceil(lam**2 * twin_var / (TWIN_SHARE * budget))
    rate = (cell.real.sum() + 2.0) / (cell.real.size + 4.0)
    real_only = math.ceil(rate * (1.0 - rate) / budget)
    if real_only <= n_needed:  # the twin does not help this policy: plan real trials only
        n_needed, twin_needed = real_only, 0
    return Plan(
        cell.policy,
        cell.env,
        int(cell.real.size),
        int(cell.twin.size),
        max(0, n_needed - cell.real.size),
        max(0, twin_needed - cell.twin.size),
        real_only,
    )
