"""Every stage after align works in the units align chose: metres, or SfM units (``--scale 1``)
with the table taken to span a metre. The stages' metre settings are scaled by the units per
metre the align stage recorded with the robot base, so they agree with where it put the robot."""

from __future__ import annotations

import pytest

from reconstruct.initial_conditions import LayoutConfig, sample_layouts
from reconstruct.splats import SplatsConfig
from reconstruct.units import Units


def test_the_units_come_from_the_align_stage_s_robot_base() -> None:
    # An align summary of a --scale 1 run: the units it placed the robot in (no "units" record).
    unscaled = {"scale": 1.0, "scale_source": "given", "robot_base": {"units_per_metre": 7.5}}
    assert Units.from_align(unscaled) == Units(7.5, metric=False)
    metric = {"metric": True, "robot_base": {"units_per_metre": 1.0}}
    assert Units.from_align(metric) == Units(1.0, metric=True)
    given = {"units": {"per_metre": 3.0, "metric": False}, "robot_base": {"units_per_metre": 9}}
    assert Units.from_align(given) == Units(3.0, metric=False)  # an explicit record wins
    assert Units.from_align({}) is None and Units.from_align(None) is None  # an older run


def test_the_splats_stage_s_lengths_follow_the_units() -> None:
    config = SplatsConfig()
    scaled = config.in_units(Units(40.0, metric=False))
    assert scaled.min_point_height == pytest.approx(40 * config.min_point_height)
    assert scaled.init.max_scale == pytest.approx(40 * config.init.max_scale)
    assert scaled.train == config.train  # the training's lengths are fractions of the scene
    assert config.in_units(Units()) == config


@pytest.mark.parametrize("per_metre", [40.0, 0.01])
def test_initial_conditions_are_the_same_layouts_in_sfm_units(per_metre: float) -> None:
    # The scanned arrangement and its perturbations: in a world `per_metre` times larger the
    # same layouts, scaled (min_gap and perturb_xy are metres).
    radii = {"mug": 0.04, "bowl": 0.07}
    around = {"mug": (0.5, 0.1, 0.3), "bowl": (0.55, -0.1, 0.0)}
    config = LayoutConfig(count=6)
    metric = sample_layouts(radii, config, around=around)
    scaled = sample_layouts(
        {n: r * per_metre for n, r in radii.items()},
        config.in_units(per_metre),
        around={n: (x * per_metre, y * per_metre, a) for n, (x, y, a) in around.items()},
    )
    assert len(scaled) == len(metric) == 6
    for a, b in zip(metric, scaled, strict=True):
        for name in radii:
            assert b[name][0] == pytest.approx(a[name][0] * per_metre)
            assert b[name][1] == pytest.approx(a[name][1] * per_metre)
            assert b[name][2] == pytest.approx(a[name][2])
