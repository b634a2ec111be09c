"""A simulation that blows up ends the control step with SimulationDiverged.

MuJoCo does not stop on a bad number: it warns, resets the state and carries on, so the state
after the step is finite and looks like the start of an episode. Only its warning counters
tell; these tests break the physics for real (a timestep as long as the control period, a NaN
in the contact model) and check that the step says so, at the step it happens.
"""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from sim_env.env import EnvConfig, TwinEnv
from sim_env.errors import SimEnvError, SimulationDiverged
from sim_env.scene import PhysicsConfig
from sim_env.stability import check_stability, clear_warnings

W = mujoco.mjtWarning
# s: one substep per control step; the robot blows up once the arm moves (a shorter one, e.g.
# 0.03 s, holds: the controller keeps the PD force inside the actuators' range).
UNSTABLE = PhysicsConfig(timestep=1 / 15)


@pytest.fixture(scope="module")
def env(primitive_package):
    environment = TwinEnv(primitive_package, EnvConfig(cameras=()))
    yield environment
    environment.close()


def _hold(env: TwinEnv) -> np.ndarray:
    return np.concatenate([env.data.qpos[env.scene.arm_qpos_adr], [0.0]])


def test_timestep_too_long_diverges_where_mujoco_resets(primitive_package):
    env = TwinEnv(primitive_package, EnvConfig(cameras=(), physics=UNSTABLE))
    env.reset(options={"initial_condition": 0})
    home = _hold(env)
    with pytest.raises(SimulationDiverged) as caught:
        for k in range(1, 31):
            env.advance(home + np.r_[0.5 * np.sin(k / 3) * np.ones(7), k % 2])
    error = caught.value
    assert (error.step, env.steps, error.warning) == (7, 7, "mjWARN_BADQACC")
    assert str(error).startswith("simulation diverged at step 7: MuJoCo reset the simulation")
    assert "of joint 'robot/" in str(error)
    # What made it invisible before: the reset state is finite and the clock went back.
    assert np.isfinite(env.data.qpos).all() and env.data.time < 7 * env.control_period
    with pytest.raises(SimEnvError, match=r"diverged at step 7; call reset\(\)"):
        env.advance(home)
    env.reset(options={"initial_condition": 0})  # a reset makes it usable again
    for _ in range(5):
        env.advance(home)
    assert env.steps == 5


def test_nan_in_the_model_diverges_at_the_step_it_appears(env):
    env.reset(options={"initial_condition": 1})
    hold = _hold(env)
    env.advance(hold)
    env.advance(hold)
    cube = env.scene.objects[0].body_id
    geoms = np.flatnonzero(env.model.geom_bodyid == cube)
    friction = env.model.geom_friction[geoms].copy()
    env.model.geom_friction[geoms, 0] = np.nan  # what `friction: [.nan, ...]` compiles to
    try:
        with pytest.raises(SimulationDiverged, match=r"at step 3: .*mjWARN_BADQACC") as caught:
            env.advance(hold)
    finally:
        env.model.geom_friction[geoms] = friction
    assert caught.value.step == 3 and np.isfinite(env.data.qpos).all()


@pytest.mark.parametrize(
    ("warning", "info", "expected"),
    [
        (
            W.mjWARN_BADQPOS,
            lambda m: m.joint("object/cube").qposadr[0] + 3,
            "qpos[3] of joint 'object/cube'",
        ),
        (
            W.mjWARN_BADQVEL,
            lambda m: m.joint("robot/joint2").dofadr[0],
            "dof 0 of joint 'robot/joint2'",
        ),
        (
            W.mjWARN_BADQACC,
            lambda m: m.joint("object/bowl").dofadr[0] + 4,
            "dof 4 of joint 'object/bowl'",
        ),
        (W.mjWARN_INERTIA, lambda m: m.joint("robot/joint7").dofadr[0], "'robot/joint7'"),
        (W.mjWARN_BADCTRL, lambda m: m.nu - 1, "actuator 'robot/gripper/fingers_actuator'"),
        (W.mjWARN_CONTACTFULL, lambda m: 4096, "dropped contacts"),
        (W.mjWARN_CNSTRFULL, lambda m: 4096, "dropped constraints"),
    ],
)
def test_every_warning_is_a_divergence_naming_what_broke(env, warning, info, expected):
    data = mujoco.MjData(env.model)
    mujoco.mj_forward(env.model, data)
    clear_warnings(data)
    check_stability(env.model, data, 7)  # no warning, finite state: nothing to say
    data.warning[warning].number = 1
    data.warning[warning].lastinfo = info(env.model)
    with pytest.raises(SimulationDiverged) as caught:
        check_stability(env.model, data, 7)
    assert caught.value.warning == warning.name and caught.value.step == 7
    assert f"({warning.name})" in str(caught.value) and expected in str(caught.value)


def test_non_finite_state_without_a_warning_is_a_divergence(env):
    data = mujoco.MjData(env.model)
    data.qvel[env.model.joint("robot/joint3").dofadr[0]] = np.inf
    with pytest.raises(SimulationDiverged, match="non-finite state") as caught:
        check_stability(env.model, data, 2)
    assert caught.value.warning is None


def test_healthy_episode_raises_nothing(env):
    """The scripted pick-and-place (tests/sim_env/test_physics.py) covers whole episodes; here
    a fast wave of every joint at the default timestep stays clear of every warning."""
    env.reset(options={"initial_condition": 2})
    home = _hold(env)
    for k in range(1, 31):
        env.advance(home + np.r_[0.5 * np.sin(k / 3) * np.ones(7), k % 2])
    assert not env.data.warning.number.any()
