"""Sim–real metrics against SIMPLER's published numbers, scipy, and their invariants."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from evaluate.metrics import (
    CORRELATION_METRICS,
    descending_ranks,
    kendall,
    max_rank_violations,
    mmrv,
    pearson,
    spearman,
    wilson_interval,
)

# SIMPLER, Google robot; policies rt-2-x, rt-1-converged, rt-1-15pct, rt-1-x, rt-1-begin, octo-base.
COKE_REAL = np.array([0.907, 0.853, 0.920, 0.760, 0.133, 0.293])
COKE_SIM = np.array([0.787, 0.857, 0.710, 0.567, 0.027, 0.170])
NEAR_REAL = np.array([0.733, 0.633, 0.583, 0.450, 0.017, 0.350])
NEAR_SIM = np.array([0.779, 0.442, 0.354, 0.317, 0.050, 0.042])


@pytest.mark.parametrize(
    ("sim", "real", "want_mmrv", "want_pearson"),
    [(COKE_SIM, COKE_REAL, 0.0313, 0.9754), (NEAR_SIM, NEAR_REAL, 0.1110, 0.8561)],
    ids=["pick_coke_can", "move_near"],
)
def test_simpler_worked_checks(sim, real, want_mmrv, want_pearson):
    assert mmrv(sim, real) == pytest.approx(want_mmrv, abs=1e-3)
    assert pearson(sim, real) == pytest.approx(want_pearson, abs=1e-3)


def test_mmrv_is_not_symmetric():
    assert mmrv(COKE_SIM, COKE_REAL) == pytest.approx(0.0313, abs=1e-3)
    assert mmrv(COKE_REAL, COKE_SIM) == pytest.approx(0.0618, abs=1e-3)


def test_mmrv_counts_only_strict_disagreements():
    # a tie in sim against an order in real: only the policy ranked above in real violates
    assert max_rank_violations(np.array([0.5, 0.5]), np.array([0.4, 0.6])) == pytest.approx(
        [0.0, 0.2]
    )


@pytest.mark.parametrize("metric", CORRELATION_METRICS.values(), ids=CORRELATION_METRICS.keys())
def test_permutation_invariance(metric):
    order = np.random.default_rng(0).permutation(6)
    assert metric(COKE_SIM[order], COKE_REAL[order]) == pytest.approx(
        metric(COKE_SIM, COKE_REAL), abs=1e-12
    )


def test_perfect_agreement():
    rates = np.array([0.1, 0.9, 0.4, 0.65])
    assert pearson(rates, rates) == 1.0
    assert mmrv(rates, rates) == 0.0
    assert spearman(rates, rates) == pytest.approx(1.0)
    assert kendall(rates, rates) == pytest.approx(1.0)
    # same order, different rates: rank metrics are perfect, Pearson is not
    squashed = rates**3
    assert mmrv(squashed, rates) == 0.0
    assert kendall(squashed, rates) == pytest.approx(1.0)
    assert pearson(squashed, rates) < 1.0


def test_constant_vector_gives_zero_not_nan():
    flat, varied = np.full(5, 0.3), np.linspace(0.1, 0.9, 5)
    for metric in (pearson, spearman, kendall):
        assert metric(flat, varied) == 0.0
        assert metric(varied, flat) == 0.0
    assert np.isfinite(mmrv(flat, varied))
    assert pearson(flat, flat + 0.2) == 1.0  # equal centred vectors: SIMPLER's special case


def test_pearson_matches_scipy_up_to_simpler_epsilon():
    rng = np.random.default_rng(1)
    for _ in range(20):
        sim, real = rng.uniform(size=(2, 8))
        assert pearson(sim, real) == pytest.approx(stats.pearsonr(sim, real).statistic, abs=1e-6)


@pytest.mark.parametrize("ties", [False, True])
def test_rank_correlations_match_scipy(ties):
    rng = np.random.default_rng(2)
    for _ in range(50):
        n = int(rng.integers(3, 12))
        sim, real = rng.uniform(size=(2, n))
        if ties:  # rates of 10 trials: ties are common
            sim, real = np.round(sim, 1), np.round(real, 1)
        if np.ptp(sim) == 0 or np.ptp(real) == 0:
            continue
        assert spearman(sim, real) == pytest.approx(stats.spearmanr(sim, real).statistic, abs=1e-12)
        assert kendall(sim, real) == pytest.approx(stats.kendalltau(sim, real).statistic, abs=1e-12)


@pytest.mark.parametrize("metric", CORRELATION_METRICS.values(), ids=CORRELATION_METRICS.keys())
def test_batched_equals_one_at_a_time(metric):
    rng = np.random.default_rng(3)
    sim, real = np.round(rng.uniform(size=(2, 4, 7, 6)), 1)  # [2, batch 4x7, P=6]
    batched = metric(sim, real)
    assert batched.shape == (4, 7)
    looped = [[metric(sim[i, j], real[i, j]) for j in range(7)] for i in range(4)]
    np.testing.assert_allclose(batched, looped, atol=1e-12)
    assert isinstance(metric(sim[0, 0], real[0, 0]), float)


def test_shape_mismatch_is_rejected():
    with pytest.raises(ValueError, match="share a shape"):
        pearson(np.zeros(3), np.zeros(4))


def test_descending_ranks_put_the_best_first_and_share_ties():
    np.testing.assert_array_equal(
        descending_ranks(np.array([0.2, 0.9, 0.5, 0.5])), [4, 1, 2.5, 2.5]
    )


def test_wilson_interval_matches_scipy():
    successes, trials = np.array([0, 3, 25, 50]), np.array([50, 20, 50, 50])
    low, high = wilson_interval(successes, trials)
    for k, n, lo, hi in zip(successes, trials, low, high, strict=True):
        want = stats.binomtest(int(k), int(n)).proportion_ci(0.95, method="wilson")
        assert (lo, hi) == pytest.approx((want.low, want.high), abs=1e-9)
    assert low[0] == 0.0 and high[-1] == 1.0


def test_wilson_interval_rejects_impossible_counts():
    with pytest.raises(ValueError, match="successes <= trials"):
        wilson_interval(5, 4)


@pytest.mark.parametrize("level", [0.8, 0.9, 0.95, 0.99])
def test_wilson_interval_holds_rates_of_exactly_0_and_1(level):
    """A policy that never (always) succeeds lies inside its own error bar: the formula alone
    leaves about 1e-17 above 0 (1e-16 below 1) at some trial counts."""
    trials = np.arange(1, 201)
    never_low, _ = wilson_interval(np.zeros_like(trials), trials, level)
    _, always_high = wilson_interval(trials, trials, level)
    assert np.all(never_low == 0.0) and np.all(always_high == 1.0)
