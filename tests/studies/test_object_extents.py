"""The bundled twins' objects measured against their source worlds'
(``benchmarks.fidelity.object_extents``): since their objects are shaped from their refined
Gaussians, the boxes and the trays come out within 0.6 cm of their true size (as fused,
0.6-5.5 cm too wide); the cans do not (said so below)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.fidelity.object_extents import extent_table, true_extents
from reconstruct.synthetic.spec import WORLDS


def test_a_can_is_measured_across_and_a_box_by_its_size() -> None:
    objects = {o.name: o for o in WORLDS["kitchen_source"].objects}
    assert np.allclose(true_extents(objects["yellow_can"]), [0.066, 0.066, 0.1])
    assert np.allclose(true_extents(objects["red_carton"]), [0.055, 0.045, 0.07])


def test_the_kitchen_twins_objects_are_their_true_size() -> None:
    table = extent_table("kitchen_source", "kitchen_twin")
    for name in ("red_carton", "purple_box", "crate"):
        assert table[name]["largest_error"] < 0.6, (name, table[name])
    # the can's top is missing from the splats stage's Gaussians: 3 cm short, said so
    assert table["yellow_can/z"]["extent"] == pytest.approx(6.8, abs=0.5)
    assert table["crate/x"]["true_extent"] == pytest.approx(21.0)


def test_the_tabletop_twins_objects_are_their_true_size() -> None:
    table = extent_table("tabletop_source", "tabletop_twin")
    for name in ("red_box", "green_box", "tray"):
        assert table[name]["largest_error"] < 0.7, (name, table[name])
    # the can's opaque refined Gaussians stand inside its curved side: 1.4 cm thin, said so
    assert table["blue_can/x"]["extent"] == pytest.approx(4.2, abs=0.5)
    assert table["blue_can/x"]["true_extent"] == pytest.approx(5.6)
