"""The bundled kitchen twin's objects measured against the source world's
(``benchmarks.fidelity.object_extents``): since its objects are shaped from their refined
Gaussians, the carton, the biscuit box and the crate come out within half a centimetre of
their true size (as fused, 0.6-5.5 cm too wide)."""

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
