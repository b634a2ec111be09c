"""The worlds picture (``benchmarks.fidelity.worlds``): each world a captioned row of its
cameras side by side."""

from __future__ import annotations

import numpy as np

from benchmarks.fidelity.worlds import CAPTION_PX, captioned, world_row
from sim_env.package import load_package
from sim_env.registry import resolve_env


def test_a_row_shows_every_camera_of_the_condition_under_its_caption() -> None:
    cameras = load_package(resolve_env("primitive_cube_bowl")).spec.cameras
    row = world_row("primitive_cube_bowl", "mujoco", 0)
    assert row.shape == (cameras[0].height, sum(c.width for c in cameras), 3)
    assert row.std() > 10  # a rendered scene, not a blank
    image = captioned(row, "primitive_cube_bowl")
    assert image.shape == (row.shape[0] + CAPTION_PX, row.shape[1], 3)
    band = image[:CAPTION_PX]
    assert band.max() == 255 and band.min() < 100  # white band, dark text
    assert np.array_equal(image[CAPTION_PX:], row)
