"""Per-episode variation, so demonstrations are not one trajectory replayed.

Each episode draws, from its own seed: object poses around one of the package's initial
conditions (shifted and turned on the table, redrawn until nothing interpenetrates), small
camera extrinsic offsets, an exposure and white-balance gain for every image, and the
expert's approach (approach and lift heights, grasp depth, joint speed, place clearance, and a
grasp yaw among the object's symmetric options).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import mujoco
import numpy as np

from sim_env.env import TwinEnv
from sim_env.planner import PickPlaceConfig
from sim_env.scene import apply_initial_condition, penetrations

Interval = tuple[float, float]


@dataclass(frozen=True)
class RandomizationConfig:
    """Uniform ranges of the per-episode draws; a zero width turns a knob off."""

    object_shift: float = 0.03  # m, largest xy shift of each object from the package's pose
    object_yaw: float = 0.35  # rad, largest extra turn of each object about the vertical
    placement_attempts: int = 50  # redraws before falling back to the package's own poses
    camera_shift: float = 0.01  # m, largest offset of each camera along each axis
    camera_tilt: float = 0.035  # rad, largest rotation of each camera about each axis
    exposure: Interval = (0.8, 1.2)  # image brightness gain
    white_balance: float = 0.08  # largest per-channel deviation of the colour gain
    approach_height: Interval = (0.08, 0.16)  # m
    lift_height: Interval = (0.12, 0.20)  # m
    grasp_depth: Interval = (0.0, 0.008)  # m
    joint_speed: Interval = (0.9, 1.5)  # rad/s
    place_clearance: Interval = (0.03, 0.08)  # m
    yaw_jitter: float = 0.08  # rad, added to the chosen symmetric grasp yaw

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class EpisodeVariation:
    """Everything random about one episode.

    Attributes:
        initial_condition: the package's initial condition the objects were placed around.
        object_poses: object -> (position [3] m, quaternion [4] w x y z) in the world.
        camera_poses: camera -> (position [3], quaternion [4]) in its parent body's frame.
        colour_gain: [3] per-channel multiplier of every image.
        expert: the expert's approach for this episode.
    """

    initial_condition: int
    object_poses: Mapping[str, tuple[np.ndarray, np.ndarray]]
    camera_poses: Mapping[str, tuple[np.ndarray, np.ndarray]]
    colour_gain: np.ndarray
    expert: PickPlaceConfig

    def summary(self) -> dict:
        """JSON-friendly record of the draws (stored with each staged episode)."""
        return {
            "initial_condition": self.initial_condition,
            "objects": {k: [p.tolist(), q.tolist()] for k, (p, q) in self.object_poses.items()},
            "cameras": {k: [p.tolist(), q.tolist()] for k, (p, q) in self.camera_poses.items()},
            "colour_gain": self.colour_gain.tolist(),
            "expert": asdict(self.expert),
        }


def _uniform(rng: np.random.Generator, interval: Interval) -> float:
    return float(rng.uniform(*interval))


def _quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros(4)
    mujoco.mju_mulQuat(out, np.asarray(a, float), np.asarray(b, float))
    return out


def _rotation_quat(vector: np.ndarray) -> np.ndarray:
    """(w, x, y, z) of the rotation by |vector| rad about vector's direction."""
    angle = float(np.linalg.norm(vector))
    if angle < 1e-12:
        return np.array([1.0, 0.0, 0.0, 0.0])
    return np.concatenate([[np.cos(angle / 2)], np.sin(angle / 2) * np.asarray(vector) / angle])


def symmetric_yaws(half_extents: np.ndarray) -> tuple[float, ...]:
    """Grasp-yaw offsets that grip the same faces: quarter turns for a square footprint."""
    hx, hy = float(half_extents[0]), float(half_extents[1])
    if abs(hx - hy) <= 0.1 * max(hx, hy):
        return (-np.pi / 2, 0.0, np.pi / 2, np.pi)
    return (0.0, np.pi)


