"""The default robot base stands clear of what the arm sweeps at its home pose: a tall object
must be beyond the whole arm, a low one only beyond the gripper's reach down to the table."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from reconstruct.placement import (
    HOME_SWEEP_M,
    HOME_UNDERSIDE_M,
    OBJECT_CLEARANCE_M,
    ROBOT_INSET_M,
    default_base,
)
from sim_env.package import load_package
from sim_env.registry import BUNDLED_DIR
from sim_env.robot import ROBOT_PREFIX
from sim_env.scene import apply_initial_condition, build_scene

TABLE = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])
CAMERAS = np.c_[np.full(5, -0.9), np.linspace(-0.3, 0.3, 5)]  # the base comes from -x


def column(height: float, x: float = -0.05) -> np.ndarray:
    """Points of a 4 cm column ``height`` tall standing at (x, 0)."""
    z = np.linspace(0.0, height, 40)
    return np.concatenate([np.c_[np.full(40, x + dx), np.full(40, dy), z]
                           for dx, dy in ((-0.02, 0), (0.02, 0), (0, -0.02), (0, 0.02))])  # fmt: skip


@pytest.mark.parametrize(
    ("height", "base_x"),
    [
        (0.30, -0.5 + ROBOT_INSET_M),  # under the gripper: the table edge, 0.3 m from it holds
        (0.39, -0.07 - HOME_SWEEP_M),  # the Buddha's height: beyond the arm at home
    ],
)
def test_the_default_base_clears_a_tall_object_by_the_arm_at_home(height, base_x) -> None:
    placed = default_base(TABLE, column(height), CAMERAS, 1.0, middle=np.zeros(2))
    assert (placed.base.x, placed.base.y, placed.base.yaw_deg) == pytest.approx((base_x, 0, 0))
    assert ("arm's home pose" in placed.note) == (height > HOME_UNDERSIDE_M)
    scaled = default_base(TABLE * 5, column(height) * 5, CAMERAS * 5, 5.0, middle=np.zeros(2))
    assert scaled.base.x == pytest.approx(5 * base_x)


def test_a_tall_object_stands_beyond_the_arm_at_home_with_its_low_parts() -> None:
    """The Buddha's chin juts 8 cm toward the robot, 0.1 m up: lower than the gripper at home,
    but part of a 0.39 m object whose box the touch task measures to; so the whole object
    stands beyond the arm's home pose (before: only its tall points, and the gripper at home
    was within 2 cm of the box)."""
    chin = np.c_[np.linspace(-0.15, -0.07, 9), np.zeros(9), np.full(9, 0.1)]
    placed = default_base(TABLE, np.r_[column(0.39), chin], CAMERAS, 1.0, middle=np.zeros(2))
    assert placed.base.x == pytest.approx(-0.15 - HOME_SWEEP_M)
    apart = chin - [0.1, 0, 0]  # a low object of its own, 10 cm nearer: 0.3 m clears it
    placed = default_base(TABLE, np.r_[column(0.39), apart], CAMERAS, 1.0, middle=np.zeros(2))
    assert placed.base.x == pytest.approx(-0.07 - HOME_SWEEP_M)


def test_lone_points_of_structure_from_motion_do_not_push_the_base_back() -> None:
    """Two stray points 0.4 m up, 0.2 m nearer the cameras than a low column (the Buddha
    clip's SfM had two, 0.13 m ahead of its statue): no object, the base stays at the edge."""
    strays = np.array([[-0.25, 0.01, 0.41], [-0.17, -0.05, 0.44]])
    placed = default_base(TABLE, np.r_[column(0.30), strays], CAMERAS, 1.0, middle=np.zeros(2))
    assert placed.base.x == pytest.approx(-0.5 + ROBOT_INSET_M)
    assert "moved back" not in placed.note
    # three more points near each make (small) objects that the arm at home must clear
    crowd = np.concatenate([strays + [d, 0, 0] for d in (0, 0.01, -0.01, 0.02)])
    placed = default_base(TABLE, np.r_[column(0.30), crowd], CAMERAS, 1.0, middle=np.zeros(2))
    assert placed.base.x == pytest.approx(-0.26 - HOME_SWEEP_M, abs=0.02)


def test_the_clearances_hold_for_the_arm_model_at_home() -> None:
    """The constants are the robot model's home pose: its gripper hangs no lower than
    HOME_UNDERSIDE_M wherever a low object may stand, and nothing reaches HOME_SWEEP_M."""
    package = load_package(BUNDLED_DIR / "tabletop_source")
    scene = build_scene(package)
    data = mujoco.MjData(scene.model)
    apply_initial_condition(scene, data, package.spec.initial_conditions[0])
    mujoco.mj_forward(scene.model, data)
    base = np.asarray(package.spec.robot.base_pose.pos)
    assert package.spec.robot.base_pose.quat == (1.0, 0.0, 0.0, 0.0)
    lows, fars = [], []
    for g in range(scene.model.ngeom):
        if not scene.model.body(scene.model.geom_bodyid[g]).name.startswith(ROBOT_PREFIX):
            continue
        rot = data.geom_xmat[g].reshape(3, 3)
        centre = data.geom_xpos[g] + rot @ scene.model.geom_aabb[g][:3] - base
        half = np.abs(rot) @ scene.model.geom_aabb[g][3:]
        fars.append(np.linalg.norm(centre[:2]) + np.linalg.norm(half[:2]))
        if centre[0] + half[0] > OBJECT_CLEARANCE_M:
            lows.append(centre[2] - half[2])
    assert HOME_UNDERSIDE_M < min(lows) < HOME_UNDERSIDE_M + 0.05
    assert max(fars) < HOME_SWEEP_M
