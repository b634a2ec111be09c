"""The dataset's features: openpi's DROID names, plus what LeRobot policies train on.

LeRobot policies read ``observation.state`` and ``action`` by name and every video feature as a
camera (``lerobot.datasets.utils.dataset_to_policy_features``), named
``observation.images.<camera>``. So the dataset holds: each camera of ``CAMERAS`` (the
simulator's and the bundles' camera names) as the video feature ``image_key(camera)``;
``observation.state``, the joint positions [rad] then the gripper [0, 1] (the same values as
openpi's ``joint_position`` and ``gripper_position``, which stay for openpi's DROID repack);
``action``, the joint-position targets the expert commanded (PolaRiS's action space); and
``joint_velocity_actions``, the same motion as joint velocities, the action space of the
original pi0 / pi0.5 DROID checkpoints (train on it by mapping it to ``action``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

# The mapping between a camera and its feature key is LeRobot's convention, so it lives with the
# layout (the validator and the writer check it there); it is this module's to hand out.
from cotrain.lerobot.layout import ACTION_KEY, STATE_KEY
from cotrain.lerobot.layout import camera_name as camera_name
from cotrain.lerobot.layout import image_key as image_key
from sim_env import droid
from sim_env.images import ImageSize

FPS = droid.CONTROL_HZ
ROBOT_TYPE = "panda"
VIDEO_SIZE = ImageSize(320, 180)  # openpi's DROID conversion stores 180x320 videos
EXTERIOR, WRIST = droid.EXTERIOR_IMAGE, droid.WRIST_IMAGE
CAMERAS = droid.IMAGE_KEYS  # the simulator's camera names, also a bundle's image keys
IMAGE_KEYS = tuple(image_key(camera) for camera in CAMERAS)  # their dataset feature keys
JOINT_POSITION, GRIPPER_POSITION = droid.JOINT_POSITION, droid.GRIPPER_POSITION
STATE = STATE_KEY
ACTIONS, VELOCITY_ACTIONS = ACTION_KEY, "joint_velocity_actions"
JOINTS = tuple(f"joint_{i}" for i in range(1, droid.ARM_DOF + 1))
NAMES = {JOINT_POSITION: list(JOINTS), GRIPPER_POSITION: ["gripper"]}


def _vector(spec: droid.ArraySpec, names: list[str]) -> dict[str, Any]:
    return {"dtype": spec.dtype, "shape": list(spec.shape), "names": names}


def droid_features(size: ImageSize) -> dict[str, dict[str, Any]]:
    """Feature specs for camera videos of ``size``; LeRobot stores their shape as [H, W, 3].

    Keys, shapes and dtypes are ``sim_env.droid``'s: the contract's state (as its parts and as
    ``observation.state``), its two cameras (as ``observation.images.<camera>``), and actions
    in both action spaces.
    """
    image = {
        "dtype": "video",
        "shape": list(droid.image_spec(size).shape),
        "names": ["height", "width", "channels"],
    }
    return {
        **{key: dict(image) for key in IMAGE_KEYS},
        STATE: {"dtype": "float32", "shape": [droid.ARM_DOF + 1], "names": [*JOINTS, "gripper"]},
        **{key: _vector(spec, NAMES[key]) for key, spec in droid.STATE.items()},
        ACTIONS: _vector(droid.action_spec("joint_position"), [*JOINTS, "gripper"]),
        VELOCITY_ACTIONS: _vector(
            droid.action_spec("joint_velocity"),
            [f"{joint}_velocity" for joint in JOINTS] + ["gripper"],
        ),
    }


def with_state(values: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``values`` plus ``observation.state`` [T, 8] float32: ``joint_position`` [T, 7] (rad)
    then ``gripper_position`` [T] or [T, 1] (0 open .. 1 closed)."""
    joints = np.asarray(values[JOINT_POSITION], dtype=np.float32)
    gripper = np.asarray(values[GRIPPER_POSITION], dtype=np.float32).reshape(len(joints), 1)
    return {**values, STATE: np.concatenate([joints, gripper], axis=1)}
