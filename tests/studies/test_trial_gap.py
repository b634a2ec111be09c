"""The trial-gap benchmark's pure parts on constructed records: where a losing episode's
rubric record departs from the winner's, how a locator error classifies a loss, and the CLI's
error for a store without the rung asked for."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from benchmarks.fidelity.trial_gap import (
    Located,
    Rubric,
    Thresholds,
    criteria_diff,
    diagnose,
    main,
    source_thresholds,
)
from benchmarks.fidelity.trial_gap_replay import reading
from studies.locator.net import Views

ORDER = ("reach_red_box", "lift_red_box", "red_box_in_tray", "release")
RUBRIC = Rubric(
    ORDER,
    {
        "reach_red_box": "reach/grasp",
        "lift_red_box": "lift",
        "red_box_in_tray": "transport/place",
        "release": "transport/place",
    },
    {"reach_red_box": 0, "lift_red_box": 0, "red_box_in_tray": 1, "release": 1},
)
WON = {"reach_red_box": 18, "lift_red_box": 34, "red_box_in_tray": 58, "release": 59}


def test_criteria_diff_names_the_first_criterion_the_loser_missed_and_the_lags():
    loser = {"reach_red_box": 20, "lift_red_box": None, "red_box_in_tray": None, "release": None}
    diff = criteria_diff(WON, loser, ORDER)
    assert diff.first_missed == "lift_red_box"
    assert diff.lags == {"reach_red_box": 2}
    later = {"reach_red_box": 18, "lift_red_box": 30, "red_box_in_tray": None, "release": None}
    diff = criteria_diff(WON, later, ORDER)
    assert diff.first_missed == "red_box_in_tray"
    assert diff.lags == {"reach_red_box": 0, "lift_red_box": -4}
    assert criteria_diff(WON, WON, ORDER).first_missed is None
    with pytest.raises(ValueError, match="lift_red_box"):
        criteria_diff(WON, {"reach_red_box": 3}, ORDER)


def test_thresholds_classify_and_refuse_an_inverted_band():
    limits = Thresholds(0.02, 0.03)
    assert limits.cause(0.019) == "physics/geometry"
    assert limits.cause(0.025) == "unclear"
    assert limits.cause(0.031) == "vision"
    with pytest.raises(ValueError, match="physics_below"):
        Thresholds(0.04, 0.02)


def _located(true_xy: np.ndarray, error_xy: np.ndarray) -> Located:
    """Located objects ``error_xy`` [C, M, 2] m away from ``true_xy`` [C, M, 2], yaw exact."""
    c, m = true_xy.shape[:2]
    views = Views(np.zeros((c, 2, 2, 3), np.uint8), true_xy, np.zeros((c, m)))
    return Located(views, true_xy + error_xy, np.zeros((c, m)))


def test_source_thresholds_rest_on_the_source_successes_only():
    errors = np.array([0.005, 0.01, 0.015, 0.02, 0.09])  # m, the last one a failure
    shift = np.stack([np.stack([errors, 0 * errors], -1)] * 2, axis=1)  # [C, 2, 2]
    located = _located(np.zeros((5, 2, 2)), shift)
    limits = source_thresholds(located, np.array([True, True, True, True, False]))
    assert limits[0].physics_below == pytest.approx(np.percentile(errors[:4], 90))
    assert limits[0].vision_above == pytest.approx(0.02)
    with pytest.raises(SystemExit, match="never succeeded"):
        source_thresholds(located, np.zeros(5, bool))


def test_diagnose_classifies_by_the_object_the_lost_stage_needs():
    never = dict.fromkeys(ORDER)
    reached = {"reach_red_box": 19, "lift_red_box": 34, "red_box_in_tray": None, "release": None}
    pairs = pd.DataFrame(
        {
            "source_success": [True, True, False, True],
            "twin_success": [False, False, True, True],
            "source_criteria": [WON, WON, never, WON],
            "twin_criteria": [never | {"reach_red_box": 19}, reached, WON, WON],
            "source_length_steps": [59, 59, 150, 59],
            "twin_length_steps": [150, 150, 59, 59],
            "source_failure_kind": [None] * 4,
            "twin_failure_kind": [None] * 4,
        }
    )
    true = np.zeros((4, 2, 2))
    twin_error = np.zeros((4, 2, 2))
    twin_error[0, 0] = (0.05, 0.0)  # condition 0: box 5 cm off -> a vision loss at lift
    twin_error[1, 0] = (0.05, 0.0)  # condition 1: box off but the tray, which place needs, exact
    source_error = np.zeros((4, 2, 2))
    source_error[2, 0] = (0.0, 0.025)  # condition 2: the source lost, box 2.5 cm off
    located = {"source": _located(true, source_error), "twin": _located(true, twin_error)}
    limits = [Thresholds(0.02, 0.03), Thresholds(0.02, 0.04)]
    out = diagnose(pairs, RUBRIC, located, limits).set_index("condition")
    assert list(out.index) == [0, 1, 2]  # condition 3 agrees
    assert list(out["direction"]) == ["lost", "lost", "gained"]
    assert list(out["first_missed"]) == ["lift_red_box", "red_box_in_tray", "reach_red_box"]
    assert list(out["stage"]) == ["lift", "transport/place", "reach/grasp"]
    assert list(out["cause"]) == ["vision", "physics/geometry", "unclear"]
    assert out.loc[0, "twin_err0_cm"] == pytest.approx(5.0)
    assert out.loc[1, "lag_steps"] == 1


def test_reading_moves_and_turns_the_policys_own_reading():
    quat = np.array([np.cos(0.05), 0.0, 0.0, np.sin(0.05)])  # yaw 0.1 rad

    def locate(image):
        return {n: {"pos": np.array([0.5, 0.1, 0.02]), "quat": quat} for n in ("box", "tray")}

    policy = SimpleNamespace(locate=locate, locator=SimpleNamespace(objects=("box", "tray")))
    out = reading(policy, None, np.array([[0.01, -0.02], [0.0, 0.0]]), np.array([0.2, 0.0]))
    np.testing.assert_allclose(out["box"]["pos"], [0.51, 0.08, 0.02])
    assert 2 * np.arctan2(out["box"]["quat"][3], out["box"]["quat"][0]) == pytest.approx(0.3)
    np.testing.assert_allclose(out["tray"]["quat"], quat)


def test_cli_names_the_store_and_its_rungs_for_a_missing_rung(tmp_path):
    from evaluate.store import EpisodeKey, EpisodeOutcome, EpisodeRecord, ResultsStore

    path = tmp_path / "results.sqlite"
    with ResultsStore.open(path) as store:
        store.add_run({"side": "all"}, run_id="run")
        outcome = EpisodeOutcome(
            success=True,
            progress=1.0,
            criteria={"reach_red_box": 3},
            length_steps=10,
            wall_time_s=1.0,
            latency_mean_s=0.01,
            latency_max_s=0.01,
        )
        key = EpisodeKey("bundle:ladder/cot-s400", "/w/source", "a" * 64, 0, 0)
        store.record_episode(EpisodeRecord("run", key, outcome))
    with pytest.raises(
        SystemExit, match=r"results\.sqlite: no episodes of rung 'src-s3000'.*cot-s400"
    ):
        main(["--store", str(path), "--rung", "src-s3000", "--out", str(tmp_path / "out")])
