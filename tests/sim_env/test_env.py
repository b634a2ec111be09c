"""The gymnasium environment: observations, determinism, action spaces, rubric scoring."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

import sim_env
from sim_env.env import EnvConfig, TwinEnv
from sim_env.errors import SimEnvError
from sim_env.robot import HOME_QPOS


@pytest.fixture(scope="module")
def env(primitive_package):
    env = TwinEnv(primitive_package, EnvConfig(image_size=(96, 96)))
    yield env
    env.close()


def _rollout(env: TwinEnv, seed: int, steps: int = 20) -> np.ndarray:
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    trace = []
    for _ in range(steps):
        action = np.concatenate([np.array(HOME_QPOS) + rng.normal(0, 0.05, 7), [rng.uniform()]])
        env.advance(action)
        trace.append(env.data.qpos.copy())
    return np.array(trace)


def test_observation_keys_shapes(env):
    obs, info = env.reset(options={"initial_condition": 3})
    assert set(obs) == {
        "joint_position",
        "gripper_position",
        "exterior_image_1_left",
        "wrist_image_left",
    }
    assert obs["joint_position"].shape == (7,) and obs["joint_position"].dtype == np.float32
    assert obs["gripper_position"].shape == (1,)
    assert (
        obs["exterior_image_1_left"].shape == (96, 96, 3)
        and obs["exterior_image_1_left"].dtype == np.uint8
    )
    # 16:9 cameras are padded to the square size, as openpi's resize_with_pad would.
    assert obs["exterior_image_1_left"][0].max() == 0 and obs["exterior_image_1_left"][48].max() > 0
    assert env.observation_space.contains(obs)
    assert info["initial_condition"] == 3 and "privileged" in info
    assert "privileged" not in obs  # privileged state is never part of the policy's observation


def test_same_seed_same_trajectory(env):
    np.testing.assert_array_equal(_rollout(env, 7), _rollout(env, 7))
    assert not np.array_equal(_rollout(env, 7), _rollout(env, 8))


def test_initial_conditions_in_order(env):
    indices = [env.reset()[1]["initial_condition"] for _ in range(3)]
    assert indices == [(indices[0] + k) % 10 for k in range(3)]
    with pytest.raises(SimEnvError, match="out of range"):
        env.reset(options={"initial_condition": 10})


def test_bad_action_rejected(env):
    env.reset(seed=0)
    with pytest.raises(SimEnvError, match="shape"):
        env.step(np.zeros(7))
    with pytest.raises(SimEnvError, match="non-finite"):
        env.step(np.full(8, np.nan))


def test_joint_velocity_action_space(primitive_package):
    """DROID's normalized velocity: 0.3 moves a joint 0.3 x 0.2 rad per 15 Hz step (0.9 rad/s,
    not 0.3 rad/s)."""
    env = TwinEnv(primitive_package, EnvConfig(action_space="joint_velocity", cameras=()))
    obs, _ = env.reset(seed=0)
    start = obs["joint_position"].copy()
    velocity = np.array([0.3, 0, 0, 0, 0, 0, 0, 0.0])
    for _ in range(15):  # one second
        obs, *_ = env.step(velocity)
    assert obs["joint_position"][0] - start[0] == pytest.approx(0.9, abs=0.02)
    np.testing.assert_allclose(obs["joint_position"][1:], start[1:], atol=0.02)


def test_rubric_scores_progress(env):
    _, info = env.reset(options={"initial_condition": 0})
    assert info["progress"] == 0.0 and not info["success"]
    cube = env.scene.objects[0]
    # Teleport the cube up by 6 cm next to the gripper: reach and lift hold, the rest does not.
    env.data.qpos[cube.qpos_adr : cube.qpos_adr + 3] = env.data.site_xpos[env.scene.tcp_site]
    env.data.qvel[:] = 0
    mujoco.mj_kinematics(env.model, env.data)
    env.tracker.update(env.rubric_state(), 1)
    assert env.tracker.reached()["reach_cube"] == 1
    assert env.tracker.reached()["lift_cube"] == 1
    assert env.tracker.progress == pytest.approx(0.5)


def test_make_by_id_and_gymnasium():
    import gymnasium

    env = sim_env.make("primitive_cube_bowl", cameras=())
    assert env.package.name == "primitive_cube_bowl"
    env.close()
    env = gymnasium.make("twinbench/primitive_cube_bowl", cameras=())
    obs, _ = env.reset(seed=1)
    assert obs["joint_position"].shape == (7,)
    env.close()
    with pytest.raises(SimEnvError, match="did you mean 'primitive_cube_bowl'"):
        sim_env.make("primitive_cube_bowls")
