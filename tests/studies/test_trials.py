"""A fidelity comparison's trial-by-trial figures: episodes paired by policy and seed, the share
that agree, and the median per-trial r over the policies the source neither always nor never
succeeds with."""

from __future__ import annotations

import pandas as pd
import pytest

from studies.fidelity.trials import pair_trials, per_policy, trial_agreement, trials_line


def _side(outcomes: dict[str, list[int]]) -> pd.DataFrame:
    rows = [
        {"policy": policy, "seed": seed, "success": float(s)}
        for policy, results in outcomes.items()
        for seed, s in enumerate(results)
    ]
    return pd.DataFrame(rows)


def test_episodes_pair_by_policy_and_seed_and_unpaired_ones_drop():
    source = _side({"a": [1, 0, 1, 0], "b": [1, 1, 1, 1]})
    world = _side({"a": [1, 0, 0], "b": [1, 0, 1, 1]})  # a's last episode never ran here
    pairs = pair_trials(world, source)
    assert len(pairs) == 7 and set(pairs.columns) == {"policy", "seed", "source", "other"}
    a = pairs[pairs["policy"] == "a"].sort_values("seed")
    assert a["source"].tolist() == [1, 0, 1] and a["other"].tolist() == [1, 0, 0]


def test_the_figures_weigh_every_pair_and_take_r_only_where_the_source_varies():
    source = _side({"same": [1, 0, 1, 0], "flipped": [1, 0, 1, 0], "always": [1, 1, 1, 1]})
    world = _side({"same": [1, 0, 1, 0], "flipped": [0, 1, 0, 1], "always": [1, 0, 1, 1]})
    rows = per_policy(pair_trials(world, source))
    assert rows["same"]["r"] == pytest.approx(1.0) and rows["flipped"]["r"] == pytest.approx(-1.0)
    assert rows["always"]["r"] == 0.0  # the source never varies: nothing to predict
    figures = trial_agreement(rows)
    assert (figures.pairs, figures.median_r, figures.policies_varied) == (12, 0.0, 2)
    assert figures.agreement == pytest.approx((4 + 0 + 3) / 12)
    assert trials_line(figures) == " · trials agree 0.58, median r 0.00 (2 policies)"


def test_a_world_whose_source_never_varies_has_no_median():
    rows = per_policy(pair_trials(_side({"a": [1, 1]}), _side({"a": [1, 1]})))
    assert trial_agreement(rows).median_r is None
    assert "median r n/a" in trials_line(trial_agreement(rows))
