"""Estimates with guarantees: a policy's real success rate from a few real trials paired with
twin trials at the same initial conditions, plus many twin-only trials (prediction-powered
inference), with real-only and PPI intervals, pairwise differences and a trial planner."""

from evaluate.estimate.analysis import (
    Bounds,
    CellEstimate,
    Family,
    PairDifference,
    compare,
    equal_width_trials,
    estimate,
)
from evaluate.estimate.document import EstimateDocument
from evaluate.estimate.intervals import betting_interval, clopper_pearson_interval
from evaluate.estimate.pairing import MIN_PAIRS, PairedCell, load_episodes, pair
from evaluate.estimate.plan import Plan, plan
from evaluate.estimate.ppi import PPIInterval, ppi_betting, ppi_clt, tuned_lambda

__all__ = [
    "MIN_PAIRS",
    "Bounds",
    "CellEstimate",
    "EstimateDocument",
    "Family",
    "PPIInterval",
    "PairDifference",
    "PairedCell",
    "Plan",
    "betting_interval",
    "clopper_pearson_interval",
    "compare",
    "equal_width_trials",
    "estimate",
    "load_episodes",
    "pair",
    "plan",
    "ppi_betting",
    "ppi_clt",
    "tuned_lambda",
]
