"""Everything that speaks DROID follows ``sim_env.droid``: the env's observation space and its
observations, the openpi client's request, the server's checks, the LeRobot features, the
robot model's joint limits."""

from __future__ import annotations

import numpy as np
import pytest

import sim_env
from cotrain import features
from evaluate import policy, wire
from evaluate.policies.droid import decode_request, encode_request
from evaluate.policy import Observation, PolicyMetadata
from sim_env import control, droid
from sim_env.images import ImageSize

ENV_ID = "primitive_cube_bowl"
SIZE = ImageSize(96, 64)


@pytest.fixture(scope="module")
def env():
    env = sim_env.make(ENV_ID, image_size=SIZE, renderer="mujoco")
    yield env
    env.close()


def test_env_observation_space_and_observations(env) -> None:
    assert set(droid.IMAGE_KEYS) <= set(env.camera_names)
    specs = droid.observation_specs(dict.fromkeys(env.camera_names, SIZE))
    space = env.observation_space
    assert set(space.spaces) == set(specs) == {*droid.STATE_KEYS, *env.camera_names}
    for key, spec in specs.items():
        box = space[key]
        assert (box.shape, box.dtype) == (spec.shape, np.dtype(spec.dtype)), key
        low, high = spec.bounds()
        np.testing.assert_array_equal(box.low, low, err_msg=key)
        np.testing.assert_array_equal(box.high, high, err_msg=key)
        assert np.isfinite(box.low).all() and np.isfinite(box.high).all(), key
    obs, _ = env.reset(seed=0)
    obs, *_ = env.step(np.concatenate([obs[droid.JOINT_POSITION], [1.0]]))
    assert set(obs) == set(specs)
    assert {key: spec.problem(obs[key]) for key, spec in specs.items()} == dict.fromkeys(specs)
    assert space.contains(obs)
    assert env.action_space.shape == (droid.ACTION_DIM,)
    assert env.metadata["render_fps"] == droid.CONTROL_HZ == env.package.spec.episode.control_hz


def test_robot_model_joint_limits(env) -> None:
    joints = [env.model.joint(name).id for name in env.scene.robot.arm_joints]
    lower, upper = env.model.jnt_range[joints].T
    np.testing.assert_allclose(lower, droid.JOINT_LOWER)
    np.testing.assert_allclose(upper, droid.JOINT_UPPER)
    ctrl_lower, ctrl_upper = env.model.actuator_ctrlrange[env.scene.arm_actuators].T
    np.testing.assert_allclose(ctrl_lower, droid.JOINT_LOWER)
    np.testing.assert_allclose(ctrl_upper, droid.JOINT_UPPER)
    assert droid.ARM_DOF == len(joints) == droid.ACTION_DIM - 1 == droid.GRIPPER_INDEX


def _observation(env) -> Observation:
    obs, _ = env.reset(seed=1)
    return Observation.from_dict(obs)


def test_openpi_request_follows_the_contract(env) -> None:
    metadata = PolicyMetadata("p")  # DROID defaults: both cameras at 224x224
    sent = wire.unpackb(wire.packb(encode_request(_observation(env), "go", metadata)))
    keys = [*droid.STATE_KEYS, *droid.IMAGE_KEYS]
    assert set(sent) == {droid.openpi_key(key) for key in keys} | {droid.PROMPT}
    specs = droid.observation_specs(dict.fromkeys(droid.IMAGE_KEYS, droid.POLICY_IMAGE_SIZE))
    for key, spec in specs.items():
        assert spec.problem(sent[droid.openpi_key(key)]) is None, key
    assert sent[droid.PROMPT] == "go"


def test_server_checks_requests_against_the_contract(env) -> None:
    request = encode_request(_observation(env), "go", PolicyMetadata("p"))
    obs, instruction = decode_request(request)
    assert instruction == "go" and set(obs.images) == set(droid.IMAGE_KEYS)
    joints = droid.openpi_key(droid.JOINT_POSITION)
    as_openpi_sends = {**request, joints: request[joints].astype(np.float64)}
    np.testing.assert_array_equal(
        decode_request(as_openpi_sends)[0].joint_position, obs.joint_position
    )
    for bad, message in [
        ({joints: np.zeros(6, np.float32)}, r"shape \(7,\)"),
        ({joints: np.zeros(7, np.int64)}, "float array"),
        ({droid.openpi_key(droid.GRIPPER_POSITION): np.float32(0.5)}, r"shape \(1,\)"),
    ]:
        with pytest.raises(ValueError, match=message):
            decode_request({**request, **bad})
    with pytest.raises(ValueError, match="request has no 'observation/gripper_position'"):
        decode_request({k: v for k, v in request.items() if "gripper" not in k})
    image = droid.openpi_key(droid.EXTERIOR_IMAGE)
    with pytest.raises(ValueError, match="uint8"):
        decode_request({**request, image: request[image].astype(np.float32)})


def test_lerobot_features_follow_the_contract() -> None:
    found = features.droid_features(SIZE)
    for key, spec in droid.STATE.items():
        assert (found[key]["dtype"], tuple(found[key]["shape"])) == (spec.dtype, spec.shape)
        assert len(found[key]["names"]) == spec.shape[0]
    for camera in droid.IMAGE_KEYS:
        assert tuple(found[features.image_key(camera)]["shape"]) == droid.image_spec(SIZE).shape
    for key, space in (
        (features.ACTIONS, "joint_position"),
        (features.VELOCITY_ACTIONS, "joint_velocity"),
    ):
        spec = droid.action_spec(space)
        assert (found[key]["dtype"], tuple(found[key]["shape"])) == (spec.dtype, spec.shape)
    assert features.FPS == droid.CONTROL_HZ and features.CAMERAS == droid.IMAGE_KEYS


def test_policy_and_controller_use_the_contract() -> None:
    assert policy.ACTION_SPACES == control.ACTION_SPACES == droid.ACTION_SPACES
    assert policy.ACTION_DIM == control.ACTION_DIM == droid.ACTION_DIM
    assert policy.DROID_IMAGE_KEYS == droid.IMAGE_KEYS
    assert PolicyMetadata("p").image_size == droid.POLICY_IMAGE_SIZE
    assert PolicyMetadata("p").open_loop_horizon == droid.OPEN_LOOP_HORIZON
    with pytest.raises(ValueError, match="joint_position must have 7 values"):
        Observation(np.zeros(6), np.zeros(1))
