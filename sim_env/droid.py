"""The DROID observation and action contract, declared once.

What a DROID robot (the Franka Panda + Robotiq 2F-85 of PolaRiS and the pi0-family DROID
policies) observes and is commanded with: the keys, shapes, dtypes, units and ranges. The
environment builds its observation space from it, the policy interface and the openpi client
and server check against it, bundles default to its cameras and image size, and cotrain's
LeRobot features are named and shaped by it.

Observation (``TwinEnv.observe()``; LeRobot frames use the same keys)::

    joint_position            float32 [7]        rad, the arm's joint angles
    gripper_position          float32 [1]        closure in [0, 1]: 0 open, 1 closed
    exterior_image_1_left     uint8   [H, W, 3]  RGB, the exterior camera
    wrist_image_left          uint8   [H, W, 3]  RGB, the wrist camera

openpi request (one websocket frame): every observation key as ``observation/<key>``, plus
``prompt`` (str); images resized-with-pad to :data:`POLICY_IMAGE_SIZE` (224x224) by the client.

Action: [8] = 7 arm joint targets [rad] (``joint_position``, PolaRiS's policies) or joint
velocities [rad/s] (``joint_velocity``, the original pi0 / pi0.5 DROID checkpoints), then the
gripper position in [0, 1]; a policy answers a chunk [H, 8] of them. Control runs at
:data:`CONTROL_HZ`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

from sim_env.images import ImageSize

CONTROL_HZ = 15  # DROID's control rate [Hz]; LeRobot datasets are recorded at it
ARM_DOF = 7

# -- observation ---------------------------------------------------------------------------
JOINT_POSITION = "joint_position"
GRIPPER_POSITION = "gripper_position"
EXTERIOR_IMAGE = "exterior_image_1_left"
WRIST_IMAGE = "wrist_image_left"
IMAGE_KEYS: tuple[str, ...] = (EXTERIOR_IMAGE, WRIST_IMAGE)
STATE_KEYS: tuple[str, ...] = (JOINT_POSITION, GRIPPER_POSITION)

# The Panda's joint limits [rad] (Franka's datasheet; the menagerie model's joint ranges).
JOINT_LOWER = np.array([-2.8973, -1.7628, -2.8973, -3.0718, -2.8973, -0.0175, -2.8973])
JOINT_UPPER = np.array([2.8973, 1.7628, 2.8973, -0.0698, 2.8973, 3.7525, 2.8973])
MAX_JOINT_VELOCITY = np.array([2.175, 2.175, 2.175, 2.175, 2.61, 2.61, 2.61])  # [rad/s]
for _limit in (JOINT_LOWER, JOINT_UPPER, MAX_JOINT_VELOCITY):
    _limit.flags.writeable = False


@dataclass(frozen=True)
class ArraySpec:
    """One array of the contract.

    Attributes:
        shape: its shape; images are (H, W, 3) for the size they are rendered or resized to.
        dtype: its numpy dtype name.
        unit: what a value means.
        low, high: the range of values (inclusive); +-inf where none is enforced.
    """

    shape: tuple[int, ...]
    dtype: str
    unit: str
    low: float = -np.inf
    high: float = np.inf

    def problem(self, value: Any) -> str | None:
        """Why ``value`` breaks this spec (shape or dtype), or None when it holds."""
        array = np.asarray(value)
        if array.shape != self.shape:
            return f"expected shape {self.shape}, got {array.shape}"
        if array.dtype != np.dtype(self.dtype):
            return f"expected dtype {self.dtype}, got {array.dtype}"
        return None


# Joint angles are not bounded in the space: MuJoCo's soft limits let a joint pass
# JOINT_LOWER / JOINT_UPPER by a little under load.
STATE: Mapping[str, ArraySpec] = {
    JOINT_POSITION: ArraySpec((ARM_DOF,), "float32", "rad"),
    GRIPPER_POSITION: ArraySpec((1,), "float32", "closure, 0 open .. 1 closed", 0.0, 1.0),
}


def image_spec(size: ImageSize) -> ArraySpec:
    """A camera image of ``size``: uint8 RGB [H, W, 3]."""
    return ArraySpec(size.shape, "uint8", "RGB", 0, 255)


def observation_specs(cameras: Mapping[str, ImageSize]) -> dict[str, ArraySpec]:
    """Every observation array: the state, then one image per camera (name -> its size)."""
    return {**STATE, **{name: image_spec(size) for name, size in cameras.items()}}


# -- action --------------------------------------------------------------------------------
ActionSpace = Literal["joint_position", "joint_velocity"]
ACTION_SPACES: tuple[ActionSpace, ...] = get_args(ActionSpace)
ACTION_DIM = ARM_DOF + 1  # the arm, then the gripper
GRIPPER_INDEX = ARM_DOF  # the gripper's column in an action
ACTION_UNITS: Mapping[ActionSpace, str] = {"joint_position": "rad", "joint_velocity": "rad/s"}
GRIPPER_THRESHOLD = 0.5  # DROID clients close the gripper above it


def action_spec(space: ActionSpace) -> ArraySpec:
    """One action of ``space`` as datasets record it (float32 [8])."""
    return ArraySpec((ACTION_DIM,), "float32", f"{ACTION_UNITS[space]}, then gripper in [0, 1]")


# -- the openpi wire -----------------------------------------------------------------------
OPENPI_PREFIX = "observation/"
PROMPT = "prompt"
ACTIONS = "actions"  # the reply's (H, 8) chunk
POLICY_IMAGE_SIZE = ImageSize(224, 224)  # what openpi's DROID clients resize-with-pad to
OPEN_LOOP_HORIZON = 8  # actions executed per chunk before asking again


def openpi_key(key: str) -> str:
    """The request key of an observation key: ``joint_position`` -> ``observation/joint_position``."""
    return OPENPI_PREFIX + key


def observation_space(cameras: Mapping[str, ImageSize]) -> Any:
    """The gymnasium ``Dict`` space of :func:`observation_specs`."""
    import gymnasium as gym

    return gym.spaces.Dict(
        {
            name: gym.spaces.Box(spec.low, spec.high, spec.shape, np.dtype(spec.dtype))
            for name, spec in observation_specs(cameras).items()
        }
    )
