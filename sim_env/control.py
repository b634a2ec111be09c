"""DROID action spaces mapped to actuator targets, tracked like a real joint impedance controller.

joint_position: 7 absolute arm joint angles (rad) + gripper closure in [0, 1].
joint_velocity: 7 DROID joint velocities + gripper closure in [0, 1]. As on DROID's robot, each
velocity is clipped to [-1, 1] and the joint target is the measured joint position plus
``droid.MAX_JOINT_DELTA`` (0.2 rad) x velocity (``droid.joint_velocity_to_delta``): a target
never runs more than 0.2 rad ahead of the arm, so a blocked arm does not wind up.

Within a control period the arm's setpoint moves linearly from the previous target to the new
one, with its velocity fed forward: a MuJoCo position actuator applies
``kp (ctrl - q) - kv qdot``, so ``ctrl = q_ref + (kv / kp) qd_ref`` makes it the PD law
``kp (q_ref - q) + kv (qd_ref - qdot)`` — no lag of kv / kp seconds behind moving targets.
Each substep is driven by the reference at its start, so the arm ends the period on its target
rather than a substep ahead (which a target built on the measured position would compound).
``ctrl`` also keeps the PD force inside :data:`FORCE_HEADROOM` of the actuator's force range:
a clamped force has no velocity derivative, MuJoCo's implicit integrator then stops damping the
joint, and the light wrist joint (about 0.005 kg m^2 with the gripper, 12 N m) would chatter
between its force limits every substep.
"""

from __future__ import annotations

import mujoco
import numpy as np

from sim_env.droid import ACTION_DIM, ACTION_SPACES, ActionSpace, joint_velocity_to_delta
from sim_env.errors import SimEnvError
from sim_env.robot import GRIPPER_CTRL_MAX
from sim_env.scene import SceneModel

FORCE_HEADROOM = 0.98  # the share of an arm actuator's force range the PD law may ask for


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
        self.kp, self.kv = model.actuator_gainprm[acts, 0], -model.actuator_biasprm[acts, 2]
        self.lead = self.kv / self.kp  # s
        self.force_low, self.force_high = FORCE_HEADROOM * model.actuator_forcerange[acts].T
        self.dofs = model.jnt_dofadr[model.actuator_trnid[acts, 0]]
        self.target = np.zeros(7)

    def reset(self, data: mujoco.MjData) -> None:
        self.target = data.qpos[self.scene.arm_qpos_adr].copy()

    def step(self, model: mujoco.MjModel, data: mujoco.MjData, action: np.ndarray) -> None:
        """Advance the physics one control period under ``action``."""
        a = validate_action(action)
        if self.space == "joint_position":
            goal = a[:7]
        else:
            measured = np.clip(data.qpos[self.scene.arm_qpos_adr], self.lower, self.upper)
            goal = measured + joint_velocity_to_delta(a[:7])
        goal = np.clip(goal, self.lower, self.upper)
        start, self.target = self.target, goal
        velocity_ref = (goal - start) / self.period
        data.ctrl[self.scene.gripper_actuator] = float(np.clip(a[7], 0.0, 1.0)) * GRIPPER_CTRL_MAX
        acts = self.scene.arm_actuators
        for k in range(self.substeps):
            reference = start + (goal - start) * (k / self.substeps)
            data.ctrl[acts] = self._within_force(data, reference + self.lead * velocity_ref)
            mujoco.mj_step(model, data)
        data.ctrl[acts] = goal  # hold the final target if the next action is late

    def _within_force(self, data: mujoco.MjData, ctrl: np.ndarray) -> np.ndarray:
        """[7] ctrl moved to where ``kp (ctrl - q) - kv qdot`` is inside the force headroom, then
        into the control range."""
        q, qdot = data.qpos[self.scene.arm_qpos_adr], data.qvel[self.dofs]
        low = q + (self.force_low + self.kv * qdot) / self.kp
        high = q + (self.force_high + self.kv * qdot) / self.kp
        return np.clip(np.clip(ctrl, low, high), self.lower, self.upper)
