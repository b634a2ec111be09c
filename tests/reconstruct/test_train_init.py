"""Initial Gaussians: points seeded on the table plane where the views look down onto it."""

from __future__ import annotations

import numpy as np

from reconstruct.train.init import InitConfig, table_samples
from reconstruct.views import View
from sim_env.cameras import look_at, quat_to_mat


def downward_view(width: int = 96, height: int = 64) -> View:
    """A camera 0.5 m above the origin looking straight down, whose image is red on its left
    half and blue on its right."""
    rotation = quat_to_mat(look_at(np.array([0.0, 0.0, 0.5]), np.zeros(3), np.array([0, 1.0, 0])))
    viewmat = np.eye(4)
    viewmat[:3, :3] = rotation.T  # camera -> world columns, transposed
    viewmat[:3, 3] = -rotation.T @ np.array([0.0, 0.0, 0.5])
    image = np.zeros((height, width, 3), np.float32)
    image[:, : width // 2, 0] = 1.0
    image[:, width // 2 :, 2] = 1.0
    k = np.array([[80.0, 0.0, width / 2], [0.0, 80.0, height / 2], [0.0, 0.0, 1.0]])
    return View("top.png", image, k, viewmat)


def test_table_points_lie_on_the_plane_inside_the_points_box_with_the_pixels_colours() -> None:
    view = downward_view()
    sfm = np.array([[-0.1, -0.1, 0.05], [0.1, 0.1, 0.0], [0.0, 0.05, 0.08]])
    config = InitConfig(table_points=10_000, table_spacing=0.05)
    points, colours = table_samples([view], sfm, config)
    assert len(points) > 50 and np.all(points[:, 2] == 0.0)
    assert np.all(points[:, :2] >= -0.1) and np.all(points[:, :2] <= 0.1)
    cell = 0.05 * 0.2
    assert len(np.unique(np.round(points[:, :2] / cell, 3), axis=0)) == len(points)  # one a cell
    # Each point has the colour of the pixels that see it: project them back.
    cam = points @ view.viewmat[:3, :3].T + view.viewmat[:3, 3]
    u = cam[:, 0] / cam[:, 2] * 80.0 + 48
    inside = np.abs(u - 48) > 2  # away from the colour boundary
    red = u < 48
    assert np.allclose(colours[inside & red], [1, 0, 0], atol=1e-6)
    assert np.allclose(colours[inside & ~red], [0, 0, 1], atol=1e-6)


def test_a_view_looking_up_or_too_many_points_are_handled() -> None:
    view = downward_view()
    up = View("up.png", view.image, view.K, view.viewmat @ np.diag([1.0, -1.0, -1.0, 1.0]))
    sfm = np.array([[-0.1, -0.1, 0.0], [0.1, 0.1, 0.0]])
    points, _ = table_samples([up], sfm, InitConfig(table_points=10_000, table_spacing=0.05))
    assert len(points) == 0  # its rays never come down to the table
    capped, _ = table_samples([view], sfm, InitConfig(table_points=7, table_spacing=0.01))
    assert len(capped) == 7
    none, _ = table_samples([view], sfm, InitConfig(table_points=0))
    assert len(none) == 0
