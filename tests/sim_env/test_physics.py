"""The physics is trustworthy: the arm tracks DROID-like joint trajectories and the scripted
expert picks a 200 g cube and places it in the bowl from randomized initial conditions."""

from __future__ import annotations

import numpy as np

from sim_env.env import EnvConfig, TwinEnv
from sim_env.planner import PickPlaceExpert
from sim_env.robot import HOME_QPOS


def joint_tracking_error(env: TwinEnv, seconds: float = 4.0) -> tuple[float, float]:
    """RMS and max error (rad) of the arm following smooth joint targets at 15 Hz."""
    env.reset(options={"initial_condition": 0})
    t = np.arange(int(seconds * 15)) / 15.0
    amplitude = np.array([0.3, 0.2, 0.3, 0.3, 0.4, 0.3, 0.5])
    frequency = np.array([0.3, 0.25, 0.35, 0.3, 0.4, 0.35, 0.45])  # Hz, DROID-like motion
    targets = np.array(HOME_QPOS) + amplitude * np.sin(2 * np.pi * frequency * t[:, None])
    errors = []
    for k in range(len(t)):
        env.advance(np.concatenate([targets[k], [0.0]]))
        if k + 1 < len(t):
            errors.append(env.data.qpos[env.scene.arm_qpos_adr] - targets[k])
    errors = np.abs(np.array(errors[5:]))  # after the first ramp
    return float(np.sqrt((errors**2).mean())), float(errors.max())


def test_arm_tracks_joint_targets(primitive_package):
    env = TwinEnv(primitive_package, EnvConfig(cameras=()))
    rms, worst = joint_tracking_error(env)
    assert rms < 0.015 and worst < 0.06, (rms, worst)  # measured: 0.0086 / 0.043 rad


def test_scripted_pick_and_place(primitive_package):
    env = TwinEnv(primitive_package, EnvConfig(cameras=()))
    successes = 0
    for i in range(10):
        obs, info = env.reset(options={"initial_condition": i})
        expert = PickPlaceExpert(env.scene, "cube", "bowl")
        for _ in range(env.horizon):
            obs, _, terminated, truncated, info = env.step(
                expert.act(info["privileged"], obs["joint_position"])
            )
            if terminated or truncated:
                break
        successes += info["success"]
    assert successes >= 9, successes
