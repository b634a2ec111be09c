"""A privileged pick-and-place expert: reads object poses, plans with IK, acts in joint space.

It drives the same 8-number joint-position actions a learned policy sends. Used to prove the
physics (grasps hold, objects land in containers), as the base of evaluate's scripted policy
ladder, and to generate cotrain's demonstrations (``PickPlaceConfig`` varies the approach).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np

from sim_env.ik import ArmIK, IKConfig
from sim_env.scene import SceneModel


class Phase(IntEnum):
    PREGRASP = 0
    DESCEND = 1
    CLOSE = 2
    LIFT = 3
    TRANSPORT = 4
    LOWER = 5
    RELEASE = 6
    RETREAT = 7
    DONE = 8


@dataclass(frozen=True)
class PickPlaceConfig:
    """Geometry (m), speeds and failure knobs of the expert."""

    approach_height: float = 0.12  # above the grasp point
    grasp_depth: float = 0.0  # pinch point below the object's box centre
    lift_height: float = 0.15  # of the pinch point above the table after grasping
    place_clearance: float = 0.06  # of the object's bottom above the container's top
    joint_speed: float = 1.2  # rad/s, joint-space interpolation limit
    close_steps: int = 8  # control steps to close the gripper before lifting
    release_steps: int = 6
    settle_tolerance: float = 0.01  # m, tool-point error to accept a waypoint
    phase_timeout: int = 60  # control steps a phase may take past its motion
    touch_clearance: float = 0.01  # m, of the pinch point above the object's box top (touch)
    grasp_offset: tuple[float, float] = (0.0, 0.0)  # m, xy error of the grasp point (failure knob)
    yaw_offset: float = 0.0  # rad, error of the grasp yaw (failure knob)


def top_down_rotation(yaw: float) -> np.ndarray:
    """[3, 3] gripper orientation pointing down (z = -world z) with fingers closing along yaw."""
    y = np.array([np.cos(yaw), np.sin(yaw), 0.0])
    z = np.array([0.0, 0.0, -1.0])
    return np.stack([np.cross(y, z), y, z], axis=1)


def grasp_yaw(object_rot: np.ndarray, gripper_rot: np.ndarray) -> float:
    """The object's face-normal yaw (mod 90 deg) closest to the gripper's current yaw."""
    object_yaw = float(np.arctan2(object_rot[1, 0], object_rot[0, 0]))
    current = float(np.arctan2(gripper_rot[1, 1], gripper_rot[0, 1]))
    options = object_yaw + np.pi / 2 * np.arange(-4, 5)
    return float(options[np.argmin(np.abs(np.angle(np.exp(1j * (options - current)))))])


class PickPlaceExpert:
    """Picks ``obj`` and places it in ``container``; ``act`` returns a joint-position action.

    With no container it touches ``obj`` instead (an object too big to grasp): the same
    approach and descent, aimed ``touch_clearance`` above the object's box top with the
    gripper open, then it holds there (``Phase.DONE``).
    """

    def __init__(
        self,
        scene: SceneModel,
        obj: str,
        container: str | None,
        config: PickPlaceConfig = PickPlaceConfig(),
    ):
        self.scene = scene
        self.obj, self.container = obj, container
        self.config = config
        self.ik = ArmIK(scene, IKConfig())
        self.reset()

    def reset(self) -> None:
        self.phase = Phase.PREGRASP
        self._plan: list[np.ndarray] = []
        self._goal_pos: np.ndarray | None = None
        self._command: np.ndarray | None = None
        self._phase_steps = 0
        self._yaw = 0.0
        self._gripper = 0.0

    # -- targets -----------------------------------------------------------------------------
    def _grasp_point(self, state: dict[str, Any]) -> np.ndarray:
        obj = state["objects"][self.obj]
        box = self.scene.boxes[self.obj]
        rot = _quat_mat(obj["quat"])
        centre = obj["pos"] + rot @ box.center
        depth = self.config.grasp_depth
        if self.container is None:
            depth = -(box.half_extents[2] + self.config.touch_clearance)  # box upright
        return centre + np.array([*self.config.grasp_offset, -depth])

    def _place_point(self, state: dict[str, Any]) -> np.ndarray:
        cont = state["objects"][self.container]
        box = self.scene.boxes[self.container]
        rot = _quat_mat(cont["quat"])
        centre = cont["pos"] + rot @ box.center
        top = centre[2] + box.half_extents[2]
        obj_half = self.scene.boxes[self.obj].half_extents[2]
        return np.array([centre[0], centre[1], top + self.config.place_clearance + obj_half])

    def _target(self, state: dict[str, Any]) -> np.ndarray | None:
        cfg = self.config
        grasp = self._grasp_point(state)
        if self.phase == Phase.PREGRASP:
            return grasp + [0, 0, cfg.approach_height]
        if self.phase == Phase.DESCEND:
            return grasp
        if self.phase == Phase.LIFT:
            return np.array([state["tcp_pos"][0], state["tcp_pos"][1], cfg.lift_height])
        if self.phase == Phase.TRANSPORT:
            place = self._place_point(state)
            return np.array([place[0], place[1], max(cfg.lift_height, place[2])])
        if self.phase == Phase.LOWER:
            return self._place_point(state)
        if self.phase == Phase.RETREAT:
            return state["tcp_pos"] + [0, 0, 0.1]
        return None

    # -- acting ------------------------------------------------------------------------------
    def _start_phase(self, state: dict[str, Any], qpos: np.ndarray) -> None:
        self._phase_steps = 0
        self._plan = []
        if self.phase == Phase.PREGRASP:
            obj_rot = _quat_mat(state["objects"][self.obj]["quat"])
            self._yaw = grasp_yaw(obj_rot, state["tcp_mat"]) + self.config.yaw_offset
        target = self._target(state)
        self._goal_pos = target
        if target is None:
            return
        start = self._command if self._command is not None else qpos
        goal = self.ik.solve(target, top_down_rotation(self._yaw), start).qpos
        step = self.config.joint_speed * self.scene.model.opt.timestep  # per physics step
        n = max(1, int(np.ceil(np.abs(goal - start).max() / (step * self._substeps()))))
        self._plan = [start + (goal - start) * (k / n) for k in range(1, n + 1)]

    def _substeps(self) -> int:
        return max(1, round((1.0 / 15.0) / self.scene.model.opt.timestep))

    def _phase_done(self, state: dict[str, Any]) -> bool:
        cfg = self.config
        if self.phase == Phase.CLOSE:
            return self._phase_steps >= cfg.close_steps
        if self.phase == Phase.RELEASE:
            return self._phase_steps >= cfg.release_steps
        if self._plan:
            return False
        reached = np.linalg.norm(state["tcp_pos"] - self._goal_pos) < cfg.settle_tolerance
        return bool(reached) or self._phase_steps >= cfg.phase_timeout

    def act(self, state: dict[str, Any], qpos: np.ndarray) -> np.ndarray:
        """The next action (7 joint targets + gripper) from privileged ``state`` and arm ``qpos``."""
        if self._command is None:
            self._start_phase(state, qpos)
        elif self.phase != Phase.DONE and self._phase_done(state):
            touched = self.container is None and self.phase == Phase.DESCEND
            self.phase = Phase.DONE if touched else Phase(self.phase + 1)
            self._start_phase(state, qpos)
        if self.phase in (Phase.CLOSE,):
            self._gripper = 1.0
        elif self.phase == Phase.RELEASE:
            self._gripper = 0.0
        if self._plan:
            self._command = self._plan.pop(0)
        elif self._command is None:
            self._command = np.asarray(qpos, float).copy()
        self._phase_steps += 1
        return np.concatenate([self._command, [self._gripper]])


def _quat_mat(quat: np.ndarray) -> np.ndarray:
    from sim_env.cameras import quat_to_mat

    return quat_to_mat(quat)
