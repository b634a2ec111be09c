"""The table plane, the floor and the default robot base on synthetic point clouds: an object
filling the frames, any unit, a user hint, a visible floor."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from reconstruct.align import table_over_floor
from reconstruct.floaters import isolated
from reconstruct.geometry import angle_between_deg
from reconstruct.gravity import Cameras, PlaneSearch, find_table
from reconstruct.placement import (
    OBJECT_CLEARANCE_M,
    ROBOT_INSET_M,
    STRAY_NEIGHBOURS,
    STRAY_RADIUS_M,
    default_base,
)

TILT = Rotation.from_euler("xyz", [25, -10, 40], degrees=True).as_matrix()


def statue_scene(orbit: Callable[..., np.ndarray]) -> tuple[np.ndarray, Cameras]:
    """A 0.6 m table holding 5% of the points under a statue holding the rest (a 0.25 m
    column with a ledge, a flat ring parallel to the table, and a dome), seen by a ring of
    cameras looking down at it; everything turned by ``TILT``."""
    rng = np.random.default_rng(0)
    table = np.c_[rng.uniform(-0.3, 0.3, (80, 2)), rng.normal(0, 1e-3, 80)]
    table = table[np.linalg.norm(table[:, :2], axis=1) > 0.15]  # the statue hides the middle
    angle = rng.uniform(0, 2 * np.pi, 1200)
    side = np.c_[0.12 * np.cos(angle[:500]), 0.12 * np.sin(angle[:500]), rng.uniform(0, 0.25, 500)]
    radius = rng.uniform(0.12, 0.15, 300)
    ledge = np.c_[
        radius * np.cos(angle[500:800]), radius * np.sin(angle[500:800]), np.full(300, 0.15)
    ]
    up = rng.uniform(0, np.pi / 2, 400)
    dome = np.c_[
        0.12 * np.cos(up) * np.cos(angle[800:]),
        0.12 * np.cos(up) * np.sin(angle[800:]),
        0.25 + 0.12 * np.sin(up),
    ]
    poses = orbit(12, radius=0.5, height=0.45, degrees=330, target=(0.0, 0.0, 0.15))
    poses = np.concatenate([poses[:, :, :3] @ TILT.T, poses[:, :, 3:]], axis=2)
    return np.r_[table, side, ledge, dome] @ TILT.T, Cameras.from_poses(poses)


def test_the_table_under_a_statue_wins_over_larger_planes(orbit) -> None:
    points, cameras = statue_scene(orbit)
    found = find_table(points, cameras, PlaneSearch())
    assert angle_between_deg(found.plane.normal, TILT[:, 2]) < 1.0
    table = len(points) - 1200  # the statue's points come after the table's
    assert found.inliers[:table].all() and found.inliers.mean() < 0.1
    assert found.cameras_above == 1.0 and found.points_below == 0.0
    assert "of cameras above" in found.runner_up


@pytest.mark.parametrize("unit", [1e-3, 1.0, 1e3])
def test_the_search_is_the_same_in_any_unit(orbit, unit: float) -> None:
    points, cameras = statue_scene(orbit)
    scaled = Cameras(cameras.centres * unit, cameras.forward, cameras.down)
    reference = find_table(points, cameras, PlaneSearch())
    found = find_table(points * unit, scaled, PlaneSearch())
    assert np.array_equal(found.inliers, reference.inliers)
    assert found.threshold == pytest.approx(reference.threshold * unit)
    assert angle_between_deg(found.plane.normal, reference.plane.normal) < 1e-6


def test_a_hint_picks_the_plane_the_user_points_at(orbit) -> None:
    points, cameras = statue_scene(orbit)
    ledge = np.zeros(len(points), bool)
    ledge[-700:-400] = True  # the statue's ledge: not the table, but the user says it is
    found = find_table(points, cameras, PlaneSearch(), on_table=ledge)
    assert found.inliers[ledge].mean() > 0.9
    assert angle_between_deg(found.plane.normal, TILT[:, 2]) < 2.0


@pytest.mark.parametrize("floor_points", [150, 2000])
def test_the_table_height_over_a_visible_floor(orbit, floor_points: int) -> None:
    """Whether the table or the larger floor scores best, the gap between them is found."""
    rng = np.random.default_rng(1)
    table = np.c_[rng.uniform(-0.4, 0.4, (500, 2)), np.zeros(500)]
    floor = np.c_[rng.uniform(-1.5, 1.5, (floor_points, 2)), np.full(floor_points, -0.74)]
    floor = floor[np.abs(floor[:, :2]).max(axis=1) > 0.45]  # the table hides the floor under it
    box = np.c_[rng.uniform(-0.05, 0.05, (100, 2)), rng.uniform(0.0, 0.1, 100)]
    poses = orbit(10, radius=1.0, height=0.6, degrees=300)
    cameras = Cameras.from_poses(poses)
    points = np.r_[table, floor, box]
    search = PlaneSearch()
    found = find_table(points, cameras, search)
    plane, inliers, gap = table_over_floor(points, found, search)
    assert gap == pytest.approx(0.74, abs=0.01)
    assert abs(plane.offset) < 0.01 and inliers[:500].mean() > 0.95


def test_the_default_base_is_on_the_table_edge_facing_the_cameras() -> None:
    rng = np.random.default_rng(2)
    table = rng.uniform(-0.5, 0.5, (400, 2))
    table[:4] = [[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]]
    cameras = np.c_[np.full(5, -0.9), np.linspace(-0.3, 0.3, 5)]
    objects = rng.uniform(-0.05, 0.05, (50, 2))
    placed = default_base(table, objects, cameras, 1.0, middle=np.zeros(2))
    assert (placed.base.x, placed.base.y) == pytest.approx((-0.5 + ROBOT_INSET_M, 0.0))
    assert placed.base.yaw_deg == pytest.approx(0.0) and placed.source == "default"
    near = objects + [-0.3, 0.0]  # an object by the edge: the base steps back from it
    placed = default_base(table, near, cameras, 1.0, middle=np.zeros(2))
    held = near[~isolated(near, STRAY_RADIUS_M, STRAY_NEIGHBOURS)]  # its strays move nothing
    assert np.linalg.norm(held - [placed.base.x, placed.base.y], axis=1).min() == pytest.approx(
        OBJECT_CLEARANCE_M
    )
    assert "moved back" in placed.note
    scaled = default_base(table * 1e3, objects * 1e3, cameras * 1e3, 1e3, middle=np.zeros(2))
    assert scaled.base.x == pytest.approx(1e3 * (-0.5 + ROBOT_INSET_M))
