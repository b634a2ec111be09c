"""gymnasium's own tools on every bundled environment: ``gymnasium.make`` with ``render_mode``,
``check_env`` without warnings, and spaces bounded where DROID's ranges are."""

from __future__ import annotations

import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from numba.core.errors import NumbaWarning

import sim_env
from sim_env import droid
from sim_env.errors import SimEnvError
from sim_env.registry import GYM_NAMESPACE

BUNDLED = [entry.id for entry in sim_env.list_envs() if entry.bundled]
# check_env advises an action space in [-1, 1]; joint_position actions are absolute joint
# angles in rad (DROID's, PolaRiS's), bounded by the joint limits, so it cannot be one.
NORMALIZE_ADVICE = "For Box action spaces, we recommend using a symmetric and normalized space"


def _checked(env_id: str, **kwargs) -> list[str]:
    """check_env on ``gymnasium.make(env_id, **kwargs)``; the warnings it raised. Left out:
    numba's note about this machine's old TBB library (raised when the splat renderer first
    runs) and ResourceWarnings, which the garbage collector raises for whatever an earlier test
    in the same process left open."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        env = gymnasium.make(env_id, **kwargs)
        check_env(env.unwrapped)
        env.close()
    noise = (NumbaWarning, ResourceWarning)
    return [str(w.message) for w in caught if not issubclass(w.category, noise)]


@pytest.mark.parametrize("env_id", BUNDLED)
def test_check_env_as_made(env_id):
    """The plain ``gymnasium.make(id)``: full camera size, joint_position actions."""
    found = _checked(f"{GYM_NAMESPACE}/{env_id}")
    assert [m for m in found if NORMALIZE_ADVICE not in m] == []


@pytest.mark.parametrize("env_id", BUNDLED)
def test_check_env_joint_velocity(env_id):
    assert (
        _checked(f"{GYM_NAMESPACE}/{env_id}", action_space="joint_velocity", image_size=(64, 48))
        == []
    )


def test_render_mode_rgb_array_is_the_exterior_camera():
    env = gymnasium.make(
        f"{GYM_NAMESPACE}/primitive_cube_bowl", render_mode="rgb_array", image_size=(96, 64)
    )
    assert env.unwrapped.metadata["render_modes"] == ["rgb_array"]
    assert env.unwrapped.metadata["render_fps"] == droid.CONTROL_HZ
    obs, _ = env.reset(seed=0)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.shape == (64, 96, 3)
    np.testing.assert_array_equal(frame, obs[droid.EXTERIOR_IMAGE])
    env.close()


def test_render_mode_none_and_unknown():
    env = sim_env.make("primitive_cube_bowl", cameras=())
    assert env.render_mode is None
    with pytest.raises(SimEnvError, match="render_mode='rgb_array'"):
        env.render()
    env.close()
    with pytest.raises(SimEnvError, match=r"unknown render_mode 'video'.*'rgb_array'"):
        sim_env.make("primitive_cube_bowl", render_mode="video")


def test_spaces_are_droids_ranges():
    arm = slice(0, droid.ARM_DOF)
    position = sim_env.make("primitive_cube_bowl", cameras=())
    np.testing.assert_array_equal(position.action_space.low[arm], droid.JOINT_LOWER)
    np.testing.assert_array_equal(position.action_space.high[arm], droid.JOINT_UPPER)
    velocity = sim_env.make("primitive_cube_bowl", cameras=(), action_space="joint_velocity")
    np.testing.assert_array_equal(velocity.action_space.low[arm], -1.0)
    np.testing.assert_array_equal(velocity.action_space.high[arm], 1.0)
    for env in (position, velocity):
        gripper = droid.GRIPPER_INDEX
        assert (env.action_space.low[gripper], env.action_space.high[gripper]) == (0.0, 1.0)
        state = env.observation_space[droid.JOINT_POSITION]
        np.testing.assert_array_equal(state.low, droid.JOINT_LOWER.astype(np.float32))
        np.testing.assert_array_equal(state.high, droid.JOINT_UPPER.astype(np.float32))
        env.close()


def test_joint_reading_stays_within_the_limits():
    """MuJoCo's soft limits let a joint pass its limit under violent load; the reading, like
    the real arm's, saturates at the limit and the observation stays in its space."""
    env = sim_env.make("primitive_cube_bowl", cameras=())
    env.reset(seed=0)
    env.data.qpos[env.scene.arm_qpos_adr[3]] = droid.JOINT_UPPER[3] + 0.05
    obs = env.observe(images=False)
    assert obs[droid.JOINT_POSITION][3] == np.float32(droid.JOINT_UPPER[3])
    assert env.observation_space.contains(obs)
    env.close()
