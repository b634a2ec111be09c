"""The dataset's features: openpi's DROID LeRobot naming, plus joint-velocity actions.

``actions`` holds the joint-position targets the expert commanded (PolaRiS's action space);
``joint_velocity_actions`` the same motion as joint velocities, the action space of the
original pi0 / pi0.5 DROID checkpoints (train on it by mapping it to ``actions``).
"""

from __future__ import annotations

from typing import Any

from sim_env import droid
from sim_env.images import ImageSize

FPS = droid.CONTROL_HZ
ROBOT_TYPE = "panda"
VIDEO_SIZE = ImageSize(320, 180)  # openpi's DROID conversion stores 180x320 videos
EXTERIOR, WRIST = droid.EXTERIOR_IMAGE, droid.WRIST_IMAGE
CAMERAS = droid.IMAGE_KEYS
JOINT_POSITION, GRIPPER_POSITION = droid.JOINT_POSITION, droid.GRIPPER_POSITION
ACTIONS, VELOCITY_ACTIONS = droid.ACTIONS, "joint_velocity_actions"
JOINTS = tuple(f"joint_{i}" for i in range(1, droid.ARM_DOF + 1))
NAMES = {JOINT_POSITION: list(JOINTS), GRIPPER_POSITION: ["gripper"]}


def _vector(spec: droid.ArraySpec, names: list[str]) -> dict[str, Any]:
    return {"dtype": spec.dtype, "shape": list(spec.shape), "names": names}


def droid_features(size: ImageSize) -> dict[str, dict[str, Any]]:
    """Feature specs for camera videos of ``size``; LeRobot stores their shape as [H, W, 3].

    Keys, shapes and dtypes are ``sim_env.droid``'s: the contract's state, its two cameras,
    and actions in both action spaces.
    """
    image = {
        "dtype": "video",
        "shape": list(droid.image_spec(size).shape),
        "names": ["height", "width", "channels"],
    }
    return {
        **{camera: dict(image) for camera in CAMERAS},
        **{key: _vector(spec, NAMES[key]) for key, spec in droid.STATE.items()},
        ACTIONS: _vector(droid.action_spec("joint_position"), [*JOINTS, "gripper"]),
        VELOCITY_ACTIONS: _vector(
            droid.action_spec("joint_velocity"),
            [f"{joint}_velocity" for joint in JOINTS] + ["gripper"],
        ),
    }
