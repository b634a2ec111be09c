"""The recorded-trials estimate benchmark's arithmetic: draws, equal widths, the ceiling."""

from __future__ import annotations

import numpy as np

from benchmarks.estimate_trials import (
    MAX_REAL_ONLY,
    ceiling,
    draw,
    equal_width,
    population,
    read_population,
    write_population,
)


def test_draws_split_the_population_into_real_and_twin_only():
    real = np.arange(12, dtype=float) / 12
    twin = real + 1.0  # tells which condition a twin value came from
    trials = draw(real, twin, 4, 50, np.random.default_rng(0))
    assert trials.real.shape == (50, 4) and trials.twin.shape == (50, 8)
    np.testing.assert_array_equal(trials.paired, trials.real + 1.0)  # the twin at the same place
    for row in range(50):
        seen = np.sort(np.concatenate([trials.paired[row], trials.twin[row]]))
        np.testing.assert_array_equal(seen, twin)  # every condition once


def test_equal_width_is_the_first_narrow_enough_size():
    curve = np.array([np.nan, np.nan, 0.9, 0.7, 0.5, 0.4])
    assert equal_width(curve, 0.55, 3) == 4
    assert equal_width(curve, 0.1, 3) == MAX_REAL_ONLY  # none: at least the search's end
    assert equal_width(curve, 0.0, 3) == 3  # a zero width saves nothing


def test_ceiling_is_the_squared_trial_correlation_with_many_twin_trials():
    rng = np.random.default_rng(1)
    u = rng.standard_normal(200_000)
    real = (u + 0.5 * rng.standard_normal(u.size) > 0).astype(float)
    twin = (u + 0.5 * rng.standard_normal(u.size) > 0).astype(float)
    r = np.corrcoef(real, twin)[0, 1]
    assert 0.2 < r**2 < 0.4
    assert abs(ceiling(real, twin, 10) - r**2) < 0.005
    assert ceiling(real, real, 10) > 0.99  # a perfect twin: nearly every trial saved
    assert ceiling(real, rng.permutation(twin), 10) < 0.01  # an unrelated one: none
    assert ceiling(real, np.ones_like(real), 10) == 0.0  # a twin that never varies


def test_population_round_trips_through_its_csv(tmp_path):
    pop = {
        "cot-s400": {
            "condition": np.array([0.0, 1.0, 7.0]),
            "real": np.array([1.0, 0.0, 1.0]),
            "success": np.array([1.0, 0.0, 0.0]),
            "progress": np.array([1.0, 0.25, 0.5]),
        },
        "cot-s1000": {
            "condition": np.array([3.0, 4.0]),
            "real": np.zeros(2),
            "success": np.ones(2),
            "progress": np.full(2, 0.75),
        },
    }
    write_population(pop, tmp_path / "pop.csv")
    back = read_population(tmp_path / "pop.csv")
    assert list(back) == list(pop)
    for policy, outcomes in pop.items():
        for key, values in outcomes.items():
            np.testing.assert_array_equal(back[policy][key], values)


def test_population_keeps_only_the_current_builds(tmp_path):
    """A store holding an earlier build of the twin: its episodes do not mix into the
    population when the current packages' hashes are given."""
    from evaluate.store import EpisodeKey, EpisodeOutcome, EpisodeRecord, ResultsStore

    path = tmp_path / "results.sqlite"
    with ResultsStore.open(path) as store:
        store.add_run({"side": "all"}, run_id="run")
        for world, digest, success in (
            ("source", "s" * 64, True),
            ("twin", "o" * 64, False),  # the earlier twin
            ("twin", "n" * 64, True),
        ):
            for ic in range(3):
                outcome = EpisodeOutcome(
                    success=success,
                    progress=1.0 if success else 0.25,
                    criteria={},
                    length_steps=10,
                    wall_time_s=1.0,
                    latency_mean_s=0.01,
                    latency_max_s=0.01,
                )
                key = EpisodeKey("bundle:x/cot-s1", f"/w/{world}", digest, ic, ic)
                store.record_episode(EpisodeRecord("run", key, outcome))
    current = population(path, {"s" * 64, "n" * 64})["cot-s1"]
    np.testing.assert_array_equal(current["success"], [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(current["progress"], [1.0, 1.0, 1.0])
    mixed = population(path)["cot-s1"]  # without the hashes both builds are averaged
    np.testing.assert_array_equal(mixed["success"], [0.5, 0.5, 0.5])
