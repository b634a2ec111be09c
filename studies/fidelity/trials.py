"""Trial by trial: how often a world agrees with the source world on the same episode (same
policy and seed, so the same initial condition), and how well its outcome predicts the
source's.

A study ranks policies by their rates; prediction-powered estimates (``twinbench estimate``)
live on single trials, and no interval saves more than r^2 of the real trials, r the
per-trial correlation of the two worlds' outcomes. So each comparison reports the share of
paired episodes that agree and the median r over the policies whose source rate is within
:data:`VARIED` (a policy that always or never succeeds has no trial to predict).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from studies.fidelity.document import TrialAgreement

__all__ = ["VARIED", "correlation", "pair_trials", "per_policy", "trial_agreement", "trials_line"]

VARIED = (0.1, 0.9)
KEYS = ["policy", "seed"]


def pair_trials(world: pd.DataFrame, source: pd.DataFrame) -> pd.DataFrame:
    """Episodes both ran, from frames with ``policy``, ``seed`` and ``success``: columns
    ``policy``, ``seed``, ``source`` and ``other`` (0/1)."""
    both = source[[*KEYS, "success"]].merge(
        world[[*KEYS, "success"]], on=KEYS, suffixes=("_source", "_other")
    )
    return both.rename(columns={"success_source": "source", "success_other": "other"})


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson of two 0/1 outcome vectors; 0 where either never varies."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def per_policy(pairs: pd.DataFrame) -> dict[str, dict[str, float]]:
    """policy -> {pairs, source_rate, other_rate, agreement, r, r2}."""
    out = {}
    for policy, group in pairs.groupby("policy", sort=True):
        source, other = group["source"].to_numpy(), group["other"].to_numpy()
        r = correlation(source, other)
        out[str(policy)] = {
            "pairs": float(len(group)),
            "source_rate": float(source.mean()),
            "other_rate": float(other.mean()),
            "agreement": float(np.mean(source == other)),
            "r": r,
            "r2": r * r,
        }
    return out


def trial_agreement(rows: Mapping[str, Mapping[str, float]]) -> TrialAgreement:
    """The comparison's figures from :func:`per_policy`'s rows."""
    low, high = VARIED
    pairs = sum(row["pairs"] for row in rows.values())
    agree = sum(row["agreement"] * row["pairs"] for row in rows.values())
    varied = [row["r"] for row in rows.values() if low <= row["source_rate"] <= high]
    return TrialAgreement(
        pairs=int(pairs),
        agreement=agree / pairs if pairs else 0.0,
        median_r=float(np.median(varied)) if varied else None,
        policies_varied=len(varied),
    )


def trials_line(trials: TrialAgreement) -> str:
    """' · trials agree 0.78, median r 0.44 (11 policies)' for the study's console lines."""
    r = "n/a" if trials.median_r is None else f"{trials.median_r:.2f}"
    return (
        f" · trials agree {trials.agreement:.2f}, median r {r} ({trials.policies_varied} policies)"
    )
