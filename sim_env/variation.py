"""Variation of an environment's start: objects shifted and turned on the table, cameras nudged.

The one place that varies an environment package's initial state, for every caller: cotrain's
demonstrations and the fidelity study's extra initial conditions. Draws are pure (a generator
in, poses out) and come back as :class:`~sim_env.package.InitialCondition` values, which
:func:`~sim_env.scene.apply_initial_condition` puts into a simulation like any package's own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import mujoco
import numpy as np

from sim_env.package import InitialCondition, Pose
from sim_env.scene import SceneModel, apply_initial_condition, penetrations

CameraPose = tuple[np.ndarray, np.ndarray]  # position [3] m, quaternion [4] w x y z, parent frame


@dataclass(frozen=True)
class PoseVariation:
    """Uniform ranges of the pose draws; a zero width turns a knob off."""

    object_shift: float = 0.03  # m, largest xy shift of each object from the package's pose
    object_yaw: float = 0.35  # rad, largest extra turn of each object about the vertical
    placement_attempts: int = 50  # draws before giving up on a collision-free placement
    camera_shift: float = 0.01  # m, largest offset of each camera along each axis
    camera_tilt: float = 0.035  # rad, largest rotation of each camera about each axis


@dataclass(frozen=True)
class ObjectOffset:
    """One object's move: xy shift [m] and turn about the vertical [rad]."""

    shift: tuple[float, float]
    yaw: float

    def apply(self, pose: Pose) -> Pose:
        turn = rotation_quat(np.array([0.0, 0.0, self.yaw]))
        x, y, z = pose.pos
        quat = quat_mul(turn, np.asarray(pose.quat, float))
        return Pose(pos=(x + self.shift[0], y + self.shift[1], z), quat=tuple(quat.tolist()))


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[4] w x y z product ``a * b``."""
    out = np.zeros(4)
    mujoco.mju_mulQuat(out, np.asarray(a, float), np.asarray(b, float))
    return out


def rotation_quat(vector: np.ndarray) -> np.ndarray:
    """[4] w x y z of the rotation by |vector| rad about vector's direction ([3])."""
    angle = float(np.linalg.norm(vector))
    if angle < 1e-12:
        return np.array([1.0, 0.0, 0.0, 0.0])
    return np.concatenate([[np.cos(angle / 2)], np.sin(angle / 2) * np.asarray(vector) / angle])


def draw_offsets(
    rng: np.random.Generator, names: Sequence[str], config: PoseVariation
) -> dict[str, ObjectOffset]:
    """One offset per object, drawn in ``names``' order (shift, then turn, per object)."""
    return {
        name: ObjectOffset(
            tuple(rng.uniform(-config.object_shift, config.object_shift, 2).tolist()),
            float(rng.uniform(-config.object_yaw, config.object_yaw)),
        )
        for name in names
    }


def moved(condition: InitialCondition, offsets: Mapping[str, ObjectOffset]) -> InitialCondition:
    """``condition`` with each object in ``offsets`` moved from its own pose."""
    objects = {
        name: offsets[name].apply(pose) if name in offsets else pose
        for name, pose in condition.objects.items()
    }
    return condition.model_copy(update={"objects": objects})


def is_free(scene: SceneModel, condition: InitialCondition) -> bool:
    """Whether nothing interpenetrates when ``condition`` is put into ``scene``."""
    data = mujoco.MjData(scene.model)
    apply_initial_condition(scene, data, condition)
    return not penetrations(scene, data)


def draw_free_conditions(
    rng: np.random.Generator,
    scenes: Sequence[SceneModel],
    conditions: Sequence[InitialCondition],
    config: PoseVariation,
) -> list[InitialCondition] | None:
    """The same object offsets applied to each world's ``conditions[i]`` in ``scenes[i]``,
    redrawn until nothing interpenetrates in any; None after ``config.placement_attempts``.

    Several worlds (a source world and its twin) share one draw, each object moving from its
    own world's pose, so their episodes start from matching states.
    """
    names = sorted(conditions[0].objects)
    for _ in range(config.placement_attempts):
        offsets = draw_offsets(rng, names, config)
        drawn = [moved(condition, offsets) for condition in conditions]
        if all(is_free(s, c) for s, c in zip(scenes, drawn, strict=True)):
            return drawn
    return None


def draw_camera_poses(
    rng: np.random.Generator, scene: SceneModel, cameras: Sequence[str], config: PoseVariation
) -> dict[str, CameraPose]:
    """Each camera's pose in its parent frame, offset and tilted from the model's."""
    model = scene.model
    poses = {}
    for name in cameras:
        cid = scene.cameras[name]
        offset = rng.uniform(-config.camera_shift, config.camera_shift, 3)
        tilt = rotation_quat(rng.uniform(-config.camera_tilt, config.camera_tilt, 3))
        poses[name] = (model.cam_pos[cid] + offset, quat_mul(model.cam_quat[cid], tilt))
    return poses


@contextmanager
def camera_poses(scene: SceneModel, poses: Mapping[str, CameraPose]) -> Iterator[None]:
    """Move cameras (in their parent frames) for the duration of the block, then restore."""
    model = scene.model
    ids = [scene.cameras[name] for name in poses]
    saved = model.cam_pos[ids].copy(), model.cam_quat[ids].copy()
    try:
        for cid, (pos, quat) in zip(ids, poses.values(), strict=True):
            model.cam_pos[cid], model.cam_quat[cid] = pos, quat
        yield
    finally:
        model.cam_pos[ids], model.cam_quat[ids] = saved
