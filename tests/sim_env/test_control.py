"""The arm controller: DROID's joint-velocity semantics against a chunk whose integrated path is
known, DROID's clipping, and tracking of the light wrist joint."""

from __future__ import annotations

import numpy as np

from sim_env import droid
from sim_env.env import EnvConfig, TwinEnv

# A recorded 15-step chunk of DROID joint velocities (normalized, as pi0-DROID emits them),
# then the gripper: every joint moves, some reverse, none past [-1, 1].
CHUNK = np.array(
    [
        [0.10, -0.05, 0.08, 0.12, -0.10, 0.05, 0.15, 0.0],
        [0.18, -0.10, 0.15, 0.22, -0.18, 0.10, 0.28, 0.0],
        [0.25, -0.15, 0.20, 0.30, -0.25, 0.14, 0.38, 0.0],
        [0.30, -0.18, 0.24, 0.35, -0.30, 0.18, 0.45, 0.0],
        [0.33, -0.20, 0.26, 0.38, -0.32, 0.20, 0.48, 0.0],
        [0.34, -0.21, 0.26, 0.38, -0.32, 0.21, 0.47, 0.0],
        [0.32, -0.20, 0.24, 0.35, -0.30, 0.20, 0.42, 1.0],
        [0.28, -0.18, 0.20, 0.30, -0.25, 0.18, 0.34, 1.0],
        [0.22, -0.14, 0.15, 0.22, -0.18, 0.14, 0.24, 1.0],
        [0.15, -0.09, 0.08, 0.13, -0.10, 0.09, 0.12, 1.0],
        [0.07, -0.04, 0.00, 0.03, -0.02, 0.03, 0.00, 1.0],
        [0.00, 0.01, -0.07, -0.06, 0.06, -0.03, -0.12, 1.0],
        [-0.06, 0.05, -0.13, -0.14, 0.12, -0.08, -0.22, 1.0],
        [-0.10, 0.08, -0.17, -0.19, 0.16, -0.11, -0.28, 1.0],
        [-0.12, 0.09, -0.19, -0.21, 0.18, -0.12, -0.30, 1.0],
    ]
)


def _env(package, space: str) -> TwinEnv:
    return TwinEnv(package, EnvConfig(action_space=space, cameras=()))


def _joints(env: TwinEnv) -> np.ndarray:
    return env.observe(images=False)[droid.JOINT_POSITION].astype(np.float64)


def test_droid_constants():
    # droid/robot_ik/robot_ik_solver.py: max_joint_delta = 0.2 rad at control_hz = 15.
    assert (droid.MAX_JOINT_DELTA, droid.CONTROL_HZ, droid.JOINT_VELOCITY_LIMIT) == (0.2, 15, 1.0)
    velocity = np.array([0.5, -0.25, 1.0, -1.0, 2.0, -3.0, 0.0])
    np.testing.assert_allclose(
        droid.joint_velocity_to_delta(velocity), [0.1, -0.05, 0.2, -0.2, 0.2, -0.2, 0.0]
    )
    delta = np.array([0.1, -0.05, 0.2, -0.2, 0.5, -0.7, 0.0])
    np.testing.assert_allclose(
        droid.joint_delta_to_velocity(delta), [0.5, -0.25, 1.0, -1.0, 1.0, -1.0, 0.0]
    )


def test_recorded_chunk_follows_its_integrated_path(primitive_package):
    """Each step's target is the measured position + 0.2 rad x velocity, so the arm's path is
    the chunk's running sum x 0.2 rad (and not x 1/15 s, the old rad/s reading)."""
    env = _env(primitive_package, "joint_velocity")
    env.reset(seed=0)
    start = _joints(env)
    path = []
    for action in CHUNK:
        env.advance(action)
        path.append(_joints(env))
        lead = env.controller.target - env.data.qpos[env.scene.arm_qpos_adr]
        assert np.abs(lead).max() <= droid.MAX_JOINT_DELTA + 1e-9  # no wind-up
    expected = start + np.cumsum(CHUNK[:, : droid.ARM_DOF] * droid.MAX_JOINT_DELTA, axis=0)
    travel = np.abs(expected - start).max(axis=0)  # 0.3 to 0.7 rad per joint
    error = np.abs(np.array(path) - expected).max(axis=0)
    assert (error < 0.03 + 0.03 * travel).all(), error  # the rad/s reading: 2/3 of travel
    assert np.abs(env.observe(images=False)[droid.GRIPPER_POSITION]) > 0.1  # the gripper closed


def test_velocity_is_clipped_like_droid(primitive_package):
    """openpi's DROID client clips every component to [-1, 1]: 3.0 moves as 1.0 does."""
    paths = []
    for scale in (1.0, 3.0):
        env = _env(primitive_package, "joint_velocity")
        env.reset(seed=0)
        start = _joints(env)
        for _ in range(4):
            env.advance(np.array([scale, 0, 0, 0, 0, 0, 0, 0]))
        paths.append(_joints(env) - start)
    np.testing.assert_array_equal(paths[0], paths[1])
    # Full speed from rest, 3 rad/s: the targets run 0.2 rad ahead, the arm follows behind.
    assert 0.6 < paths[0][0] <= 4 * droid.MAX_JOINT_DELTA


def test_wrist_tracks_a_fast_ramp(primitive_package):
    """The wrist (about 0.005 kg m^2 with the gripper, 12 N m) follows a 1.7 rad/s ramp of
    joint-position targets instead of chattering between its force limits."""
    env = _env(primitive_package, "joint_position")
    env.reset(seed=0)
    start = _joints(env)
    errors = []
    for step in range(1, 16):
        target = start.copy()
        target[6] -= 0.116 * step
        env.advance(np.concatenate([target, [0.0]]))
        errors.append(abs(_joints(env)[6] - target[6]))
    assert max(errors) < 0.03, errors
