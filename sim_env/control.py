"""DROID action spaces mapped to actuator targets, tracked like a real joint impedance controller.

joint_position: 7 absolute arm joint angles (rad) + gripper closure in [0, 1].
joint_velocity: 7 arm joint velocities (rad/s) + gripper closure in [0, 1], integrated into a
position target once per control period (kept within ``MAX_TARGET_LEAD`` of the measured
position so a blocked arm does not wind up).

Within a control period the arm's setpoint moves linearly from the previous target to the new
one, with its velocity fed forward: a MuJoCo position actuator applies
``kp (ctrl - q) - kv qdot``, so ``ctrl = q_ref + (kv / kp) qd_ref`` makes it the PD law
``kp (q_ref - q) + kv (qd_ref - qdot)`` — no lag of kv / kp seconds behind moving targets.
"""

from __future__ import annotations

import mujoco
import numpy as np

from sim_env.droid import ACTION_DIM, ACTION_SPACES, MAX_JOINT_VELOCITY, ActionSpace
from sim_env.errors import SimEnvError
from sim_env.robot import GRIPPER_CTRL_MAX
from sim_env.scene import SceneModel

MAX_TARGET_LEAD = 0.2  # rad, how far a velocity-integrated target may run ahead of the arm


def validate_action(action: np.ndarray) -> np.ndarray:
    a = np.asarray(action, dtype=np.float64)
    if a.shape != (ACTION_DIM,):
        raise SimEnvError(
            f"action must have shape ({ACTION_DIM},) (7 arm joints + gripper), got {a.shape}"
        )
    if not np.isfinite(a).all():
        raise SimEnvError(f"action has non-finite values: {a}")
    return a


class ArmController:
    """Turns one action into per-substep actuator controls; holds the previous joint target."""

    def __init__(self, scene: SceneModel, space: ActionSpace, period: float, substeps: int):
        if space not in ACTION_SPACES:
            raise SimEnvError(f"unknown action space {space!r} (valid: {', '.join(ACTION_SPACES)})")
        self.scene, self.space, self.period, self.substeps = scene, space, period, substeps
        model = scene.model
        acts = scene.arm_actuators
        self.lower, self.upper = model.actuator_ctrlrange[acts].T
        self.lead = -model.actuator_biasprm[acts, 2] / model.actuator_gainprm[acts, 0]  # kv / kp, s
        self.target = np.zeros(7)

    def reset(self, data: mujoco.MjData) -> None:
        self.target = data.qpos[self.scene.arm_qpos_adr].copy()

    def step(self, model: mujoco.MjModel, data: mujoco.MjData, action: np.ndarray) -> None:
        """Advance the physics one control period under ``action``."""
        a = validate_action(action)
        measured = data.qpos[self.scene.arm_qpos_adr]
        if self.space == "joint_position":
            goal = a[:7]
        else:
            velocity = np.clip(a[:7], -MAX_JOINT_VELOCITY, MAX_JOINT_VELOCITY)
            goal = np.clip(
                self.target + velocity * self.period,
                measured - MAX_TARGET_LEAD,
                measured + MAX_TARGET_LEAD,
            )
        goal = np.clip(goal, self.lower, self.upper)
        start, self.target = self.target, goal
        velocity_ref = (goal - start) / self.period
        data.ctrl[self.scene.gripper_actuator] = float(np.clip(a[7], 0.0, 1.0)) * GRIPPER_CTRL_MAX
        acts = self.scene.arm_actuators
        for k in range(1, self.substeps + 1):
            reference = start + (goal - start) * (k / self.substeps)
            data.ctrl[acts] = np.clip(reference + self.lead * velocity_ref, self.lower, self.upper)
            mujoco.mj_step(model, data)
        data.ctrl[acts] = goal  # hold the final target if the next action is late
