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

Action: [8] = 7 arm joint targets [rad] (``joint_position``, PolaRiS's policies) or DROID's
normalized joint velocities in [-1, 1] (``joint_velocity``, the original pi0 / pi0.5 DROID
checkpoints: each step moves the target :data:`MAX_JOINT_DELTA` x velocity from the measured
joint positions), then the gripper position in [0, 1]; a policy answers a chunk [H, 8] of them.
Control runs at :data:`CONTROL_HZ`.
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
for _limit in (JOINT_LOWER, JOINT_UPPER):
    _limit.flags.writeable = False


@dataclass(frozen=True)
class ArraySpec:
    """One array of the contract.

    Attributes:
        shape: its shape; images are (H, W, 3) for the size they are rendered or resized to.
        dtype: its numpy dtype name.
        unit: what a value means.
        low, high: the range of values (inclusive): one number for every component, or one
            per component of a vector.
    """

    shape: tuple[int, ...]
    dtype: str
    unit: str
    low: float | tuple[float, ...] = -np.inf
    high: float | tuple[float, ...] = np.inf

    def bounds(self, dtype: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) broadcast to :attr:`shape`, in ``dtype`` (default :attr:`dtype`)."""
        dtype = np.dtype(dtype or self.dtype)
        low = np.broadcast_to(np.asarray(self.low, dtype), self.shape).copy()
        high = np.broadcast_to(np.asarray(self.high, dtype), self.shape).copy()
        return low, high

    def box(self) -> Any:
        """This spec as a gymnasium ``Box``."""
        import gymnasium as gym

        low, high = self.bounds()
        return gym.spaces.Box(low, high, self.shape, np.dtype(self.dtype))

    def problem(self, value: Any) -> str | None:
        """Why ``value`` breaks this spec (shape or dtype), or None when it holds."""
        array = np.asarray(value)
        if array.shape != self.shape:
            return f"expected shape {self.shape}, got {array.shape}"
        if array.dtype != np.dtype(self.dtype):
            return f"expected dtype {self.dtype}, got {array.dtype}"
        return None


# Joint angles read within the joint limits, as the real arm's do (MuJoCo's soft limits let a
# simulated joint pass them under violent load; the reading saturates there).
STATE: Mapping[str, ArraySpec] = {
    JOINT_POSITION: ArraySpec(
        (ARM_DOF,), "float32", "rad", tuple(JOINT_LOWER.tolist()), tuple(JOINT_UPPER.tolist())
    ),
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

# DROID's joint velocity, as DROID's robot runs it (github.com/droid-dataset/droid):
# droid/robot_ik/robot_ik_solver.py, RobotIKSolver: relative_max_joint_delta = 0.2 for every
# joint, max_joint_delta = 0.2, control_hz = 15, joint_velocity_to_delta(v) = v * max_joint_delta
# (v first scaled down by its largest |v_i| where that exceeds 1); droid/franka/robot.py,
# create_action_dict: the joint-position target = measured joint positions + that delta.
# openpi's DROID client (examples/droid/main.py) clips every action component to [-1, 1]
# before env.step, so the scaling never bites.
MAX_JOINT_DELTA = 0.2  # rad per control step at |velocity| = 1, i.e. 3 rad/s at 15 Hz
JOINT_VELOCITY_LIMIT = 1.0  # the normalized velocity's range is [-1, 1]
ACTION_UNITS: Mapping[ActionSpace, str] = {
    "joint_position": "rad",
    "joint_velocity": f"DROID joint velocity in [-1, 1], 1 = {MAX_JOINT_DELTA} rad per step",
}
GRIPPER_THRESHOLD = 0.5  # DROID clients close the gripper above it


def joint_velocity_to_delta(velocity: np.ndarray) -> np.ndarray:
    """[..., 7] DROID joint velocities (normalized, clipped to [-1, 1]) -> [..., 7] rad of
    target motion per control step, to add to the measured joint positions."""
    limit = JOINT_VELOCITY_LIMIT
    return np.clip(np.asarray(velocity, np.float64), -limit, limit) * MAX_JOINT_DELTA


def joint_delta_to_velocity(delta: np.ndarray) -> np.ndarray:
    """[..., 7] rad from the measured joint positions to the target -> [..., 7] DROID joint
    velocities, clipped to [-1, 1] (a delta past MAX_JOINT_DELTA is cut to it)."""
    limit = JOINT_VELOCITY_LIMIT
    return np.clip(np.asarray(delta, np.float64) / MAX_JOINT_DELTA, -limit, limit)


def action_spec(space: ActionSpace) -> ArraySpec:
    """One action of ``space`` (float32 [8], as datasets record it) and its range: the joint
    limits or [-1, 1] for the arm, [0, 1] for the gripper."""
    if space == "joint_position":
        low, high = JOINT_LOWER.tolist(), JOINT_UPPER.tolist()
    else:
        low, high = [-JOINT_VELOCITY_LIMIT] * ARM_DOF, [JOINT_VELOCITY_LIMIT] * ARM_DOF
    unit = f"{ACTION_UNITS[space]}, then gripper in [0, 1]"
    return ArraySpec((ACTION_DIM,), "float32", unit, (*low, 0.0), (*high, 1.0))


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

    return gym.spaces.Dict({name: spec.box() for name, spec in observation_specs(cameras).items()})


def action_space(space: ActionSpace) -> Any:
    """The gymnasium ``Box`` of :func:`action_spec`, in float64 (what the env computes in)."""
    import gymnasium as gym

    low, high = action_spec(space).bounds("float64")
    return gym.spaces.Box(low, high, dtype=np.float64)
