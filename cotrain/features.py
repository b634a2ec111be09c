"""The dataset's features: openpi's DROID LeRobot naming, plus joint-velocity actions.

``actions`` holds the joint-position targets the expert commanded (PolaRiS's action space);
``joint_velocity_actions`` the same motion as joint velocities, the action space of the
original pi0 / pi0.5 DROID checkpoints (train on it by mapping it to ``actions``).
"""

from __future__ import annotations

from typing import Any

FPS = 15  # DROID's control rate
ROBOT_TYPE = "panda"
EXTERIOR, WRIST = "exterior_image_1_left", "wrist_image_left"
CAMERAS = (EXTERIOR, WRIST)
JOINT_POSITION, GRIPPER_POSITION = "joint_position", "gripper_position"
ACTIONS, VELOCITY_ACTIONS = "actions", "joint_velocity_actions"
JOINTS = tuple(f"joint_{i}" for i in range(1, 8))


def droid_features(height: int, width: int) -> dict[str, dict[str, Any]]:
    """Feature specs for ``height`` x ``width`` camera videos."""
    image = {
        "dtype": "video",
        "shape": [height, width, 3],
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
