"""Damped least-squares inverse kinematics for the arm's tool point (the gripper's pinch site)."""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from sim_env.robot import HOME_QPOS
from sim_env.scene import SceneModel


@dataclass(frozen=True)
class IKConfig:
    damping: float = 0.05  # DLS damping, in units of the task error
    max_iterations: int = 200
    position_tolerance: float = 5e-4  # m
    rotation_tolerance: float = 5e-3  # rad
    max_step: float = 0.2  # rad, per iteration and joint
    posture_gain: float = 0.05  # null-space pull toward the home posture


@dataclass(frozen=True)
class IKResult:
    qpos: np.ndarray  # [7] rad
    converged: bool
    position_error: float  # m
    rotation_error: float  # rad


def rotation_error(target: np.ndarray, current: np.ndarray) -> np.ndarray:
    """[3] axis-angle vector (world frame, rad) rotating ``current`` [3, 3] onto ``target`` [3, 3]."""
    quat, q_target, q_current = np.zeros(4), np.zeros(4), np.zeros(4)
    mujoco.mju_mat2Quat(q_target, target.reshape(9))
    mujoco.mju_mat2Quat(q_current, current.reshape(9))
    mujoco.mju_negQuat(quat, q_current)
    mujoco.mju_mulQuat(quat, q_target, quat)
    velocity = np.zeros(3)
    mujoco.mju_quat2Vel(velocity, quat, 1.0)
    return velocity


class ArmIK:
    """Solves for arm joint angles that put the pinch site at a pose; owns a scratch MjData."""

    def __init__(self, scene: SceneModel, config: IKConfig = IKConfig()):
        self.scene = scene
        self.config = config
        self.data = mujoco.MjData(scene.model)
        joint_ids = [scene.model.joint(j).id for j in scene.robot.arm_joints]
        self.lower, self.upper = scene.model.jnt_range[joint_ids].T
        self.home = np.array(HOME_QPOS)

    def forward(self, qpos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pinch-site position [3] and orientation [3, 3] for arm angles ``qpos`` [7]."""
        self.data.qpos[self.scene.arm_qpos_adr] = qpos
        mujoco.mj_kinematics(self.scene.model, self.data)
        site = self.scene.tcp_site
        return self.data.site_xpos[site].copy(), self.data.site_xmat[site].reshape(3, 3).copy()

    def solve(self, target_pos: np.ndarray, target_mat: np.ndarray, q_init: np.ndarray) -> IKResult:
        cfg, scene = self.config, self.scene
        q = np.clip(np.asarray(q_init, float).copy(), self.lower, self.upper)
        jacp, jacr = np.zeros((3, scene.model.nv)), np.zeros((3, scene.model.nv))
        pos_err = rot_err = np.inf
        for _ in range(cfg.max_iterations):
            pos, mat = self.forward(q)
            e = np.concatenate([target_pos - pos, rotation_error(target_mat, mat)])
            pos_err, rot_err = float(np.linalg.norm(e[:3])), float(np.linalg.norm(e[3:]))
            if pos_err < cfg.position_tolerance and rot_err < cfg.rotation_tolerance:
                return IKResult(q, True, pos_err, rot_err)
            mujoco.mj_comPos(scene.model, self.data)
            mujoco.mj_jacSite(scene.model, self.data, jacp, jacr, scene.tcp_site)
            jac = np.vstack([jacp, jacr])[:, scene.arm_qvel_adr]  # [6, 7]
            jjt = jac @ jac.T + cfg.damping**2 * np.eye(6)
            dq = jac.T @ np.linalg.solve(jjt, e)
            null = np.eye(7) - jac.T @ np.linalg.solve(jjt, jac)
            dq += null @ (cfg.posture_gain * (self.home - q))
            dq = np.clip(dq, -cfg.max_step, cfg.max_step)
            q = np.clip(q + dq, self.lower, self.upper)
        return IKResult(q, False, pos_err, rot_err)
