"""Objects shaped again from their refined Gaussians (``reconstruct.objects.reshaped``,
``reconstruct.solid.splat_surface``): the kitchen twin's fused carton came out 7.7 x 7.2 cm for
a 5.5 x 4.5 one; its refined Gaussians outline it to a few mm, among the table's Gaussians
around its foot and lone ones off its faces."""

from __future__ import annotations

import numpy as np
import pytest

from reconstruct.objects import ObjectsConfig, reshaped
from reconstruct.solid import SolidConfig, build_solid, splat_surface
from sim_env.splats import GaussianSet, MeshSampling, concat, gaussians_from_mesh
from tests.reconstruct.test_objects import box_mesh, samples_of, tray_mesh

CARTON = (0.62, 0.14, -25.0, (0.055, 0.045, 0.07))  # x, y, yaw degrees, extents (m)


def points_as_gaussians(points: np.ndarray, opacity: float) -> GaussianSet:
    n = len(points)
    quats = np.tile([1.0, 0.0, 0.0, 0.0], (n, 1))
    return GaussianSet.from_colors(
        points, quats, np.full((n, 3), 0.002), np.full(n, opacity), np.full((n, 3), 0.5)
    )


def refined_like(surface: GaussianSet, centre: np.ndarray, seed: int = 0) -> GaussianSet:
    """``surface`` with what a refinement keeps around an object: opaque table Gaussians a few
    mm up around it, faint haze, and lone opaque Gaussians 1.5 cm beyond its widest reach."""
    rng = np.random.default_rng(seed)
    ring = np.c_[
        centre[0] + rng.uniform(-0.06, 0.06, 3000),
        centre[1] + rng.uniform(-0.06, 0.06, 3000),
        rng.uniform(0.0, 0.006, 3000),
    ]
    haze = np.c_[
        centre[0] + rng.uniform(-0.05, 0.05, 300),
        centre[1] + rng.uniform(-0.05, 0.05, 300),
        rng.uniform(0.0, 0.1, 300),
    ]
    reach = np.linalg.norm(surface.means[:, :2] - centre, axis=1).max() + 0.015
    turn = rng.uniform(0, 2 * np.pi, 15)
    lone = np.c_[
        centre[0] + reach * np.cos(turn),
        centre[1] + reach * np.sin(turn),
        rng.uniform(0.02, 0.06, 15),
    ]
    return concat(
        [
            surface,
            points_as_gaussians(ring, 0.95),
            points_as_gaussians(haze, 0.2),
            points_as_gaussians(lone, 0.9),
        ]
    )


def test_the_surface_keeps_crowded_opaque_centres_above_the_table() -> None:
    x, y, yaw, extents = CARTON
    surface = gaussians_from_mesh(box_mesh(x, y, yaw, extents), MeshSampling(count=3000))
    mixed = refined_like(surface, np.array([x, y]))
    kept = splat_surface(mixed.means, mixed.opacities, SolidConfig())
    assert len(kept) > 0.8 * np.sum(surface.means[:, 2] > 0.003)
    assert kept[:, 2].min() > SolidConfig().surface_floor
    lone = mixed.means[-15:]  # none of the lone ones
    assert not np.any(np.all(np.isclose(kept[:, None], lone[None]), axis=2))
    assert len(splat_surface(mixed.means[:5], mixed.opacities[:5], SolidConfig())) == 0


def test_a_box_fused_too_wide_is_shaped_to_its_refined_gaussians() -> None:
    x, y, yaw, extents = CARTON
    wide = build_solid(samples_of(box_mesh(x, y, yaw + 8.0, (0.077, 0.072, 0.051))))
    surface = gaussians_from_mesh(box_mesh(x, y, yaw, extents), MeshSampling(count=3000))
    solid = reshaped(wide, refined_like(surface, np.array([x, y])), ObjectsConfig())
    assert solid is not None and solid.floor is None and solid.mesh.is_watertight
    assert np.allclose(solid.mesh.extents, extents, atol=0.004)
    assert np.allclose(solid.position[:2], [x, y], atol=0.003)
    assert np.degrees(solid.yaw) == pytest.approx(yaw, abs=3.0)


def test_a_container_stays_a_container_shaped_to_its_walls() -> None:
    tray = tray_mesh()  # 16 x 12 x 4 cm at the origin
    fused = tray.copy()
    fused.apply_scale([1.15, 1.15, 1.0])  # walls fused 1-1.2 cm outside
    before = build_solid(samples_of(fused))
    assert before.floor is not None
    surface = gaussians_from_mesh(tray, MeshSampling(count=12000))
    solid = reshaped(before, refined_like(surface, np.zeros(2)), ObjectsConfig())
    assert solid is not None and solid.floor is not None
    assert np.allclose(solid.mesh.extents[:2], [0.16, 0.12], atol=0.006)
    assert solid.mesh.extents[0] < before.mesh.extents[0] - 0.015


def test_too_few_refined_gaussians_keep_the_fused_solid() -> None:
    x, y, yaw, extents = CARTON
    solid = build_solid(samples_of(box_mesh(x, y, yaw, extents)))
    sparse = gaussians_from_mesh(box_mesh(x, y, yaw, extents), MeshSampling(count=20))
    assert reshaped(solid, sparse, ObjectsConfig()) is None
