"""The recorded-trials estimate benchmark's arithmetic: draws, equal widths, the ceiling."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.estimate_trials import (
    CONDITIONS,
    MAX_REAL_ONLY,
    POPULATION_CSV,
    RUNGS,
    ceiling,
    draw,
    equal_width,
    population,
    read_population,
    with_pooled,
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


def test_pooled_predictions_blend_each_policy_with_the_conditions_mean():
    pop = {
        "a": {"condition": np.array([0.0, 1.0, 2.0]), "real": np.zeros(3),
              "success": np.array([1.0, 0.0, 1.0]), "progress": np.array([1.0, 0.5, 1.0])},
        "b": {"condition": np.array([1.0, 2.0]), "real": np.zeros(2),
              "success": np.array([1.0, 0.0]), "progress": np.array([1.0, 0.0])},
    }  # fmt: skip
    pooled = with_pooled(pop)
    np.testing.assert_allclose(pooled["a"]["pooled"], [1.0, 0.25, 0.75])  # 0 alone; 1, 2 shared
    np.testing.assert_allclose(pooled["b"]["pooled"], [0.75, 0.25])
    np.testing.assert_allclose(pooled["a"]["pooled_progress"], [1.0, 0.625, 0.75])
    assert "pooled" not in pop["a"]  # the population itself is left as read


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


def _store(path, episodes, run_id="run"):
    """A store with a run ``run_id`` holding ``(world, hash, condition, success, progress)``
    episodes of policy ``bundle:x/cot-s1``."""
    from evaluate.store import EpisodeKey, EpisodeOutcome, EpisodeRecord, ResultsStore

    with ResultsStore.open(path) as store:
        store.add_run({"side": "all"}, run_id=run_id)
        for world, digest, ic, success, progress in episodes:
            outcome = EpisodeOutcome(
                success=success,
                progress=progress,
                criteria={},
                length_steps=10,
                wall_time_s=1.0,
                latency_mean_s=0.01,
                latency_max_s=0.01,
            )
            key = EpisodeKey("bundle:x/cot-s1", f"/w/{world}", digest, ic, ic)
            store.record_episode(EpisodeRecord(run_id, key, outcome))
    return path


def test_population_keeps_only_the_current_builds(tmp_path):
    """A store holding an earlier build of the twin: its episodes do not mix into the
    population; the worlds are told by content hash, whatever their paths."""
    path = _store(
        tmp_path / "results.sqlite",
        [
            (world, digest, ic, success, 1.0 if success else 0.25)
            for world, digest, success in (
                ("source", "s" * 64, True),
                ("twin", "o" * 64, False),  # the earlier twin
                ("twin", "n" * 64, True),
            )
            for ic in range(3)
        ],
    )
    current = population(path, {"s" * 64: "source", "n" * 64: "twin"})["cot-s1"]
    np.testing.assert_array_equal(current["success"], [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(current["progress"], [1.0, 1.0, 1.0])
    earlier = population(path, {"s" * 64: "source", "o" * 64: "twin"})["cot-s1"]
    np.testing.assert_array_equal(earlier["success"], [0.0, 0.0, 0.0])


def test_population_reads_only_the_named_runs_of_a_retrained_rung(tmp_path):
    """A rung retrained in place keeps its policy id and the source world its hash: only the
    runs named tell its episodes from the earlier bundle's, and read together the two are
    refused rather than averaged; a run's copy of another run's episode is one episode."""
    worlds = {"s" * 64: "source", "t" * 64: "twin"}
    path = tmp_path / "results.sqlite"
    for run_id, source in (("before", True), ("after", False), ("copy", False)):
        episodes = [("source", "s" * 64, ic, source, 1.0 if source else 0.25) for ic in range(3)]
        _store(path, episodes + [("twin", "t" * 64, ic, True, 1.0) for ic in range(3)], run_id)
    after = population(path, worlds, ("after",))["cot-s1"]
    np.testing.assert_array_equal(after["real"], [0.0, 0.0, 0.0])
    with_copy = population(path, worlds, ("after", "copy"))["cot-s1"]
    np.testing.assert_array_equal(with_copy["real"], after["real"])
    with pytest.raises(
        SystemExit, match=r"results\.sqlite: 6 episodes share .* in runs after, before"
    ):
        population(path, worlds, ("before", "after"))


def test_jittered_copies_become_the_twins_success_probability(tmp_path):
    """Each jittered copy's outcome at a condition is a column; read back with ``jitter=K``
    the prediction is the mean over the first K copies, and a file without them says so."""
    worlds = {"s" * 64: "source", "t" * 64: "twin", "a" * 64: "jitter-1", "b" * 64: "jitter-2"}
    outcomes = {
        "source": (1, 0, 1),
        "twin": (1, 0, 0),
        "jitter-1": (1, 1, 0),
        "jitter-2": (0, 1, 1),
    }
    episodes = [
        (world, digest, ic, bool(outcomes[world][ic]), 0.5 + 0.5 * outcomes[world][ic])
        for digest, world in worlds.items()
        for ic in range(3)
    ]
    path = _store(tmp_path / "results.sqlite", episodes + [("twin-jitter", "c" * 64, 0, True, 1.0)])
    pop = population(path, worlds)
    np.testing.assert_array_equal(pop["cot-s1"]["jitter2"], [0.0, 1.0, 1.0])
    write_population(pop, tmp_path / "pop.csv")
    back = read_population(tmp_path / "pop.csv", jitter=2)["cot-s1"]
    np.testing.assert_array_equal(back["real"], [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(back["success"], [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(back["jitter"], [0.5, 1.0, 0.5])
    np.testing.assert_array_equal(back["jitter_progress"], [0.75, 1.0, 0.75])
    np.testing.assert_array_equal(back["jitter_with_twin"], [2 / 3, 2 / 3, 1 / 3])
    one = read_population(tmp_path / "pop.csv", jitter=1)["cot-s1"]
    np.testing.assert_array_equal(one["jitter"], [1.0, 1.0, 0.0])
    assert "jitter" not in read_population(tmp_path / "pop.csv")["cot-s1"]
    with pytest.raises(SystemExit, match=r"pop\.csv: no column jitter3: the file holds 2"):
        read_population(tmp_path / "pop.csv", jitter=3)


def test_the_committed_populations_read_back():
    """The default population is the default rungs at the default conditions, 0/1 outcomes;
    session 8's file still measures its eight jittered copies."""
    current = read_population(POPULATION_CSV)
    assert sorted(current) == sorted(RUNGS)
    for outcomes in current.values():
        np.testing.assert_array_equal(outcomes["condition"], np.arange(CONDITIONS))
        assert set(np.unique(outcomes["real"])) | set(np.unique(outcomes["success"])) <= {0, 1}
    with pytest.raises(SystemExit, match="holds 0 jittered"):
        read_population(POPULATION_CSV, jitter=1)
    earlier = read_population(POPULATION_CSV.with_name("estimate_trials_s8.csv"), jitter=8)
    assert sorted(earlier) == ["cot-s1000", "cot-s400"]
    assert all(0 <= o["jitter"].min() <= o["jitter"].max() <= 1 for o in earlier.values())
