"""The dataset's features: openpi's DROID LeRobot naming, plus joint-velocity actions.

``actions`` holds the joint-position targets the expert commanded (PolaRiS's action space);
``joint_velocity_actions`` the same motion as joint velocities, the action space of the
original pi0 / pi0.5 DROID checkpoints (train on it by mapping it to ``actions``).
"""

from __future__ import annotations

from typing import Any

from sim_env.images import ImageSize

FPS = 15  # DROID's control rate
ROBOT_TYPE = "panda"
VIDEO_SIZE = ImageSize(320, 180)  # openpi's DROID conversion stores 180x320 videos
EXTERIOR, WRIST = "exterior_image_1_left", "wrist_image_left"
CAMERAS = (EXTERIOR, WRIST)
JOINT_POSITION, GRIPPER_POSITION = "joint_position", "gripper_position"
ACTIONS, VELOCITY_ACTIONS = "actions", "joint_velocity_actions"
JOINTS = tuple(f"joint_{i}" for i in range(1, 8))


def droid_features(size: ImageSize) -> dict[str, dict[str, Any]]:
    """Feature specs for camera videos of ``size``; LeRobot stores their shape as [H, W, 3]."""
    image = {
        "dtype": "video",
        "shape": list(size.shape),
        "names": ["height", "width", "channels"],
    }
    return {
        EXTERIOR: dict(image),
        WRIST: dict(image),
        JOINT_POSITION: {"dtype": "float32", "shape": [7], "names": list(JOINTS)},
        GRIPPER_POSITION: {"dtype": "float32", "shape": [1], "names": ["gripper"]},
        ACTIONS: {"dtype": "float32", "shape": [8], "names": [*JOINTS, "gripper"]},
        VELOCITY_ACTIONS: {
            "dtype": "float32",
            "shape": [8],
            "names": [f"{joint}_velocity" for joint in JOINTS] + ["gripper"],
        },
    }