def sample_expert(
    rng: np.random.Generator, config: RandomizationConfig, half_extents: np.ndarray
) -> PickPlaceConfig:
    yaws = symmetric_yaws(half_extents)
    yaw = yaws[int(rng.integers(len(yaws)))] + float(rng.uniform(-1, 1)) * config.yaw_jitter
    return PickPlaceConfig(
        approach_height=_uniform(rng, config.approach_height),
        lift_height=_uniform(rng, config.lift_height),
        grasp_depth=_uniform(rng, config.grasp_depth),
        joint_speed=_uniform(rng, config.joint_speed),
        place_clearance=_uniform(rng, config.place_clearance),
        yaw_offset=yaw,
    )


def sample_object_poses(
    env: TwinEnv, rng: np.random.Generator, config: RandomizationConfig, condition: int
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Object poses near ``condition``'s, redrawn until free of interpenetration.

    After ``placement_attempts`` rejected draws the package's own poses (valid by construction)
    are used, so a crowded scene still yields episodes.
    """
    ic = env.package.spec.initial_conditions[condition]
    data = mujoco.MjData(env.model)
    base = {name: (np.array(p.pos), np.array(p.quat)) for name, p in ic.objects.items()}
    for _ in range(config.placement_attempts):
        poses = {}
        for name, (pos, quat) in base.items():
            shift = rng.uniform(-config.object_shift, config.object_shift, 2)
            turn = _rotation_quat(np.array([0.0, 0.0, rng.uniform(-1, 1) * config.object_yaw]))
            poses[name] = (pos + [shift[0], shift[1], 0.0], _quat_mul(turn, quat))
        apply_initial_condition(env.scene, data, ic)
        set_object_poses(env, data, poses)
        if not penetrations(env.scene, data):
            return poses
    return base


def sample_variation(
    env: TwinEnv,
    rng: np.random.Generator,
    config: RandomizationConfig,
    conditions: Sequence[int],
    obj: str,
) -> EpisodeVariation:
    """One episode's draws; ``obj`` is the object the expert grasps (for its symmetry)."""
    condition = int(conditions[int(rng.integers(len(conditions)))])
    objects = sample_object_poses(env, rng, config, condition)
    model = env.model
    cameras = {}
    for name in env.camera_names:
        cid = env.scene.cameras[name]
        offset = rng.uniform(-config.camera_shift, config.camera_shift, 3)
        tilt = _rotation_quat(rng.uniform(-config.camera_tilt, config.camera_tilt, 3))
        cameras[name] = (model.cam_pos[cid] + offset, _quat_mul(model.cam_quat[cid], tilt))
    balance = rng.uniform(-config.white_balance, config.white_balance, 3)
    gain = _uniform(rng, config.exposure) * (1.0 + balance)
    expert = sample_expert(rng, config, env.scene.boxes[obj].half_extents)
    return EpisodeVariation(condition, objects, cameras, gain, expert)


def set_object_poses(
    env: TwinEnv, data: mujoco.MjData, poses: Mapping[str, tuple[np.ndarray, np.ndarray]]
) -> None:
    """Place objects at rest at ``poses`` in ``data`` and recompute the derived state."""
    for obj in env.scene.objects:
        if obj.name in poses:
            pos, quat = poses[obj.name]
            data.qpos[obj.qpos_adr : obj.qpos_adr + 3] = pos
            data.qpos[obj.qpos_adr + 3 : obj.qpos_adr + 7] = quat / np.linalg.norm(quat)
            data.qvel[obj.qvel_adr : obj.qvel_adr + 6] = 0.0
    mujoco.mj_forward(env.model, data)


@contextmanager
def camera_poses(
    env: TwinEnv, poses: Mapping[str, tuple[np.ndarray, np.ndarray]]
) -> Iterator[None]:
    """Move cameras (in their parent frames) for the duration of the block, then restore."""
    ids = [env.scene.cameras[name] for name in poses]
    saved = env.model.cam_pos[ids].copy(), env.model.cam_quat[ids].copy()
    try:
        for cid, (pos, quat) in zip(ids, poses.values(), strict=True):
            env.model.cam_pos[cid], env.model.cam_quat[cid] = pos, quat
        yield
    finally:
        env.model.cam_pos[ids], env.model.cam_quat[ids] = saved


def apply_gain(image: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """uint8 [H, W, 3] image with each channel scaled by ``gain`` [3], clipped to 0..255."""
    return np.clip(image * np.asarray(gain, np.float32) + 0.5, 0, 255).astype(np.uint8)
