"""Coverage with known truth: 1000 synthetic evaluations per agreement level and size (the
full sweep is ``python -m benchmarks.estimate``)."""

from __future__ import annotations

import numpy as np
import pytest

from evaluate.estimate.coverage import FINITE_SAMPLE, coverage
from evaluate.estimate.synthetic import AGREEMENT, Scenario

CONFIDENCE = 0.9
REPS = 1000


@pytest.mark.parametrize("agreement", list(AGREEMENT))
def test_finite_sample_intervals_cover_at_every_size(agreement):
    rng = np.random.default_rng(list(AGREEMENT).index(agreement))
    for n in (5, 10, 30):
        for offset in (1.0, -4.0):  # true rates 0.62 and 0.10; the twin biased low
            result = coverage(
                Scenario(AGREEMENT[agreement], offset, offset - 0.5), n, 200, CONFIDENCE, REPS, rng
            )
            floor = CONFIDENCE - 3 * result.monte_carlo_error(CONFIDENCE)
            for name in FINITE_SAMPLE:
                assert result.covered[name] >= floor, (agreement, n, offset, name, result.covered)


def test_asymptotic_ppi_undercovers_with_few_pairs():
    """Why the finite-sample interval leads: PPI++'s normal interval misses with 5 pairs."""
    result = coverage(
        Scenario(0.98, -4.0, -4.5), 5, 200, CONFIDENCE, REPS, np.random.default_rng(9)
    )
    assert result.covered["ppi_clt"] < CONFIDENCE - 3 * result.monte_carlo_error(CONFIDENCE)
    assert result.covered["ppi_betting"] >= CONFIDENCE
