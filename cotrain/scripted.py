"""Record one demonstration: the privileged expert acting in a varied scene, at 15 Hz.

Frame t holds the observation the expert saw (both cameras with the episode's colour gain,
joint and gripper positions) and the action it then commanded. The joint-velocity version of
the actions is DROID's: (target_t - joint_position_t) / ``droid.MAX_JOINT_DELTA``, clipped to
[-1, 1], as DROID's robot records it; run by the env's joint_velocity controller (target =
measured joint position + 0.2 rad x velocity) it commands the same targets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from cotrain.randomize import EpisodeVariation, apply_gain
from sim_env import droid
from sim_env.env import TwinEnv
from sim_env.planner import PickPlaceExpert
from sim_env.scene import apply_initial_condition
from sim_env.variation import camera_poses


@dataclass(frozen=True, eq=False)
class EpisodeRecord:
    """One recorded episode; arrays have one row per control step (T rows).

    Attributes:
        images: camera -> uint8 [T, H, W, 3].
        joint_position: [T, 7] float32, rad.
        gripper_position: [T, 1] float32, closure in [0, 1].
        actions: [T, 8] float32, joint-position targets (rad) + gripper command.
        velocity_actions: [T, 8] float32, DROID joint velocities in [-1, 1] + gripper command.
        success: whether the rubric's criteria were all reached.
        progress: fraction of criteria reached.
    """

    images: Mapping[str, np.ndarray]
    joint_position: np.ndarray
    gripper_position: np.ndarray
    actions: np.ndarray
    velocity_actions: np.ndarray
    success: bool
    progress: float

    @property
    def length(self) -> int:
        return len(self.actions)


def failed_record() -> EpisodeRecord:
    """An episode that ended without data (the simulation refused to go on)."""
    empty = np.zeros((0, 8), np.float32)
    return EpisodeRecord({}, empty[:, :7], empty[:, :1], empty, empty, False, 0.0)


def velocity_actions(actions: np.ndarray, joint_position: np.ndarray) -> np.ndarray:
    """[T, 8] DROID joint velocities (in [-1, 1]) + gripper from [T, 8] joint targets [rad] and
    the [T, 7] joint positions [rad] measured when each was commanded."""
    delta = actions[:, : droid.ARM_DOF].astype(np.float64) - joint_position
    velocity = droid.joint_delta_to_velocity(delta)
    return np.concatenate([velocity, actions[:, droid.ARM_DOF :]], axis=1)


def reset_episode(env: TwinEnv, variation: EpisodeVariation) -> None:
    """Reset to the variation's initial condition with its object poses; the rubric's
    reference state (e.g. lift heights) is taken after the objects moved."""
    env.reset(options={"initial_condition": variation.initial_condition})
    apply_initial_condition(env.scene, env.data, variation.condition)
    env.tracker.reset(env.rubric_state())
    env.tracker.update(env.rubric_state(), 0)


def record_episode(
    env: TwinEnv, variation: EpisodeVariation, obj: str, container: str, tail_steps: int = 8
) -> EpisodeRecord:
    """Run the expert from ``variation`` until success plus ``tail_steps`` steps, or the horizon."""
    frames: dict[str, list[np.ndarray]] = {name: [] for name in env.camera_names}
    joints, gripper, actions = [], [], []
    with camera_poses(env.scene, variation.camera_poses):
        reset_episode(env, variation)
        expert = PickPlaceExpert(env.scene, obj, container, variation.expert)
        after_success = 0
        for _ in range(env.horizon):
            obs = env.observe()
            action = expert.act(env.privileged_state(), obs[droid.JOINT_POSITION])
            for name in env.camera_names:
                frames[name].append(apply_gain(obs[name], variation.colour_gain))
            joints.append(obs[droid.JOINT_POSITION])
            gripper.append(obs[droid.GRIPPER_POSITION])
            actions.append(action)
            env.advance(action)
            if env.tracker.success:
                if after_success >= tail_steps:
                    break
                after_success += 1
    commanded = np.asarray(actions, dtype=np.float64)
    measured = np.asarray(joints, dtype=np.float32).reshape(-1, droid.ARM_DOF)
    return EpisodeRecord(
        images={name: np.stack(images) for name, images in frames.items()},
        joint_position=measured,
        gripper_position=np.asarray(gripper, dtype=np.float32).reshape(-1, 1),
        actions=commanded.astype(np.float32),
        velocity_actions=velocity_actions(commanded, measured).astype(np.float32),
        success=bool(env.tracker.success),
        progress=float(env.tracker.progress),
    )
